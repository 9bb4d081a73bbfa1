"""Run one piece of work on many targets in parallel; one host's failure never stops the others.

Ctrl-C (``remotefix.interrupt``) does: hosts not yet started are never contacted (their outcome
is ``Interrupted``), running ones stop at their next command.

Memory stays bounded however long the target list: targets are taken from the iterable as workers
free up (at most ``forks`` queued or running), and a finished host's result is held only until
the caller takes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from remotefix import interrupt
from remotefix.errors import Interrupted, RemotefixError
from remotefix.targets import Target

T = TypeVar("T")
DEFAULT_FORKS = 8


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one target gave: a value, or the error that stopped it."""

    target: Target
    value: T | None = None
    error: RemotefixError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def interrupted(self) -> bool:
        return isinstance(self.error, Interrupted)


def fan_out(
    targets: Iterable[Target],
    work: Callable[[Target], T],
    *,
    forks: int = DEFAULT_FORKS,
) -> Iterator[Outcome[T]]:
    """Yield each target's ``Outcome`` as soon as it is done (at most ``forks`` at once).

    Our errors are caught per host; anything else is a bug and propagates.
    """
    if forks < 1:
        raise ValueError("forks must be >= 1")

    def guarded(target: Target) -> T:
        interrupt.check(f"{target.name}:")
        return work(target)

    todo = iter(targets)
    with ThreadPoolExecutor(max_workers=forks, thread_name_prefix="remotefix-host") as pool:
        running: dict[Future[T], Target] = {}
        while True:
            for target in itertools.islice(todo, forks - len(running)):
                running[pool.submit(guarded, target)] = target
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                target = running.pop(future)
                try:
                    yield Outcome(target, value=future.result())
                except RemotefixError as exc:
                    yield Outcome(target, error=exc)
