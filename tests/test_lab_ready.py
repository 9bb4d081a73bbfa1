"""A lab is ready when its init says so: the ready line in the log stream (with the host key), the
ready file for images older than the line; fidelity is checked on first ask (real Docker)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix import dockerapi
from remotefix.cli import cli
from remotefix.errors import LabError
from remotefix.lab import labs
from remotefix.lab.catalog import BaseImage
from remotefix.lab.runtime import StartOptions, StartRequest
from remotefix.lab.runtime_local import LocalRuntime
from tests.fixtures.cli import cli_json

pytestmark = pytest.mark.docker


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    found = LocalRuntime()
    yield found
    found.close()


def _start(runtime: LocalRuntime, base: BaseImage, script: str) -> str:
    name = f"t-ready-{uuid.uuid4().hex[:6]}"
    options = StartOptions(command=("/bin/sh", "-c", script))
    runtime.start(StartRequest(base.tag, name, dockerapi.labels(), name, publish_ssh=False,
                               options=options))  # fmt: skip
    return name


def test_the_ready_line_is_followed_in_the_log(runtime: LocalRuntime, base12: BaseImage) -> None:
    name = _start(runtime, base12, "sleep 0.3; echo 'remotefix-lab: ready ssh-ed25519 AAAAkey c'; "
                                   "exec sleep 60")  # fmt: skip
    try:
        line = labs._wait_ready(runtime, name)
        assert line == "remotefix-lab: ready ssh-ed25519 AAAAkey c"
        assert labs._ready_key(line) == "ssh-ed25519 AAAAkey"
    finally:
        runtime.remove(name)


def test_an_image_without_the_ready_line_is_ready_by_its_file(
    runtime: LocalRuntime, base12: BaseImage
) -> None:
    name = _start(runtime, base12, f"mkdir -p /run/remotefix-lab; touch {labs.READY_FILE}; "
                                   "exec sleep 60")  # fmt: skip
    try:
        assert labs._wait_ready(runtime, name) is None  # no line: the file probe answered
        assert labs._ready_key(None) is None
    finally:
        runtime.remove(name)


def test_a_lab_that_stops_while_starting_is_an_error(
    runtime: LocalRuntime, base12: BaseImage
) -> None:
    name = _start(runtime, base12, "echo broken config; exit 1")
    try:
        with pytest.raises(LabError, match="stopped while starting: broken config"):
            labs._wait_ready(runtime, name)
    finally:
        runtime.remove(name)


@pytest.mark.slow  # builds the plain Debian 12 lab image when no other test did first
def test_fidelity_is_pending_until_asked(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\n")
    name = f"t-pending-{uuid.uuid4().hex[:6]}"
    code, made = cli_json("lab", "up", str(spec), "--name", name)
    try:
        assert code == 0, made
        assert made["fidelity"] is None and made["fidelity_pending"] is True
        pub = subprocess.run(["docker", "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert made["host_key"] == " ".join(pub.split()[:2])  # pinned from the ready line
        listed = cli_json("lab", "ls")[1]
        assert [(x["name"], x["fidelity_pending"]) for x in listed] == [(name, True)]
        code, report = cli_json("lab", "fidelity", name)
        assert code == 0, report
        items = {(i["kind"], i["name"]): i["status"] for i in report["items"]}
        assert items[("os", "release")] == "exact"
        assert items[("package", "openssh-server")] == "added"
        (again,) = cli_json("lab", "ls")[1]
        assert again["fidelity_pending"] is False and again["fidelity"] == report
    finally:
        cli_json("lab", "down", name)


def test_keep_on_failure_needs_the_fidelity_check(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\n")
    result = CliRunner().invoke(cli, ["lab", "up", str(spec), "--keep", "on-failure",
                                      "--no-fidelity"])  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "--keep on-failure needs the fidelity check" in result.output
    assert "Traceback" not in result.output
