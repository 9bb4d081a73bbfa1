"""``remotefix doctor`` against the real daemon, and with the daemon out of reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli


def _doctor(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["--json", "doctor", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.docker
def test_doctor_all_green_on_a_ready_machine(docker_api: object) -> None:
    code, report = _doctor()
    rows = {row["name"]: row for row in report["checks"]}
    assert code == 0 and report["ok"] is True
    assert rows["docker daemon"]["ok"] and "API 1." in rows["docker daemon"]["detail"]
    for name in ("debootstrap", "ssh", "ssh-keygen", "python: ansible_runner", "state directory"):
        assert rows[name]["ok"], rows[name]
    assert rows["base images"]["ok"], rows["base images"]


def test_doctor_names_the_fix_when_docker_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    code, report = _doctor()
    docker_row = next(r for r in report["checks"] if r["name"] == "docker daemon")
    assert code != 0 and report["ok"] is False
    assert docker_row["ok"] is False
    assert "no-such.sock" in docker_row["detail"]
    assert "dockerd" in docker_row["fix"]


def test_doctor_flags_an_unwritable_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv("REMOTEFIX_HOME", str(blocker / "home"))
    code, report = _doctor()
    row = next(r for r in report["checks"] if r["name"] == "state directory")
    assert code != 0 and row["ok"] is False and "REMOTEFIX_HOME" in row["fix"]
