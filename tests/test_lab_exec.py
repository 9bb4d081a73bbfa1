"""``lab exec``: words passed as words (one word is a shell line), a timeout is an error exit."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cli import cli_json

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One plain Debian 12 lab for the module (built once, removed at the end), and its home."""
    folder = tmp_path_factory.mktemp("lab-exec")
    spec = folder / "spec.yaml"
    spec.write_text("base: debian:12\n")
    name = f"t-exec-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REMOTEFIX_HOME", str(folder / "home"))  # module-wide workspace
        code, made = cli_json("lab", "up", str(spec), "--name", name, "--case", "C-EX")
        assert code == 0, made
        try:
            yield name, folder / "home"
        finally:
            cli_json("lab", "down", name)


@pytest.fixture
def in_lab(lab: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> str:
    """The lab's name, with the test working in the workspace that knows it."""
    name, home = lab
    monkeypatch.setenv("REMOTEFIX_HOME", str(home))
    return name


def test_several_words_are_passed_as_words(in_lab: str) -> None:
    code, out = cli_json(
        "lab", "exec", in_lab, "--", "dpkg-query", "-W", "-f", "${Version}|", "base-files"
    )
    assert code == 0 and out["stdout"].count("|") == 1 and out["stdout"][0].isdigit(), out
    code, out = cli_json("lab", "exec", in_lab, "--", "printf", "%s,", "a  b", "$HOME", "it's")
    assert code == 0 and out["stdout"] == "a  b,$HOME,it's,", out


def test_one_word_is_a_shell_command_line(in_lab: str) -> None:
    code, out = cli_json("lab", "exec", in_lab, "--", "echo $((6*7)) | tr 4 X; exit 3")
    assert code == 3 and out["stdout"] == "X2\n", out


def test_a_timeout_is_an_error_exit_and_the_command_is_killed(in_lab: str) -> None:
    seconds = str(random.randint(100_000, 999_999))
    code, out = cli_json(
        "lab", "exec", in_lab, "--timeout", "1", "--", "echo started; sleep " + seconds
    )
    assert code == 21, out
    assert out["timed_out"] and out["exit_code"] is None and out["stdout"] == "started\n"
    assert "timed out after 1s" in out["error"]
    probe = f"for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done | grep -c 'sleep [{seconds[0]}]{seconds[1:]}'"
    assert cli_json("lab", "exec", in_lab, "--", probe)[1]["stdout"] == "0\n"
