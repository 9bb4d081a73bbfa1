"""The ``local`` lab runtime: the Docker engine named by ``DOCKER_HOST`` (default: the socket).

Every Docker SDK call of the lab's life is here; SDK errors become ``LabError`` /
``DependencyError`` through ``dockerapi.docker_errors``. ``exec`` goes through the docker
transport (its commands are killed for real at their timeout), so it needs ``/bin/sh`` in the
image, as every lab has.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import docker
import docker.errors

from remotefix import dockerapi
from remotefix.errors import LabError, TransportError
from remotefix.lab.runtime import (
    SSH_PORT,
    Built,
    ExecResult,
    Image,
    Instance,
    StartRequest,
    tar_files,
)
from remotefix.progress import Progress, quiet
from remotefix.targets import Target
from remotefix.transports.docker import DockerTransport

PORT_TIMEOUT = 10.0


class LocalRuntime:
    """Labs as containers of one Docker engine."""

    name = "local"

    def __init__(self, *, client: docker.DockerClient | None = None, timeout: int = 120) -> None:
        self._client = client
        self._timeout = timeout
        self._transports: dict[tuple[str, str], DockerTransport] = {}

    @property
    def api(self) -> docker.DockerClient:
        if self._client is None:
            self._client = dockerapi.client(timeout=self._timeout)
        return self._client

    # images

    def image(self, ref: str) -> Image | None:
        with dockerapi.docker_errors(f"looking up {ref}"):
            try:
                return _image(self.api.images.get(ref), ref)
            except docker.errors.ImageNotFound:
                return None

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
        found = None if nocache else self.image(tag)
        if found is not None:
            return Built(found, cached=True)
        # one LABEL instruction (the build API's labels= adds one step per label)
        line = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
        files = {**context, "Dockerfile": context["Dockerfile"] + f"LABEL {line}\n".encode()}
        self._build(files, tag, nocache=nocache, notes=notes or {}, progress=progress)
        built = self.image(tag)
        if built is None:
            raise LabError(f"building {tag}: the engine reported success but has no such image")
        return Built(built, cached=False)

    def _build(
        self,
        context: Mapping[str, bytes],
        tag: str,
        *,
        nocache: bool,
        notes: Mapping[str, str],
        progress: Progress,
    ) -> None:
        """``docker build`` with progress per step; a failure names the step, shows the tail."""
        tail: deque[str] = deque(maxlen=15)
        step = "starting the build"
        with dockerapi.docker_errors(f"building {tag}"):
            stream = self.api.api.build(
                fileobj=io.BytesIO(tar_files(context)),
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                nocache=nocache,
            )
            for chunk in stream:
                if "error" in chunk:
                    note = next((f" ({n})" for key, n in notes.items() if key in step), "")
                    raise LabError(
                        f"building {tag} failed at {step}{note}: {chunk['error'].strip()}\n"
                        + "\n".join(tail)
                    )
                text = str(chunk.get("stream", "")).rstrip()
                if text.startswith("Step "):
                    step = text
                    progress(text[:140])
                elif text:
                    tail.append(text)

    def import_rootfs(self, tarball: Path, ref: str, *, changes: list[str]) -> Image:
        """``docker import`` a root file system tarball as ``ref`` (local engine only)."""
        repository, tag = ref.split(":")
        with dockerapi.docker_errors(f"importing {ref}"):
            self.api.api.import_image_from_file(
                str(tarball), repository=repository, tag=tag, changes=changes
            )
        found = self.image(ref)
        if found is None:
            raise LabError(f"importing {ref}: the engine reported success but has no such image")
        return found

    def list_images(self, labels: Mapping[str, str]) -> list[Image]:
        with dockerapi.docker_errors("listing images"):
            images = self.api.images.list(filters={"label": _filters(labels)})
        return [_image(image, tag) for image in images for tag in image.tags]

    def image_users(self, ref: str) -> list[Instance]:
        found = self.image(ref)
        if found is None:
            return []
        with dockerapi.docker_errors(f"finding containers of {ref}"):
            containers = self.api.containers.list(all=True, filters={"ancestor": found.id})
        return [_instance(c) for c in containers if c.attrs.get("Image") == found.id]

    def remove_image(self, ref: str) -> bool:
        try:
            self.api.images.remove(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise LabError(
                f"cannot remove image {ref}: {exc.explanation or exc}",
                hint="a container still uses it: remove that lab first",
            ) from None
        return True

    # instances

    def start(self, request: StartRequest) -> Instance:
        options = request.options
        with dockerapi.docker_errors(f"starting {request.name}"):
            container = self.api.containers.create(
                request.image,
                list(options.command) if options.command is not None else None,
                name=request.name,
                labels=dict(request.labels),
                hostname=request.hostname,
                environment=dict(request.env),
                ports={f"{SSH_PORT}/tcp": ("127.0.0.1", None)} if request.publish_ssh else {},
                tmpfs=dict(options.tmpfs),
                volumes={
                    b.source: {"bind": b.target, "mode": "ro" if b.read_only else "rw"}
                    for b in options.binds
                },
                stop_signal=options.stop_signal,
                cgroupns=options.cgroupns,
            )
        try:
            with dockerapi.docker_errors(f"starting {request.name}"):
                for file in options.files:
                    data = tar_files({file.path: file.data}, mode=file.mode)
                    container.put_archive("/", data)
                container.start()
            return self._wait_port(container) if request.publish_ssh else _instance(container)
        except BaseException:
            self.remove(request.name)
            raise

    def _wait_port(self, container: Any) -> Instance:
        deadline = time.monotonic() + PORT_TIMEOUT
        while time.monotonic() < deadline:
            with dockerapi.docker_errors(f"inspecting {container.name}"):
                container.reload()
            if container.status == "exited":
                raise LabError(f"{container.name} stopped while starting: {self._tail(container)}")
            found = _instance(container)
            if found.ssh_port is not None:
                return found
            time.sleep(0.05)
        raise LabError(f"{container.name} published no SSH port in {PORT_TIMEOUT:.0f}s")

    def get(self, name: str) -> Instance | None:
        container = self._container(name)
        return None if container is None else _instance(container)

    def list_instances(self, labels: Mapping[str, str]) -> list[Instance]:
        with dockerapi.docker_errors("listing containers"):
            found = self.api.containers.list(all=True, filters={"label": _filters(labels)})
        return [_instance(c) for c in found]

    def exec(
        self, name: str, argv: list[str], *, timeout: float, user: str | None = None
    ) -> ExecResult:
        transport = self._transports.get((name, user or ""))
        if transport is None:
            target = Target(name=name, connection="docker", host=name)
            transport = DockerTransport(target, client=self.api, user=user)
            self._transports[(name, user or "")] = transport
        try:
            result = transport.run(shlex.join(argv), timeout=timeout)
        except TransportError as exc:  # not running, gone, stream broken: a lab problem here
            raise LabError(f"exec in {name}: {exc.message}", hint=exc.hint) from exc
        return ExecResult(result.exit_code, result.stdout + result.stderr, result.timed_out)

    def logs(self, name: str, *, tail: int = 20) -> str:
        container = self._container(name)
        return "" if container is None else self._tail(container, tail)

    def log_line(self, name: str, prefix: bytes, *, timeout: float) -> str | None:
        """Follow the instance's stdout until a line starting with ``prefix`` appears (that
        line); None when its output ends first (it stopped) or ``timeout`` passes. No exec."""
        done, hit = threading.Event(), []

        def follow() -> None:
            seen = b""
            try:
                stream = self.api.api.logs(name, stdout=True, stderr=False, stream=True,
                                           follow=True)  # fmt: skip
                for chunk in stream:
                    seen = (seen + chunk)[-4096:]
                    *whole, seen = seen.split(b"\n")
                    hit.extend(x for x in whole if x.startswith(prefix))
                    if hit:
                        return
            except (docker.errors.DockerException, OSError, ValueError):
                pass  # a broken stream: the caller probes instead
            finally:
                done.set()

        threading.Thread(target=follow, daemon=True, name=f"remotefix-log-{name}").start()
        done.wait(timeout)
        return hit[0].decode(errors="replace") if hit else None

    def _tail(self, container: Any, tail: int = 5) -> str:
        with dockerapi.docker_errors(f"reading the logs of {container.name}"):
            return bytes(container.logs(tail=tail)).decode(errors="replace").strip()

    def copy_in(self, name: str, path: str, tar: bytes) -> None:
        with dockerapi.docker_errors(f"copying into {name}"):
            if not self._need(name).put_archive(path, tar):
                raise LabError(f"copying into {name}:{path} failed")

    def copy_out(self, name: str, path: str) -> bytes:
        with dockerapi.docker_errors(f"copying {name}:{path}"):
            stream, _ = self._need(name).get_archive(path)
            return b"".join(stream)

    def snapshot(self, name: str, ref: str, *, labels: Mapping[str, str]) -> Image:
        repository, tag = ref.rsplit(":", 1)
        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        with dockerapi.docker_errors(f"snapshotting {name}"):
            self._need(name).commit(repository=repository, tag=tag, changes=changes)
        found = self.image(ref)
        if found is None:
            raise LabError(f"snapshotting {name}: the engine reported success but has no {ref}")
        return found

    def stop(self, name: str, *, timeout: float = 10) -> None:
        container = self._container(name)
        if container is not None:
            with dockerapi.docker_errors(f"stopping {name}"):
                container.stop(timeout=int(timeout))

    def remove(self, name: str) -> bool:
        for key in [k for k in self._transports if k[0] == name]:
            self._transports.pop(key).close()
        container = self._container(name)
        if container is None:
            return False
        with (
            dockerapi.docker_errors(f"removing {name}"),
            contextlib.suppress(docker.errors.NotFound),
        ):
            container.remove(force=True, v=True)
        return True

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _container(self, name: str) -> Any | None:
        with dockerapi.docker_errors(f"looking up {name}"):
            try:
                return self.api.containers.get(name)
            except docker.errors.NotFound:
                return None

    def _need(self, name: str) -> Any:
        container = self._container(name)
        if container is None:
            raise LabError(f"no container named {name!r}", hint="see: remotefix lab ls")
        return container


def _filters(labels: Mapping[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in labels.items()]


def _image(image: Any, ref: str) -> Image:
    attrs = image.attrs
    return Image(
        ref=ref,
        id=str(image.id),
        labels=MappingProxyType(dict(image.labels or {})),
        size=int(attrs.get("Size") or 0),
        created=_iso(str(attrs.get("Created") or "")),
    )


def _instance(container: Any) -> Instance:
    attrs = container.attrs
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{SSH_PORT}/tcp")
    tags = (attrs.get("Config") or {}).get("Image") or ""
    return Instance(
        name=container.name,
        id=container.id,
        image=str(tags),
        image_id=str(attrs.get("Image") or ""),
        labels=MappingProxyType(dict(container.labels or {})),
        status=container.status,
        ssh_port=int(bindings[0]["HostPort"]) if bindings else None,
    )


def _iso(text: str) -> str:
    """Docker's ``2026-12-01T23:40:12.123456789Z`` as ``2026-12-01T23:40:12+00:00``."""
    return f"{text[:19]}+00:00" if len(text) >= 19 else text
