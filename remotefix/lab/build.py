"""Build a lab image from a spec: deterministic, cached by the spec's hash, versions pinned.

Two layers of caching:
  * the *apt index* image: the base image plus the suite's updates/security sources and fresh
    package lists (``remotefix/lab-index:<base>-<base id>``), built once per base image and
    refreshed on request. It is what versions are resolved against, and every lab starts FROM
    it, so a build never downloads the package lists again;
  * the *lab* image, tagged ``remotefix/lab:<spec hash>``: an unchanged spec is a lookup.
    Its Dockerfile puts packages first, then files, then setup commands, so a changed file or
    setup step reuses the package layer.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tarfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from remotefix.dockerapi import docker_errors, labels
from remotefix.errors import LabError
from remotefix.lab.catalog import BaseImage, Catalog
from remotefix.lab.dockerfile import build_context, init_digest, setup_notes, sh_words
from remotefix.lab.images import find_image
from remotefix.lab.spec import LabSpec, spec_hash
from remotefix.lab.versions import Choice, choose, parse_madison
from remotefix.progress import Progress, quiet

RECIPE = "lab-recipe-2"  # 2: setup steps run as copied scripts
INDEX_REPOSITORY = "remotefix/lab-index"
LAB_REPOSITORY = "remotefix/lab"
KIND_LABEL = "remotefix.kind"
SPEC_LABEL = "remotefix.spec-hash"


@dataclass(frozen=True)
class LabImage:
    tag: str
    spec_hash: str
    cached: bool
    choices: dict[str, Choice]
    tooling: tuple[str, ...]
    duration_s: float


def index_image(
    api: docker.DockerClient,
    base: BaseImage,
    catalog: Catalog,
    *,
    refresh: bool = False,
    progress: Progress = quiet,
) -> str:
    """The apt-index image for ``base`` (built when missing or when ``refresh``)."""
    built = find_image(api, base)
    if built is None:
        raise LabError(
            f"base image {base.tag} is not built", hint=f"run: remotefix images build {base.key}"
        )
    tag = f"{INDEX_REPOSITORY}:{base.key.replace(':', '-')}-{built.id.split(':')[-1][:12]}"
    if not refresh and _find_image(api, tag) is not None:
        return tag
    sources = "\n".join(
        s.format(mirror=catalog.default_mirror, suite=base.suite) for s in catalog.lab_sources
    )
    extra = "/etc/apt/sources.list.d/remotefix-lab.list"
    dockerfile = (
        f"FROM {base.tag}\n"
        f"RUN printf '%s\\n' {sh_words(sources.splitlines())} > {extra} && "
        f"(apt-get update -qq || (rm -f {extra} && apt-get update -qq))\n"
    )
    progress(f"apt index for {base.key}: apt-get update (once per base image)")
    _build(
        api,
        {"Dockerfile": dockerfile.encode()},
        tag,
        {KIND_LABEL: "lab-index"},
        progress,
        nocache=refresh,
    )
    return tag


def resolve_versions(
    api: docker.DockerClient, index: str, packages: dict[str, str], *, rounds: int = 6
) -> dict[str, Choice]:
    """Choose a version per package from what the archive has, then let apt simulate the
    install: a pinned package that needs its siblings at the same version (nginx and
    nginx-common) gets them pinned too, so the real install never meets a broken set."""
    if not packages:
        return {}
    with _resolver(api, index) as ask:
        available = parse_madison(ask(["apt-cache", "madison", *sorted(packages)]))
        choices = {n: choose(n, v, available.get(n, [])) for n, v in sorted(packages.items())}
        for _ in range(rounds):
            pins = [c.pin for c in choices.values() if c.version]
            output = ask(["sh", "-c", _SIMULATE, "sh", *pins])
            conflicts = {
                m["dep"]: m["by"] for m in _UNMET.finditer(output) if m["dep"] not in choices
            }
            if not conflicts:
                break
            more = parse_madison(ask(["apt-cache", "madison", *sorted(conflicts)]))
            for dep, by in conflicts.items():
                wanted = choices[by].version if by in choices and choices[by].version else "*"
                picked = choose(dep, str(wanted), more.get(dep, []))
                note = f"pinned to match {by}" + (f"; {picked.note}" if picked.note else "")
                choices[dep] = Choice(dep, picked.wanted, picked.version, picked.status, note)
    return choices


_SIMULATE = (
    'apt-get install -s -q --no-install-recommends --allow-downgrades "$@" 2>&1; echo "rc=$?"'
)
_UNMET = re.compile(r"^\s*(?P<by>[\w.+-]+) : (?:Pre)?Depends: (?P<dep>[\w.+-]+) \(", re.M)


@contextlib.contextmanager
def _resolver(api: docker.DockerClient, index: str) -> Iterator[Callable[[list[str]], str]]:
    """One throw-away container of the index image to ask apt questions in (exec is cheap)."""
    with docker_errors("asking the apt index"):
        box = api.containers.run(
            index, ["sleep", "600"], detach=True, labels=labels(**{KIND_LABEL: "lab-resolver"})
        )
    try:

        def ask(argv: list[str]) -> str:
            with docker_errors("asking the apt index"):
                _, out = box.exec_run(argv)
            return bytes(out).decode(errors="replace")

        yield ask
    finally:
        with contextlib.suppress(docker.errors.APIError):
            box.remove(force=True)


def build_lab_image(
    api: docker.DockerClient,
    spec: LabSpec,
    files: dict[str, bytes],
    catalog: Catalog,
    *,
    refresh_index: bool = False,
    progress: Progress = quiet,
) -> LabImage:
    """Build (or find) the image for ``spec``; ``files`` are the contents to copy in."""
    started = time.monotonic()
    base = catalog.resolve(spec.base)
    index = index_image(api, base, catalog, refresh=refresh_index, progress=progress)
    tooling = tuple(t for t in catalog.lab_tooling if t not in spec.packages)
    init = init_digest(spec)  # the recipe includes the init
    digest = spec_hash(spec, files, _image_id(api, index), f"{RECIPE}:{init}:{','.join(tooling)}")
    tag = f"{LAB_REPOSITORY}:{digest}"
    cached = _find_image(api, tag)
    if cached is not None:
        choices = json.loads(cached.labels.get("remotefix.choices", "{}"))
        return LabImage(
            tag,
            digest,
            True,
            {n: Choice(**c) for n, c in choices.items()},
            tooling,
            time.monotonic() - started,
        )
    progress(f"resolving {len(spec.packages)} package version(s) against the archive")
    choices = resolve_versions(api, index, spec.packages)
    missing = [c for c in choices.values() if c.status == "missing"]
    if missing:
        names = ", ".join(c.package for c in missing)
        raise LabError(
            f"package(s) not in the archive the lab can reach: {names}",
            hint="check the names, or remove them from the spec",
        )
    context = build_context(index, spec, files, choices, tooling)
    recorded = json.dumps({n: _choice_dict(c) for n, c in choices.items()})
    extra = {
        KIND_LABEL: "lab-image",
        SPEC_LABEL: digest,
        "remotefix.base": base.key,
        "remotefix.choices": recorded,
    }
    _build(api, context, tag, extra, progress, notes=setup_notes(spec))
    return LabImage(tag, digest, False, choices, tooling, time.monotonic() - started)


def _choice_dict(choice: Choice) -> dict[str, Any]:
    return {
        "package": choice.package,
        "wanted": choice.wanted,
        "version": choice.version,
        "status": choice.status,
        "note": choice.note,
    }


def _tar(context: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(context.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _build(
    api: docker.DockerClient,
    context: dict[str, bytes],
    tag: str,
    extra: dict[str, str],
    progress: Progress,
    *,
    nocache: bool = False,
    notes: dict[str, str] | None = None,
) -> None:
    """``docker build`` with progress per step; a failure names the step and shows the tail.

    ``notes`` maps text found in a step's line to what that step is (e.g. which setup step)."""
    tail: deque[str] = deque(maxlen=15)
    step = "starting the build"
    # one LABEL instruction (the build API's labels= adds one step per label)
    label_line = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels(**extra).items()))
    context = {**context, "Dockerfile": context["Dockerfile"] + f"LABEL {label_line}\n".encode()}
    with docker_errors(f"building {tag}"):
        stream = api.api.build(
            fileobj=_tar(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            nocache=nocache,
        )
        for chunk in stream:
            if "error" in chunk:
                output = "\n".join(tail)
                note = next((f" ({n})" for key, n in (notes or {}).items() if key in step), "")
                raise LabError(
                    f"building {tag} failed at {step}{note}: {chunk['error'].strip()}\n{output}"
                )
            text = str(chunk.get("stream", "")).rstrip()
            if text.startswith("Step "):
                step = text
                progress(text[:140])
            elif text:
                tail.append(text)


def _find_image(api: docker.DockerClient, tag: str) -> docker.models.images.Image | None:
    with docker_errors(f"looking up {tag}"):
        try:
            return api.images.get(tag)
        except docker.errors.ImageNotFound:
            return None


def _image_id(api: docker.DockerClient, tag: str) -> str:
    with docker_errors(f"looking up {tag}"):
        return str(api.images.get(tag).id)
