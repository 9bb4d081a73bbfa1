"""Where time goes: each progress message starts a timed phase, and `remotefix -v lab up` prints
the lab's phases (image, start, init, sshd, fidelity) after its own progress lines (real Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.timings import PhaseClock
from tests.fixtures.cli import cli_json


def test_each_message_starts_a_phase_and_is_passed_on() -> None:
    seen: list[str] = []
    clock = PhaseClock(seen.append, first="setup")
    clock("building")
    clock("starting")
    phases = clock.stop()
    assert seen == ["building", "starting"]
    assert [p.name for p in phases] == ["setup", "building", "starting"]
    assert all(p.seconds >= 0 for p in phases)


@pytest.mark.slow  # a cold image build when no other test built this spec first
def test_verbose_lab_up_prints_its_phases(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\n")
    result = CliRunner().invoke(cli, ["-v", "lab", "up", str(spec), "--keep", "never"])
    assert result.exit_code == 0, result.output
    timed = [line.split("s  ", 1)[1] for line in result.stderr.splitlines() if "s  " in line]
    assert timed[0] == "spec and image (cache lookup or build)"
    start = next(i for i, name in enumerate(timed) if name.startswith("starting lab "))
    assert timed[start + 1 :] == [
        "waiting for the lab's init (its ready line)",
        "waiting for sshd's banner",
        "verifying fidelity: quick collectors inside the lab",
    ]
    assert cli_json("lab", "ls")[1] == []
