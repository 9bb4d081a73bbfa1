"""The regression matrix: every case x OS in parallel, sharded for CI, reported as JUnit XML.

A cell fails when its verdict differs from the case's ``reproduces_on`` declaration (a known
issue that stops reproducing on a new release is news) or when it is an ERROR.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from remotefix.cases.model import KnownIssue
from remotefix.cases.repro import ReproResult, reproduce
from remotefix.errors import ConfigError
from remotefix.workspace import Workspace

DEFAULT_JOBS = 6


@dataclass(frozen=True, slots=True)
class Cell:
    case: KnownIssue
    on: str

    @property
    def key(self) -> str:
        return f"{self.case.id}@{self.on}"


def parse_shard(text: str | None) -> tuple[int, int]:
    """``i/n`` (1-based) → (i, n); None → (1, 1)."""
    if not text:
        return 1, 1
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise ConfigError(f"bad --shard {text!r}", hint="use i/n with 1 <= i <= n, e.g. 2/4")
    return i, n


def cells(
    cases: list[KnownIssue], matrix: list[str] | None = None, shard: tuple[int, int] = (1, 1)
) -> list[Cell]:
    """Case x OS pairs (the case's own matrix, or ``matrix`` ∩ it), this shard's share of them.

    The split is by position in the sorted list, so n shards cover every cell exactly once.
    """
    every = [Cell(c, on) for c in sorted(cases, key=lambda c: c.id) for on in c.matrix
             if matrix is None or on in matrix]  # fmt: skip
    i, n = shard
    return [cell for index, cell in enumerate(every) if index % n == i - 1]


def run_matrix(
    selected: list[Cell], *, workspace: Workspace, jobs: int = DEFAULT_JOBS,
    on_done: Callable[[Cell, ReproResult], None] | None = None,
    on_start: Callable[[Cell], None] | None = None,
    runtime: str = "local", registry: str | None = None,
) -> dict[str, ReproResult]:  # fmt: skip
    """Reproduce every cell, ``jobs`` at a time, on the lab ``runtime``; results by cell key.

    ``swarm``: each cell is a swarm job, its image pulled from ``registry`` (HOST:PORT)."""
    results: dict[str, ReproResult] = {}
    reproducer = _reproducer(runtime, registry, workspace)

    def one(cell: Cell) -> ReproResult:
        if on_start:
            on_start(cell)
        return reproducer(cell.case, cell.on)

    with ThreadPoolExecutor(
        max_workers=max(1, jobs), thread_name_prefix="remotefix-regress"
    ) as pool:
        futures = {pool.submit(one, cell): cell for cell in selected}
        for future in as_completed(futures):
            cell = futures[future]
            results[cell.key] = future.result()
            if on_done:
                on_done(cell, results[cell.key])
    return results


def _reproducer(
    runtime: str, registry: str | None, workspace: Workspace
) -> Callable[[KnownIssue, str], ReproResult]:
    if runtime == "local":
        return lambda case, on: reproduce(case, workspace=workspace, on=on)
    if runtime != "swarm":
        raise ConfigError(f"unknown lab runtime {runtime!r}", hint="use local or swarm")
    from remotefix.cases.repro_swarm import swarm_reproducer  # the swarm's SDK use, when asked
    from remotefix.lab.runtime_swarm import SwarmRuntime

    return swarm_reproducer(workspace, SwarmRuntime(registry=registry))


def junit_xml(selected: list[Cell], results: dict[str, ReproResult], path: Path) -> None:
    """One testcase per casexOS; a verdict other than declared is a failure, ERROR an error."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    suite = ET.Element(
        "testsuite", name="remotefix-regress", tests=str(len(selected)), timestamp=stamp
    )
    failures = errors = 0
    total = 0.0
    for cell in selected:
        result = results[cell.key]
        total += result.duration_s
        case = ET.SubElement(suite, "testcase", classname=cell.case.id, name=cell.on,
                             time=f"{result.duration_s:.2f}")  # fmt: skip
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="title", value=cell.case.title)
        detail = "\n".join(
            f"$ {s.command}\nexit {s.exit_code}\n{s.output[-500:]}" for s in result.steps
        )
        if result.verdict == "ERROR":
            errors += 1
            ET.SubElement(case, "error", message=result.error or "ERROR").text = detail
        elif not result.as_declared:
            failures += 1
            want = "REPRODUCED" if result.expected else "NOT_REPRODUCED"
            message = f"expected {want}, got {result.verdict}"
            ET.SubElement(case, "failure", message=message).text = detail
        ET.SubElement(
            case, "system-out"
        ).text = f"verdict {result.verdict}; evidence {result.evidence}"
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{total:.2f}")
    tmp = path.with_name(f".{path.name}.tmp")
    ET.ElementTree(suite).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
