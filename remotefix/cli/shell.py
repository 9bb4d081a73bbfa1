"""``remotefix shell``: an interactive shell on a target, under a ``shell`` consent, audited."""

from __future__ import annotations

from pathlib import Path

import click

from remotefix.cli._app import App, pass_app
from remotefix.errors import TransportError
from remotefix.session import Session
from remotefix.targets import parse_address


@click.command()
@click.argument("address")
@click.option("--case", required=True, help="The support case this work belongs to.")
@click.option(
    "--transcript",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write what the shell prints to this file (mode 0600).",
)
@pass_app
def shell(app: App, address: str, case: str, transcript: Path | None) -> None:
    """Open an interactive shell on TARGET; exits with the remote shell's exit status.

    Needs a shell grant for the case.

    \b
    Examples:
      remotefix shell ssh://root@web1 --case C-1042 --transcript t.log
    """
    target = parse_address(address)
    with Session(target, case=case, workspace=app.workspace) as session:
        status = session.shell(transcript=transcript)
    exit_with(status, target.name)


def exit_with(status: int | None, name: str) -> None:
    """Exit with the remote shell's status; a session that ended without one is an error."""
    if status is None:
        raise TransportError(
            f"the shell on {name} ended without an exit status (killed, or the connection dropped)",
            hint="see `remotefix audit log` for the session's record",
        )
    if status:
        raise click.exceptions.Exit(status)
