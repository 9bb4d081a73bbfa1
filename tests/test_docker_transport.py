"""Docker transport errors: missing / stopped container, unreachable daemon — one line each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from remotefix import dockerapi
from remotefix.errors import ConnectError
from remotefix.targets import parse_address
from remotefix.transports.docker import DockerTransport

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
