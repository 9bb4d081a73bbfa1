"""Documents built from what the workspace holds: the case report, the KB draft, the matrix page."""

from __future__ import annotations

from pathlib import Path

from remotefix.report.dossier import Dossier, gather
from remotefix.report.render import FORMATS, render, write_atomic
from remotefix.workspace import Workspace

__all__ = ["FORMATS", "Dossier", "gather", "report_text", "write_report"]


def report_text(dossier: Dossier, fmt: str = "html") -> str:
    """The case report as one self-contained HTML page or as Markdown."""
    return render(f"report.{fmt}.j2", d=dossier)


def write_report(workspace: Workspace, case: str, path: Path, fmt: str = "html") -> Path:
    """Gather ``case`` from ``workspace`` and write its report to ``path`` atomically."""
    return write_atomic(path, report_text(gather(workspace, case), fmt))
