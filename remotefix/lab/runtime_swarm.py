"""The Docker Swarm lab runtime: lab images through a registry, labs and matrix cells as services.

The Docker daemon remotefix talks to (``DOCKER_HOST``, default the local socket) must be a swarm
manager; it is also the *builder*: lab images are built there (a local runtime of that engine),
tagged ``REGISTRY/remotefix-lab:SPEC_HASH`` and pushed, unless the registry already holds that
tag (then nothing is built or pushed). Instances of registry images are one-replica services
labelled like a container would be, never restarted by Swarm; anything else (the build's apt
resolver, a snapshot) runs on the builder's own engine, since no other node could pull it.

Two ways to use a service, because the controller cannot ``docker exec`` into a task on another
node:

* ``run_job``: the task runs the steps itself and reports them on stdout (``swarm_job``), read
  back through the service's logs: works on any node; this is how ``regress`` runs a cell;
* ``start`` + ``exec``/``copy``/``snapshot``: the single-node path (``lab up --runtime swarm``):
  the task must land on the manager's own node, whose engine execs into it. Swarm cannot publish
  a port on 127.0.0.1 only (ingress and host mode listen on every interface), so swarm labs
  publish no ssh port: reach them with ``lab exec``/``lab shell``.

Waits are bounded: a task not running after ``start_timeout`` (no suitable node, an image the
node cannot pull) or that outlives its steps' timeouts (its node failed) is reported with the
reason, never a hang. Services are removed afterwards, whatever happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.types

from remotefix import dockerapi
from remotefix.errors import ConfigError, DependencyError, LabError
from remotefix.lab import _swarm_services as services
from remotefix.lab._swarm_services import job_name as job_name  # the name jobs get
from remotefix.lab.build import LAB_REPOSITORY
from remotefix.lab.registry import LAB_REPOSITORY as REGISTRY_REPOSITORY
from remotefix.lab.registry import Registry
from remotefix.lab.runtime import Built, ExecResult, Image, Instance, StartRequest
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.lab.swarm_job import JOB_ENV, JobRecord, JobStep, job_env, parse_record, runner_argv
from remotefix.progress import Progress, quiet

JOB_KIND = "swarm-job"
KIND_LABEL = "remotefix.kind"
START_TIMEOUT = 120.0
"""Seconds a task may take to be scheduled, pull its image and start."""
INIT_WAIT = 60.0
SLACK = 30.0
"""Seconds on top of the steps' own timeouts before a running task counts as lost."""
REGISTRY_HINT = "pass --registry HOST:PORT, or set registry in config.toml [defaults]"
NOT_MANAGER_HINT = (
    "make it one (docker swarm init --advertise-addr ADDR) or point DOCKER_HOST at a manager"
)


@dataclasses.dataclass(frozen=True, slots=True)
class JobRequest:
    """One job: run ``steps`` in a task of ``image`` (a registry ref) on some node."""

    image: str
    name: str
    labels: Mapping[str, str]
    steps: tuple[JobStep, ...]
    hostname: str = "lab"


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
        """``registry`` is needed for images (not to remove a lab); ``constraints``: Swarm
        placement constraints for every task (``node.labels.lab==1``)."""
        self._registry = Registry.parse(registry) if registry else None
        self.start_timeout = start_timeout
        self.constraints = constraints
        self.local = LocalRuntime()
        self._checked = False

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise ConfigError("the swarm runtime needs a registry", hint=REGISTRY_HINT)
        return self._registry

    @property
    def api(self) -> docker.DockerClient:
        """The manager's engine (checked once to be one)."""
        api = self.local.api
        if not self._checked:
            with dockerapi.docker_errors("asking the daemon about its swarm"):
                swarm = api.info().get("Swarm") or {}
            if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                raise DependencyError(
                    "the Docker daemon is not a swarm manager", hint=NOT_MANAGER_HINT
                )
            self._checked = True
        return api

    # images: lab images live in the registry, everything else on the builder

    def image(self, ref: str) -> Image | None:
        tag = self._lab_tag(ref)
        if tag is None:
            return self.local.image(ref)
        labels = self.registry.labels(tag)
        return None if labels is None else Image(self.registry.ref(tag), f"registry:{tag}", labels)

    def build_image(
        self, context: Mapping[str, bytes], tag: str, *, labels: Mapping[str, str],
        nocache: bool = False, notes: Mapping[str, str] | None = None, progress: Progress = quiet,
    ) -> Built:  # fmt: skip
        """Lab images: found in the registry, or built on the builder and pushed there."""
        found = None if nocache else self.image(tag)
        if found is not None:
            return Built(found, cached=True)
        built = self.local.build_image(context, tag, labels=labels, nocache=nocache, notes=notes,
                                       progress=progress)  # fmt: skip
        lab_tag = self._lab_tag(tag)
        if lab_tag is None:
            return built
        ref = self.publish(built.image.ref, lab_tag, progress=progress)
        return Built(dataclasses.replace(built.image, ref=ref), built.cached)

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

    def list_images(self, labels: Mapping[str, str]) -> list[Image]:
        return self.local.list_images(labels)

    def image_users(self, ref: str) -> list[Instance]:
        return self.local.image_users(ref)

    def remove_image(self, ref: str) -> bool:
        """The builder's copy only: a registry keeps its tags (its own garbage collection)."""
        return self.local.remove_image(ref)

    def _lab_tag(self, ref: str) -> str | None:
        """The spec hash of a lab image ref (local or registry name); None for other images."""
        repository, _, tag = ref.rpartition(":")
        names = {LAB_REPOSITORY}
        if self._registry is not None:
            names.add(f"{self._registry.address}/{REGISTRY_REPOSITORY}")
        return tag if repository in names and tag else None

    # instances

    def start(self, request: StartRequest) -> Instance:
        """A service for registry images (single-node path: its task is renamed ``name`` on the
        manager's engine, so exec, copy and snapshot reach it); a container otherwise."""
        if not request.image.startswith(f"{self.registry.address}/"):
            return self.local.start(request)
        command = request.options.command
        spec = services.ServiceSpec(request.image, request.name, request.labels, dict(request.env),
                            request.hostname, list(command) if command else None)  # fmt: skip
        service = services.create(self.api, spec, self.constraints)
        try:
            problem = services.wait(service, start_timeout=self.start_timeout, budget=None)
            if problem:
                raise LabError(f"lab {request.name} did not start: {problem}")
            return self._adopt(service, request.name)
        except BaseException:
            services.remove(self.api, service)
            raise

    def _adopt(self, service: Any, name: str) -> Instance:
        found = services.task_containers(self.api, service.id, every=False)
        if not found:
            node = (services.task(service) or {}).get("NodeID", "?")
            raise LabError(f"lab {name} runs on node {node}, not on the manager's own node",
                           hint="exec into a swarm lab works on one node: pin it with a "
                                "constraint, or use regress (jobs run anywhere)")  # fmt: skip
        with dockerapi.docker_errors(f"naming the task of {name}"):
            self.api.api.rename(found[0], name)
        instance = self.local.get(name)
        if instance is None:
            raise LabError(f"lab {name}: its task ended while starting")
        return instance

    def get(self, name: str) -> Instance | None:
        return self.local.get(name)

    def list_instances(self, labels: Mapping[str, str]) -> list[Instance]:
        return self.local.list_instances(labels)

    def exec(
        self, name: str, argv: list[str], *, timeout: float, user: str | None = None
    ) -> ExecResult:
        return self.local.exec(name, argv, timeout=timeout, user=user)

    def logs(self, name: str, *, tail: int = 20) -> str:
        return self.local.logs(name, tail=tail)

    def copy_in(self, name: str, path: str, tar: bytes) -> None:
        self.local.copy_in(name, path, tar)

    def copy_out(self, name: str, path: str) -> bytes:
        return self.local.copy_out(name, path)

    def snapshot(self, name: str, ref: str, *, labels: Mapping[str, str]) -> Image:
        return self.local.snapshot(name, ref, labels=labels)

    def stop(self, name: str, *, timeout: float = 10) -> None:
        self.local.stop(name, timeout=timeout)

    def remove(self, name: str) -> bool:
        """The service ``name`` and its task (renamed, so Swarm no longer removes it itself),
        or the builder's container ``name``."""
        service = self._service_named(name)
        if service is not None:
            with (
                dockerapi.docker_errors(f"removing service {name}"),
                contextlib.suppress(docker.errors.NotFound),
            ):
                service.remove()
        return self.local.remove(name) or service is not None

    def _service_named(self, name: str) -> Any | None:
        with dockerapi.docker_errors(f"looking up service {name}"):
            found = self.api.services.list(filters={"name": name})
        return next((s for s in found if s.name == name), None)

    # jobs

    def run_job(self, request: JobRequest) -> JobRecord:
        """Run ``request`` as a one-shot service; its record, or one that says what went wrong."""
        budget = INIT_WAIT + SLACK + sum(s.timeout for s in request.steps if s.run)
        env = {JOB_ENV: job_env(request.steps, init_wait=INIT_WAIT)}
        labels = {KIND_LABEL: JOB_KIND, **request.labels}
        spec = services.ServiceSpec(request.image, request.name, labels, env, request.hostname,
                            runner_argv())  # fmt: skip
        service = services.create(self.api, spec, self.constraints)
        try:
            problem = services.wait(service, start_timeout=self.start_timeout, budget=budget,
                                    until="complete")  # fmt: skip
            lines = services.log_lines(service)
        finally:
            services.remove(self.api, service)
        record = parse_record(lines)
        return JobRecord(record.steps, problem) if problem else record

    def close(self) -> None:
        self.local.close()
