"""The README's main command, as a test: the whole story against a real customer over SSH."""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.dockerapi import RUN_ENV, RUN_LABEL
from tests.fixtures.browser import dump_dom

pytestmark = pytest.mark.docker

STAGES = ["doctor", "base image", "customer", "consent", "diagnose", "triage", "lab+repro",
          "practise", "consent fix", "fix", "verify", "audit", "report"]  # fmt: skip
SECTIONS = ["summary", "timeline", "environment", "triage", "lab", "reproduction", "fix", "audit"]


def _members(bundle: Path) -> dict[str, bytes]:
    """Every file in the bundle, decompressed (the gzip bytes themselves say nothing)."""
    with tarfile.open(bundle, "r:gz") as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        return {m.name: tar.extractfile(m).read() for m in files}  # type: ignore[union-attr]


def test_demo_runs_the_whole_story_and_cleans_up(
    tmp_path: Path, docker_api: docker.DockerClient
) -> None:
    home, page = tmp_path / "demo-home", tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["--json", "demo", "--home", str(home), "--report", str(page)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["stages"]) == set(STAGES)
    assert report["facts"]["known_issue"] == "KI-0004"
    assert report["facts"]["redactions"] >= 1
    assert report["facts"]["origin"] == "customer state"  # its dpkg journal, copied into the lab
    members = _members(Path(report["facts"]["bundle"]))
    (cron,) = [data for name, data in members.items() if name.endswith("etc/cron.d/backup")]
    assert b"pg_dump shop" in cron  # the line holding the secret was collected ...
    assert [name for name, data in members.items() if b"Sup3r-Secret" in data] == []  # ... redacted
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
    dom = dump_dom(page)  # the demo ends by writing the case report, rendered by Chromium here
    assert re.findall(r'<section id="([a-z]+)"', dom) == SECTIONS
    assert "Fixed: KI-0004" in dom and "Sup3r-Secret" not in page.read_text()
    assert f"symptom from: {report['facts']['origin']}" in dom
    assert "customer: fingerprint before → after" in dom  # what the fix changed, kept
    ours = f"{RUN_LABEL}={os.environ[RUN_ENV]}"  # other runs may share this Docker daemon
    for wanted in (
        {"label": [ours], "name": "remotefix-demo-customer"},
        {"label": [ours, "remotefix.kind=lab"]},
    ):
        assert docker_api.containers.list(all=True, filters=wanted) == [], wanted
