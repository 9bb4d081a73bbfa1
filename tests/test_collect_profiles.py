"""What ``diagnose`` collects beyond the built-in profiles: profile files (``--profile``) and a
case's ``include:`` (``--known``), checked in full before anything connects; and the readers of
a bundle naming a missing one in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.collect.profiles import load_profile
from remotefix.errors import BundleError, ConfigError
from remotefix.workspace import Workspace

UNREACHABLE = "ssh://root@127.0.0.1:1"
CASE = """\
id: KI-0900
title: myapp refuses to start
matrix: [debian:12]
repro: [{{run: "true"}}]
reproduces_on: {{debian:12: true}}
include: {include}
"""


def _one_line_error(*args: str, code: int) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    return result.output


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("collectors: [os, nosuch]\n", "unknown collector(s) nosuch"),
        ("include: [/]\n", "include '/'"),
        ("include: ['/*']\n", "reaches too much of the disk"),
        ("include: [/proc/1/environ]\n", "is not files on disk"),
        ("include: ['/etc/a; rm -rf /']\n", "use an absolute path"),
        ("colectors: [os]\n", "unknown key(s) colectors"),
        ("base: medium\n", "base must be one of quick, full"),
        ("collectors: os\n", "collectors must be a list"),
        ("- os\n", "a profile is a mapping"),
    ],
)
def test_a_bad_profile_file_is_refused_before_connecting(
    tmp_path: Path, text: str, problem: str
) -> None:
    profile = tmp_path / "myapp.yaml"
    profile.write_text(text)
    out = _one_line_error("diagnose", UNREACHABLE, "--case", "C-P", "--profile", str(profile),
                          code=ConfigError.exit_code)  # fmt: skip
    assert str(profile) in out and problem in out
    assert not Workspace.default().audit_log.exists()  # nothing was attempted


def test_a_named_profile_lives_in_the_config_dir(tmp_path: Path) -> None:
    folder = Path(os.environ["REMOTEFIX_CONFIG"]).parent / "profiles"
    folder.mkdir()
    (folder / "myapp.yaml").write_text(
        "base: quick\ncollectors: [os, packages]\ninclude: [/etc/myapp/*.yml, /var/log/my.log]\n"
    )
    profile = load_profile("myapp")
    assert (profile.base, profile.collectors) == ("quick", ("os", "packages"))
    assert profile.include == ("/etc/myapp/*.yml", "/var/log/my.log")
    assert load_profile("quick").collectors == () and load_profile("full").base == "full"
    out = _one_line_error("diagnose", UNREACHABLE, "--case", "C-P", "--profile", "other",
                          code=ConfigError.exit_code)  # fmt: skip
    assert str(folder / "other.yaml") in out


def test_a_case_include_is_linted_and_bounded_like_include(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(CASE.format(include="[/etc/myapp/*.yml, /var/log/myapp.log]"))
    bad.write_text(CASE.format(include="[/etc/myapp, '/*']"))
    assert CliRunner().invoke(cli, ["case", "lint", str(good)]).exit_code == 0
    result = CliRunner().invoke(cli, ["case", "lint", str(good), str(bad)])
    assert result.exit_code == ConfigError.exit_code
    assert f"{bad}: include '/*' reaches too much of the disk" in result.output
    assert "1 case(s) valid, 1 invalid" in result.output
    out = _one_line_error("diagnose", UNREACHABLE, "--case", "C-K", "--known", str(bad),
                          code=ConfigError.exit_code)  # fmt: skip
    assert str(bad) in out
    assert not Workspace.default().audit_log.exists()


def test_too_many_globs_in_all_are_refused(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("include: [" + ", ".join(f"/etc/app{i}" for i in range(20)) + "]\n")
    flags = [a for i in range(20) for a in ("--include", f"/opt/x{i}")]
    out = _one_line_error("diagnose", UNREACHABLE, "--case", "C-M", "--profile", str(profile),
                          *flags, code=ConfigError.exit_code)  # fmt: skip
    assert "40 globs" in out


@pytest.mark.parametrize("command", [["triage"], ["lab", "plan"], ["bundle", "verify"]])
def test_a_missing_bundle_is_one_line_with_the_bundle_exit_code(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "MISSING.tgz"
    out = _one_line_error(*command, str(missing), code=BundleError.exit_code)
    assert f"cannot read bundle {missing}" in out and "Usage" not in out
    out = _one_line_error(*command, str(tmp_path), code=BundleError.exit_code)
    assert "Is a directory" in out
