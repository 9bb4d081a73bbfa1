"""Shared CLI state and the single place that turns our errors into exit codes."""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from remotefix.errors import RemotefixError
from remotefix.workspace import Workspace


@dataclass
class App:
    """What every command gets: output mode, verbosity, workspace, consoles."""

    json: bool = False
    verbose: int = 0
    workspace: Workspace = field(default_factory=Workspace.default)

    @cached_property
    def out(self) -> Console:
        """Human output; made on first use so it binds the stdout of that moment."""
        return _console(sys.stdout)

    @cached_property
    def err(self) -> Console:
        return _console(sys.stderr)

    def emit(self, data: Any, render: Callable[[], None]) -> None:
        """Print ``data`` as JSON in ``--json`` mode, else call ``render`` for the human view."""
        if self.json:
            click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        else:
            render()

    def progress(self, message: str) -> None:
        """Progress lines go to stderr so ``--json`` output on stdout stays parseable."""
        self.err.print(f"[dim]…[/dim] {message}")


pass_app = click.make_pass_decorator(App)

_CONTROLS = [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # can reorder what the eye sees
_VISIBLE = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in _BIDI}


def visible(value: object) -> str:
    """``value`` as one line with every control character shown, never obeyed, by the terminal
    (ESC sequences, CR, BEL, backspace, C1 codes, bidi overrides become ``\\x1b``-style text)."""
    return str(value).translate(_VISIBLE)


def shown(value: object) -> str:
    """Untrusted text for a Rich renderer: ``visible`` and with its markup escaped.

    Every value the CLI did not write itself goes through this before printing: remote output,
    target names, audit and inventory fields, paths, error messages, in tables and status lines.
    """
    return escape(visible(value))


PIPE_WIDTH = 160
"""Columns used when output is not a terminal (logs, CI): wide enough not to cut table cells."""


def _console(stream: Any) -> Console:
    """Not a terminal: tables at ``PIPE_WIDTH``, and lines never wrapped (one line stays one)."""
    tty = stream.isatty()
    return Console(file=stream, width=None if tty else PIPE_WIDTH, highlight=False,
                   soft_wrap=not tty, stderr=stream is sys.stderr)  # fmt: skip


class ErrorExit(click.ClickException):
    """A ``RemotefixError`` on its way out: one line on stderr, the error's exit code."""

    def __init__(self, error: RemotefixError, *, as_json: bool) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code
        self.error = error
        self.as_json = as_json

    def show(self, file: Any = None) -> None:
        if self.as_json:
            payload = {
                "error": type(self.error).__name__,
                "message": self.error.message,
                "hint": self.error.hint,
                "exit_code": self.exit_code,
            }
            click.echo(json.dumps({"error": payload}))
        click.echo(f"remotefix: error: {visible(self.message)}", err=True)


def translate(exc: BaseException) -> RemotefixError | None:
    """Map an exception escaping a command to ours; None means it is a bug (let it through)."""
    if isinstance(exc, RemotefixError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        name = f" writing {exc.filename}" if exc.filename else ""
        return RemotefixError(f"disk full{name}", hint="free space or set REMOTEFIX_HOME elsewhere")
    return None


class RemotefixGroup(click.Group):
    """Click group whose invoke maps our exception tree to exit codes, once for all commands."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            ours = translate(exc)
            if ours is None:
                raise
            app = ctx.find_object(App)
            raise ErrorExit(ours, as_json=bool(app and app.json)) from exc
