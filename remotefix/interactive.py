"""Interactive shells: shuttle bytes between the local terminal and a remote pty channel.

A transport that supports shells returns a ``ShellChannel`` from ``open_shell()``; ``pump``
puts the local terminal in raw mode (when it is one), forwards keystrokes and output until the
remote side ends, and returns the remote exit status. An optional transcript records the output.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import sys
import termios
import tty
from collections.abc import Iterator
from typing import BinaryIO, Protocol


class ShellChannel(Protocol):
    """A duplex byte stream to a remote pty."""

    def fileno(self) -> int: ...

    def send(self, data: bytes) -> int: ...

    def recv(self, size: int) -> bytes: ...

    def exit_status(self) -> int | None: ...

    def close(self) -> None: ...


def terminal_size() -> tuple[int, int]:
    size = shutil.get_terminal_size((80, 24))
    return size.columns, size.lines


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode for a real terminal; a no-op for pipes (tests, scripts)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def pump(
    channel: ShellChannel,
    *,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    transcript: BinaryIO | None = None,
) -> int | None:
    """Forward stdin → channel and channel → stdout until the channel closes."""
    src = stdin or sys.stdin.buffer
    dst = stdout or sys.stdout.buffer
    in_fd, chan_fd = src.fileno(), channel.fileno()
    watching = [chan_fd, in_fd]
    with raw_terminal(in_fd):
        while True:
            ready, _, _ = select.select(watching, [], [])
            if chan_fd in ready:
                data = channel.recv(65536)
                if not data:
                    break
                dst.write(data)
                dst.flush()
                if transcript is not None:
                    transcript.write(data)
            if in_fd in ready:
                data = os.read(in_fd, 4096)
                if data:
                    channel.send(data)
                else:
                    watching.remove(in_fd)
                    channel.send(b"\x04")  # local EOF: Ctrl-D to the remote pty
    status = channel.exit_status()
    channel.close()
    return status
