"""The CLI skeleton: version, help, usage errors, and one real subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix import __version__
from remotefix.cases.model import cases_dir, load_case
from remotefix.cli import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("doctor", "images"):
        assert command in result.output


def test_bad_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2


def test_our_errors_become_one_line_and_their_exit_code() -> None:
    result = CliRunner().invoke(cli, ["images", "build", "plan9:4"])
    assert result.exit_code == 3  # ConfigError
    lines = [line for line in result.output.splitlines() if line]
    assert lines == [lines[0]] and "unknown base image 'plan9:4'" in lines[0]
    assert "labs/catalog.yaml" in lines[0]


def test_json_mode_reports_errors_as_json() -> None:
    result = CliRunner().invoke(cli, ["--json", "images", "build", "plan9:4"])
    assert result.exit_code == 3
    payload = json.loads(result.stdout.splitlines()[0])
    assert payload["error"]["error"] == "ConfigError"


def test_real_subprocess_module_and_script() -> None:
    script = str(Path(sys.executable).with_name("remotefix"))
    for argv in ([sys.executable, "-m", "remotefix", "--version"], [script, "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"remotefix, version {__version__}"
    bad = subprocess.run(
        [sys.executable, "-m", "remotefix", "--bogus"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "No such option" in bad.stderr and "--bogus" in bad.stderr


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("ssh://root@[::1", "unclosed '['"),
        ("ssh://user@host:", "empty port after ':'"),
        ("ssh://web1/etc", "path /etc in target"),
        ("ssh://@host", "empty user name"),
        ("ssh://host:0", "bad port '0'"),
        ("ssh://::1", "IPv6 address without brackets"),
        ("ssh://[not-v6]:22", "bad IPv6 address"),
        ("ssh://web 1", "bad host name 'web 1'"),
        ("ssh://web1#x", "bad host name 'web1#x'"),
        ("docker://lab/x", "bad docker target"),
    ],
)
def test_bad_addresses_are_one_line_exit_4(address: str, text: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "remotefix", "targets", "ls", address],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and text in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize(
    ("address", "host", "port", "user"),
    [
        ("ssh://root@[::1]:2222", "::1", 2222, "root"),
        ("alice@[fe80::1%eth0]", "fe80::1%eth0", None, "alice"),
        ("ssh://Web1.Example.com/", "Web1.Example.com", None, None),
        ("winrm://DOM%5Cbob@win1:5986/wsman?transport=ntlm", "win1", 5986, "DOM\\bob"),
    ],
)
def test_good_addresses_still_parse(address: str, host: str, port: int | None, user: str) -> None:
    result = CliRunner().invoke(cli, ["--json", "targets", "ls", address])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["host"], row["port"], row["user"]) == (host, port, user)


def _remotefix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remotefix", *args], cwd=cwd,
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_case_new_writes_to_the_current_directory_never_the_install(tmp_path: Path) -> None:
    installed = cases_dir() / "ki-9101.yaml"
    title = 'pip: "externally managed" # not a comment\nsecond line'
    try:
        done = _remotefix("case", "new", "KI-9101", "--title", title, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert not installed.exists()
    finally:
        installed.unlink(missing_ok=True)
    assert load_case(tmp_path / "ki-9101.yaml").title == title
    other = tmp_path / "cases"
    other.mkdir()
    assert _remotefix("case", "new", "KI-9102", "--title", "t", "--dir", str(other)).returncode == 0
    assert load_case(other / "ki-9102.yaml").id == "KI-9102"


@pytest.mark.parametrize("case_id", ["../../evil-001", "KI-0101\n", "ki-0101", "KI-1"])
def test_case_new_refuses_ids_that_are_not_case_ids(tmp_path: Path, case_id: str) -> None:
    done = _remotefix("case", "new", case_id, "--title", "t", "--dir", str(tmp_path / "a"))
    assert done.returncode == 3 and "must look like KI-0001" in done.stderr
    assert list(tmp_path.rglob("*")) == []
