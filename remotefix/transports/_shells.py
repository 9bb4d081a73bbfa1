"""Interactive pty channels for the local and docker transports (see ``remotefix.interactive``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from typing import Any

LOGIN_SHELL = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi"


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
        info = self._api.exec_inspect(self._exec_id)
        return None if info["Running"] else int(info["ExitCode"])

    def close(self) -> None:
        self._sock.close()


def _set_size(fd: int, cols: int, rows: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
