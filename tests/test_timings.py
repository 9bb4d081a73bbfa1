"""Where time goes: phases marked in the code are collected by the caller that asks for them,
and `remotefix -v lab up` prints the lab's phases (real Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.timings import phase, record
from tests.fixtures.cli import cli_json


def test_phases_are_kept_only_inside_record_and_also_when_they_raise() -> None:
    with phase("nobody asked"):
        pass
    with record() as phases:
        with phase("first"):
            pass
        with pytest.raises(ValueError), phase("second"):
            raise ValueError
    with phase("after"):
        pass
    assert [p.name for p in phases] == ["first", "second"]
    assert all(p.seconds >= 0 for p in phases)


@pytest.mark.slow  # a cold image build when no other test built this spec first
def test_verbose_lab_up_prints_its_phases(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\n")
    result = CliRunner().invoke(cli, ["-v", "lab", "up", str(spec), "--keep", "never"])
    assert result.exit_code == 0, result.output
    timed = [line.split("s  ", 1)[1] for line in result.stderr.splitlines() if "s  " in line]
    assert timed == ["image (build, or the cache lookup)", "start: container, ready, ssh banner",
                     "fidelity"]  # fmt: skip
    assert cli_json("lab", "ls")[1] == []
