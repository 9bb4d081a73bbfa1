"""Apply a fix playbook the careful way: consent first, practise on the lab, check with diff,
confirm, apply, prove idempotence, and show the before/after fingerprint diff.

Consent is checked before anything runs, again before every phase and after the confirmation,
and inside each playbook run before every task (``remotefix.fixes.guard``): a grant revoked or
expired on the way stops the fix with ``ConsentError`` and an audit record ``fix-stopped``.
Every task event becomes an audit record under the case; a host whose task fails stops there
and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remotefix.audit import AuditLog
from remotefix.consent import Scope
from remotefix.errors import ConfigError, ConsentError, FixError, FixVarError
from remotefix.filenames import safe_name
from remotefix.fingerprint import diff_fingerprints
from remotefix.fixes.ansible import PlaybookRun, TaskEvent, run_playbook
from remotefix.fixes.connection import Endpoint, Host, host_for
from remotefix.fixes.extravars import check_extra_vars
from remotefix.fixes.guard import ConsentGuard
from remotefix.fixes.interpreter import explained
from remotefix.fixes.tooling import PYTHON, lab_added, missing_tools, needs
from remotefix.lab import labs, snapshots
from remotefix.lab.fidelity import quick_fingerprint
from remotefix.progress import Progress, quiet
from remotefix.resources import data_dir
from remotefix.session import Session
from remotefix.targets import Target
from remotefix.transports._ssh_settings import password_from_env
from remotefix.workspace import Workspace

Confirm = Callable[[PlaybookRun], bool]


@dataclass
class Practice:
    """The same playbook on a lab: check, apply, then a second apply that must change nothing."""

    lab: str
    check: PlaybookRun
    apply: PlaybookRun
    again: PlaybookRun
    restored: bool = False
    """The lab was first put back to its pristine snapshot (an earlier practice changed it)."""

    @property
    def passed(self) -> bool:
        runs = (self.check, self.apply, self.again)
        return all(not r.failed_hosts() for r in runs) and self.again.changed(self.lab) == 0


@dataclass
class FixReport:
    playbook: str
    case: str
    practice: Practice | None = None
    check: PlaybookRun | None = None
    applied: bool = False
    apply: PlaybookRun | None = None
    again: PlaybookRun | None = None
    diffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """Said before the customer was touched (a lab pass that held only thanks to lab tooling)."""

    @property
    def failed_hosts(self) -> list[str]:
        runs = [r for r in (self.check, self.apply, self.again) if r is not None]
        return sorted({h for r in runs for h in r.failed_hosts()})

    def not_idempotent(self) -> list[str]:
        if self.again is None:
            return []
        return sorted(h for h in self.again.stats if self.again.changed(h))


def find_playbook(name: str) -> Path:
    """A playbook path, or a name in the shipped ``playbooks/`` folder."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (data_dir("playbooks") / name, data_dir("playbooks") / f"{name}.yml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"playbook {name!r} not found", hint=f"see {data_dir('playbooks')}")


def lab_host(name: str, workspace: Workspace) -> Host:
    """A lab as Ansible sees it: its sshd on 127.0.0.1 with its pinned host key."""
    lab = labs.get_lab(name, workspace)
    if not lab.ssh_port or not lab.host_key:
        raise FixError(f"lab {name} has no recorded sshd", hint="bring it up again with lab up")
    key = str(labs.lab_key_path(workspace))
    endpoint = Endpoint("127.0.0.1", lab.ssh_port, "root", (key,))
    return Host(name, endpoint=endpoint, pinned_known_hosts=labs.pinned_known_hosts(lab, workspace))


def practise(
    playbook: Path,
    lab: str,
    *,
    case: str,
    workspace: Workspace,
    extra_vars: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> Practice:
    """Check, apply and re-apply on the lab (audited like any lab command).

    The first practice on a lab snapshots it; every later one starts from that snapshot again.
    """
    say = progress or quiet
    restored = snapshots.pristine(lab, workspace=workspace)
    say(f"lab {lab}: {'back to its pristine snapshot' if restored else 'pristine snapshot taken'}")
    host = lab_host(lab, workspace)
    runs = []
    for phase, check in (("check", True), ("apply", False), ("idempotence", False)):
        say(f"lab {lab}: {phase}")
        sink = _auditor(workspace, case, playbook, f"lab-{phase}", {lab: None})
        runs.append(
            run_playbook(
                playbook, [host], check=check, workspace=workspace, extra_vars=extra_vars,
                on_event=sink,
            )
        )  # fmt: skip
    return Practice(lab, *runs, restored=restored)


def fix(
    playbook: Path,
    targets: list[Target],
    *,
    case: str,
    workspace: Workspace,
    confirm: Confirm,
    extra_vars: dict[str, str] | None = None,
    lab: str | None = None,
    require_lab_pass: bool = False,
    progress: Progress | None = None,
    warn: Progress | None = None,
) -> FixReport:
    """The whole careful road on the customer's targets (see the module docstring)."""
    say = progress or quiet
    check_extra_vars(extra_vars or {})  # refused before anything runs anywhere
    for target in targets:
        host_for(target, workspace)  # a target Ansible cannot reach is refused up front too
    report = FixReport(playbook.name, case)
    elevated = becomes_root(targets, workspace)
    guard = ConsentGuard(workspace, case, playbook.name, tuple(targets), elevated)
    grants = guard.check(f"fix {playbook.name}")
    if lab:
        report.practice = practise(
            playbook, lab, case=case, workspace=workspace, extra_vars=extra_vars, progress=say
        )
        if require_lab_pass and not report.practice.passed:
            raise FixError(
                f"the fix did not pass on lab {lab}; not applying it to the customer",
                hint="see the lab run above, or drop --require-lab-pass",
            )
    if targets:  # else practice only
        road = _Road(playbook, case, workspace, extra_vars, grants, elevated)
        passed = report.practice is not None and report.practice.passed
        lab_only = lab_added(lab, workspace) & needs(playbook) if lab and passed else frozenset()
        _on_customer(report, road, targets, confirm, say, _Warner(report, warn or say, lab_only))
        if report.diffs:
            save_diffs(workspace, report)
    return report


def save_diffs(workspace: Workspace, report: FixReport) -> Path:
    """Keep the before/after fingerprint diff of an applied fix with the case (for its report)."""
    folder = workspace.ensure().cases / safe_name(report.case) / "fix"
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{when}-{safe_name(report.playbook)}.json"
    data = {
        "playbook": report.playbook,
        "case": report.case,
        "diffs": report.diffs,
        "not_idempotent": report.not_idempotent(),
        "failed_hosts": report.failed_hosts,
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path


@dataclass(frozen=True, slots=True)
class _Road:
    """What every customer phase shares: playbook, case, workspace, extra vars, grant ids."""

    playbook: Path
    case: str
    workspace: Workspace
    extra_vars: dict[str, str] | None
    grants: dict[str, str | None]
    elevated: tuple[str, ...] = ()

    def guard(self, targets: list[Target]) -> ConsentGuard:
        return ConsentGuard(self.workspace, self.case, self.playbook.name, tuple(targets),
                            self.elevated)  # fmt: skip

    def run(self, phase: str, targets: list[Target], *, check: bool) -> PlaybookRun:
        """One phase: consent re-checked and an intent audited per target before it starts,
        then consent again before every task inside the run."""
        guard = self.guard(targets)
        guard.check(f"fix {self.playbook.name}: {phase}")
        log = AuditLog(self.workspace)
        for target in targets:  # an audit that cannot be written stops the phase here
            log.append(action=f"fix-{phase}.intent", case=self.case, target=target,
                       consent_id=self.grants.get(target.name), scope=Scope.FIX.value,
                       command=f"{self.playbook.name}: {phase}",
                       elevated=target.name in self.elevated)  # fmt: skip
        sink = _auditor(self.workspace, self.case, self.playbook, phase, self.grants,
                        self.elevated)  # fmt: skip
        hosts = [host_for(t, self.workspace) for t in targets]
        try:
            return run_playbook(
                self.playbook, hosts, check=check, workspace=self.workspace, guard=guard,
                extra_vars=self.extra_vars, on_event=sink, password=password_from_env(),
            )  # fmt: skip
        except (ConsentError, FixVarError) as exc:
            _stopped(self, phase, guard, exc)
            raise


@dataclass(frozen=True, slots=True)
class _Warner:
    """Warns, before the check runs, of customers lacking a tool the lab practice relied on."""

    report: FixReport
    warn: Progress
    lab_only: frozenset[str]
    """Tools the playbook needs that the lab has only because every lab gets them."""

    def __call__(self, fingerprints: dict[str, Any]) -> None:
        for name, fingerprint in fingerprints.items():
            lacking = ", ".join(missing_tools(self.lab_only, fingerprint))
            if lacking:
                message = (
                    f"{name} has no {lacking}: the lab practice passed only because every lab "
                    f"gets {lacking}, and the playbook's modules need it; install {lacking} on "
                    f"{name} first (or use raw tasks)"
                )
                self.report.warnings.append(message)
                self.warn(message)


def _on_customer(
    report: FixReport, road: _Road, targets: list[Target], confirm: Confirm, say: Progress,
    warner: _Warner,
) -> None:  # fmt: skip
    """Check with diff, confirm, apply, apply again; fingerprints before and after."""
    road.guard(targets).check(f"fix {road.playbook.name}: fingerprint before")
    before = _fingerprints(targets, road.case, road.workspace)
    warner(before)
    say("check mode with diff: what would change")
    report.check = _without_python(road.run("check", targets, check=True), before, road.playbook)
    targets = [t for t in targets if t.name not in report.check.failed_hosts()]  # rest go on
    if not targets or not confirm(report.check):
        return
    say("applying")
    report.applied = True
    report.apply = road.run("apply", targets, check=False)
    say("applying again: it must change nothing (idempotence)")
    report.again = road.run("idempotence", targets, check=False)
    road.guard(targets).check(f"fix {road.playbook.name}: fingerprint after")
    after = _fingerprints(targets, road.case, road.workspace)
    report.diffs = {n: diff_fingerprints(before[n], after[n]) for n in before if n in after}


def _without_python(run: PlaybookRun, before: dict[str, Any], playbook: Path) -> PlaybookRun:
    """Failures on hosts whose fingerprint has no python3 say so (Ansible may not: copy's stat
    fails with only "connection closed")."""
    bare = {n for n, fp in before.items() if PYTHON in missing_tools(needs(playbook), fp)}
    run.events = [
        replace(e, message=explained(e.message)) if e.host in bare and e.status == "failed" else e
        for e in run.events
    ]
    return run


def _fingerprints(targets: list[Target], case: str, workspace: Workspace) -> dict[str, Any]:
    out = {}
    for target in targets:
        with Session(target, case=case, workspace=workspace) as session:
            out[target.name] = quick_fingerprint(session)
    return out


def becomes_root(targets: list[Target], workspace: Workspace) -> tuple[str, ...]:
    """Targets whose login is not root: Ansible becomes root there (sudo), so their grant
    must have been given with ``--sudo``."""
    out = []
    for target in targets:
        endpoint = host_for(target, workspace).endpoint
        if endpoint is not None and endpoint.user != "root":
            out.append(target.name)
    return tuple(out)


def _auditor(
    workspace: Workspace, case: str, playbook: Path, phase: str, grants: dict[str, str | None],
    elevated: tuple[str, ...] = (),
) -> Callable[[TaskEvent], None]:  # fmt: skip
    log = AuditLog(workspace)

    def record(event: TaskEvent) -> None:
        log.append(
            action=f"fix-{phase}",
            elevated=event.host in elevated,
            case=case,
            target=event.host,
            consent_id=grants.get(event.host),
            scope=Scope.FIX.value,
            command=f"{playbook.name}: {event.task}",
            exit_code=0 if event.status in ("ok", "skipped") else 1,
            duration_s=event.duration_s,
            extra={
                "status": event.status,
                "changed": event.changed,
                "message": event.message[:200],
            },
        )

    return record


def _stopped(
    road: _Road, phase: str, guard: ConsentGuard, error: ConsentError | FixVarError
) -> None:
    """The audit record of a stopped fix (consent gone, or the playbook re-points it)."""
    log = AuditLog(road.workspace)
    for target in guard.targets:
        log.append(
            action="fix-stopped",
            case=road.case,
            target=target,
            consent_id=road.grants.get(target.name),
            scope=Scope.FIX.value,
            command=f"{road.playbook.name}: {phase}",
            extra={"reason": error.message},
        )
