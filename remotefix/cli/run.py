"""``remotefix run``: one command on one or many targets, in parallel, through the session door."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from remotefix.cli._app import App, pass_app
from remotefix.cli._inventory_options import inventory_options
from remotefix.consent import Scope
from remotefix.errors import RemotefixError, TargetError
from remotefix.fleet import DEFAULT_FORKS, Outcome, fan_out
from remotefix.inventory import resolve_targets
from remotefix.result import CommandResult
from remotefix.session import Session
from remotefix.targets import Target

_COMMAND_KEY = "remotefix.command"


class DashDashCommand(click.Command):
    """A command whose words after the first ``--`` are kept aside as the remote command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_COMMAND_KEY] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


def remote_command(ctx: click.Context) -> str:
    """The words after ``--``, joined with spaces like ssh(1) does."""
    words: list[str] = ctx.meta.get(_COMMAND_KEY) or []
    if not words:
        raise TargetError("no command given", hint="put it after --, e.g. -- uname -a")
    return " ".join(words)


@click.command(cls=DashDashCommand)
@click.argument("addresses", nargs=-1)
@inventory_options
@click.option("--case", required=True, help="The support case this work belongs to.")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    default=Scope.DIAGNOSE.value,
    show_default=True,
    help="Consent scope the command needs (fix for anything that changes the machine).",
)
@click.option("--sudo", is_flag=True, help="Run as root through sudo -n (never prompts).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per host.")
@click.option("--forks", type=click.IntRange(1, 256), default=DEFAULT_FORKS, show_default=True)
@pass_app
@click.pass_context
def run(ctx: click.Context, app: App, addresses: tuple[str, ...], **opts: Any) -> None:
    """Run a command: `remotefix run TARGET... --case C -- COMMAND`, or `-i INV --limit P -- CMD`.

    Hosts run in parallel; unreachable ones are reported and the others still run. The exit code
    is non-zero when any host failed.
    """
    command = remote_command(ctx)
    targets = resolve_targets(list(addresses), opts["inventory"], opts["limit"])
    scope = Scope(opts["scope"])

    def work(target: Target) -> CommandResult:
        with Session(target, case=opts["case"], workspace=app.workspace) as session:
            return session.run(command, scope=scope, timeout=opts["timeout"], sudo=opts["sudo"])

    outcomes: list[Outcome[CommandResult]] = []
    for outcome in fan_out(targets, work, forks=opts["forks"]):
        outcomes.append(outcome)
        if not app.json:
            _print_outcome(app, outcome)
    failed = [o for o in outcomes if not _succeeded(o)]
    app.emit([_as_dict(o) for o in outcomes], lambda: _summary(app, outcomes, failed))
    if failed:
        raise click.exceptions.Exit(max(_exit_code(o) for o in failed))


def _succeeded(outcome: Outcome[CommandResult]) -> bool:
    return outcome.value is not None and outcome.value.ok


def _exit_code(outcome: Outcome[CommandResult]) -> int:
    """Our error's code for hosts that could not run it; 1 for a command that failed."""
    return outcome.error.exit_code if outcome.error else 1


def _as_dict(outcome: Outcome[CommandResult]) -> dict[str, Any]:
    data: dict[str, Any] = {"target": outcome.target.name, "address": outcome.target.address}
    if outcome.error is not None:
        return {**data, "ok": False, "error": _error_dict(outcome.error)}
    result = outcome.value
    assert result is not None
    return {
        **data,
        "ok": result.ok,
        "exit_code": result.exit_code,
        "stdout": result.stdout_text,
        "stderr": result.stderr_text,
        "duration_s": round(result.duration_s, 3),
        "timed_out": result.timed_out,
        "truncated": result.truncated,
    }


def _error_dict(error: RemotefixError) -> dict[str, Any]:
    return {"type": type(error).__name__, "message": str(error), "exit_code": error.exit_code}


def _print_outcome(app: App, outcome: Outcome[CommandResult]) -> None:
    name = escape(outcome.target.name)
    if outcome.error is not None:
        app.out.print(f"[bold red]{name}[/] UNREACHABLE: {escape(str(outcome.error))}")
        return
    result = outcome.value
    assert result is not None
    state = "timed out" if result.timed_out else f"exit {result.exit_code}"
    colour = "green" if result.ok else "red"
    flags = " (output truncated)" if result.truncated else ""
    app.out.print(f"[bold {colour}]{name}[/] {state} in {result.duration_s:.2f}s{flags}")
    for stream, text in (("", result.stdout_text), ("stderr: ", result.stderr_text)):
        for line in text.splitlines():
            app.out.print(f"  {stream}{escape(line)}")


def _summary(app: App, outcomes: list[Outcome[CommandResult]], failed: list[Any]) -> None:
    app.out.print(f"{len(outcomes) - len(failed)} ok, {len(failed)} failed")
