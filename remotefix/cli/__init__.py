"""The ``remotefix`` command line: thin commands that parse, call the API and render.

Commands are imported when used (``remotefix diagnose`` never loads the Docker SDK or
ansible-runner), which keeps a one-shot command's start-up short.
"""

from __future__ import annotations

import importlib

import click

from remotefix import __version__
from remotefix.cli._app import App, RemotefixGroup

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
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remotefix")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for more).")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: int) -> None:
    """Consented remote diagnostics, fingerprints and matching Docker labs."""
    ctx.obj = App(json=as_json, verbose=verbose)


def main() -> None:
    cli(prog_name="remotefix")
