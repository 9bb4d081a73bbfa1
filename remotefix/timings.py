"""Where an operation's time goes: wall-clock time of its named phases (``-v`` prints them).

The operation marks its phases with ``phase(name)``; a caller that wants them wraps the call in
``record()``. Without a ``record()`` around it, a phase costs one context-variable lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    seconds: float


_phases: ContextVar[list[Phase] | None] = ContextVar("remotefix_phases", default=None)


@contextmanager
def record() -> Iterator[list[Phase]]:
    """Collect the phases the code run inside this block marks, in the order they end."""
    phases: list[Phase] = []
    token = _phases.set(phases)
    try:
        yield phases
    finally:
        _phases.reset(token)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time this block as ``name`` (kept when it raises too) for an enclosing ``record()``."""
    phases, start = _phases.get(), time.perf_counter()
    try:
        yield
    finally:
        if phases is not None:
            phases.append(Phase(name, time.perf_counter() - start))
