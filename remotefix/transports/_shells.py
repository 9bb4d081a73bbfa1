"""Interactive pty channels of the transports (see ``remotefix.interactive``).

``exit_status()`` is the remote shell's exit code, or None when the remote side reported none
(e.g. it was killed by a signal); it waits a moment for a status still on its way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from typing import Any

LOGIN_SHELL = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi"
STATUS_WAIT_S = 5.0
"""How long ``exit_status()`` waits for a status the remote side has not sent yet."""


class SSHPty:
    """A paramiko pty channel behind the ``ShellChannel`` protocol."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def fileno(self) -> int:
        return int(self._channel.fileno())

    def send(self, data: bytes) -> int:
        self._channel.sendall(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        return bytes(self._channel.recv(size))

    def exit_status(self) -> int | None:
        """paramiko's ``exit_status`` is -1 until (and unless) the server sends one."""
        self._channel.status_event.wait(STATUS_WAIT_S)
        status = self._channel.exit_status
        return None if status == -1 else int(status)

    def close(self) -> None:
        self._channel.close()


class LocalPty:
    """A login shell on this machine behind a pseudo-terminal."""

    def __init__(self, cols: int, rows: int) -> None:
        master, slave = os.openpty()
        _set_size(slave, cols, rows)
        self._proc = subprocess.Popen(
            ["/bin/sh", "-c", LOGIN_SHELL], stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self._master = master

    def fileno(self) -> int:
        return self._master

    def send(self, data: bytes) -> int:
        return os.write(self._master, data)

    def recv(self, size: int) -> bytes:
        try:
            return os.read(self._master, size)
        except OSError:  # EIO: the other side of the pty is gone
            return b""

    def exit_status(self) -> int | None:
        return self._proc.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._master)


class DockerPty:
    """A login shell in a container through an exec with a tty (raw, not multiplexed)."""

    def __init__(self, api: Any, container_id: str, user: str, cols: int, rows: int) -> None:
        self._api = api
        self._exec_id = api.exec_create(
            container_id, ["/bin/sh", "-c", LOGIN_SHELL], stdin=True, tty=True, user=user
        )["Id"]
        raw = api.exec_start(self._exec_id, socket=True, tty=True)
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        with contextlib.suppress(Exception):
            api.exec_resize(self._exec_id, height=rows, width=cols)

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def exit_status(self) -> int | None:
        """The exec is marked done a moment after its stream closes: wait for that."""
        deadline = time.monotonic() + STATUS_WAIT_S
        while True:
            info = self._api.exec_inspect(self._exec_id)
            if not info["Running"] and info["ExitCode"] is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def close(self) -> None:
        self._sock.close()


def _set_size(fd: int, cols: int, rows: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
