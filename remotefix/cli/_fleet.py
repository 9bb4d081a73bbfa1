"""CLI pieces shared by the commands that work on targets (``run``, ``diagnose``, ``lab exec``):
the words after ``--``, the Ctrl-C notice, labels and the exit code of a fleet's outcome."""

from __future__ import annotations

from typing import Any

import click

from remotefix.cli._app import App, shown
from remotefix.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectError,
    ConsentError,
    Interrupted,
    RemotefixError,
)
from remotefix.fleet import Outcome

_COMMAND_KEY = "remotefix.command"


class DashDashCommand(click.Command):
    """A command whose words after the first ``--`` are kept aside as the remote command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_COMMAND_KEY] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


def remote_words(ctx: click.Context) -> list[str]:
    """The words after ``--`` (``remotefix.commandline`` says how they become a command)."""
    return list(ctx.meta.get(_COMMAND_KEY) or [])


def sigint_notice(app: App) -> None:
    app.err.print("[yellow]Ctrl-C: stopping (no new host starts; running commands are killed)[/]")


def fleet_exit_code(failed: list[Outcome[Any]]) -> int:
    """130 when Ctrl-C stopped anything, else the worst host's code."""
    if any(o.interrupted for o in failed):
        return Interrupted.exit_code
    return max(_exit_code(o) for o in failed)


def _exit_code(outcome: Outcome[Any]) -> int:
    """Our error's code for hosts that could not run it; 21 timed out; 20 for a failed command."""
    if outcome.error is not None:
        return outcome.error.exit_code
    timed_out = outcome.value is not None and outcome.value.timed_out
    return CommandTimeout.exit_code if timed_out else CommandFailed.exit_code


def error_label(error: RemotefixError) -> str:
    """What happened to a host that gave no result, in one word."""
    for kind, label in _LABELS:
        if isinstance(error, kind):
            return label
    return "FAILED"


def print_reasons(app: App, outcomes: list[Outcome[Any]]) -> None:
    """After a fleet table: why each host that gave no result failed, one line per host."""
    for outcome in outcomes:
        if outcome.error is not None:
            label = error_label(outcome.error)
            app.out.print(f"[red]{shown(outcome.target.name)} {label}:[/] {shown(outcome.error)}")


_LABELS = ((Interrupted, "INTERRUPTED"), (ConsentError, "REFUSED"), (ConnectError, "UNREACHABLE"))
