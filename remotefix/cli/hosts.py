"""``remotefix hosts``: see and trust SSH host keys (strict checking is always on)."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.errors import HostKeyError, TargetError
from remotefix.hostkeys import fetch_host_key, fingerprint, host_entry, known_host_keys, trust
from remotefix.targets import parse_address
from remotefix.transports._ssh_settings import resolve


@click.group()
def hosts() -> None:
    """Known SSH host keys."""


@hosts.command("trust")
@click.argument("address")
@click.option("--fingerprint", "expected", help="Trust only if the key has this SHA256:… value.")
@click.option("--yes", is_flag=True, help="Trust without asking (scripted use).")
@click.option("--replace", is_flag=True, help="Replace a different key already recorded.")
@pass_app
def trust_cmd(app: App, address: str, expected: str | None, yes: bool, replace: bool) -> None:
    """Fetch TARGET's host key, show its fingerprint, and record it once confirmed."""
    target = parse_address(address)
    if target.connection != "ssh":
        raise TargetError(f"{address} is not an ssh:// target", hint="host keys are for SSH")
    settings = resolve(target)
    key = fetch_host_key(settings.host, settings.port)
    seen = fingerprint(key)
    name = host_entry(settings.host, settings.port)
    if expected and expected != seen:
        raise HostKeyError(f"{name} offers {seen}, not the expected {expected}; not trusted")
    if not app.json:
        app.out.print(f"{name} {key.get_name()} {seen}")
    if not (yes or expected or click.confirm("Does this match what the customer read out?")):
        raise click.exceptions.Exit(1)
    added = trust(app.workspace, settings.host, settings.port, key, replace=replace)
    result = {"host": name, "type": key.get_name(), "fingerprint": seen, "added": added}
    app.emit(result, lambda: app.out.print("recorded" if added else "already trusted"))


@hosts.command("ls")
@pass_app
def ls(app: App) -> None:
    """List the host keys remotefix trusts (~/.ssh/known_hosts and its own file)."""
    rows = [
        {"host": host, "type": keytype, "fingerprint": fingerprint(key)}
        for host, keys in known_host_keys(app.workspace).items()
        for keytype, key in keys.items()
    ]

    def render() -> None:
        table = Table("host", "type", "fingerprint")
        for row in rows:
            table.add_row(row["host"], row["type"], row["fingerprint"])
        app.out.print(table)

    app.emit(rows, render)
