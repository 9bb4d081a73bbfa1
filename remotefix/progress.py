"""How long operations report progress: a callable that takes one line of text."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The progress sink for callers that show none."""
