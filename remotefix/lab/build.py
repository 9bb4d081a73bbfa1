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
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from remotefix.dockerapi import labels
from remotefix.errors import LabError
from remotefix.lab.catalog import BaseImage, Catalog
from remotefix.lab.dockerfile import build_context, init_digest, setup_notes, sh_words
from remotefix.lab.images import find_image
from remotefix.lab.runtime import LabRuntime, StartOptions, StartRequest
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
    runtime: LabRuntime,
    base: BaseImage,
    catalog: Catalog,
    *,
    refresh: bool = False,
    progress: Progress = quiet,
) -> str:
    """The apt-index image for ``base`` (built when missing or when ``refresh``)."""
    built = find_image(runtime, base)
    if built is None:
        raise LabError(
            f"base image {base.tag} is not built", hint=f"run: remotefix images build {base.key}"
        )
    tag = f"{INDEX_REPOSITORY}:{base.key.replace(':', '-')}-{built.id.split(':')[-1][:12]}"
    if not refresh and runtime.image(tag) is not None:
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
    built_index = runtime.build_image(
        {"Dockerfile": dockerfile.encode()},
        tag,
        labels=labels(**{KIND_LABEL: "lab-index"}),
        nocache=refresh,
        progress=progress,
    )
    return built_index.image.ref


def resolve_versions(
    runtime: LabRuntime, index: str, packages: dict[str, str], *, rounds: int = 6
) -> dict[str, Choice]:
    """Choose a version per package from what the archive has, then let apt simulate the
    install: a pinned package that needs its siblings at the same version (nginx and
    nginx-common) gets them pinned too, so the real install never meets a broken set."""
    if not packages:
        return {}
    with _resolver(runtime, index) as ask:
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
def _resolver(runtime: LabRuntime, index: str) -> Iterator[Callable[[list[str]], str]]:
    """One throw-away container of the index image to ask apt questions in (exec is cheap)."""
    name = f"remotefix-resolver-{uuid.uuid4().hex[:12]}"
    request = StartRequest(
        image=index,
        name=name,
        labels=labels(**{KIND_LABEL: "lab-resolver"}),
        hostname="resolver",
        publish_ssh=False,
        options=StartOptions(command=("sleep", "600")),
    )
    runtime.start(request)
    try:

        def ask(argv: list[str]) -> str:
            return runtime.exec(name, argv, timeout=300).text

        yield ask
    finally:
        with contextlib.suppress(LabError):
            runtime.remove(name)


def build_lab_image(
    runtime: LabRuntime,
    spec: LabSpec,
    files: dict[str, bytes],
    catalog: Catalog,
    *,
    owner: Mapping[str, str] | None = None,
    refresh_index: bool = False,
    progress: Progress = quiet,
) -> LabImage:
    """Build (or find) the image for ``spec``; ``files`` are the contents to copy in.

    ``owner``: labels naming who built it (case, workspace), recorded on a new image."""
    started = time.monotonic()
    base = catalog.resolve(spec.base)
    index = index_image(runtime, base, catalog, refresh=refresh_index, progress=progress)
    tooling = tuple(t for t in catalog.lab_tooling if t not in spec.packages)
    init = init_digest(spec)  # the recipe includes the init
    digest = spec_hash(
        spec, files, _image_id(runtime, index), f"{RECIPE}:{init}:{','.join(tooling)}"
    )
    tag = f"{LAB_REPOSITORY}:{digest}"
    cached = runtime.image(tag)
    if cached is not None:
        choices = json.loads(cached.labels.get("remotefix.choices", "{}"))
        return LabImage(
            cached.ref,
            digest,
            True,
            {n: Choice(**c) for n, c in choices.items()},
            tooling,
            time.monotonic() - started,
        )
    progress(f"resolving {len(spec.packages)} package version(s) against the archive")
    choices = resolve_versions(runtime, index, spec.packages)
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
        **(owner or {}),
        KIND_LABEL: "lab-image",
        SPEC_LABEL: digest,
        "remotefix.base": base.key,
        "remotefix.choices": recorded,
    }
    built = runtime.build_image(
        context, tag, labels=labels(**extra), notes=setup_notes(spec), progress=progress
    )
    elapsed = time.monotonic() - started
    return LabImage(built.image.ref, digest, built.cached, choices, tooling, elapsed)


def _choice_dict(choice: Choice) -> dict[str, Any]:
    return {
        "package": choice.package,
        "wanted": choice.wanted,
        "version": choice.version,
        "status": choice.status,
        "note": choice.note,
    }


def _image_id(runtime: LabRuntime, tag: str) -> str:
    found = runtime.image(tag)
    if found is None:
        raise LabError(f"image {tag} vanished while building a lab", hint="run the command again")
    return found.id
