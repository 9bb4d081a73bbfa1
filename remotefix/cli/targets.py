"""``remotefix targets ls``: what addresses and inventories resolve to."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app, shown
from remotefix.cli._inventory_options import inventory_options
from remotefix.errors import TargetError
from remotefix.inventory import InventorySource, Skipped, load_inventory
from remotefix.targets import Target, parse_address


@click.group()
def targets() -> None:
    """Target addresses and Ansible inventories.

    \b
    Examples:
      remotefix targets ls -i hosts.ini
    """


@targets.command("ls")
@click.argument("addresses", nargs=-1)
@inventory_options
@pass_app
def ls(
    app: App, addresses: tuple[str, ...], inventory: InventorySource | None, limit: str | None
) -> None:
    """Show the targets ADDRESSES and/or an inventory resolve to, and the hosts skipped (why).

    \b
    Examples:
      remotefix targets ls ssh://root@web1 docker://db
      remotefix targets ls -i hosts.ini --limit 'web:!web3'
    """
    rows: list[Target | Skipped] = [parse_address(a) for a in addresses]
    if limit and inventory is None:
        raise TargetError("--limit selects from an inventory", hint="pass -i INVENTORY too")
    if inventory is not None:
        found = load_inventory(inventory, limit)
        rows += [*found.targets, *found.skipped]
    if not rows:
        raise TargetError("no targets", hint="name a TARGET or pass -i INVENTORY")
    app.emit([_as_dict(r) for r in rows], lambda: app.out.print(_table(rows)))


def _as_dict(row: Target | Skipped) -> dict[str, object]:
    return row.to_dict() if isinstance(row, Skipped) else {**row.to_dict(), "skipped": None}


def _table(rows: list[Target | Skipped]) -> Table:
    table = Table("name", "connection", "host", "port", "user", "groups", "skipped")
    for r in rows:
        port = "" if r.port is None else str(r.port)
        reason = r.reason if isinstance(r, Skipped) else ""
        cells = (r.name, r.connection, r.host, port, r.user or "", ",".join(r.groups), reason)
        table.add_row(*map(shown, cells))
    return table
