"""The end-to-end demo behind ``make demo``: a real customer container, reached the real way.

Today's story: readiness check → base image → customer container (sshd on 127.0.0.1) → its host
key recorded out of band → consent granted with expiry → read-only commands over SSH through the
audited session → a change refused under the diagnose grant → audit chain verified and the case
timeline. Diagnose, triage, lab, reproduce and fix join as they land.
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

from remotefix import dockerapi
from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Scope
from remotefix.doctor import run_checks
from remotefix.errors import AuditError, ConsentError, DependencyError
from remotefix.lab.catalog import Catalog
from remotefix.lab.images import build_base_image
from remotefix.sandbox import Customer, start_customer, stop_customer
from remotefix.session import Session
from remotefix.targets import parse_address
from remotefix.workspace import Workspace

Narrate = Callable[[str, str], None]
"""Called with (stage, message) as the story unfolds."""

PREVIEW_COMMANDS = ("uname -srm", ". /etc/os-release && echo $PRETTY_NAME", "dpkg-query -W | wc -l")


@dataclass
class DemoReport:
    case: str
    workspace: Path
    stages: dict[str, float] = field(default_factory=dict)
    kept: bool = False

    @property
    def total_s(self) -> float:
        return sum(self.stages.values())


@contextlib.contextmanager
def _stage(report: DemoReport, name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.stages[name] = time.monotonic() - started


def run_demo(*, narrate: Narrate, keep: bool = False, home: Path | None = None) -> DemoReport:
    """Run the story; everything created is removed unless ``keep``."""
    root = home or Path(tempfile.mkdtemp(prefix="remotefix-demo-"))
    workspace = Workspace(root).ensure()
    report = DemoReport(case=f"DEMO-{uuid.uuid4().hex[:6].upper()}", workspace=root, kept=keep)
    api = _ready(report, narrate, workspace)
    name = f"remotefix-demo-customer-{uuid.uuid4().hex[:6]}"
    try:
        with _stage(report, "customer"):
            customer = _start(api, workspace, name, narrate)
        with _stage(report, "consent"):
            _consent(workspace, report.case, customer, narrate)
        with _stage(report, "session"):
            _session(workspace, report.case, customer, narrate)
        with _stage(report, "audit"):
            _audit(workspace, report.case, narrate)
    finally:
        if not keep:
            stop_customer(api, name)
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
        base = catalog.resolve("debian:12")
        built = build_base_image(
            api,
            base,
            mirror=catalog.default_mirror,
            workspace=workspace,
            progress=lambda m: narrate("image", m),
        )
        narrate("image", f"{built.tag} {'cached' if built.cached else 'built'}")
    return api


def _start(api: object, workspace: Workspace, name: str, narrate: Narrate) -> Customer:
    keydir = workspace.root / "demo-keys"
    keydir.mkdir(mode=0o700, exist_ok=True)
    key = keydir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "remotefix-demo", "-f", str(key)],
        check=True,
    )
    base = Catalog.load().resolve("debian:12")
    customer = start_customer(api, base, name=name, public_key=key.with_suffix(".pub").read_text())  # type: ignore[arg-type]
    # The engineer built this machine, so its host key is read out of band (docker exec) and
    # recorded; strict checking then holds for every SSH connection of the demo.
    with workspace.known_hosts.open("a") as fh:
        fh.write(customer.known_hosts_line + "\n")
    narrate("customer", f"{name} listening on {customer.host}:{customer.port} (127.0.0.1 only)")
    return customer


def _target(customer: Customer, workspace: Workspace):  # type: ignore[no-untyped-def]
    key = workspace.root / "demo-keys" / "id_ed25519"
    return parse_address(customer.address + f"?identity_file={key}", name="customer")


def _consent(workspace: Workspace, case: str, customer: Customer, narrate: Narrate) -> None:
    grant = ConsentStore(workspace).grant(
        case=case,
        targets=["customer"],
        scope=Scope.DIAGNOSE,
        expires_in=timedelta(minutes=30),
        granted_by="Jane Doe (customer IT, by phone)",
        evidence=f"ticket {case}",
    )
    narrate("consent", f"grant {grant.id}: diagnose on 'customer' for case {case}, 30 min")


def _session(workspace: Workspace, case: str, customer: Customer, narrate: Narrate) -> None:
    target = _target(customer, workspace)
    with Session(target, case=case, workspace=workspace) as session:
        for command in PREVIEW_COMMANDS:
            result = session.run(command, timeout=30).check()
            narrate("ssh", f"$ {command}  →  {result.stdout_text.strip()}")
        try:
            session.run("touch /etc/remotefix-was-here", scope=Scope.FIX)
        except ConsentError as refused:
            narrate("consent", f"change refused as it should be: {refused.message}")
        else:
            raise ConsentError("a fix-scope command ran under a diagnose-only grant")


def _audit(workspace: Workspace, case: str, narrate: Narrate) -> None:
    log = AuditLog(workspace)
    verdict = log.verify()
    if not verdict.ok:
        raise AuditError(f"audit chain broken at seq {verdict.first_bad_seq}: {verdict.reason}")
    narrate("audit", f"chain verified: {verdict.records} records")
    for record in log.records(case=case):
        exit_code = record.get("exit_code")
        narrate(
            "timeline",
            f"#{record['seq']} {record['time'][11:19]} {record['actor']} {record['action']} "
            f"{record.get('target') or ''} {record.get('command') or ''} "
            f"{'' if exit_code is None else f'exit {exit_code}'}",
        )
