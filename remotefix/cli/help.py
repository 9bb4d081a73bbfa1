"""``remotefix help exit-codes``: reference topics that are not a command's --help."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.errors import RemotefixError
from remotefix.transports import base  # noqa: F401  (defines RemotePathError, part of the tree)

OUTSIDE_THE_TREE = [
    (0, "success", "the command did what it was asked"),
    (2, "UsageError", "bad options or arguments (see the command's --help)"),
]


def exit_codes() -> list[tuple[int, str, str]]:
    """Every exit code remotefix uses: its error classes plus 0, 2 and 130, sorted."""
    found, todo = [], [RemotefixError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        found.append((cls.exit_code, cls.__name__, doc or _TREE_LINES.get(cls.__name__, "")))
    return sorted(found + OUTSIDE_THE_TREE)


def _tree_lines() -> dict[str, str]:
    """Meanings from the tree drawn in ``remotefix.errors``' docstring (one line per class)."""
    import remotefix.errors as errors_module

    out = {}
    for line in (errors_module.__doc__ or "").splitlines():
        words = line.replace("├──", "").replace("└──", "").replace("│", "").split()
        if len(words) >= 3 and words[1].startswith("("):
            out[words[0]] = " ".join(words[2:])
    return out


_TREE_LINES = _tree_lines()


@click.command("help")
@click.argument("topic", type=click.Choice(["exit-codes"]))
@pass_app
def help_cmd(app: App, topic: str) -> None:
    """Reference topics: exit-codes (what each exit code means).

    \b
    Examples:
      remotefix help exit-codes
    """
    rows = exit_codes()
    data = [{"exit_code": c, "name": n, "meaning": m} for c, n, m in rows]

    def render() -> None:
        table = Table("code", "name", "meaning")
        for code, name, meaning in rows:
            table.add_row(str(code), name, meaning)
        app.out.print(table)

    app.emit(data, render)
