"""``doctor``: is this machine ready to run remotefix? Each check says how to fix itself."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from remotefix import dockerapi
from remotefix.errors import RemotefixError
from remotefix.lab.catalog import Catalog
from remotefix.lab.images import find_image
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the report. ``required`` rows make ``doctor`` exit non-zero when they fail."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run_checks(workspace: Workspace) -> list[Check]:
    """Run every check; none raises."""
    checks = [
        _tool("debootstrap", "apt-get install -y debootstrap", extra=("/usr/sbin/debootstrap",)),
        _tool("ssh", "apt-get install -y openssh-client"),
        _tool("ssh-keygen", "apt-get install -y openssh-client"),
        _tool("sshd", "apt-get install -y openssh-server", extra=("/usr/sbin/sshd",), req=False),
        _module("ansible_runner", "pip install ansible-runner"),
        _module("ansible", "pip install ansible-core"),
        _guarded("state directory", lambda: _workspace(workspace)),
    ]
    docker_row, api = _docker()
    checks.insert(0, docker_row)
    checks.append(_base_images(api))
    return checks


def _tool(name: str, fix: str, *, extra: tuple[str, ...] = (), req: bool = True) -> Check:
    path = shutil.which(name) or next((p for p in extra if Path(p).exists()), None)
    return Check(name, path is not None, path or "not found", "" if path else fix, req)


def _module(name: str, fix: str) -> Check:
    found = importlib.util.find_spec(name) is not None
    return Check(
        f"python: {name}", found, "importable" if found else "missing", "" if found else fix
    )


def _guarded(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except RemotefixError as exc:
        return Check(name, False, exc.message, exc.hint or "")


def _workspace(workspace: Workspace) -> str:
    workspace.check_writable()
    return f"{workspace.root} (writable)"


def _docker() -> tuple[Check, object | None]:
    try:
        api = dockerapi.client(timeout=10)
        version = api.version()
    except RemotefixError as exc:
        return Check("docker daemon", False, exc.message, exc.hint or ""), None
    detail = f"Engine {version.get('Version')}, API {version.get('ApiVersion')}"
    return Check("docker daemon", True, detail), api


def _base_images(api: object | None) -> Check:
    name = "base images"
    if api is None:
        return Check(name, False, "unknown (no Docker daemon)", "start dockerd first", False)
    try:
        catalog = Catalog.load()
        runtime = LocalRuntime(client=api)  # type: ignore[arg-type]
        missing = [b.key for b in catalog.images.values() if find_image(runtime, b) is None]
    except RemotefixError as exc:
        return Check(name, False, exc.message, exc.hint or "", False)
    if missing:
        fix = f"remotefix images build {' '.join(missing)}"
        return Check(name, False, f"missing: {', '.join(missing)}", fix, False)
    return Check(name, True, ", ".join(sorted(catalog.images)), "", False)
