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
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol


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
    """Forward stdin → channel and channel → stdout until the channel closes.

    Returns the remote exit status (None when the remote side reported none). The channel is
    closed in every case, also when forwarding fails.
    """
    src = stdin or sys.stdin.buffer
    dst = stdout or sys.stdout.buffer
    try:
        with raw_terminal(src.fileno()):
            _forward(channel, src.fileno(), dst, transcript)
        return channel.exit_status()
    finally:
        channel.close()


def _forward(channel: ShellChannel, in_fd: int, dst: BinaryIO, transcript: BinaryIO | None) -> None:
    """Shuttle bytes until the remote side ends (EOF, or the connection dropped)."""
    chan_fd = channel.fileno()
    watching = [chan_fd, in_fd]
    while True:
        ready, _, _ = select.select(watching, [], [])
        if chan_fd in ready:
            data = _quietly(channel.recv, 65536)
            if not data:
                return
            dst.write(data)
            dst.flush()
            if transcript is not None:
                transcript.write(data)
        if in_fd in ready:
            data = os.read(in_fd, 4096)
            if not data:
                watching.remove(in_fd)
                data = b"\x04"  # local EOF: Ctrl-D to the remote pty
            if _quietly(channel.send, data) is None:
                return


def _quietly(call: Callable[[Any], Any], arg: Any) -> Any:
    """``call(arg)``, or None when the connection is gone (the remote end closed it)."""
    try:
        return call(arg)
    except OSError:
        return None
