"""Swarm services the way remotefix uses them: one replica, never restarted, labelled (task
containers too), polled with bounded waits, removed with their task."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.types

from remotefix import dockerapi

SERVICE_LABEL = "com.docker.swarm.service.id"
_WAITING = {"new", "pending", "assigned", "accepted", "ready", "preparing", "starting"}
_LOST = {"failed", "rejected", "shutdown", "orphaned", "remove"}


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What a service runs: image, name, labels (also on its task), env, hostname, command."""

    image: str
    name: str
    labels: Mapping[str, str]
    env: Mapping[str, str]
    hostname: str
    command: list[str] | None


def create(api: docker.DockerClient, spec: ServiceSpec, constraints: tuple[str, ...]) -> Any:
    labels = dockerapi.labels(**spec.labels)
    with dockerapi.docker_errors(f"creating swarm service {spec.name}"):
        return api.services.create(
            spec.image, command=spec.command, name=spec.name, labels=labels,
            container_labels=labels, env=[f"{k}={v}" for k, v in spec.env.items()],
            hostname=spec.hostname, constraints=list(constraints),
            restart_policy=docker.types.RestartPolicy(condition="none"),
        )  # fmt: skip


def wait(
    service: Any, *, start_timeout: float, budget: float | None, until: str = "running"
) -> str | None:
    """Poll the task until it is ``until``; None when it got there, else why not (bounded).
    ``budget``: seconds it may run before it counts as lost (None: ``until`` is running)."""
    started = time.monotonic()
    start_by, end_by = started + start_timeout, None
    while True:
        found = task(service)
        state = str((found or {}).get("Status", {}).get("State", "new"))
        if state == until:
            return None
        if state == "complete":
            return "task ended before it was seen running"
        now = time.monotonic()
        if state in _LOST:
            return f"task {state}: {_why(found)}"
        if state in _WAITING and now > start_by:
            return f"task did not start in {round(now - started)}s ({state}: {_why(found)})"
        if state == "running" and budget is not None:
            end_by = end_by or now + budget
            if now > end_by:
                return f"task still running after {budget:.0f}s (its node may have failed)"
        time.sleep(0.2)


def log_lines(service: Any) -> list[str]:
    with dockerapi.docker_errors("reading the swarm job's output"):
        raw = b"".join(service.logs(stdout=True, stderr=False, follow=False))
    return raw.decode(errors="replace").splitlines()


def remove(api: docker.DockerClient, service: Any) -> None:
    with (
        dockerapi.docker_errors("removing a swarm service"),
        contextlib.suppress(docker.errors.NotFound),
    ):
        service.remove()
    # on this node, wait (briefly) until the task's container is gone too
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and task_containers(api, service.id, every=True):
        time.sleep(0.1)


def task_containers(api: docker.DockerClient, service_id: str, *, every: bool) -> list[str]:
    """IDs of the service's task containers on this engine (running only unless ``every``).
    The low-level list: no inspect per container, which races with their removal."""
    filters = {"label": f"{SERVICE_LABEL}={service_id}"}
    with dockerapi.docker_errors("listing a service's task containers"):
        return [str(c["Id"]) for c in api.api.containers(all=every, filters=filters)]


def job_name(prefix: str) -> str:
    """A service name: lower-case letters, digits and '-', at most 63 characters, unique."""
    cleaned = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")
    return f"{cleaned[:54]}-{uuid.uuid4().hex[:8]}"


def task(service: Any) -> dict[str, Any] | None:
    with dockerapi.docker_errors("asking the swarm about a task"):
        tasks = service.tasks()
    return max(tasks, key=lambda t: t.get("CreatedAt", ""), default=None)


def _why(found: dict[str, Any] | None) -> str:
    status = (found or {}).get("Status", {})
    return str(status.get("Err") or status.get("Message") or "no task yet")
