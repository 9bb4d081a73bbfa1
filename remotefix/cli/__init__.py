"""The ``remotefix`` command line: thin commands that parse, call the API and render."""

from __future__ import annotations

import click

from remotefix import __version__
from remotefix.cli._app import App, RemotefixGroup
from remotefix.cli.audit import audit
from remotefix.cli.bundle import bundle
from remotefix.cli.cases import case, regress, repro, triage_cmd
from remotefix.cli.collector_script import collector_script
from remotefix.cli.consent import consent
from remotefix.cli.demo import demo
from remotefix.cli.diagnose import diagnose_cmd
from remotefix.cli.doctor import doctor
from remotefix.cli.fingerprint import fingerprint
from remotefix.cli.fix import fix_cmd
from remotefix.cli.hosts import hosts
from remotefix.cli.images import images
from remotefix.cli.lab import lab
from remotefix.cli.run import run
from remotefix.cli.shell import shell
from remotefix.cli.targets import targets


@click.group(cls=RemotefixGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remotefix")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for more).")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: int) -> None:
    """Consented remote diagnostics, fingerprints and matching Docker labs."""
    ctx.obj = App(json=as_json, verbose=verbose)


COMMANDS = (
    doctor, images, targets, hosts, consent, run, shell, audit,
    diagnose_cmd, collector_script, bundle, fingerprint, triage_cmd, lab,
    case, repro, regress, fix_cmd, demo,
)  # fmt: skip
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="remotefix")
