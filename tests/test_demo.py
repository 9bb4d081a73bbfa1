"""The README's main command, as a test: the whole story against a real customer over SSH."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli

pytestmark = pytest.mark.docker

STAGES = ["doctor", "base image", "customer", "consent", "diagnose", "triage", "lab+repro",
          "practise", "consent fix", "fix", "verify", "audit"]  # fmt: skip


def test_demo_runs_the_whole_story_and_cleans_up(
    tmp_path: Path, docker_api: docker.DockerClient
) -> None:
    home = tmp_path / "demo-home"
    result = CliRunner().invoke(cli, ["--json", "demo", "--home", str(home)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["stages"]) == set(STAGES)
    assert report["facts"]["known_issue"] == "KI-0004"
    assert report["facts"]["redactions"] >= 1
    bundle = Path(report["facts"]["bundle"])
    assert bundle.is_file() and b"Sup3r-Secret" not in bundle.read_bytes()
    audit = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    actions = {r["action"] for r in audit if r["case"] == report["case"]}
    assert {
        "diagnose",
        "repro",
        "fix-lab-apply",
        "fix-check",
        "fix-apply",
        "fix-idempotence",
    } <= actions
    assert not docker_api.containers.list(all=True, filters={"name": "remotefix-demo-customer"})
    assert not docker_api.containers.list(all=True, filters={"label": "remotefix.kind=lab"})
