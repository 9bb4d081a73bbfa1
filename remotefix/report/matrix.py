"""The regression matrix (cases by OS) as one self-contained page, from the same data as JUnit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from markupsafe import Markup

from remotefix.cases.regress import Cell
from remotefix.cases.repro import ReproResult
from remotefix.report import charts
from remotefix.report.render import render, write_atomic

SHORT = {"REPRODUCED": "R", "NOT_REPRODUCED": "N", "ERROR": "ERR"}


@dataclass(frozen=True, slots=True)
class MatrixCell:
    case: str
    title: str
    on: str
    verdict: str
    declared: str
    status: str
    duration_s: float
    evidence: str | None
    error: str | None


def matrix_cells(
    selected: list[Cell], results: dict[str, ReproResult], page: Path
) -> list[MatrixCell]:
    """One value per cell; evidence links are relative to the page so the folder can move."""
    out = []
    for cell in selected:
        r = results[cell.key]
        status = (
            "error"
            if r.verdict == "ERROR"
            else ("as declared" if r.as_declared else "not as declared")
        )
        declared = {True: "REPRODUCED", False: "NOT_REPRODUCED", None: "undeclared"}[r.expected]
        link = os.path.relpath(r.evidence, page.parent.resolve()) if r.evidence else None
        out.append(MatrixCell(cell.case.id, cell.case.title, cell.on, r.verdict, declared, status,
                              r.duration_s, link, r.error))  # fmt: skip
    return out


def heat_map(cells: list[MatrixCell]) -> Markup:
    rows = list(dict.fromkeys(c.case for c in cells))
    cols = list(dict.fromkeys(c.on for c in cells))
    data = {
        (c.case, c.on): (
            charts.VERDICT_COLOURS[c.status],
            f"{SHORT[c.verdict]} {c.duration_s:.0f}s",
        )
        for c in cells
    }
    return charts.grid(rows, cols, data)


def write_matrix_page(selected: list[Cell], results: dict[str, ReproResult], page: Path) -> Path:
    """Write the matrix page to ``page`` (atomically)."""
    cells = matrix_cells(selected, results, page)
    counts: dict[str, int] = {}
    for c in cells:
        counts[c.status] = counts.get(c.status, 0) + 1
    text = render(
        "matrix.html.j2",
        cells=cells,
        heat=heat_map(cells),
        counts=counts,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    return write_atomic(page, text)
