"""``remotefix hosts``: see and trust SSH host keys (strict checking is always on)."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix._known_hosts import KnownLine
from remotefix.cli._app import App, pass_app, shown
from remotefix.errors import HostKeyError, TargetError
from remotefix.hostkeys import Trusted, fingerprint, host_entry, known_host_keys, trust
from remotefix.targets import parse_address
from remotefix.transports._ssh_settings import resolve
from remotefix.transports.ssh_keyscan import scan_host_key


@click.group()
def hosts() -> None:
    """Known SSH host keys: trust one after checking it with the customer, list them.

    \b
    Examples:
      remotefix hosts trust ssh://root@203.0.113.7
      remotefix hosts ls
    """


@hosts.command("trust")
@click.argument("address")
@click.option("--fingerprint", "expected", help="Trust only if the key has this SHA256:… value.")
@click.option("--yes", is_flag=True, help="Trust without asking (scripted use).")
@click.option(
    "--replace", is_flag=True, help="Replace every other key trusted for the host (any file)."
)
@pass_app
def trust_cmd(app: App, address: str, expected: str | None, yes: bool, replace: bool) -> None:
    """Fetch TARGET's host key (through its ProxyJump), show it, record it once confirmed.

    \b
    Examples:
      remotefix hosts trust ssh://root@203.0.113.7
      remotefix hosts trust web1 --fingerprint SHA256:AbC... --yes
    """
    target = parse_address(address)
    if target.connection != "ssh":
        raise TargetError(f"{address} is not an ssh:// target", hint="host keys are for SSH")
    known = known_host_keys(app.workspace)
    settings = resolve(target)
    name = host_entry(settings.host, settings.port)
    prefer = list(known.lookup(name) or {})
    key = scan_host_key(settings, workspace=app.workspace, prefer=prefer)
    seen = fingerprint(key)
    if expected and expected != seen:
        raise HostKeyError(f"{name} offers {seen}, not the expected {expected}; not trusted")
    if not app.json:
        app.out.print(f"{name} {key.get_name()} {seen}")
    if not (yes or expected or click.confirm("Does this match what the customer read out?")):
        raise click.exceptions.Exit(1)
    done = trust(app.workspace, settings.host, settings.port, key, replace=replace)
    result = {"host": name, "type": key.get_name(), "fingerprint": seen, "added": done.added,
              "overrides": list(done.shadowed)}  # fmt: skip
    app.emit(result, lambda: _render_trusted(app, done))


def _render_trusted(app: App, done: Trusted) -> None:
    app.out.print("recorded" if done.added else "already trusted")
    for line in done.shadowed:
        app.out.print(f"overrides for remotefix (OpenSSH still uses it): {line}")


@hosts.command("ls")
@pass_app
def ls(app: App) -> None:
    """List the host keys remotefix trusts, and the @revoked/@cert-authority lines it read.

    \b
    Examples:
      remotefix hosts ls
    """
    known = known_host_keys(app.workspace)
    rows = [
        {"host": host, "type": keytype, "fingerprint": fingerprint(key), "status": "trusted"}
        for host, keys in known.items()
        for keytype, key in keys.items()
    ]
    rows += [_marker_row(line, "revoked") for line in known.revoked]
    rows += [_marker_row(line, "ignored: @cert-authority") for line in known.authorities]

    def render() -> None:
        table = Table("host", "type", "fingerprint", "status")
        for row in rows:
            table.add_row(*(shown(row[k]) for k in ("host", "type", "fingerprint", "status")))
        app.out.print(table)
        for note in known.skipped:
            app.err.print(f"skipped {note}", markup=False)

    app.emit(rows, render)


def _marker_row(line: KnownLine, status: str) -> dict[str, str]:
    return {"host": ",".join(line.names), "type": line.key.get_name(),
            "fingerprint": fingerprint(line.key), "status": status}  # fmt: skip
