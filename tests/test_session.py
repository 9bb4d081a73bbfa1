"""The session door: consent before every command, an audit record after each, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import docker
import pytest

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Scope
from remotefix.errors import ConsentError
from remotefix.session import Session
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace
from tests.fixtures.docker import running_container

pytestmark = pytest.mark.docker


@pytest.fixture
def workspace() -> Workspace:
    return Workspace.default().ensure()  # REMOTEFIX_HOME is a per-test tmp dir (conftest)


@pytest.fixture(scope="module")
def machine(docker_api: docker.DockerClient, base12: object) -> Iterator[Target]:
    """A container standing in for a customer machine: docker:// targets need consent."""
    with running_container(docker_api, "session") as name:
        yield parse_address(f"docker://{name}", name="cust-1")


def _grant(workspace: Workspace, scope: Scope = Scope.DIAGNOSE, minutes: float = 30) -> str:
    grant = ConsentStore(workspace).grant(
        case="CASE-1",
        targets=["cust-*"],
        scope=scope,
        expires_in=timedelta(minutes=minutes),
        granted_by="Jane (customer IT)",
        evidence="ticket 42",
    )
    return grant.id


def test_no_grant_no_command(workspace: Workspace, machine: Target) -> None:
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        with pytest.raises(ConsentError, match="no consent for case 'CASE-1'"):
            session.run("touch /tmp/should-not-exist")
        assert session.transport.run("test -e /tmp/should-not-exist").exit_code == 1
    (refused,) = AuditLog(workspace).records(case="CASE-1")
    assert refused["action"] == "refused" and refused["command"] == "touch /tmp/should-not-exist"


def test_revoke_from_another_process_stops_the_next_command(
    workspace: Workspace, machine: Target
) -> None:
    grant_id = _grant(workspace)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        for n in range(3):
            assert session.run(f"echo {n}").stdout == f"{n}\n".encode()
        revoke = subprocess.run(
            [sys.executable, "-m", "remotefix", "consent", "revoke", grant_id],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert revoke.returncode == 0, revoke.stderr
        with pytest.raises(ConsentError, match="revoked"):
            session.run("echo 3")
    actions = [r["action"] for r in AuditLog(workspace).records(case="CASE-1")]
    assert actions == ["run", "run", "run", "consent.revoke", "refused"]


def test_expiry_mid_run_stops_the_next_command(workspace: Workspace, machine: Target) -> None:
    _grant(workspace, minutes=1.5 / 60)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        assert session.run("true").ok
        time.sleep(1.6)
        with pytest.raises(ConsentError, match="expired"):
            session.run("true")


def test_fix_under_a_diagnose_grant_is_refused_before_anything_runs(
    workspace: Workspace, machine: Target
) -> None:
    _grant(workspace, Scope.DIAGNOSE)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        with pytest.raises(ConsentError, match="scope fix needed"):
            session.run("touch /tmp/fixed", scope=Scope.FIX)
        assert session.run("test -e /tmp/fixed").exit_code == 1
    _grant(workspace, Scope.FIX)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        assert session.run("touch /tmp/fixed && rm /tmp/fixed", scope=Scope.FIX).ok


def test_every_command_is_audited_with_hashes_not_output(
    workspace: Workspace, machine: Target
) -> None:
    grant_id = _grant(workspace)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        session.run("echo very-private-output; exit 3")
        session.read_file("/etc/hostname")
    records = list(AuditLog(workspace).records(case="CASE-1"))
    assert [r["action"] for r in records] == ["run", "read_file"]
    run = records[0]
    assert run["consent_id"] == grant_id and run["exit_code"] == 3 and run["scope"] == "diagnose"
    assert run["target"] == "cust-1" and run["address"] == machine.address
    assert len(run["stdout_sha256"]) == 64
    assert "very-private-output" not in workspace.audit_log.read_text().replace(
        "echo very-private-output", ""
    )
    assert AuditLog(workspace).verify().ok


def test_secrets_in_commands_never_reach_the_audit(workspace: Workspace, machine: Target) -> None:
    _grant(workspace, Scope.FIX)
    secret = "S3cr3t-" + uuid.uuid4().hex
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        session.run(f"PGPASSWORD={secret} true", scope=Scope.FIX)
        session.run(f"curl -s https://admin:{secret}@127.0.0.1:9/ || true", scope=Scope.FIX)
        session.run("true", scope=Scope.FIX, shown_as="set password (hidden)")
    log = workspace.audit_log.read_text()
    assert secret not in log
    assert "set password (hidden)" in log


def test_local_target_needs_no_consent_but_is_audited(workspace: Workspace) -> None:
    with Session(parse_address("local://"), case="CASE-9", workspace=workspace) as session:
        assert session.run("echo hi").stdout == b"hi\n"
    (record,) = AuditLog(workspace).records(case="CASE-9")
    assert record["consent_id"] is None and record["target"] == "local"


def test_audit_log_cli_shows_the_case_timeline(workspace: Workspace, machine: Target) -> None:
    _grant(workspace)
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        session.run("uname -s")
    done = subprocess.run(
        [sys.executable, "-m", "remotefix", "--json", "audit", "log", "--case", "CASE-1"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    timeline = json.loads(done.stdout)
    rows = timeline if isinstance(timeline, list) else timeline["records"]
    assert any(r["action"] == "run" and r["command"] == "uname -s" for r in rows)
