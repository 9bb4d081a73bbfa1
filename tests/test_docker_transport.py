"""Docker transport errors: missing / stopped container, unreachable daemon — one line each."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest

from remotefix import dockerapi, interrupt
from remotefix.errors import ConnectError, Interrupted
from remotefix.targets import parse_address
from remotefix.transports.docker import DockerTransport
from tests.fixtures.docker import ContainerFactory

pytestmark = pytest.mark.docker


@pytest.fixture
def stopped_container(docker_api: docker.DockerClient, base12: object) -> Iterator[str]:
    name = f"remotefix-test-stopped-{uuid.uuid4().hex[:8]}"
    container = docker_api.containers.create(
        "remotefix/base:debian-12", ["true"], name=name, labels=dockerapi.labels()
    )
    try:
        yield name
    finally:
        container.remove(force=True)


def test_missing_container_is_lazy_then_a_connect_error(docker_api: docker.DockerClient) -> None:
    transport = DockerTransport(parse_address("docker://No-Such-Container"), client=docker_api)
    with pytest.raises(ConnectError, match="no container named 'No-Such-Container'") as info:
        transport.run("true")
    assert "docker ps" in str(info.value)


def test_stopped_container_says_how_to_start_it(
    docker_api: docker.DockerClient, stopped_container: str
) -> None:
    transport = DockerTransport(parse_address(f"docker://{stopped_container}"), client=docker_api)
    with pytest.raises(ConnectError, match="not running") as info:
        transport.run("true")
    assert f"docker start {stopped_container}" in str(info.value)


def test_unreachable_daemon(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/none.sock", version="1.41")
    transport = DockerTransport(parse_address("docker://x"), client=client)
    with pytest.raises(ConnectError, match="Docker daemon not reachable"):
        transport.run("true")


def test_container_name_case_is_kept() -> None:
    assert parse_address("docker://MyLab-01").host == "MyLab-01"


@pytest.fixture
def running(
    container_factory: ContainerFactory, docker_api: docker.DockerClient
) -> DockerTransport:
    return DockerTransport(parse_address(f"docker://{container_factory('dtx')}"), client=docker_api)


def _pids(transport: DockerTransport, seconds: str) -> str:
    """Pids of ``sleep SECONDS`` in the container (the ``[4]`` keeps the probe from matching)."""
    probe = (
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null | "
        f"grep -q -- 'sleep [{seconds[0]}]{seconds[1:]}' && basename $(dirname $f); done; true"
    )
    return transport.run(probe, timeout=10).stdout_text.strip()


def test_ctrl_c_kills_the_running_command_and_starts_no_other(running: DockerTransport) -> None:
    """A stop request ends a long command at once (killed in the container), like a timeout."""
    with interrupt.on_sigint():
        worker = ThreadPoolExecutor(1).submit(running.run, "sleep 4242", timeout=120)
        deadline = time.monotonic() + 20
        while not _pids(running, "4242") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pids(running, "4242"), "the command never started"
        interrupt.request()
        with pytest.raises(Interrupted, match="killed on the target"):
            worker.result(timeout=30)
        with pytest.raises(Interrupted, match="not started"):
            running.run("true")
    assert _pids(running, "4242") == ""


def test_command_that_outlives_its_timeout_is_killed_and_has_no_exit_code(
    running: DockerTransport,
) -> None:
    result = running.run("exec >/dev/null 2>&1; sleep 4343", timeout=1)
    assert result.timed_out and result.exit_code is None
    assert _pids(running, "4343") == ""
