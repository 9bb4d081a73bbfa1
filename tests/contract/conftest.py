"""The transport contract: every transport runs the same tests.

To add a transport, write one factory below — a function taking the pytest ``request`` and
returning a callable ``make(output_cap: int) -> Transport`` (set up whatever server or container
it needs through fixtures it asks ``request`` for, which clean up after themselves) — and add it
to ``FACTORIES``. A transport is done when this suite passes for it.

The commands of the contract are POSIX shell. The WinRM test endpoint runs scripts with
``/bin/sh`` where Windows would run PowerShell, so WinRM takes the same commands here; what
that does and does not prove is written in tests/winrm_endpoint/__init__.py and the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from remotefix.result import DEFAULT_OUTPUT_CAP
from remotefix.targets import parse_address
from remotefix.transports.base import Transport
from remotefix.transports.docker import DockerTransport
from remotefix.transports.local import LocalTransport
from remotefix.transports.ssh import SSHTransport
from remotefix.transports.winrm import WinRMTransport
from tests.fixtures.docker import running_container
from tests.winrm_endpoint.fixture import running_endpoint

Make = Callable[..., Transport]


@pytest.fixture(scope="session")
def contract_container(docker_api: docker.DockerClient, base12: object) -> Iterator[str]:
    with running_container(docker_api, "contract") as name:
        yield name


@pytest.fixture
def contract_winrm_endpoint(tmp_path: Path) -> Iterator[object]:
    """Per test: only one endpoint may run per process (pyspnego's NTLM user file is global)."""
    with running_endpoint(tmp_path / "winrm") as endpoint:
        yield endpoint


def local_factory(request: pytest.FixtureRequest) -> Make:
    return lambda output_cap=DEFAULT_OUTPUT_CAP: LocalTransport(
        parse_address("local://"), output_cap=output_cap
    )


def docker_factory(request: pytest.FixtureRequest) -> Make:
    name = request.getfixturevalue("contract_container")
    target = parse_address(f"docker://{name}")
    return lambda output_cap=DEFAULT_OUTPUT_CAP: DockerTransport(target, output_cap=output_cap)


def winrm_factory(request: pytest.FixtureRequest) -> Make:
    endpoint = request.getfixturevalue("contract_winrm_endpoint")
    target = parse_address(endpoint.address())  # type: ignore[attr-defined]
    password = endpoint.password  # type: ignore[attr-defined]
    return lambda output_cap=DEFAULT_OUTPUT_CAP: WinRMTransport(
        target, password=password, output_cap=output_cap
    )


def _known_hosts(directory: Path, line: str) -> list[Path]:
    path = directory / "known_hosts"
    path.write_text(line + "\n")
    return [path]


def ssh_factory(request: pytest.FixtureRequest) -> Make:
    """SSH to a real OpenSSH sshd on 127.0.0.1 started by the test."""
    server = request.getfixturevalue("sshd")
    known = _known_hosts(server.log.parent, server.known_hosts_line)
    return lambda output_cap=DEFAULT_OUTPUT_CAP: SSHTransport(
        server.target(), output_cap=output_cap, known_hosts_files=known, use_agent=False
    )


def ssh_customer_factory(request: pytest.FixtureRequest) -> Make:
    """SSH to the customer container (Debian 12, sshd, port published on 127.0.0.1)."""
    customer = request.getfixturevalue("customer")
    key = request.getfixturevalue("client_key")
    tmp = request.getfixturevalue("tmp_path")
    known = _known_hosts(tmp, customer.known_hosts_line)
    target = parse_address(f"{customer.address}?identity_file={key.private}")
    return lambda output_cap=DEFAULT_OUTPUT_CAP: SSHTransport(
        target, output_cap=output_cap, known_hosts_files=known, use_agent=False
    )


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Make]] = {
    "local": local_factory,
    "docker": docker_factory,
    "winrm": winrm_factory,
    "ssh": ssh_factory,
    "ssh-customer": ssh_customer_factory,
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    """``make(output_cap=...)`` builds a fresh transport of the parametrised kind."""
    opened: list[Transport] = []
    build = FACTORIES[request.param](request)

    def factory(output_cap: int = DEFAULT_OUTPUT_CAP) -> Transport:
        transport = build(output_cap=output_cap)
        opened.append(transport)
        return transport

    yield factory
    for transport in opened:
        transport.close()


@pytest.fixture
def transport(make: Make) -> Transport:
    return make()
