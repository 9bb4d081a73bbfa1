"""How a fleet command shows its hosts while they run and when they are done.

A line per finished host (under a progress bar when stderr is a terminal), then one line of counts
(ok, failed, retried) and a line per failed host with its reason. Only counts and the
failures are kept, so a fleet of hundreds costs no more memory here than a fleet of ten.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from remotefix.cli._app import App, shown


@dataclass
class Tally:
    """What the fleet has done so far: counts, and each failure with its reason."""

    total: int
    ok: int = 0
    retried: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # name, label, reason

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def counts(self) -> str:
        return (
            f"{self.ok + self.failed}/{self.total} hosts: {self.ok} ok, {self.failed} failed, "
            f"{self.retried} retried"
        )


class FleetView:
    """Receives each finished host; prints its line and keeps the tally."""

    def __init__(self, app: App, tally: Tally, progress: Progress | None) -> None:
        self.app, self.tally, self._progress = app, tally, progress
        self._task = progress.add_task("hosts", total=tally.total) if progress else None

    def done(self, name: str, *, label: str, reason: str = "", retries: int = 0) -> None:
        """One host finished: ``label`` is ``done`` or what stopped it (``reason`` says why)."""
        if reason:
            self.tally.failures.append((name, label, reason))
        else:
            self.tally.ok += 1
        self.tally.retried += 1 if retries else 0
        note = f" (connection retried {retries}x)" if retries else ""
        line = f"{shown(name)}: {label}{note}" + (f": {shown(reason)}" if reason else "")
        if self._progress is None:
            self.app.progress(line)
            return
        self._progress.console.print(f"[dim]…[/dim] {line}")
        assert self._task is not None
        self._progress.update(self._task, advance=1, description=self.tally.counts)


@contextmanager
def fleet_view(app: App, total: int) -> Iterator[FleetView]:
    """A bar on a terminal (stderr, never with ``--json``), plain lines otherwise."""
    tally = Tally(total)
    if app.json or not app.err.is_terminal:
        yield FleetView(app, tally, None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=app.err, transient=True) as progress:
        yield FleetView(app, tally, progress)


def print_tally(app: App, tally: Tally) -> None:
    """The counts line, then each failed host with its reason on one line (never in a cell)."""
    colour = "green" if not tally.failures else "yellow"
    app.out.print(f"[{colour}]{tally.counts}[/]")
    if not tally.failures:
        return
    for name, label, reason in tally.failures:
        app.out.print(f"[red]{shown(name)}: {label}[/]: {shown(reason)}")
