"""Throw-away "customer" machines for the demo and the tests.

A customer is a container from a base image with OpenSSH and Python (Ansible needs it), its port
22 published on 127.0.0.1 only, fresh host keys per container, and one authorised public key.
The image is built once and cached by a tag that hashes its recipe.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import time
from dataclasses import dataclass

import docker

from remotefix.dockerapi import docker_errors
from remotefix.dockerapi import labels as dockerapi_labels
from remotefix.errors import LabError
from remotefix.lab.catalog import BaseImage

CUSTOMER_PACKAGES = ("openssh-server", "python3", "sudo")
ROLE_LABEL = "remotefix.role"

_START = (
    "set -e; rm -f /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null; mkdir -p /run/sshd /root/.ssh; "
    'printf "%s\\n" "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys; '
    "chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys; exec /usr/sbin/sshd -D -e"
)


@dataclass(frozen=True, slots=True)
class Customer:
    """A running customer container and how to reach it."""

    name: str
    container_id: str
    host: str
    port: int
    user: str
    host_key: str  # "ssh-ed25519 AAAA..." as in known_hosts

    @property
    def address(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.host_key}"


def customer_dockerfile(base: BaseImage) -> str:
    packages = " ".join(CUSTOMER_PACKAGES)
    return (
        f"FROM {base.tag}\n"
        "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends "
        f"{packages} >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        "EXPOSE 22\n"
    )


def customer_image(api: docker.DockerClient, base: BaseImage) -> str:
    """Build (or reuse) the customer image for ``base``; return its tag."""
    recipe = customer_dockerfile(base)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    tag = f"remotefix/customer:{base.key.replace(':', '-')}-{digest}"
    with docker_errors(f"building {tag}"):
        try:
            api.images.get(tag)
        except docker.errors.ImageNotFound:
            api.images.build(
                fileobj=io.BytesIO(recipe.encode()),
                tag=tag,
                labels=dockerapi_labels(**{ROLE_LABEL: "customer-image"}),
                rm=True,
                forcerm=True,
            )
    return tag


def start_customer(
    api: docker.DockerClient,
    base: BaseImage,
    *,
    name: str,
    public_key: str,
    labels: dict[str, str] | None = None,
    ready_timeout: float = 30.0,
) -> Customer:
    """Start a customer container and wait until its sshd answers with an SSH banner."""
    image = customer_image(api, base)
    all_labels = dockerapi_labels(**{ROLE_LABEL: "customer", **(labels or {})})
    with docker_errors(f"starting customer {name}"):
        container = api.containers.run(
            image,
            ["/bin/sh", "-c", _START],
            name=name,
            detach=True,
            labels=all_labels,
            environment={"AUTHORIZED_KEY": public_key.strip()},
            ports={"22/tcp": ("127.0.0.1", None)},
            hostname=name[:63],
        )
    try:
        port = published_port(container, ready_timeout)
        wait_for_ssh_banner("127.0.0.1", port, timeout=ready_timeout)
        host_key = container_host_key(container)
    except BaseException:
        stop_customer(api, name)
        raise
    return Customer(name, container.id, "127.0.0.1", port, "root", host_key)


def stop_customer(api: docker.DockerClient, name: str) -> None:
    """Remove the customer container (no error when it is already gone)."""
    with docker_errors(f"removing customer {name}"), contextlib.suppress(docker.errors.NotFound):
        api.containers.get(name).remove(force=True, v=True)


def published_port(container: docker.models.containers.Container, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            logs = container.logs(tail=5).decode(errors="replace").strip()
            raise LabError(f"container {container.name} exited: {logs}")
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get("22/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        time.sleep(0.1)
    raise LabError(f"container {container.name} published no SSH port in {timeout}s")


def wait_for_ssh_banner(host: str, port: int, *, timeout: float) -> None:
    """Wait until ``host:port`` sends an ``SSH-`` banner (a TCP accept alone is not enough)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.settimeout(2)
                if sock.recv(64).startswith(b"SSH-"):
                    return
                last = "no SSH banner"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise LabError(f"sshd on {host}:{port} did not answer in {timeout}s ({last})")


def container_host_key(container: docker.models.containers.Container) -> str:
    code, out = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
    if code != 0:
        raise LabError(f"cannot read host key of {container.name}")
    keytype, blob = out.decode().split()[:2]
    return f"{keytype} {blob}"
