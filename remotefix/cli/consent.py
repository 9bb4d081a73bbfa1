"""``remotefix consent``: record, list, show and revoke the customer's consent grants.

Every grant and revocation is also an audit record (``consent.grant`` / ``consent.revoke``).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app, shown
from remotefix.consent import ConsentStore, Grant, GrantStatus, Scope, parse_duration
from remotefix.consent_audit import give, withdraw
from remotefix.errors import ConsentError

_GRANT_ID = re.compile(r"\bc-[0-9a-f]{8}\b")
_STATUS_STYLE = {
    GrantStatus.ACTIVE: "[green]active[/]",
    GrantStatus.EXPIRED: "[yellow]expired[/]",
    GrantStatus.REVOKED: "[red]revoked[/]",
}


@click.group()
def consent() -> None:
    """Customer consent: who allowed what, on which targets, until when.

    \b
    Examples:
      remotefix consent grant --case C-1042 --target 'web*' --scope diagnose --by J --evidence T
      remotefix consent ls --case C-1042
    """


@consent.command("grant")
@click.option("--case", required=True, help="Case (ticket) the consent belongs to.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="Host pattern matched against what is connected to: web1, '*.customer.example', "
    "10.0.0.5, 10.0.0.0/24, '10.0.0.*', ssh://root@host:22 (repeatable; see the README).",
)
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    required=True,
    help="diagnose (read-only) < fix (changes) < shell (interactive); each includes the former.",
)
@click.option(
    "--sudo", is_flag=True, help="The customer also allows root through `sudo -n` on these targets."
)
@click.option("--expires", default="4h", show_default=True, help="Validity: 30m, 4h, 2d, 1h30m.")
@click.option("--by", "granted_by", required=True, help="Customer contact who gave consent.")
@click.option("--evidence", required=True, help="Where the consent is recorded (ticket/ref).")
@pass_app
def grant_cmd(
    app: App,
    case: str,
    targets: tuple[str, ...],
    scope: str,
    sudo: bool,
    expires: str,
    granted_by: str,
    evidence: str,
) -> None:
    """Record a consent grant given by the customer.

    \b
    Examples:
      remotefix consent grant --case C-1042 --target 'web*' --scope diagnose --expires 4h \\
          --by 'Jane Doe (customer IT)' --evidence 'ticket C-1042'
    """
    grant = give(app.workspace, case=case, targets=targets, scope=scope,
                 expires_in=parse_duration(expires), granted_by=granted_by, evidence=evidence,
                 sudo=sudo)  # fmt: skip
    app.emit(grant.to_dict(), lambda: _render_one(app, grant, f"granted {grant.id}"))


@consent.command("ls")
@click.option("--case", help="Only this case's grants.")
@click.option("--all", "show_all", is_flag=True, help="Include expired and revoked grants.")
@pass_app
def ls_cmd(app: App, case: str | None, show_all: bool) -> None:
    """List consent grants (active ones unless --all).

    \b
    Examples:
      remotefix consent ls --case C-1042
      remotefix consent ls --all --json
    """
    now = datetime.now(UTC)
    with ConsentStore(app.workspace) as store:
        grants = store.list(case, include_inactive=show_all, now=now)

    def render() -> None:
        if not grants:
            app.out.print("no consent grants" + ("" if show_all else " active (try --all)"))
            return
        table = Table(
            "id", "case", "targets", "scope", "sudo", "status", "expires", "by", "evidence"
        )
        for g in grants:
            table.add_row(
                g.id,
                shown(g.case),
                shown(" ".join(g.targets)),
                g.scope.value,
                "yes" if g.sudo else "no",
                _STATUS_STYLE[g.status(now)],
                _short(g.expires_at),
                shown(g.granted_by),
                shown(g.evidence),
            )
        app.out.print(table)

    app.emit([g.to_dict(now) for g in grants], render)


@consent.command("show")
@click.argument("grant_id")
@pass_app
def show_cmd(app: App, grant_id: str) -> None:
    """Show one consent grant.

    \b
    Examples:
      remotefix consent show c-1a2b3c4d
    """
    with ConsentStore(app.workspace) as store:
        grant = store.get(grant_id)
    app.emit(grant.to_dict(), lambda: _render_one(app, grant, None))


@consent.command("revoke")
@click.argument("grant_ids", nargs=-1, required=True)
@pass_app
def revoke_cmd(app: App, grant_ids: tuple[str, ...]) -> None:
    """Revoke consent grants; the next command on their targets is refused.

    ``-`` reads the ids from stdin: plain ids, or the JSON of ``consent ls --json``.

    \b
    Examples:
      remotefix consent revoke c-1a2b3c4d
      remotefix consent ls --case C-1042 --json | remotefix consent revoke -
    """
    ids = [i for g in grant_ids for i in (ids_from(sys.stdin.read()) if g == "-" else [g])]
    if not ids:
        raise ConsentError("no grant id given on stdin", hint="pipe `consent ls --json` or ids")
    done = [withdraw(app.workspace, grant_id) for grant_id in dict.fromkeys(ids)]
    data = [grant.to_dict() for grant, _ in done]

    def render() -> None:
        for grant, revoked in done:
            title = f"revoked {grant.id}" if revoked else f"{grant.id} was already revoked"
            _render_one(app, grant, title)

    app.emit(data[0] if grant_ids == tuple(ids) and len(ids) == 1 else data, render)


def ids_from(text: str) -> list[str]:
    """Grant ids in ``text``: from ``consent ls --json`` output, or every id-shaped word."""
    try:
        data = json.loads(text)
    except ValueError:
        return _GRANT_ID.findall(text)
    rows = data if isinstance(data, list) else [data]
    return [str(r["id"]) for r in rows if isinstance(r, dict) and "id" in r]


def _render_one(app: App, grant: Grant, title: str | None) -> None:
    if title:
        app.out.print(title)
    table = Table("field", "value", show_header=False)
    data = {k: shown("" if v is None else v) for k, v in grant.to_dict().items()}
    data["targets"] = shown(" ".join(grant.targets))
    data["status"] = _STATUS_STYLE[grant.status()]
    for key, value in data.items():
        table.add_row(key, value)
    app.out.print(table)


def _short(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
