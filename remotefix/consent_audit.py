"""Giving and withdrawing consent with their audit records: no grant without its record.

The CLI, the demo and any API user record consent through these two functions, so the case's
timeline always shows who allowed what, and when it was withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore
from remotefix.grants import Grant, Scope
from remotefix.workspace import Workspace


def give(
    workspace: Workspace, *, case: str, targets: Sequence[str], scope: Scope | str,
    expires_in: timedelta, granted_by: str, evidence: str, sudo: bool = False,
) -> Grant:  # fmt: skip
    """Record a grant and its ``consent.grant`` audit record (revoked again if that fails)."""
    with ConsentStore(workspace) as store:
        grant = store.grant(case, targets, scope, expires_in, granted_by, evidence, sudo=sudo)
        try:
            _record(AuditLog(workspace), "consent.grant", grant)
        except Exception:
            store.revoke(grant.id)
            raise
    return grant


def withdraw(workspace: Workspace, grant_id: str) -> tuple[Grant, bool]:
    """Revoke a grant; True when this call revoked it (and audited that), False if it was."""
    with ConsentStore(workspace) as store:
        before = store.get(grant_id)
        grant = store.revoke(grant_id)
    if before.revoked_at is None:
        _record(AuditLog(workspace), "consent.revoke", grant)
    return grant, before.revoked_at is None


def _record(audit: AuditLog, action: str, grant: Grant) -> None:
    data = grant.to_dict()
    audit.append(
        action=action,
        case=grant.case,
        consent_id=grant.id,
        scope=grant.scope.value,
        extra={
            "targets": list(grant.targets),
            "granted_by": grant.granted_by,
            "evidence": grant.evidence,
            "sudo": grant.sudo,
            "expires_at": data["expires_at"],
            "revoked_at": data["revoked_at"],
        },
    )
