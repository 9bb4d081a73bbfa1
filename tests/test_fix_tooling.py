"""``fix`` on a customer without python3: the human view says why it failed, and a lab practice
that passed only thanks to the python3 every lab gets is warned about before the customer."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.consent import Scope
from remotefix.fixes.interpreter import explained, interpreter_missing
from remotefix.fixes.tooling import missing_tools, needs
from remotefix.resources import data_dir
from remotefix.targets import parse_address
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair

NO_PYTHON = "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq 'python3*' 'libpython3*'"
WRITE = "    - ansible.builtin.copy: {dest: /root/fixed, content: ok}\n"


def _playbook(path: Path, tasks: str, gather: str = "false") -> Path:
    path.write_text(f"- hosts: all\n  gather_facts: {gather}\n  tasks:\n{tasks}")
    return path


def test_what_a_playbook_needs_on_its_target(tmp_path: Path) -> None:
    raw = "    - ansible.builtin.raw: apt-get install -y python3\n    - debug: {msg: hi}\n"
    assert needs(_playbook(tmp_path / "raw.yml", raw)) == frozenset()
    assert needs(_playbook(tmp_path / "facts.yml", raw, gather="true")) == {"python3"}
    block = "    - block:\n        - raw: 'true'\n      rescue:\n" + WRITE.replace("  -", "      -")
    assert needs(_playbook(tmp_path / "block.yml", block)) == {"python3"}
    vaulted = tmp_path / "vault.yml"
    vaulted.write_text("- hosts: all\n  vars: {secret: !vault |\n      $ANSIBLE_VAULT;1.1}\n")
    assert needs(vaulted) == {"python3"}
    for shipped in sorted(data_dir("playbooks").glob("*.yml")):
        assert needs(shipped) == {"python3"}, shipped


def test_a_customer_lacks_python3_only_without_any_python3_package() -> None:
    assert missing_tools(frozenset({"python3"}), {"packages": {"bash": "5"}}) == ["python3"]
    assert missing_tools(frozenset({"python3"}), {"packages": {"python3.11-minimal": "3"}}) == []
    assert missing_tools(frozenset({"python3"}), {"packages": {}}) == []  # unknown, not missing
    assert missing_tools(frozenset({"python3", "curl"}), {"packages": {"curl": "8"}}) == ["python3"]


@pytest.mark.docker
@pytest.mark.slow  # a lab up and a practice on it
def test_fix_without_python3_on_the_customer_warns_then_says_why(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    customer = customer_factory()
    box = docker_api.containers.get(customer.name)
    code, out = box.exec_run(["sh", "-c", NO_PYTHON])
    assert code == 0 and box.exec_run(["sh", "-c", "command -v python3"]).exit_code != 0, out
    trust(customer)
    address = f"{customer.address}?identity_file={client_key.private}"
    name = parse_address(address).name
    grant([customer.address], "C-NOPY", Scope.FIX)
    spec = tmp_path / "lab.yaml"
    spec.write_text("base: debian:12\n")
    code, lab = cli_json("lab", "up", str(spec), "--case", "C-NOPY")
    assert code == 0, lab
    playbook = _playbook(tmp_path / "p.yml", WRITE)
    args = ["fix", str(playbook), address, "--case", "C-NOPY", "--yes"]
    try:
        practised = CliRunner().invoke(cli, ["--json", *args, "--lab", lab["name"]])
    finally:
        cli_json("lab", "down", lab["name"])
    assert practised.exit_code == 60, practised.output
    (warning,) = [ln for ln in practised.stderr.splitlines() if ln.startswith("warning:")]
    assert f"{name} has no python3" in warning and "passed only because" in warning
    assert practised.stderr.index("warning:") < practised.stderr.index("check mode with diff")
    report = json.loads(practised.stdout)
    assert report["practice"]["passed"] and report["applied"] is False, report
    assert report["warnings"] == [warning.removeprefix("warning: ")]
    (failed,) = [e for e in report["check"]["events"] if e["status"] == "failed"]
    assert failed["message"].startswith("module interpreter not found: the target has no python3")

    human = CliRunner().invoke(cli, args)  # no lab: nothing to warn about, the reason still shown
    assert human.exit_code == 60 and "warning:" not in human.stderr, human.output
    (why,) = [ln for ln in human.stdout.splitlines() if "module interpreter not found" in ln]
    assert "the target has no python3" in why and "apt-get install -y python3" in why
    assert box.exec_run(["test", "-e", "/root/fixed"]).exit_code == 1


def test_ansibles_own_words_for_a_missing_interpreter_are_recognised() -> None:
    said = "The module interpreter '/usr/bin/python3' was not found."
    assert interpreter_missing({"msg": said})
    assert interpreter_missing({"msg": "x", "failed_modules": {"setup": {"msg": said}}})
    assert not interpreter_missing({"msg": "No such file or directory: /etc/app.conf"})
    assert explained(explained(said)) == explained(said)
