"""The ``customer`` fixture: a real container with a real sshd, reachable with a throw-away key."""

from __future__ import annotations

import base64

import docker
import paramiko
import pytest

from remotefix.sandbox import Customer
from tests.fixtures.docker import KeyPair

pytestmark = pytest.mark.docker


def test_paramiko_runs_true_on_the_customer(customer: Customer, client_key: KeyPair) -> None:
    client = paramiko.SSHClient()
    keys = client.get_host_keys()
    keys.add(f"[{customer.host}]:{customer.port}", *_split(customer.host_key))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # strict: only the known key
    try:
        client.connect(
            customer.host,
            port=customer.port,
            username=customer.user,
            key_filename=str(client_key.private),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        _, stdout, _ = client.exec_command("true && cat /etc/debian_version")
        assert stdout.channel.recv_exit_status() == 0
        assert stdout.read().decode().startswith("12.")
    finally:
        client.close()


def test_customer_is_labelled_and_published_on_loopback_only(
    customer: Customer, docker_api: docker.DockerClient
) -> None:
    container = docker_api.containers.get(customer.name)
    assert container.labels["remotefix"] == "1"
    bindings = container.attrs["NetworkSettings"]["Ports"]["22/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_each_customer_gets_its_own_host_key(customer_factory) -> None:  # type: ignore[no-untyped-def]
    a, b = customer_factory(), customer_factory()
    assert a.host_key != b.host_key


def _split(line: str) -> tuple[str, paramiko.PKey]:
    keytype, blob = line.split()[:2]
    return keytype, paramiko.PKey.from_type_string(keytype, base64.b64decode(blob))
