"""Render a dossier (or the regression matrix) through the package's Jinja templates.

HTML is autoescaped and self-contained: inline CSS and SVG, no script, and a Content-Security-
Policy that forbids every fetch, so the page opens from a file or a mail attachment and shows
the same thing offline. Markdown escapes table cells and code spans.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from remotefix.errors import WorkspaceError
from remotefix.report import charts

FORMATS = ("html", "md")


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("remotefix.report", "templates"),
        autoescape=autoescape,  # noqa: S701 - Markdown is not HTML; the HTML env escapes
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = md_cell
    env.filters["seconds"] = lambda s: f"{float(s):.1f} s"
    env.globals.update(charts=charts, colours=charts.STATUS_COLOURS)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` (``*.html.j2`` autoescaped, ``*.md.j2`` not) with ``context``."""
    return _env(template.endswith(".html.j2")).get_template(template).render(**context)


def md_cell(value: object) -> str:
    """A value safe inside a Markdown table cell: one line, pipes and backticks escaped."""
    text = " ".join(str(value if value is not None else "").split())
    for ch in ("\\", "|", "`", "<", ">", "*", "_", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder (never half a file)."""
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot write {path}: {exc.strerror}", hint="choose a writable -o path"
        ) from exc
    return path
