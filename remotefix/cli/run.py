"""``remotefix run``: one command on one or many targets, in parallel, through the session door.

Scope rule: an arbitrary command can change the machine (``find -delete``, ``sh -c``, a pager's
``!``), so no allow-list of "read-only" commands can be trusted; ``run`` always needs a ``fix``
grant. Read-only collection under a ``diagnose`` grant is ``remotefix diagnose``, whose commands
are remotefix's own declared collectors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from remotefix import interrupt
from remotefix.cli._app import App, pass_app, shown, visible
from remotefix.cli._fleet import (
    DashDashCommand,
    error_label,
    fleet_exit_code,
    remote_words,
    sigint_notice,
)
from remotefix.cli._inventory_options import inventory_options
from remotefix.commandline import check_words, command_line
from remotefix.consent import Scope
from remotefix.errors import ConsentError, RemotefixError, WorkspaceError
from remotefix.filenames import safe_name
from remotefix.fleet import DEFAULT_FORKS, Outcome, fan_out
from remotefix.inventory import resolve_targets
from remotefix.result import CommandResult
from remotefix.session import Session
from remotefix.targets import Target

RUN_SCOPE = Scope.FIX
"""The scope ``run`` needs, whatever the command (see the module docstring)."""


def _refuse_other_scopes(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value not in (None, RUN_SCOPE.value):
        raise ConsentError(
            f"run always needs the {RUN_SCOPE.value} scope (--scope {value} is not accepted): "
            "any command can change the machine",
            hint="get a fix grant, or use `remotefix diagnose` for read-only collection",
        )


@click.command(cls=DashDashCommand)
@click.argument("addresses", nargs=-1)
@inventory_options
@click.option("--case", required=True, help="The support case this work belongs to.")
@click.option("--scope", hidden=True, expose_value=False, callback=_refuse_other_scopes)
@click.option("--sudo", is_flag=True, help="Run as root through sudo -n (never prompts).")
@click.option(
    "--timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds per host before its command is killed (exit 21).",
)
@click.option(
    "--forks",
    type=click.IntRange(1, 256),
    default=DEFAULT_FORKS,
    show_default=True,
    help="Hosts the command runs on at the same time.",
)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each host's stdout, stderr, result here as it ends.")  # fmt: skip
@pass_app
@click.pass_context
def run(ctx: click.Context, app: App, addresses: tuple[str, ...], **opts: Any) -> None:
    """Run one command on one or many targets, in parallel.

    Needs a fix grant: any command can change the machine (read-only collection is `diagnose`).
    Several words after -- are passed as words (`-- grep -c 'a b' /etc/hosts`); a single word
    is a shell command line (`-- 'ps aux | grep nginx'`). With one target the command's own
    stdout and stderr are passed through untouched when stdout is redirected
    (`run web1 --case C -- cat f > f`; on a terminal the escaped per-host view), the status goes
    to stderr and the exit code is the command's own (as ssh does). Several hosts run in
    parallel with a per-host view; unreachable ones are reported and the others still run.
    Exit 0 when every host succeeded, 20 when a command failed, 21 when one timed out, 130
    after Ctrl-C.

    \b
    Examples:
      remotefix run web1 web2 --case C-1042 -- uname -a
      remotefix run web1 --case C-1042 -- cat /etc/app.conf > app.conf
      remotefix run -i hosts.ini --limit 'web:!web3' --case C-1042 -o out/ -- df -h
    """
    words = remote_words(ctx)
    check_words(words)
    targets = resolve_targets(list(addresses), opts["inventory"], opts["limit"])
    output: Path | None = opts["output"]
    if output is not None:
        with _writing(output):
            output.mkdir(parents=True, exist_ok=True)

    def work(target: Target) -> CommandResult:
        with Session(target, case=opts["case"], workspace=app.workspace) as session:
            return session.run(
                command_line(words, target), scope=RUN_SCOPE, timeout=opts["timeout"],
                sudo=opts["sudo"],
            )  # fmt: skip

    outcomes: list[Outcome[CommandResult]] = []
    single = len(targets) == 1 and not app.json
    raw = single and not sys.stdout.isatty()  # redirected: the bytes as they are
    with interrupt.on_sigint(lambda: sigint_notice(app)):
        for outcome in fan_out(targets, work, forks=opts["forks"]):
            outcomes.append(outcome)
            if output is not None:
                write_outcome(output, outcome)
            if raw:
                _pass_through(app, outcome)
            elif not app.json:
                _print_outcome(app, outcome)
    failed = [o for o in outcomes if not _succeeded(o)]
    if single:
        raise click.exceptions.Exit(_own_exit_code(outcomes[0]) if failed else 0)
    app.emit([_as_dict(o) for o in outcomes], lambda: _summary(app, outcomes, failed))
    if failed:
        raise click.exceptions.Exit(fleet_exit_code(failed))


def _succeeded(outcome: Outcome[CommandResult]) -> bool:
    return outcome.value is not None and outcome.value.ok


def write_outcome(folder: Path, outcome: Outcome[CommandResult]) -> None:
    """``<name>.json`` (the result without output) and raw ``.stdout`` / ``.stderr`` of one host.

    Names come from ``safe_name`` (never two targets on one file); each file appears whole.
    """
    stem = safe_name(outcome.target.name)
    data = {k: v for k, v in _as_dict(outcome).items() if k not in ("stdout", "stderr")}
    with _writing(folder):
        if outcome.value is not None:
            _write_atomically(folder / f"{stem}.stdout", outcome.value.stdout)
            _write_atomically(folder / f"{stem}.stderr", outcome.value.stderr)
        _write_atomically(folder / f"{stem}.json", json.dumps(data, indent=2).encode() + b"\n")


@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """A results folder that cannot be written is one clear error (not a traceback)."""
    try:
        yield
    except OSError as exc:
        raise WorkspaceError(
            f"cannot write results into {folder}: {exc.strerror or exc}",
            hint="choose a writable folder with -o",
        ) from exc


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


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


def _pass_through(app: App, outcome: Outcome[CommandResult]) -> None:
    """One target, stdout redirected: its output as it is, the status on stderr."""
    result = outcome.value
    if result is not None:
        for data, stream in ((result.stdout, sys.stdout), (result.stderr, sys.stderr)):
            text = data if not stream.isatty() else _terminal_safe(data)
            stream.flush()
            stream.buffer.write(text)
            stream.flush()
    name = shown(outcome.target.name)
    if outcome.error is not None:
        app.err.print(f"[bold red]{name}[/] {error_label(outcome.error)}: {shown(outcome.error)}")
    elif result is not None and not result.ok:
        state = "timed out (killed)" if result.timed_out else f"exit {result.exit_code}"
        app.err.print(f"[bold red]{name}[/] {state} in {result.duration_s:.2f}s")


def _terminal_safe(data: bytes) -> bytes:
    lines = data.decode("utf-8", errors="replace").split("\n")
    return "\n".join(visible(line) for line in lines).encode()


def _own_exit_code(outcome: Outcome[CommandResult]) -> int:
    """The command's own exit status for one target; ours when it could not run or timed out."""
    result = outcome.value
    if result is None or result.timed_out or not result.exit_code:
        return fleet_exit_code([outcome])
    return result.exit_code


def _print_outcome(app: App, outcome: Outcome[CommandResult]) -> None:
    name = shown(outcome.target.name)
    if outcome.error is not None:
        app.out.print(f"[bold red]{name}[/] {error_label(outcome.error)}: {shown(outcome.error)}")
        return
    result = outcome.value
    assert result is not None
    state = "timed out (killed)" if result.timed_out else f"exit {result.exit_code}"
    colour = "green" if result.ok else "red"
    flags = " (output truncated)" if result.truncated else ""
    app.out.print(f"[bold {colour}]{name}[/] {state} in {result.duration_s:.2f}s{flags}")
    for stream, text in (("", result.stdout_text), ("stderr: ", result.stderr_text)):
        for line in text.splitlines():
            app.out.print(f"  {stream}{shown(line)}")


def _summary(app: App, outcomes: list[Outcome[CommandResult]], failed: list[Any]) -> None:
    app.out.print(f"{len(outcomes) - len(failed)} ok, {len(failed)} failed")
