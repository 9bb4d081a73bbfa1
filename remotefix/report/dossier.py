"""A case's dossier: everything the workspace holds about one support case, as typed values.

Gathered from what remotefix already wrote — the consent store, the audit chain, the bundle
index and bundles, lab state files and repro evidence — never from the customer again. The
report, the KB draft and the JSON view all render this one value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore
from remotefix.errors import RemotefixError, ReportError
from remotefix.fingerprint import diff_fingerprints
from remotefix.report.evidence import BundleView, ReproView, load_bundles, load_repros
from remotefix.report.fixruns import FixDiff, FixRun, fix_diffs, fix_runs
from remotefix.report.timeline import Phase, phases
from remotefix.report.triage_view import TriageRow, triage_rows
from remotefix.workspace import Workspace


@dataclass(frozen=True, slots=True)
class GrantView:
    id: str
    targets: tuple[str, ...]
    scope: str
    sudo: bool
    granted_by: str
    evidence: str
    granted_at: str
    expires_at: str
    revoked_at: str | None
    status: str


@dataclass(frozen=True, slots=True)
class LabView:
    name: str
    image: str
    created: str
    fidelity_counts: dict[str, int]
    fidelity_items: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class AuditView:
    ok: bool
    records: int
    first_bad_seq: int | None
    reason: str | None
    head_hash: str | None
    case_first_seq: int | None
    case_last_seq: int | None


@dataclass(frozen=True, slots=True)
class Dossier:
    """One support case as the workspace knows it."""

    case: str
    generated_at: str
    targets: tuple[str, ...]
    grants: tuple[GrantView, ...]
    phases: tuple[Phase, ...]
    records: tuple[dict[str, Any], ...]
    bundles: tuple[BundleView, ...]
    triage: tuple[TriageRow, ...]
    labs: tuple[LabView, ...]
    repros: tuple[ReproView, ...]
    fixes: tuple[FixRun, ...]
    fix_diffs: tuple[FixDiff, ...]
    diff: dict[str, Any] | None
    audit: AuditView
    outcome: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def gather(workspace: Workspace, case: str) -> Dossier:
    """Read the dossier of ``case``; ``RemotefixError`` when the workspace knows nothing of it."""
    log = AuditLog(workspace)
    records = tuple(log.records(case)) if workspace.audit_log.exists() else ()
    grants = _grants(workspace, case)
    bundles = load_bundles(workspace, case)
    if not records and not grants and not bundles:
        raise ReportError(
            f"the workspace knows nothing of case {case!r}",
            hint="see `remotefix audit log` for the cases it holds (or set REMOTEFIX_HOME)",
        )
    lab_names = {r["target"] for r in records if str(r.get("address") or "").startswith("docker")}
    lab_names |= {r["target"] for r in records if str(r.get("action", "")).startswith("fix-lab")}
    labs = _labs(workspace, case, lab_names)
    repros = load_repros(workspace, case, {lab.name for lab in labs} | lab_names, bundles)
    fixes = fix_runs(records)
    diff = _diff(bundles)
    triage = triage_rows(bundles[0].path) if bundles else ()
    dossier = Dossier(
        case=case,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        targets=tuple(sorted({b.target for b in bundles} | _customer_targets(records, lab_names))),
        grants=grants,
        phases=phases(records, lab_names),
        records=records,
        bundles=bundles,
        triage=triage,
        labs=labs,
        repros=repros,
        fixes=fixes,
        fix_diffs=fix_diffs(workspace, case),
        diff=diff,
        audit=_audit(log, records),
    )
    return _with_outcome(dossier)


def _customer_targets(records: tuple[dict[str, Any], ...], labs: set[str]) -> set[str]:
    return {str(r["target"]) for r in records if r.get("target") and r["target"] not in labs}


def _grants(workspace: Workspace, case: str) -> tuple[GrantView, ...]:
    if not workspace.consent_db.exists():
        return ()
    with ConsentStore(workspace) as store:
        grants = store.list(case, include_inactive=True)
    return tuple(_grant_view(g.to_dict()) for g in grants)


def _grant_view(d: dict[str, Any]) -> GrantView:
    return GrantView(
        id=str(d["id"]),
        targets=tuple(d["targets"]),
        scope=str(d["scope"]),
        sudo=bool(d.get("sudo", False)),
        granted_by=str(d["granted_by"]),
        evidence=str(d["evidence"]),
        granted_at=_minute(d["granted_at"]),
        expires_at=_minute(d["expires_at"]),
        revoked_at=_minute(d["revoked_at"]) if d.get("revoked_at") else None,
        status=str(d["status"]),
    )


def _minute(iso: object) -> str:
    """``2026-12-01T21:05:36.7+00:00`` → ``2026-12-01 21:05 UTC`` (what a reader needs)."""
    try:
        return datetime.fromisoformat(str(iso)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(iso)


def _labs(workspace: Workspace, case: str, names: set[str]) -> tuple[LabView, ...]:
    views = []
    for path in sorted(workspace.labs.glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if state.get("name") not in names and state.get("case") != case:
            continue
        fidelity = state.get("fidelity") or {}
        views.append(
            LabView(
                name=str(state.get("name")),
                image=str(state.get("image", "")),
                created=str(state.get("created", "")),
                fidelity_counts=dict(fidelity.get("counts") or {}),
                fidelity_items=tuple(fidelity.get("items") or ()),
            )
        )
    return tuple(views)


def _diff(bundles: tuple[BundleView, ...]) -> dict[str, Any] | None:
    if len(bundles) < 2:
        return None
    return diff_fingerprints(bundles[0].fingerprint, bundles[-1].fingerprint)


def _audit(log: AuditLog, records: tuple[dict[str, Any], ...]) -> AuditView:
    try:
        report = log.verify()
    except RemotefixError as exc:
        return AuditView(False, 0, None, exc.message, None, None, None)
    seqs = [int(r["seq"]) for r in records if "seq" in r]
    head = records[-1].get("hash") if records else None
    if log.path.exists():
        last = list(log.records())
        head = last[-1].get("hash") if last else head
    return AuditView(
        ok=report.ok,
        records=report.records,
        first_bad_seq=report.first_bad_seq,
        reason=report.reason,
        head_hash=head,
        case_first_seq=min(seqs) if seqs else None,
        case_last_seq=max(seqs) if seqs else None,
    )


def _with_outcome(d: Dossier) -> Dossier:
    return replace(d, outcome=outcome_sentence(d))


def outcome_sentence(d: Dossier) -> str:
    """The case's outcome in one sentence, from what was observed (never more)."""
    reproduced = [r for r in d.repros if r.verdict == "REPRODUCED"]
    applied = [f for f in d.fixes if not f.on_lab and f.applied]
    verified = [r for r in d.repros if r.on_customer]
    known = [t for t in d.triage if t.state == "affected"]
    if applied and verified and all(r.verdict == "NOT_REPRODUCED" for r in verified):
        cases = ", ".join(sorted({r.case for r in reproduced})) or "the problem"
        return (
            f"Fixed: {cases} was reproduced, the fix {applied[0].playbook} was applied on "
            f"{', '.join(sorted({f.target for f in applied}))}, and it no longer reproduces there."
        )
    if applied:
        return f"A fix ({applied[0].playbook}) was applied; its effect was not verified."
    if reproduced:
        return (
            f"Reproduced {', '.join(sorted({r.case for r in reproduced}))} in a lab; not fixed yet."
        )
    if known:
        return f"Triage points at {known[0].case} ({known[0].title}); not reproduced yet."
    if d.bundles:
        return "Diagnostics collected; no known issue shows in the evidence: escalate with a lab."
    return "Consent recorded; nothing collected yet."
