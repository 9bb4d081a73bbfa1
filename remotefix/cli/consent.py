"""``remotefix consent``: record, list, show and revoke the customer's consent grants.

Every grant and revocation is also an audit record (``consent.grant`` / ``consent.revoke``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from remotefix.audit import AuditLog
from remotefix.cli._app import App, pass_app, shown
from remotefix.consent import ConsentStore, Grant, GrantStatus, Scope, parse_duration

_STATUS_STYLE = {
    GrantStatus.ACTIVE: "[green]active[/]",
    GrantStatus.EXPIRED: "[yellow]expired[/]",
    GrantStatus.REVOKED: "[red]revoked[/]",
}


@click.group()
def consent() -> None:
    """Customer consent: who allowed what, on which targets, until when."""


@consent.command("grant")
@click.option("--case", required=True, help="Case (ticket) the consent belongs to.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="Target name/address pattern, e.g. 'web*' or 'ssh://root@10.0.0.5*' (repeatable).",
)
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    required=True,
    help="diagnose (read-only) < fix (changes) < shell (interactive); each includes the former.",
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
    expires: str,
    granted_by: str,
    evidence: str,
) -> None:
    """Record a consent grant given by the customer."""
    expires_in = parse_duration(expires)
    audit = AuditLog(app.workspace)
    with ConsentStore(app.workspace) as store:
        grant = store.grant(case, targets, scope, expires_in, granted_by, evidence)
        try:
            _audit(audit, "consent.grant", grant)
        except Exception:
            store.revoke(grant.id)  # no grant without its audit record
            raise
    app.emit(grant.to_dict(), lambda: _render_one(app, grant, f"granted {grant.id}"))


@consent.command("ls")
@click.option("--case", help="Only this case's grants.")
@click.option("--all", "show_all", is_flag=True, help="Include expired and revoked grants.")
@pass_app
def ls_cmd(app: App, case: str | None, show_all: bool) -> None:
    """List consent grants (active ones unless --all)."""
    now = datetime.now(UTC)
    with ConsentStore(app.workspace) as store:
        grants = store.list(case, include_inactive=show_all, now=now)

    def render() -> None:
        if not grants:
            app.out.print("no consent grants" + ("" if show_all else " active (try --all)"))
            return
        table = Table("id", "case", "targets", "scope", "status", "expires", "by", "evidence")
        for g in grants:
            table.add_row(
                g.id,
                shown(g.case),
                shown(" ".join(g.targets)),
                g.scope.value,
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
    """Show one consent grant."""
    with ConsentStore(app.workspace) as store:
        grant = store.get(grant_id)
    app.emit(grant.to_dict(), lambda: _render_one(app, grant, None))


@consent.command("revoke")
@click.argument("grant_id")
@pass_app
def revoke_cmd(app: App, grant_id: str) -> None:
    """Revoke a consent grant; the next command on its targets is refused."""
    with ConsentStore(app.workspace) as store:
        before = store.get(grant_id)
        grant = store.revoke(grant_id)
    if before.revoked_at is None:
        _audit(AuditLog(app.workspace), "consent.revoke", grant)
        title = f"revoked {grant.id}"
    else:
        title = f"{grant.id} was already revoked"
    app.emit(grant.to_dict(), lambda: _render_one(app, grant, title))


def _audit(audit: AuditLog, action: str, grant: Grant) -> None:
    audit.append(
        action=action,
        case=grant.case,
        consent_id=grant.id,
        scope=grant.scope.value,
        extra={
            "targets": list(grant.targets),
            "granted_by": grant.granted_by,
            "evidence": grant.evidence,
            "expires_at": grant.to_dict()["expires_at"],
            "revoked_at": grant.to_dict()["revoked_at"],
        },
    )


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
