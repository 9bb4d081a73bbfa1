"""The Docker Swarm lab runtime: lab images through a registry, matrix cells as swarm jobs.

The Docker daemon remotefix talks to (``DOCKER_HOST``, default the local socket) must be a swarm
manager. Images are built by that daemon, tagged ``REGISTRY/remotefix-lab:SPEC_HASH`` and
pushed, unless the registry already holds that tag. A job is a one-replica service that is never
restarted (``restart_policy: none``), labelled ``remotefix=1`` plus the caller's labels, whose
task runs the steps itself and reports them on stdout (see ``swarm_job``); the controller polls
the task with bounded waits: a task that is not running after ``start_timeout`` (no suitable
node, an image the node cannot pull) or that stops reporting (its node failed) is a ``JobRecord``
with the reason, never a hang. The service is removed afterwards, whatever happened.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.types

from remotefix import dockerapi
from remotefix.errors import ConfigError, DependencyError, LabError
from remotefix.lab.registry import Registry
from remotefix.lab.swarm_job import JOB_ENV, JobRecord, JobStep, job_env, parse_record, runner_argv
from remotefix.progress import Progress, quiet

JOB_KIND = "swarm-job"
KIND_LABEL = "remotefix.kind"
START_TIMEOUT = 120.0
"""Seconds a task may take to be scheduled, pull its image and start."""
INIT_WAIT = 60.0
SLACK = 30.0
"""Seconds on top of the steps' own timeouts before a running task counts as lost."""
_WAITING = {"new", "pending", "assigned", "accepted", "ready", "preparing", "starting"}
_LOST = {"failed", "rejected", "shutdown", "orphaned", "remove"}
REGISTRY_HINT = "pass --registry HOST:PORT, or set registry in config.toml [defaults]"
NOT_MANAGER_HINT = (
    "make it one (docker swarm init --advertise-addr ADDR) or point DOCKER_HOST at a manager"
)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One job: run ``steps`` in a task of ``image`` (a registry ref) on some node."""

    image: str
    name: str
    labels: Mapping[str, str]
    steps: tuple[JobStep, ...]
    hostname: str = "lab"
    env: Mapping[str, str] | None = None


class SwarmRuntime:
    """Labs and jobs on the swarm the daemon manages; images from ``registry`` (HOST:PORT)."""

    name = "swarm"

    def __init__(
        self,
        *,
        registry: str | None = None,
        start_timeout: float = START_TIMEOUT,
        constraints: tuple[str, ...] = (),
    ) -> None:
        """``constraints``: Swarm placement constraints for every task (``node.labels.lab==1``)."""
        if not registry:
            raise ConfigError("the swarm runtime needs a registry", hint=REGISTRY_HINT)
        self.registry = Registry.parse(registry)
        self.start_timeout = start_timeout
        self.constraints = constraints
        self._api: docker.DockerClient | None = None

    @property
    def api(self) -> docker.DockerClient:
        if self._api is None:
            api = dockerapi.client()
            with dockerapi.docker_errors("asking the daemon about its swarm"):
                swarm = api.info().get("Swarm") or {}
            if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                raise DependencyError(
                    "the Docker daemon is not a swarm manager", hint=NOT_MANAGER_HINT
                )
            self._api = api
        return self._api

    def publish(self, local_ref: str, tag: str, *, progress: Progress = quiet) -> str:
        """``local_ref`` as ``REGISTRY/remotefix-lab:TAG`` in the registry (pushed only when the
        registry lacks that tag); returns the ref the nodes pull."""
        ref = self.registry.ref(tag)
        if self.registry.has(tag):
            return ref
        repository, _, version = ref.rpartition(":")
        progress(f"pushing {ref}")
        with dockerapi.docker_errors(f"pushing {ref}"):
            self.api.images.get(local_ref).tag(repository, version)
            for chunk in self.api.images.push(repository, version, stream=True, decode=True):
                if "error" in chunk:
                    raise LabError(f"pushing {ref} failed: {str(chunk['error']).strip()}")
        return ref

    def run_job(self, request: JobRequest) -> JobRecord:
        """Run ``request`` as a one-shot service; its record, or one that says what went wrong."""
        budget = INIT_WAIT + SLACK + sum(s.timeout for s in request.steps if s.run)
        with self._service(request) as service:
            problem = self._wait(service, budget)
            lines = self._log_lines(service)
        record = parse_record(lines)
        return JobRecord(record.steps, problem) if problem else record

    @contextlib.contextmanager
    def _service(self, request: JobRequest) -> Iterator[Any]:
        labels = dockerapi.labels(**{KIND_LABEL: JOB_KIND, **request.labels})
        env = {**(request.env or {}), JOB_ENV: job_env(request.steps, init_wait=INIT_WAIT)}
        with dockerapi.docker_errors(f"creating swarm job {request.name}"):
            service = self.api.services.create(
                request.image,
                command=runner_argv(),
                name=request.name,
                labels=labels,
                container_labels=labels,
                env=[f"{k}={v}" for k, v in env.items()],
                hostname=request.hostname,
                restart_policy=docker.types.RestartPolicy(condition="none"),
                constraints=list(self.constraints),
            )
        try:
            yield service
        finally:
            self._remove(service)

    def _wait(self, service: Any, budget: float) -> str | None:
        """Poll the task until it ends; None when it did, else why it did not (bounded)."""
        started = time.monotonic()
        start_by, end_by = started + self.start_timeout, None
        while True:
            task = _task(service)
            state = str((task or {}).get("Status", {}).get("State", "new"))
            if state == "complete":
                return None
            now = time.monotonic()
            if state in _LOST:
                return f"task {state}: {_why(task)}"
            if state in _WAITING and now > start_by:
                waited = round(now - started)
                return f"task did not start in {waited}s ({state}: {_why(task)})"
            if state == "running":
                end_by = end_by or now + budget
                if now > end_by:
                    return f"task still running after {budget:.0f}s (its node may have failed)"
            time.sleep(0.2)

    def _log_lines(self, service: Any) -> list[str]:
        with dockerapi.docker_errors("reading the swarm job's output"):
            raw = b"".join(service.logs(stdout=True, stderr=False, follow=False))
        return raw.decode(errors="replace").splitlines()

    def _remove(self, service: Any) -> None:
        with (
            dockerapi.docker_errors("removing the swarm job"),
            contextlib.suppress(docker.errors.NotFound),
        ):
            service.remove()
        # on this node, wait (briefly) until the task's container is gone too
        deadline = time.monotonic() + 10
        filters = {"label": f"com.docker.swarm.service.id={service.id}"}
        while time.monotonic() < deadline and self.api.containers.list(all=True, filters=filters):
            time.sleep(0.1)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def job_name(prefix: str) -> str:
    """A service name: lower-case letters, digits and '-', at most 63 characters, unique."""
    cleaned = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")
    return f"{cleaned[:54]}-{uuid.uuid4().hex[:8]}"


def _task(service: Any) -> dict[str, Any] | None:
    with dockerapi.docker_errors("asking the swarm about a task"):
        tasks = service.tasks()
    return max(tasks, key=lambda t: t.get("CreatedAt", ""), default=None)


def _why(task: dict[str, Any] | None) -> str:
    status = (task or {}).get("Status", {})
    return str(status.get("Err") or status.get("Message") or "no task yet")
