"""The session door: consent before every command, an audit record after each, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Scope
from remotefix.errors import AuditError, ConsentError
from remotefix.session import Session
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace
from tests.fixtures.docker import running_container
from tests.fixtures.sshd import Sshd

pytestmark = pytest.mark.docker


@pytest.fixture
def workspace() -> Workspace:
    return Workspace.default().ensure()  # REMOTEFIX_HOME is a per-test tmp dir (conftest)


@pytest.fixture(scope="module")
def machine(docker_api: docker.DockerClient, base12: object) -> Iterator[Target]:
    """A container standing in for a customer machine: docker:// targets need consent."""
    with running_container(docker_api, "session") as name:
        yield parse_address(f"docker://{name}", name="cust-1")


def _grant(
    workspace: Workspace,
    scope: Scope = Scope.DIAGNOSE,
    minutes: float = 30,
    *,
    targets: tuple[str, ...] = ("remotefix-test-session-*",),
    sudo: bool = False,
) -> str:
    """A grant for CASE-1; the default pattern covers the test container."""
    grant = ConsentStore(workspace).grant(
        case="CASE-1",
        targets=list(targets),
        scope=scope,
        expires_in=timedelta(minutes=minutes),
        granted_by="Jane (customer IT)",
        evidence="ticket 42",
        sudo=sudo,
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
    assert actions == ["run.intent", "run"] * 3 + ["consent.revoke", "refused"]


def test_expiry_mid_run_stops_the_next_command(workspace: Workspace, machine: Target) -> None:
    grant = ConsentStore(workspace).get(_grant(workspace, minutes=5 / 60))
    with Session(machine, case="CASE-1", workspace=workspace) as session:
        assert session.run("true").ok  # well inside the grant, even on a loaded machine
        time.sleep(max(0.0, (grant.expires_at - datetime.now(UTC)).total_seconds()) + 0.1)
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
    actions = ["run.intent", "run", "read_file.intent", "read_file"]
    assert [r["action"] for r in records] == actions
    assert records[1]["extra"]["intent_seq"] == records[0]["seq"]
    assert all(r["elevated"] is False for r in records)
    run = records[1]
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
    intent, record = AuditLog(workspace).records(case="CASE-9")
    assert intent["action"] == "run.intent" and intent["command"] == "echo hi"
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


# --- against a real sshd: the audit is written first, grants match the connected host ---------


@pytest.fixture
def ssh_box(sshd: Sshd, workspace: Workspace) -> Sshd:
    """A real sshd on 127.0.0.1 whose host key the workspace trusts."""
    with workspace.known_hosts.open("a") as fh:
        fh.write(sshd.known_hosts_line + "\n")
    return sshd


def _marker(tmp_path: Path) -> Path:
    return tmp_path / f"marker-{uuid.uuid4().hex[:8]}"


def _cli_run(
    address: str | bytes, marker: Path, *, ulimit_kib: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`remotefix run ADDRESS --case CASE-1 -- touch MARKER` in a child process (a shell around
    it sets ``ulimit -f`` when asked: a real file-size limit, as on a full disk)."""
    argv = [sys.executable, "-m", "remotefix", "run", address, "--case", "CASE-1", "--",
            "touch", str(marker)]  # fmt: skip
    if ulimit_kib is not None:
        argv = ["bash", "-c", f'ulimit -f {ulimit_kib} && exec "$@"', "bash", *argv]
    return subprocess.run(
        argv, capture_output=True, text=True, errors="replace", timeout=120, check=False
    )


def _address(sshd: Sshd, extra: str = "") -> str:
    return f"{sshd.address}?identity_file={sshd.client_key.private}{extra}"


def test_a_torn_audit_log_stops_the_command_until_repaired(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    _grant(workspace, Scope.FIX, targets=("127.0.0.1",))
    with workspace.audit_log.open("ab") as fh:
        fh.write(b'{"seq":2,"time":"20')  # a crash in the middle of a write
    marker = _marker(tmp_path)
    done = _cli_run(_address(ssh_box), marker)
    assert done.returncode == 7, done.stdout + done.stderr
    assert not marker.exists()  # nothing reached the target
    output = done.stdout + done.stderr
    assert "nothing sent" in output and "audit repair" in output
    assert "Traceback" not in done.stderr
    repair = subprocess.run([sys.executable, "-m", "remotefix", "audit", "repair"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert repair.returncode == 0, repair.stderr
    again = _cli_run(_address(ssh_box), marker)
    assert again.returncode == 0, again.stdout + again.stderr
    assert marker.exists()
    actions = [r["action"] for r in AuditLog(workspace).records()]
    assert actions[-3:] == ["audit.repair", "run.intent", "run"]
    assert AuditLog(workspace).verify().ok


def test_a_full_disk_stops_the_command_before_it_is_sent(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    _grant(workspace, Scope.FIX, targets=("127.0.0.1",))
    log = AuditLog(workspace)
    for _ in range(10):  # 80 KiB: past the limit below
        log.append(action="note", command="x" * 8000)
    before = workspace.audit_log.read_bytes()
    marker = _marker(tmp_path)
    done = _cli_run(_address(ssh_box), marker, ulimit_kib=64)
    assert done.returncode == 7, done.stdout + done.stderr
    assert not marker.exists()
    assert "File too large" in done.stdout + done.stderr
    assert workspace.audit_log.read_bytes() == before and log.verify().ok


def test_a_target_name_that_is_not_utf8_is_refused_before_anything_is_sent(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    _grant(workspace, Scope.FIX, targets=("127.0.0.1",))
    marker = _marker(tmp_path)
    address = _address(ssh_box, "&note=").encode() + b"caf\xe9"  # Latin-1 bytes in argv
    done = _cli_run(address, marker)
    assert done.returncode == 7, done.stdout + done.stderr
    assert not marker.exists()
    assert "not valid UTF-8" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert AuditLog(workspace).verify().ok


def test_a_grant_never_matches_a_query_string(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    _grant(workspace, Scope.FIX, targets=("*.customer.example",))
    marker = _marker(tmp_path)
    target = parse_address(_address(ssh_box, "&x=.customer.example"))
    assert target.name.endswith(".customer.example")  # the typed text would have matched
    session = Session(target, case="CASE-1", workspace=workspace)
    with session, pytest.raises(ConsentError, match="no consent"):
        session.run(f"touch {marker}", scope=Scope.FIX)
    assert not marker.exists()


def test_a_grant_matches_the_host_ssh_config_connects_to(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host db1.customer.example\n  HostName 127.0.0.1\n  Port {ssh_box.port}\n  User root\n"
        f"  IdentityFile {ssh_box.client_key.private}\n"
    )
    target = parse_address("db1.customer.example")
    settings = {"ssh_config": config, "use_agent": False}
    _grant(workspace, targets=("*.customer.example",))
    alias = Session(target, case="CASE-1", workspace=workspace, transport_settings=settings)
    with alias, pytest.raises(ConsentError, match="no consent"):
        alias.run("true")  # the alias looks like the customer's; the machine is 127.0.0.1
    _grant(workspace, targets=(f"ssh://root@127.0.0.1:{ssh_box.port}",))
    with Session(target, case="CASE-1", workspace=workspace, transport_settings=settings) as s:
        assert s.run("echo hi").stdout == b"hi\n"


def test_sudo_needs_a_sudo_grant_and_every_record_says_elevated(
    ssh_box: Sshd, workspace: Workspace, tmp_path: Path
) -> None:
    _grant(workspace, Scope.FIX, targets=("127.0.0.1",))
    marker = _marker(tmp_path)
    target = ssh_box.target()
    with Session(target, case="CASE-1", workspace=workspace) as session:
        with pytest.raises(ConsentError, match=r"does not allow sudo.*--sudo"):
            session.run(f"touch {marker}", scope=Scope.FIX, sudo=True)
        with pytest.raises(ConsentError, match="--sudo"):
            session.check_consent(Scope.DIAGNOSE, sudo=True)
        assert session.run("echo plain", scope=Scope.FIX).ok
    assert not marker.exists()
    grant_id = _grant(workspace, Scope.FIX, targets=("127.0.0.1",), sudo=True)
    with Session(target, case="CASE-1", workspace=workspace) as session:
        checked = session.check_consent(Scope.FIX, sudo=True)
        assert checked is not None and checked.id == grant_id
        result = session.run('echo "$SUDO_USER"', scope=Scope.FIX, sudo=True)
    assert result.stdout == b"root\n"  # sudo set SUDO_USER: it really ran through sudo -n
    records = list(AuditLog(workspace).records(case="CASE-1"))
    assert {r["elevated"] for r in records} == {False, True}
    elevated = [r for r in records if r["elevated"]]
    assert [r["action"] for r in elevated] == ["run.intent", "run"]
    assert all(r["consent_id"] == grant_id for r in elevated)
    refused = [r for r in records if r["action"] == "refused"]
    assert len(refused) == 2 and all(r["extra"]["sudo"] is True for r in refused)


def test_record_intent_audits_work_done_outside_run(workspace: Workspace) -> None:
    with Session(parse_address("local://"), case="CASE-8", workspace=workspace) as session:
        seq = session.record_intent("fix-apply.intent", "site.yml", scope=Scope.FIX, elevated=True)
    (record,) = AuditLog(workspace).records(case="CASE-8")
    assert record["seq"] == seq and record["action"] == "fix-apply.intent"
    assert (record["command"], record["scope"], record["elevated"]) == ("site.yml", "fix", True)
    with workspace.audit_log.open("ab") as fh:
        fh.write(b'{"torn')
    again = Session(parse_address("local://"), case="CASE-8", workspace=workspace)
    with again, pytest.raises(AuditError, match="nothing sent to 'local'"):
        again.record_intent("fix-apply.intent", "site.yml", scope=Scope.FIX)
