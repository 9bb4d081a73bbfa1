"""Consent refusals over several targets: a short status in the table, the reason after it on
one line per host, never wrapped when the output is a pipe (in-process and a real pipe)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from remotefix.cli import cli

LONG = "ssh://root@a-rather-long-host-name-that-used-to-wrap.customer.example.com:2222"
SHORT = "ssh://root@127.0.0.1:1"


def _reasons(lines: list[str], names: list[str]) -> None:
    for name in names:
        (line,) = [ln for ln in lines if ln.startswith(f"{name} REFUSED: ")]
        assert "no consent for case 'C-NO'" in line and line.endswith("--evidence '<ticket ref>'")


def test_diagnose_table_says_refused_and_gives_each_reason_on_one_line() -> None:
    result = CliRunner().invoke(cli, ["diagnose", SHORT, LONG, "--case", "C-NO"])
    assert result.exit_code == 5, result.output
    lines = result.stdout.splitlines()
    rows = [ln for ln in lines if ln.startswith("│")]
    assert len(rows) == 2 and all("REFUSED" in r for r in rows), result.stdout
    assert not any("consent" in ln for ln in lines if ln[:1] in "│┃┏┡└")  # never in a cell
    _reasons(lines, [SHORT, LONG])


def test_refusals_stay_one_line_through_a_real_pipe(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    for args in (["diagnose"], ["run", "--", "true"]):
        done = subprocess.run(
            [sys.executable, "-m", "remotefix", *args[:1], SHORT, LONG, "--case", "C-NO", *args[1:]],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 5, done.stderr
        assert "Traceback" not in done.stderr
        _reasons(done.stdout.splitlines(), [SHORT, LONG])
