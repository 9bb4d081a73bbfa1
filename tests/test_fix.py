"""Fixes through ansible-runner against real labs and a real customer over SSH: every shipped
playbook turns its case from REPRODUCED into NOT_REPRODUCED, consent gates the apply, task
events are audited, failures stop one host only."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from remotefix.audit import AuditLog
from remotefix.cases.model import load_cases
from remotefix.cases.repro import run_steps
from remotefix.cli import cli
from remotefix.consent import ConsentStore, Scope
from remotefix.errors import ConsentError
from remotefix.fixes.ansible import PlaybookRun, run_playbook
from remotefix.fixes.connection import host_for
from remotefix.fixes.fix import fix
from remotefix.lab import labs
from remotefix.sandbox import Customer, wait_for_ssh_banner
from remotefix.session import Session
from remotefix.targets import parse_address
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair, support_login
from tests.fixtures.sshd import Sshd, SshdFactory

PLANT_KI_0004 = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hello >/dev/null"
    " && dpkg-query -s hello | sed 's/^Status: .*/Status: install ok half-configured/'"
    " > /var/lib/dpkg/updates/0000"
)


PY = "ansible_python_interpreter=/usr/bin/python3"  # python3 on PATH is a pyenv shim here


def _play(path: Path, *tasks: str) -> Path:
    """A playbook of shell tasks (each a name and a command)."""
    body = "".join(
        f"    - name: step {i}\n      ansible.builtin.shell: {json.dumps(task)}\n"
        "      changed_when: false\n"
        for i, task in enumerate(tasks, 1)
    )
    path.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{body}")
    return path


def _trust_sshd(server: Sshd) -> None:
    ws = Workspace.default().ensure()
    with ws.known_hosts.open("a") as fh:
        fh.write(server.known_hosts_line + "\n")


def _fix(*args: str) -> tuple[int, Any]:
    return cli_json("fix", *args, "-e", PY, "--yes")


def _sshd_address(server: Sshd) -> str:
    return f"{server.address}?identity_file={server.client_key.private}"


@pytest.mark.parametrize(
    "var",
    [
        "ansible_host=127.0.0.1", "ansible_port=2222", "ansible_user=mallory",
        "ansible_connection=local", "ansible_ssh_common_args=-o StrictHostKeyChecking=no",
        "ansible_ssh_extra_args=-oProxyCommand=nc", "ansible_scp_extra_args=-q",
        "ansible_become=true", "ansible_become_user=root", "ansible_become_method=su",
        "ansible_password=x", "ansible_ssh_pass=x", "ansible_private_key_file=/k",
        "ansible_ssh_private_key_file=/k", "ansible_host_key_checking=false",
        "ansible_ssh_host=10.0.0.9", "ansible_paramiko_host=10.0.0.9", "ansible_ssh_executable=/x",
        "ansible_shell_executable=/bin/evil", "inventory_hostname=other",
    ],
)  # fmt: skip
def test_extra_vars_refuse_every_connection_variable(sshd_factory: SshdFactory, var: str,
                                                     tmp_path: Path) -> None:  # fmt: skip
    consented, other = sshd_factory(), sshd_factory()
    for server in (consented, other):
        _trust_sshd(server)
    grant([consented.address], "C-VARS", Scope.FIX)
    playbook = _play(tmp_path / "p.yml", f"touch {tmp_path}/ran")
    result = CliRunner().invoke(
        cli, ["fix", str(playbook), _sshd_address(consented), "--case", "C-VARS", "--yes",
              "-e", f"ansible_port={other.port}" if var.startswith("ansible_host=") else var],
    )  # fmt: skip
    assert result.exit_code == 61, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "connection variable" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "ran").exists()
    for server in (consented, other):
        assert "Accepted publickey" not in server.log.read_text()


@pytest.mark.parametrize(
    ("play", "named"),
    [
        ("  vars: {ansible_port: OTHER}\n  tasks:\n    - ansible.builtin.command: touch RAN\n",
         "variable ansible_port"),
        ("  tasks:\n    - ansible.builtin.set_fact: {ansible_port: OTHER}\n"
         "    - ansible.builtin.command: touch RAN\n", "variable ansible_port"),
        ("  tasks:\n    - ansible.builtin.command: touch RAN\n"
         "      delegate_to: db9.customer.example\n", "delegate_to db9.customer.example"),
        ("  tasks:\n    - block:\n        - ansible.builtin.command: touch RAN\n"
         "      vars: {ansible_ssh_common_args: '-o StrictHostKeyChecking=no'}\n",
         "variable ansible_ssh_common_args"),
    ],
)  # fmt: skip
def test_a_playbook_cannot_re_point_the_connection_either(
    sshd_factory: SshdFactory, tmp_path: Path, play: str, named: str
) -> None:
    consented, other = sshd_factory(), sshd_factory()
    for server in (consented, other):
        _trust_sshd(server)
    grant([consented.address], "C-PLAY", Scope.FIX)
    playbook = tmp_path / "p.yml"
    body = play.replace("OTHER", str(other.port)).replace("RAN", str(tmp_path / "ran"))
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n{body}")
    result = CliRunner().invoke(cli, ["fix", str(playbook), _sshd_address(consented), "--case",
                                      "C-PLAY", "-e", PY, "--yes"])  # fmt: skip
    assert result.exit_code == 61, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "ran").exists()
    assert "Accepted publickey" not in other.log.read_text()
    stops = [r for r in _audit(Workspace.default()) if r["action"] == "fix-stopped"]
    assert len(stops) == 1 and named in stops[0]["extra"]["reason"]


def test_ordinary_variables_stay_allowed(sshd: Sshd, tmp_path: Path) -> None:
    _trust_sshd(sshd)
    grant([sshd.address], "C-VARS", Scope.FIX)
    playbook = _play(tmp_path / "p.yml", "echo {{ greeting }} > " + str(tmp_path / "out"))
    code, report = _fix(str(playbook), _sshd_address(sshd), "--case", "C-VARS",
                        "-e", "greeting=hello")  # fmt: skip
    assert code == 0, report
    assert (tmp_path / "out").read_text() == "hello\n"


def test_a_host_trusted_only_in_the_users_known_hosts_works_for_fix(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts_line + "\n")
    monkeypatch.setenv("HOME", str(home))
    grant([sshd.address], "C-KH", Scope.FIX)
    target = sshd.target()
    with Session(target, case="C-KH") as session:  # the session trusts it...
        assert session.run("true").exit_code == 0
    playbook = _play(tmp_path / "p.yml", f"touch {tmp_path}/ran")
    code, report = _fix(str(playbook), _sshd_address(sshd), "--case", "C-KH")
    assert code == 0, report  # ...and so does Ansible
    assert (tmp_path / "ran").exists()


def test_ansible_goes_through_the_sessions_proxyjump_with_its_host_keys(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    bastion = sshd_factory(log_level="DEBUG1")
    inner = sshd_factory(client_key=bastion.client_key)
    for server in (bastion, inner):
        _trust_sshd(server)
    grant([inner.address], "C-JUMP", Scope.FIX)
    jump = f"root@127.0.0.1:{bastion.port}"
    address = f"{_sshd_address(inner)}&proxy_jump={jump}"
    playbook = _play(tmp_path / "p.yml", f"touch {tmp_path}/ran")
    code, report = _fix(str(playbook), address, "--case", "C-JUMP")
    assert code == 0, report
    assert (tmp_path / "ran").exists()
    assert bastion.log.read_text().count(f"target 127.0.0.1 port {inner.port}") >= 3


def test_an_untrusted_host_key_is_refused_by_ansible_too(sshd: Sshd, tmp_path: Path) -> None:
    """Ansible holds the key to the session's list even when it is run directly."""
    target = sshd.target()
    host = host_for(target, Workspace.default().ensure())
    playbook = _play(tmp_path / "p.yml", f"touch {tmp_path}/ran")
    run = run_playbook(playbook, [host], check=False, workspace=Workspace.default(),
                       extra_vars={"ansible_python_interpreter": "/usr/bin/python3"})  # fmt: skip
    assert run.failed_hosts() == [target.name]
    assert any("Host key verification failed" in e.message for e in run.events)
    assert not (tmp_path / "ran").exists()


def test_the_password_never_reaches_ansibles_environment(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMOTEFIX_PASSWORD", "hunter2-sentinel")
    _trust_sshd(sshd)
    grant([sshd.address], "C-PW", Scope.FIX)
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug: {msg: \"env=[{{ lookup('env', 'REMOTEFIX_PASSWORD') }}]\"}\n"
        "    - ansible.builtin.debug: {msg: \"argv=[{{ lookup('pipe', 'cat /proc/$PPID/cmdline"
        ' | tr \\\\0 \\" \\"\') }}]"}\n'
    )
    code, report = _fix(str(playbook), _sshd_address(sshd), "--case", "C-PW")
    assert code == 0, report
    messages = [e["message"] for e in report["apply"]["events"]]
    assert "env=[]" in messages and any(m.startswith("argv=[") for m in messages), messages
    assert "hunter2" not in json.dumps(report)
    assert "hunter2" not in Workspace.default().audit_log.read_text()


PASSWORD_ONLY = (
    "echo 'root:pw-sentinel-42' | chpasswd && rm /root/.ssh/authorized_keys"
    " && printf 'PermitRootLogin yes\\nPasswordAuthentication yes\\n'"
    " > /etc/ssh/sshd_config.d/00-password.conf && kill -HUP 1"
)


@pytest.mark.docker
def test_remotefix_password_logs_ansible_in_and_is_never_written(
    customer_factory: CustomerFactory, docker_api: docker.DockerClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    customer = customer_factory()
    box = docker_api.containers.get(customer.name)
    code, out = box.exec_run(["sh", "-c", PASSWORD_ONLY])
    assert code == 0, out
    wait_for_ssh_banner(customer.host, customer.port, timeout=30)
    monkeypatch.setenv("REMOTEFIX_PASSWORD", "pw-sentinel-42")
    trust(customer)
    grant([customer.address], "C-PW", Scope.FIX)
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy: {dest: /root/pw-ran, content: ok}\n"
        "    - ansible.builtin.debug: {msg: \"env=[{{ lookup('env', 'REMOTEFIX_PASSWORD') }}]\"}\n"
    )
    code, report = cli_json("fix", str(playbook), customer.address, "--case", "C-PW", "--yes")
    assert code == 0, report
    assert box.exec_run(["cat", "/root/pw-ran"]).output == b"ok"
    assert "env=[]" in [e["message"] for e in report["apply"]["events"]]
    assert "pw-sentinel" not in json.dumps(report)
    assert "pw-sentinel" not in Workspace.default().audit_log.read_text()


def _revoke(ws: Workspace, grant_id: str) -> None:
    ConsentStore(ws).revoke(grant_id)


def _expire(ws: Workspace, grant_id: str) -> None:
    """The grant's end moved to a second ago: what the clock does to every grant in time."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with contextlib.closing(sqlite3.connect(ws.consent_db)) as db, db:
        db.execute("UPDATE grants SET expires_at = ? WHERE id = ?", (past, grant_id))


def _break_database(ws: Workspace, grant_id: str) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.consent_db}{suffix}").unlink(missing_ok=True)
    ws.consent_db.write_bytes(b"not a database " * 100)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("take_away", "why"),
    [(_revoke, "revoked"), (_expire, "expired"), (_break_database, "could not be checked")],
)
def test_consent_going_away_stops_the_playbook_before_its_next_task(
    sshd: Sshd, tmp_path: Path, take_away: Callable[[Workspace, str], None], why: str
) -> None:
    _trust_sshd(sshd)
    ws = Workspace.default()
    grant_id = grant([sshd.address], "C-REV", Scope.FIX)
    first, second = tmp_path / "first", tmp_path / "second"
    playbook = _play(tmp_path / "p.yml", f"touch {first} && sleep 2", f"touch {second}")
    done = threading.Event()

    def while_the_first_task_runs() -> None:
        while not first.exists():
            time.sleep(0.05)
        take_away(ws, grant_id)
        done.set()

    threading.Thread(target=while_the_first_task_runs, daemon=True).start()
    result = CliRunner().invoke(cli, ["fix", str(playbook), _sshd_address(sshd), "--case",
                                      "C-REV", "-e", PY, "--yes"])  # fmt: skip
    assert done.is_set()
    assert result.exit_code == 5, result.output
    assert "stopped before task 'step 2'" in result.stderr and why in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1
    assert first.exists() and not second.exists()
    records = _audit(ws)
    stop = [r for r in records if r["action"] == "fix-stopped"]
    assert len(stop) == 1 and stop[0]["consent_id"] == grant_id and why in str(stop[0])
    assert [r["action"] for r in records if r["action"].startswith("fix-")][-1] == "fix-stopped"


def test_consent_is_checked_again_after_the_confirmation(sshd: Sshd, tmp_path: Path) -> None:
    _trust_sshd(sshd)
    grant_id = grant([sshd.address], "C-CONF", Scope.FIX)
    playbook = _play(tmp_path / "p.yml", f"touch {tmp_path}/ran")
    targets = [parse_address(_sshd_address(sshd))]

    def confirm_then_revoke(check: PlaybookRun) -> bool:
        ConsentStore(Workspace.default()).revoke(grant_id)  # revoked while the human read
        return True

    with pytest.raises(ConsentError, match="revoked"):
        fix(playbook, targets, case="C-CONF", workspace=Workspace.default(),
            confirm=confirm_then_revoke, extra_vars={"ansible_python_interpreter": "/usr/bin/python3"})  # fmt: skip
    assert not (tmp_path / "ran").exists()
    assert not any(r["action"] == "fix-apply" for r in _audit(Workspace.default()))


@pytest.mark.docker
@pytest.mark.parametrize(("case_id", "on"), [("KI-0004", "debian:12"), ("KI-0003", "debian:13")])
def test_each_shipped_playbook_fixes_its_case_on_a_lab(case_id: str, on: str) -> None:
    (case,) = load_cases([case_id])
    assert case.fix, f"{case_id} names no fix playbook"
    code, before = cli_json("repro", case_id, "--on", on, "--keep", "always")
    assert code == 0 and before["verdict"] == "REPRODUCED", before
    lab = before["lab"]
    try:
        code, report = cli_json(
            "fix", Path(case.fix).name, "--lab", lab, "--case", case_id, "--yes"
        )
        assert code == 0, report
        practice = report["practice"]
        assert practice["passed"], practice
        assert practice["apply"]["stats"][lab]["changed"] >= 1
        assert practice["idempotence"]["stats"][lab]["changed"] == 0
        ws = Workspace.default()
        with Session(labs.lab_target(lab), case=case_id, workspace=ws) as session:
            verdict, _ = run_steps(session, case)
        assert verdict == "NOT_REPRODUCED"
        actions = {r["action"] for r in _audit(ws) if r["case"] == case_id}
        assert {"fix-lab-check", "fix-lab-apply", "fix-lab-idempotence", "repro"} <= actions
    finally:
        cli_json("lab", "down", lab)


@pytest.mark.docker
def test_fix_on_customer_needs_fix_consent_then_applies_idempotently(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient
) -> None:
    customer = customer_factory()
    code, out = docker_api.containers.get(customer.name).exec_run(["sh", "-c", PLANT_KI_0004])
    assert code == 0, out
    trust(customer)
    address = f"{customer.address}?identity_file={client_key.private}"
    grant([customer.address], "C-FIX", Scope.DIAGNOSE)
    code, refused = cli_json("fix", "ki-0004-dpkg-configure", address, "--case", "C-FIX", "--yes")
    assert code == 5, refused
    ws = Workspace.default()
    assert not any(r["action"].startswith("fix-") for r in _audit(ws))

    grant([customer.address], "C-FIX", Scope.FIX)
    code, report = cli_json("fix", "ki-0004-dpkg-configure", address, "--case", "C-FIX", "--yes")
    assert code == 0, report
    name = parse_address(address).name
    assert report["applied"] and report["apply"]["stats"][name]["changed"] >= 1
    assert report["idempotence"]["stats"][name]["changed"] == 0
    assert report["check"]["stats"][name]["changed"] >= 1  # the preview said it would change
    (case,) = load_cases(["KI-0004"])
    with Session(parse_address(address), case="C-FIX", workspace=ws) as session:
        assert run_steps(session, case)[0] == "NOT_REPRODUCED"
    applied = [r for r in _audit(ws) if r["action"] == "fix-apply"]
    assert applied and all(r["consent_id"] and r["scope"] == "fix" for r in applied)
    assert "dpkg --configure -a" in " ".join(r["command"] for r in applied)


def _audit(ws: Workspace) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ws.audit_log.read_text().splitlines()]


@pytest.mark.docker
def test_a_failing_task_stops_that_host_only(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    good, bad = customer_factory(), customer_factory()
    docker_api.containers.get(good.name).exec_run(["touch", "/etc/remotefix-marker"])
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(
        f"{n} ansible_host=127.0.0.1 ansible_port={c.port} ansible_user=root "
        f"ansible_ssh_private_key_file={client_key.private}\n" for n, c in (("good", good), ("bad", bad))
    ))  # fmt: skip
    for c in (good, bad):
        trust(c)
    grant(["good", "bad"], "C-TWO", Scope.FIX)
    playbook = tmp_path / "marker.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: the marker must exist\n      ansible.builtin.command: test -f /etc/remotefix-marker\n"
        "      changed_when: false\n"
        "    - name: then write a file\n      ansible.builtin.copy: {dest: /etc/fixed, content: ok}\n"
    )
    code, report = cli_json("fix", str(playbook), "-i", str(inventory), "--case", "C-TWO", "--yes")
    assert code == 60, report
    assert report["failed_hosts"] == ["bad"] and report["applied"] is True
    failed = [e for e in report["apply"]["events"] if e["status"] == "failed"]
    assert [(e["host"], e["task"]) for e in failed] == [("bad", "the marker must exist")]
    assert report["apply"]["stats"]["good"]["changed"] == 1
    assert report["apply"]["stats"]["bad"]["failed"] == 1
    assert docker_api.containers.get(good.name).exec_run(["cat", "/etc/fixed"]).output == b"ok"
    assert docker_api.containers.get(bad.name).exec_run(["test", "-f", "/etc/fixed"]).exit_code == 1


@pytest.mark.docker
def test_require_lab_pass_refuses_to_touch_the_customer(
    customer: Customer, client_key: KeyPair, docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    spec = tmp_path / "lab.yaml"
    spec.write_text("base: debian:12\n")
    code, lab = cli_json("lab", "up", str(spec), "--case", "C-REQ")
    assert code == 0, lab
    try:
        trust(customer)
        address = f"{customer.address}?identity_file={client_key.private}"
        grant([customer.address], "C-REQ", Scope.FIX)
        playbook = tmp_path / "marker.yml"
        playbook.write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - ansible.builtin.command: test -f /etc/remotefix-marker\n"
            "    - ansible.builtin.copy: {dest: /etc/req-fixed, content: ok}\n"
        )
        result = CliRunner().invoke(
            cli,
            [
                "fix",
                str(playbook),
                address,
                "--case",
                "C-REQ",
                "--lab",
                lab["name"],
                "--require-lab-pass",
                "--yes",
            ],
        )
        assert result.exit_code == 60 and "did not pass on lab" in result.output
        box = docker_api.containers.get(customer.name)
        assert box.exec_run(["test", "-f", "/etc/req-fixed"]).exit_code == 1
    finally:
        cli_json("lab", "down", lab["name"])


@pytest.mark.docker
@pytest.mark.slow
def test_a_second_practice_starts_from_the_labs_pristine_snapshot(
    docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    spec = tmp_path / "lab.yaml"
    spec.write_text("base: debian:12\n")
    code, lab = cli_json("lab", "up", str(spec), "--case", "C-SNAP")
    assert code == 0, lab
    name, tags = lab["name"], []
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy: {dest: /root/practised, content: x}\n"
    )
    try:
        runs = [cli_json("fix", str(playbook), "--lab", name, "--case", "C-SNAP", "--yes")
                for _ in range(2)]  # fmt: skip
        assert [code for code, _ in runs] == [0, 0], runs
        first, second = (report["practice"] for _, report in runs)
        assert (first["restored"], second["restored"]) == (False, True)
        for practice in (first, second):  # both previews start where the customer was
            assert practice["check"]["stats"][name]["changed"] == 1, practice
        code, found = cli_json("lab", "snapshots")
        tags = [s["tag"] for s in found if s["lab"] == name]
        assert code == 0 and len(tags) == 1, found
        code, other = cli_json("lab", "up", "--from-snapshot", tags[0], "--case", "C-SNAP")
        assert code == 0, other
        try:
            box = docker_api.containers.get(other["name"])
            assert box.exec_run(["test", "-e", "/root/practised"]).exit_code == 1
        finally:
            cli_json("lab", "down", other["name"])
        code, refused = cli_json("lab", "snapshot", "rm", tags[0])
        assert code == 30, refused  # the practised lab still runs from it
    finally:
        cli_json("lab", "down", name)
    assert cli_json("lab", "snapshot", "rm", tags[0])[0] == 0
    assert tags[0] not in [s["tag"] for s in cli_json("lab", "snapshots")[1]]


@pytest.mark.docker
def test_a_fix_that_becomes_root_needs_a_sudo_grant(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A customer who lets us in as ``support``: Ansible becomes root through sudo, so the
    customer must have allowed sudo; the audit says the work was elevated."""
    customer = customer_factory()
    box = docker_api.containers.get(customer.name)
    address = support_login(docker_api, customer)
    trust(customer)
    target = f"{address}?identity_file={client_key.private}"
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy: {dest: /root/sudo-ran, content: ok}\n"
    )
    grant([address], "C-SU", Scope.FIX)
    code, refused = cli_json("fix", str(playbook), target, "--case", "C-SU", "-e", PY, "--yes")
    assert code == 5 and "--sudo" in str(refused), refused
    assert box.exec_run(["test", "-e", "/root/sudo-ran"])[0] != 0  # nothing ran
    with ConsentStore(Workspace.default()) as store:
        store.grant("C-SU", [address], Scope.FIX, timedelta(minutes=5), "J", "t", sudo=True)
    code, report = cli_json("fix", str(playbook), target, "--case", "C-SU", "-e", PY, "--yes")
    assert code == 0, report
    assert box.exec_run(["cat", "/root/sudo-ran"]).output == b"ok"
    applied = [
        r for r in AuditLog(Workspace.default()).records("C-SU") if r["action"] == "fix-apply"
    ]
    assert applied and all(r["elevated"] for r in applied)
