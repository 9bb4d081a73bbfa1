"""The end-to-end demo behind ``make demo``: a real customer container, reached the real way.

The story: readiness → base image → a customer machine (Debian 12, sshd on 127.0.0.1) whose
apt run was interrupted → its host key recorded out of band → diagnose consent with expiry →
diagnose over SSH (bundle, redaction) → triage names the known issue → a lab built from the
bundle with its fidelity report → the issue reproduced there → the fix practised on the lab
(check, apply, idempotent) → fix consent → the fix applied on the customer → verified (the case
no longer reproduces, fingerprint diff) → audit chain verified and the case timeline.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from remotefix import dockerapi
from remotefix.audit import AuditLog
from remotefix.cases.model import KnownIssue, load_cases
from remotefix.cases.repro import ReproResult, reproduce, run_steps, save_evidence
from remotefix.cases.triage import State, triage
from remotefix.collect.diagnose import DiagnoseOptions, diagnose
from remotefix.consent import Scope
from remotefix.consent_audit import give
from remotefix.doctor import run_checks
from remotefix.errors import AuditError, CaseError, DependencyError, FixError
from remotefix.fixes.fix import find_playbook, fix, practise
from remotefix.lab import labs
from remotefix.lab.catalog import Catalog
from remotefix.lab.images import build_base_image
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.report import write_report
from remotefix.sandbox import Customer, start_customer, stop_customer
from remotefix.session import Session
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace

Narrate = Callable[[str, str], None]
"""Called with (stage, message) as the story unfolds."""

# What went wrong on the customer's machine before they called: an apt run killed while dpkg
# was configuring (KI-0004), and a cron job holding a database password (redaction at work).
CUSTOMER_TROUBLE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hello >/dev/null"
    " && dpkg-query -s hello | sed 's/^Status: .*/Status: install ok half-configured/'"
    " > /var/lib/dpkg/updates/0000"
    " && echo '0 3 * * * root PGPASSWORD=Sup3r-Secret pg_dump shop' > /etc/cron.d/backup"
)


@dataclass
class DemoReport:
    case: str
    workspace: Path
    stages: dict[str, float] = field(default_factory=dict)
    kept: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return sum(self.stages.values())


@contextlib.contextmanager
def _stage(report: DemoReport, name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.stages[name] = round(time.monotonic() - started, 2)


def run_demo(
    *, narrate: Narrate, keep: bool = False, home: Path | None = None, report_to: Path | None = None
) -> DemoReport:
    """Run the story; everything created is removed unless ``keep``.

    ``report_to`` receives the case report (HTML) written from the workspace at the end.
    """
    root = home or Path(tempfile.mkdtemp(prefix="remotefix-demo-"))
    ws = Workspace(root).ensure()
    report = DemoReport(case=f"DEMO-{uuid.uuid4().hex[:6].upper()}", workspace=root, kept=keep)
    api = _ready(report, narrate, ws)
    name = f"remotefix-demo-customer-{uuid.uuid4().hex[:6]}"
    lab: str | None = None
    try:
        with _stage(report, "customer"):
            customer = _start(api, ws, name, narrate)
            target = _target(customer, ws)
        with _stage(report, "consent"):
            _grant(ws, report.case, Scope.DIAGNOSE, "diagnose", narrate)
        with _stage(report, "diagnose"):
            bundle = _diagnose(ws, report, target, narrate)
        with _stage(report, "triage"):
            case = _triage(bundle, narrate)
            report.facts["known_issue"] = case.id
        with _stage(report, "lab+repro"):
            lab = _reproduce(ws, report, case, bundle, narrate)
        playbook = find_playbook(Path(str(case.fix)).name)
        with _stage(report, "practise"):
            _practise(ws, report.case, case, playbook, lab, narrate)
        with _stage(report, "consent fix"):
            _grant(ws, report.case, Scope.FIX, "fix", narrate)
        with _stage(report, "fix"):
            _fix(ws, report, playbook, target, narrate)
        with _stage(report, "verify"):
            _verify(ws, report.case, case, target, narrate)
        with _stage(report, "audit"):
            _audit(ws, report.case, narrate)
        if report_to is not None:
            with _stage(report, "report"):
                written = write_report(ws, report.case, report_to)
                report.facts["report"] = str(written)
                narrate("report", f"case report written to {written}")
    finally:
        if not keep:
            if lab:
                labs.down(lab, workspace=ws)
            stop_customer(api, name)  # type: ignore[arg-type]
            if home is None:
                shutil.rmtree(root, ignore_errors=True)
    return report


def _ready(report: DemoReport, narrate: Narrate, workspace: Workspace) -> object:
    with _stage(report, "doctor"):
        failed = [c for c in run_checks(workspace) if c.required and not c.ok]
        if failed:
            first = failed[0]
            raise DependencyError(f"not ready: {first.name}: {first.detail}", hint=first.fix)
        narrate("doctor", "Docker, debootstrap, ssh, ansible-runner and the workspace are ready")
    with _stage(report, "base image"):
        api = dockerapi.client()
        catalog = Catalog.load()
        built = build_base_image(
            LocalRuntime(client=api),
            catalog.resolve("debian:12"),
            mirror=catalog.default_mirror,
            workspace=workspace,
            progress=lambda m: narrate("image", m),
        )
        narrate("image", f"{built.tag} {'cached' if built.cached else 'built'}")
    return api


def _start(api: object, workspace: Workspace, name: str, narrate: Narrate) -> Customer:
    key = workspace.root / "demo-keys" / "id_ed25519"
    key.parent.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "remotefix-demo", "-f", str(key)],
        check=True,
    )
    base = Catalog.load().resolve("debian:12")
    customer = start_customer(api, base, name=name, public_key=key.with_suffix(".pub").read_text())  # type: ignore[arg-type]
    box = api.containers.get(name)  # type: ignore[attr-defined]
    code, out = box.exec_run(["sh", "-c", CUSTOMER_TROUBLE])
    if code != 0:
        raise DependencyError(
            f"could not prepare the customer: {out.decode()[-300:]}",
            hint="the container needs Debian's mirror for apt-get",
        )
    # The engineer built this machine, so its host key is read out of band (docker exec) and
    # recorded; strict checking then holds for every SSH connection of the demo.
    with workspace.known_hosts.open("a") as fh:
        fh.write(customer.known_hosts_line + "\n")
    narrate(
        "customer",
        f"{name} on {customer.host}:{customer.port} (127.0.0.1 only); "
        "its last apt run was killed mid-way",
    )
    return customer


def _target(customer: Customer, workspace: Workspace) -> Target:
    key = workspace.root / "demo-keys" / "id_ed25519"
    return parse_address(customer.address + f"?identity_file={key}", name="customer")


def _grant(ws: Workspace, case: str, scope: Scope, what: str, narrate: Narrate) -> None:
    grant = give(
        ws,
        case=case,
        targets=["customer"],
        scope=scope,
        expires_in=timedelta(minutes=30),
        granted_by="Jane Doe (customer IT, by phone)",
        evidence=f"ticket {case}",
    )
    narrate("consent", f"grant {grant.id}: {what} on 'customer' for case {case}, expires in 30 min")


def _diagnose(ws: Workspace, report: DemoReport, target: Target, narrate: Narrate) -> Path:
    done = diagnose(target, case=report.case, workspace=ws, options=DiagnoseOptions())
    fp, manifest = done.fingerprint, done.manifest
    report.facts["bundle"] = str(done.path)
    report.facts["redactions"] = manifest["redaction"]["total"]
    narrate(
        "diagnose",
        f"one SSH round trip: {len(manifest['collectors'])} collectors, "
        f"{fp['os']['pretty_name']}, {len(fp['packages'])} packages, "
        f"{manifest['redaction']['total']} secret(s) redacted",
    )
    narrate("diagnose", f"bundle {done.path.name} (sha256 of every file in its manifest)")
    return done.path


def _triage(bundle: Path, narrate: Narrate) -> KnownIssue:
    cases = {c.id: c for c in load_cases()}
    matches = [m for m in triage(bundle, list(cases.values())) if m.state is State.AFFECTED]
    for m in matches:
        shown = m.evidence[0].excerpt[:60] if m.evidence else ""
        narrate("triage", f"{m.case} affected ({shown}) {m.title[:60]}")
    fixable = [cases[m.case] for m in matches if cases[m.case].fix]
    if not fixable:
        raise CaseError("triage found no known issue with a fix playbook on the demo customer")
    return fixable[0]


def _reproduce(
    ws: Workspace, report: DemoReport, case: KnownIssue, bundle: Path, narrate: Narrate
) -> str:
    result = reproduce(
        case, workspace=ws, bundle=bundle, keep="always", progress=lambda m: narrate("lab", m),
        for_case=report.case,
    )  # fmt: skip
    if result.lab is None or result.verdict != "REPRODUCED":
        raise CaseError(
            f"{case.id} did not reproduce in the lab: {result.verdict} {result.error or ''}"
        )
    fidelity = labs.measured_fidelity(result.lab, ws) or {}
    counts = ", ".join(f"{n} {k}" for k, n in sorted(fidelity.get("counts", {}).items()))
    narrate(
        "lab",
        f"lab {result.lab} from the bundle: fidelity {fidelity.get('score', 0):.0%} "
        f"of reproducible items exact ({counts})",
    )
    narrate(
        "repro", f"{case.id} REPRODUCED ({result.origin}) in the lab in {result.duration_s:.1f}s"
    )
    report.facts["origin"] = result.origin
    report.facts["fidelity"] = fidelity.get("score")
    return result.lab


def _practise(
    ws: Workspace, case_id: str, case: KnownIssue, playbook: Path, lab: str, narrate: Narrate
) -> None:
    practice = practise(playbook, lab, case=case_id, workspace=ws)
    if not practice.passed:
        raise FixError(f"{playbook.name} did not pass on the lab")
    with Session(labs.lab_target(lab), case=case_id, workspace=ws) as session:
        verdict, _ = run_steps(session, case)
    narrate(
        "practise",
        f"{playbook.name} on the lab: check → apply (changed "
        f"{practice.apply.changed(lab)}) → re-apply (changed "
        f"{practice.again.changed(lab)}); case now {verdict}",
    )
    if verdict != "NOT_REPRODUCED":
        raise FixError(f"{case.id} still reproduces on the lab after {playbook.name}")


def _fix(
    ws: Workspace, report: DemoReport, playbook: Path, target: Target, narrate: Narrate
) -> None:
    def confirm(check: Any) -> bool:
        narrate(
            "fix",
            f"check mode on the customer: {check.changed('customer')} change(s) "
            "would be made; approved",
        )
        return True

    done = fix(playbook, [target], case=report.case, workspace=ws, confirm=confirm)
    if done.failed_hosts or done.not_idempotent() or not done.applied:
        raise FixError(f"the fix failed on the customer: {done.failed_hosts}")
    assert done.apply is not None and done.again is not None
    delta = done.diffs.get("customer", {}).get("packages", {})
    narrate(
        "fix",
        f"applied (changed {done.apply.changed('customer')}), re-applied (changed "
        f"{done.again.changed('customer')}); fingerprint diff: "
        f"+{len(delta.get('added', {}))} ~{len(delta.get('changed', {}))} "
        f"-{len(delta.get('removed', {}))} package(s)",
    )


def _verify(
    ws: Workspace, case_id: str, case: KnownIssue, target: Target, narrate: Narrate
) -> None:
    started = time.monotonic()
    with Session(target, case=case_id, workspace=ws) as session:
        verdict, steps = run_steps(session, case)
    on = f"customer:{target.name}"
    checked = ReproResult(case.id, on, verdict, False, steps=steps, for_case=case_id,
                          duration_s=round(time.monotonic() - started, 2))  # fmt: skip
    save_evidence(ws, checked)
    narrate(
        "verify",
        f"{case.id} on the customer: {verdict} ($ {steps[-1].command} → exit "
        f"{steps[-1].exit_code})",
    )
    if verdict != "NOT_REPRODUCED":
        raise FixError(f"{case.id} still reproduces on the customer")


def _audit(workspace: Workspace, case: str, narrate: Narrate) -> None:
    log = AuditLog(workspace)
    verdict = log.verify()
    if not verdict.ok:
        raise AuditError(f"audit chain broken at seq {verdict.first_bad_seq}: {verdict.reason}")
    records = list(log.records(case=case))
    narrate("audit", f"chain verified: {verdict.records} records, {len(records)} for this case")
    counts: dict[str, int] = {}
    for record in records:
        counts[record["action"]] = counts.get(record["action"], 0) + 1
    narrate("timeline", ", ".join(f"{action} x{n}" for action, n in counts.items()))
    for record in records[-4:]:
        command = (record.get("command") or "")[:60]
        narrate("timeline", f"#{record['seq']} {record['action']} {record.get('target')} {command}")
