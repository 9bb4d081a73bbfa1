"""Run one piece of work on many targets in parallel; one host's failure never stops the others.

Ctrl-C (``remotefix.interrupt``) does: hosts not yet started are never contacted (their outcome
is ``Interrupted``), running ones stop at their next command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
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

    with ThreadPoolExecutor(max_workers=forks, thread_name_prefix="remotefix-host") as pool:
        futures = {pool.submit(guarded, target): target for target in targets}
        for future in as_completed(futures):
            target = futures[future]
            try:
                yield Outcome(target, value=future.result())
            except RemotefixError as exc:
                yield Outcome(target, error=exc)
