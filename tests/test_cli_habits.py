"""CLI habits a new user expects: --json after the command too, usage errors as one line (and
JSON in --json mode), the exit-code table, and defaults from a config file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from remotefix.cli.help import exit_codes
from remotefix.errors import RemotefixError
from tests.fixtures.cli import cli_json


def _remotefix(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remotefix", *args], capture_output=True, text=True, timeout=60,
        env=env, check=False,
    )  # fmt: skip


def test_json_before_or_after_the_command_is_the_same() -> None:
    before, after = _remotefix("--json", "consent", "ls"), _remotefix("consent", "ls", "--json")
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout) == []
    assert json.loads(_remotefix("help", "exit-codes", "--json").stdout)


def test_usage_errors_are_one_line_and_json_in_json_mode() -> None:
    done = _remotefix("consent", "grant", "--json")
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error["exit_code"] == 2 and "--case" in error["message"]
    assert "Traceback" not in done.stderr and done.stderr.count("Error:") == 1


def test_exit_code_table_covers_the_whole_error_tree() -> None:
    def tree(cls: type[RemotefixError]) -> set[type[RemotefixError]]:
        return {cls}.union(*(tree(sub) for sub in cls.__subclasses__()))

    rows = exit_codes()
    codes = [code for code, _, _ in rows]
    assert len(codes) == len(set(codes)), "every exit code means one thing"
    assert {cls.__name__ for cls in tree(RemotefixError)} <= {name for _, name, _ in rows}
    assert {0, 2, 130} <= set(codes)


def test_defaults_come_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\nforks = 3\n\n[consent.grant]\nexpires = "2h"\n')
    monkeypatch.setenv("REMOTEFIX_CONFIG", str(config))
    code, out = cli_json("consent", "grant", "--case", "C-CFG", "--target", "web1",
                         "--scope", "diagnose", "--by", "Ann", "--evidence", "t-1")  # fmt: skip
    assert code == 0, out
    from datetime import datetime

    lasts = datetime.fromisoformat(out["expires_at"]) - datetime.fromisoformat(out["granted_at"])
    assert round(lasts.total_seconds()) == 7200
    help_text = _remotefix("run", "--help", env={**_env(), "REMOTEFIX_CONFIG": str(config)})
    assert "default: 3" in help_text.stdout


def test_a_bad_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults\nforks = 3\n")
    done = _remotefix("consent", "ls", env={**_env(), "REMOTEFIX_CONFIG": str(config)})
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "TOML" in done.stderr
    config.write_text("[nosuchcommand]\nx = 1\n")
    done = _remotefix("consent", "ls", env={**_env(), "REMOTEFIX_CONFIG": str(config)})
    assert done.returncode == 3 and "nosuchcommand" in done.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_no_docker_daemon_is_exit_6_everywhere(tmp_path: Path) -> None:
    env = {**_env(), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
           "REMOTEFIX_HOME": str(tmp_path / "home"), "REMOTEFIX_CONFIG": str(tmp_path / "none")}  # fmt: skip
    grant = _remotefix("consent", "grant", "--case", "C-D", "--target", "docker://box",
                       "--scope", "diagnose", "--by", "A", "--evidence", "t", env=env)  # fmt: skip
    assert grant.returncode == 0, grant.stderr
    for args in (["repro", "KI-0004", "--on", "debian:12"],
                 ["regress", "KI-0004", "--matrix", "debian:12"],
                 ["diagnose", "docker://box", "--case", "C-D"],
                 ["doctor"]):  # fmt: skip
        done = _remotefix(*args, env=env)
        assert done.returncode == 6, (args, done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr
