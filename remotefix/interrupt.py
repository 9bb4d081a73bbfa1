"""Ctrl-C as a stop request that every running piece of remote work honours.

A SIGINT arrives once per process, so the request is process-wide. While ``on_sigint()`` is
active, the first Ctrl-C does not raise ``KeyboardInterrupt`` in whatever line the main thread
happens to run; it calls ``request()``. From then on:

- the fleet starts no new host (``check()`` raises ``Interrupted`` before anything is contacted);
- the SSH, Docker and local transports stop waiting for a running command, kill it on the
  target with all its children (as on a timeout) and raise ``Interrupted``; WinRM sends Signal
  terminate for it (within two seconds: its Receive long-polls) and raises the same;
- the CLI reports what finished and exits 130.

A host already connecting finishes its connect (bounded by the connect timeout) but sends
nothing. A second Ctrl-C restores Python's default behaviour (``KeyboardInterrupt`` at once).
API users may call ``request()`` themselves to stop work started from other threads.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from remotefix.errors import Interrupted

_requested = threading.Event()


def request() -> None:
    """Ask all running remote work to stop (what the first Ctrl-C does)."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def check(what: str = "work") -> None:
    """Raise ``Interrupted`` when a stop was requested: call it before contacting a target."""
    if _requested.is_set():
        raise Interrupted(f"{what} not started: interrupted by Ctrl-C")


@contextlib.contextmanager
def on_sigint(notice: Callable[[], None] | None = None) -> Iterator[None]:
    """While active, the first SIGINT is a ``request()`` (``notice`` tells the user); main thread
    only (elsewhere a no-op, as Python delivers signals to the main thread). Clears the request
    at exit so the next piece of work starts afresh."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        request()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if notice is not None:
            notice()

    previous = signal.signal(signal.SIGINT, handler)
    _requested.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()
