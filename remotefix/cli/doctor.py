"""``remotefix doctor``: report what this machine has and what it lacks."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.doctor import run_checks
from remotefix.errors import DependencyError


@click.command()
@pass_app
def doctor(app: App) -> None:
    """Check Docker, debootstrap, ssh, ansible-runner, the state directory and base images.

    Each missing piece comes with what fixes it; exit 6 when a required one is missing.

    \b
    Examples:
      remotefix doctor
      remotefix doctor --json
    """
    checks = run_checks(app.workspace)
    failed = [c for c in checks if not c.ok and c.required]

    def render() -> None:
        table = Table("check", "status", "detail", "fix")
        for c in checks:
            status = (
                "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
            )
            table.add_row(c.name, status, c.detail, c.fix)
        app.out.print(table)
        summary = f"{len(failed)} required check(s) failed" if failed else "ready"
        app.out.print(summary)

    app.emit({"ok": not failed, "checks": [c.to_dict() for c in checks]}, render)
    if failed:  # something remotefix needs is missing: the dependency exit code
        raise click.exceptions.Exit(DependencyError.exit_code)
