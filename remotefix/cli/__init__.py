"""The ``remotefix`` command line: thin commands that parse, call the API and render.

Commands are imported when used (``remotefix diagnose`` never loads the Docker SDK or
ansible-runner), which keeps a one-shot command's start-up short.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from remotefix import __version__, _lazy_imports  # noqa: F401 (before anything imports paramiko)
from remotefix.cli._app import App, RemotefixGroup
from remotefix.config import defaults_for, load_config
from remotefix.errors import RemotefixError

COMMANDS = {
    "doctor": "doctor:doctor",
    "images": "images:images",
    "targets": "targets:targets",
    "hosts": "hosts:hosts",
    "consent": "consent:consent",
    "run": "run:run",
    "shell": "shell:shell",
    "audit": "audit:audit",
    "diagnose": "diagnose:diagnose_cmd",
    "collector-script": "collector_script:collector_script",
    "bundle": "bundle:bundle",
    "redact": "redact:redact_cmd",
    "fingerprint": "fingerprint:fingerprint",
    "triage": "cases:triage_cmd",
    "lab": "lab:lab",
    "case": "cases:case",
    "repro": "cases:repro",
    "regress": "cases:regress",
    "fix": "fix:fix_cmd",
    "demo": "demo:demo",
    "help": "help:help_cmd",
    "report": "report:report",
    "kb": "report:kb",
}
"""Command name → ``module:attribute`` under ``remotefix.cli``."""


class LazyGroup(RemotefixGroup):
    """Imports a command's module only when that command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(f"remotefix.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        _accept_json_anywhere(command)
        config = ctx.meta.setdefault("remotefix.config", None) or load_config(
            commands=set(COMMANDS)
        )
        ctx.meta["remotefix.config"] = config
        if config:
            ctx.default_map = ctx.default_map or {}
            ctx.default_map[cmd_name] = _defaults(command, config.get("defaults", {}),
                                                  config.get(cmd_name, {}))  # fmt: skip
        return command


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    app = ctx.find_object(App)
    if value and app is not None:
        app.json = True


def _accept_json_anywhere(command: click.Command) -> None:
    """``remotefix lab ls --json`` means ``remotefix --json lab ls`` (every command and group)."""
    if not any(p.name == "json_here" for p in command.params):
        command.params.append(
            click.Option(["--json", "json_here"], is_flag=True, expose_value=False,
                         is_eager=True, callback=_set_json,
                         help="Machine-readable JSON output (same as before the command).")
        )  # fmt: skip
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_json_anywhere(sub)


def _defaults(
    command: click.Command, base: dict[str, Any], table: dict[str, Any]
) -> dict[str, Any]:
    """click's ``default_map`` for one command (and its subcommands) from the config file."""
    out = defaults_for({p.name for p in command.params if p.name}, base, table)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            nested = table.get(name)
            out[name] = _defaults(sub, base, nested if isinstance(nested, dict) else {})
    return out


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remotefix")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for more).")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: int) -> None:
    """Consented remote diagnostics, fingerprints and matching Docker labs.

    Nothing runs on a customer machine without a live consent grant; every step is audited.

    \b
    Examples:
      remotefix doctor
      remotefix COMMAND --help
      remotefix --json lab ls
    """
    ctx.obj = App(json=as_json, verbose=verbose)


def main() -> None:
    """The console entry point: usage errors are one line too, and JSON when --json is given."""
    wants_json = "--json" in sys.argv[1:]
    try:
        code = cli.main(prog_name="remotefix", standalone_mode=False)
    except click.UsageError as exc:
        if wants_json:
            message = exc.format_message()
            click.echo(json.dumps({"error": {"error": "UsageError", "message": message,
                                             "hint": "see --help", "exit_code": 2}}))  # fmt: skip
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(130)
    except RemotefixError as exc:  # raised while click builds help or resolves a command
        click.echo(f"remotefix: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
