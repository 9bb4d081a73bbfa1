"""Where an operation's time goes, read from the progress messages it already sends.

``PhaseClock`` stands in for a ``Progress`` callback: each message starts a phase named by it
(passed on to the real sink), so ``lab up -v`` shows how long the image, the start and the fidelity
check took without the operation knowing it is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from remotefix.progress import Progress


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    seconds: float


class PhaseClock:
    """A progress sink that times the stretch from one message to the next."""

    def __init__(self, sink: Progress, first: str) -> None:
        self._sink, self._name, self._start = sink, first, time.perf_counter()
        self.phases: list[Phase] = []

    def __call__(self, message: str) -> None:
        self._close()
        self._name = message
        self._sink(message)

    def stop(self) -> list[Phase]:
        """End the current phase; the phases so far, in order."""
        self._close()
        return self.phases

    def _close(self) -> None:
        now = time.perf_counter()
        self.phases.append(Phase(self._name, now - self._start))
        self._start = now
