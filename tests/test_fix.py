"""Fixes through ansible-runner against real labs and a real customer over SSH: every shipped
playbook turns its case from REPRODUCED into NOT_REPRODUCED, consent gates the apply, task
events are audited, failures stop one host only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from remotefix.cases.model import load_cases
from remotefix.cases.repro import run_steps
from remotefix.cli import cli
from remotefix.consent import Scope
from remotefix.fixes.ansible import Host
from remotefix.lab import labs
from remotefix.sandbox import Customer
from remotefix.session import Session
from remotefix.targets import parse_address
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair

PLANT_KI_0004 = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hello >/dev/null"
    " && dpkg-query -s hello | sed 's/^Status: .*/Status: install ok half-configured/'"
    " > /var/lib/dpkg/updates/0000"
)


def test_generated_inventory_holds_no_secret_and_checks_host_keys() -> None:
    host = Host("web1", address="10.0.0.5", port=2222, user="alice", key_file="/k/id",
                known_hosts="/ws/known hosts", proxy_jump="bastion")  # fmt: skip
    variables = host.variables()
    assert "StrictHostKeyChecking=yes" in variables["ansible_ssh_common_args"]
    assert "UserKnownHostsFile='/ws/known hosts'" in variables["ansible_ssh_common_args"]
    assert variables["ansible_become"] is True  # not root: sudo (never a password)
    assert not any("pass" in k for k in variables)


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
