"""``remotefix targets ls``: what addresses and inventories resolve to."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app, shown
from remotefix.inventory import resolve_targets


@click.group()
def targets() -> None:
    """Target addresses and Ansible inventories."""


@targets.command("ls")
@click.argument("addresses", nargs=-1)
@click.option("-i", "--inventory", type=click.Path(dir_okay=False), help="Ansible inventory.")
@click.option("--limit", help="Ansible host pattern, e.g. 'web:!web3' or 'prod:&db'.")
@pass_app
def ls(app: App, addresses: tuple[str, ...], inventory: str | None, limit: str | None) -> None:
    """Show the targets ADDRESSES and/or an inventory resolve to."""
    found = resolve_targets(list(addresses), inventory, limit)

    def render() -> None:
        table = Table("name", "connection", "host", "port", "user", "groups")
        for t in found:
            port = "" if t.port is None else str(t.port)
            cells = (t.name, t.connection, t.host, port, t.user or "", ",".join(t.groups))
            table.add_row(*map(shown, cells))
        app.out.print(table)

    app.emit([t.to_dict() for t in found], render)
