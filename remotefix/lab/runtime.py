"""The lab runtime seam: one typed interface for a lab's life, backends chosen by name.

Features (labs, snapshots, build, repro, regress, fix --lab) talk to a ``LabRuntime`` only; the
backends (``local``: the Docker engine, ``swarm``: Docker Swarm services + a registry) are the only
code that imports the Docker SDK. Backends register in ``BACKENDS`` by a ``module:Class`` path, so
the SDK loads only when a runtime is asked for. Errors: every method raises ``LabError`` (or
``DependencyError`` when the engine is unreachable), never an SDK exception.
"""

from __future__ import annotations

import importlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from remotefix.errors import ConfigError
from remotefix.progress import Progress, quiet

SSH_PORT = 22


@dataclass(frozen=True, slots=True)
class Image:
    """An image the runtime holds: ``ref`` as asked for (``repo:tag``), ``id`` the engine's."""

    ref: str
    id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    size: int = 0
    created: str = ""  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class Built:
    """What ``build_image`` returns: the image, and whether it existed already (no build)."""

    image: Image
    cached: bool


@dataclass(frozen=True, slots=True)
class Bind:
    """A host path mounted into the container (read-only unless said otherwise)."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True, slots=True)
class InjectedFile:
    """A file written into the container after it is created and before it starts."""

    path: str
    data: bytes
    mode: int = 0o600


@dataclass(frozen=True, slots=True)
class StartOptions:
    """How the container runs beyond image/name/labels: what a systemd PID 1 needs, generic.

    ``tmpfs`` maps a path to its mount options ("" = defaults); ``cgroupns`` is ``"host"``,
    ``"private"`` or None (engine default); ``command`` overrides the image's CMD."""

    tmpfs: Mapping[str, str] = field(default_factory=dict)
    binds: tuple[Bind, ...] = ()
    stop_signal: str | None = None
    cgroupns: str | None = None
    command: tuple[str, ...] | None = None
    files: tuple[InjectedFile, ...] = ()


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One container to start. ``publish_ssh``: port 22 published on 127.0.0.1 (random port)."""

    image: str
    name: str
    labels: Mapping[str, str]
    hostname: str
    env: Mapping[str, str] = field(default_factory=dict)
    publish_ssh: bool = True
    options: StartOptions = field(default_factory=StartOptions)


@dataclass(frozen=True, slots=True)
class Instance:
    """A container (or swarm task) the runtime knows. ``status``: running, exited, created…"""

    name: str
    id: str
    image: str  # the image ref it was started from (a tag when known, else the id)
    image_id: str
    labels: Mapping[str, str]
    status: str
    ssh_port: int | None = None  # the 127.0.0.1 port that reaches its port 22


@dataclass(frozen=True, slots=True)
class ExecResult:
    """``exit_code`` is None exactly when ``timed_out``; ``output`` is stdout+stderr."""

    exit_code: int | None
    output: bytes
    timed_out: bool = False

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


@runtime_checkable
class LabRuntime(Protocol):
    """A place labs run. Names are the instance names given to ``start`` (unique per runtime)."""

    name: str

    def image(self, ref: str) -> Image | None:
        """The image ``ref`` if the runtime can use it now (swarm: in the registry), else None."""
        ...

    def build_image(
        self,
        context: Mapping[str, bytes],
        tag: str,
        *,
        labels: Mapping[str, str],
        nocache: bool = False,
        notes: Mapping[str, str] | None = None,
        progress: Progress = quiet,
    ) -> Built:
        """Build ``context`` (``Dockerfile`` + files) as ``tag`` with ``labels``; a lookup
        (``cached=True``) when ``tag`` exists and not ``nocache``."""
        ...

    def start(self, request: StartRequest) -> Instance:
        """Start it; return once it runs and (``publish_ssh``) its ssh port is known."""
        ...

    def get(self, name: str) -> Instance | None:
        """The instance ``name`` (any state), or None."""
        ...

    def list_instances(self, labels: Mapping[str, str]) -> list[Instance]:
        """Instances (any state) carrying every label in ``labels`` (exact values)."""
        ...

    def exec(
        self, name: str, argv: list[str], *, timeout: float, user: str | None = None
    ) -> ExecResult:
        """Run ``argv`` (no shell) in the running instance; killed at ``timeout``."""
        ...

    def logs(self, name: str, *, tail: int = 20) -> str:
        """The last ``tail`` lines of its main process's output."""
        ...

    def copy_in(self, name: str, path: str, tar: bytes) -> None:
        """Unpack the tar archive ``tar`` into directory ``path`` of the instance."""
        ...

    def copy_out(self, name: str, path: str) -> bytes:
        """A tar archive of ``path`` in the instance."""
        ...

    def snapshot(self, name: str, ref: str, *, labels: Mapping[str, str]) -> Image:
        """Commit the instance's file system as image ``ref`` (``repo:tag``) with ``labels``."""
        ...

    def stop(self, name: str, *, timeout: float = 10) -> None:
        """Stop it (its stop signal, then kill after ``timeout``); no error when not running."""
        ...

    def remove(self, name: str) -> bool:
        """Remove it (forced, with its anonymous volumes); False when there was none."""
        ...

    def list_images(self, labels: Mapping[str, str]) -> list[Image]:
        """Images carrying every label in ``labels``; one entry per tag."""
        ...

    def image_users(self, ref: str) -> list[Instance]:
        """Instances (any state) whose image is ``ref`` (compared by image id)."""
        ...

    def remove_image(self, ref: str) -> bool:
        """Remove the tag ``ref`` (the image once untagged); False when there was none.
        ``LabError`` when an instance still uses it."""
        ...

    def close(self) -> None:
        """Release connections; idempotent."""
        ...


BACKENDS: dict[str, str] = {
    "local": "remotefix.lab.runtime_local:LocalRuntime",
    "swarm": "remotefix.lab.runtime_swarm:SwarmRuntime",
}
"""Runtime name -> ``module:Class``; the class is called with ``get_runtime``'s options."""


def get_runtime(name: str = "local", **options: object) -> LabRuntime:
    """The runtime called ``name`` (``ConfigError`` for an unknown one), made with ``options``."""
    path = BACKENDS.get(name)
    if path is None:
        raise ConfigError(
            f"unknown lab runtime {name!r}", hint=f"use one of: {', '.join(sorted(BACKENDS))}"
        )
    module, _, cls = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"lab runtime {name!r} is not available here ({exc})") from exc
    runtime: LabRuntime = factory(**options)
    return runtime


def tar_files(files: Mapping[str, bytes], *, mode: int = 0o644) -> bytes:
    """A tar archive of ``files`` (name -> content; ``.sh`` files executable), for ``copy_in``
    and build contexts; deterministic (sorted, mtime 0)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime = len(data), 0
            info.mode = 0o755 if name.endswith(".sh") else mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
