"""``remotefix collector-script``: the standalone script for customers who allow no connection."""

from __future__ import annotations

import click

from remotefix.cli._app import App, pass_app
from remotefix.collect.script import render_script
from remotefix.collect.specs import load_collectors, select_collectors


@click.command("collector-script")
@click.option(
    "--os",
    "os_family",
    type=click.Choice(["linux", "windows"]),
    default="linux",
    show_default=True,
    help="linux: a POSIX sh script; windows: PowerShell.",
)
@click.option(
    "--profile",
    type=click.Choice(["quick", "full"]),
    default="full",
    show_default=True,
    help="quick: what the fingerprint needs (OS, packages, services); full: every collector.",
)
@click.option("--only", multiple=True, help="Only this collector (repeatable).")
@click.option("--skip", multiple=True, help="Skip this collector (repeatable).")
@pass_app
def collector_script(
    app: App, os_family: str, profile: str, only: tuple[str, ...], skip: tuple[str, ...]
) -> None:
    """Print a script that collects what `diagnose` would, for a customer to run by hand.

    POSIX sh, or PowerShell with --os windows; import what it prints with `bundle import`.

    \b
    Examples:
      remotefix collector-script --os linux > collect.sh
      remotefix bundle import output.txt --case C-1042 --target-name web1
    """
    collectors = select_collectors(
        load_collectors(os_family),
        profile=profile,
        only=only,
        skip=skip,  # type: ignore[arg-type]
    )
    click.echo(render_script(collectors, profile=profile), nl=False)
