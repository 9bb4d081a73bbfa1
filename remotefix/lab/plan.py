"""From a customer's fingerprint (and bundle) to a lab spec.

Pinned by default: the packages behind the customer's running well-known services
(``labs/services.yaml``) plus those the engineer names; ``all_packages`` pins every one.
Copied: the config files of those services found in the bundle (redacted values stay redacted).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.errors import ConfigError, LabError
from remotefix.lab.catalog import Catalog
from remotefix.lab.spec import LabSpec
from remotefix.resources import data_dir


@dataclass(frozen=True, slots=True)
class KnownService:
    name: str
    units: tuple[str, ...]
    processes: tuple[str, ...]
    packages: tuple[str, ...]
    files: tuple[str, ...]
    init: str


def load_services(path: Path | None = None) -> list[KnownService]:
    path = path or data_dir("labs") / "services.yaml"
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of service name → details")
    out = []
    for name, item in raw.items():
        if not isinstance(item, dict) or not item.get("init"):
            raise ConfigError(f"{path}: {name}: needs at least 'init' (the init script name)")
        lists = {
            k: tuple(str(v) for v in item.get(k) or [])
            for k in ("units", "processes", "packages", "files")
        }
        out.append(KnownService(str(name), init=str(item["init"]), **lists))
    return out


def is_windows(fingerprint: dict[str, Any]) -> bool:
    os_ = fingerprint.get("os") or {}
    return os_.get("family") == "windows" or str(os_.get("id", "")).startswith("windows")


def running_services(fingerprint: dict[str, Any], known: list[KnownService]) -> list[KnownService]:
    """Known services that run on the customer's machine (systemd unit or process)."""
    running = {
        s["name"]
        for s in fingerprint.get("services", [])
        if s.get("state") in ("running", "active") or s.get("source") == "process"
    }
    found = []
    for service in known:
        names = service.units + service.processes
        if any(fnmatch.fnmatch(r, pattern) for r in running for pattern in names):
            found.append(service)
    return found


def plan_lab(
    fingerprint: dict[str, Any],
    catalog: Catalog,
    *,
    bundle: Path | None = None,
    bundle_members: list[str] | None = None,
    packages: list[str] | None = None,
    all_packages: bool = False,
    known: list[KnownService] | None = None,
) -> LabSpec:
    """The lab spec that reproduces ``fingerprint`` as closely as a container can."""
    if is_windows(fingerprint):
        raise LabError(
            "a Windows machine is not reproducible on a Linux Docker host",
            hint="reproduce on a Windows VM; the fingerprint still lists its packages",
        )
    os_ = fingerprint.get("os") or {}
    key = f"{os_.get('id')}:{os_.get('major') or os_.get('version_id')}"
    base = catalog.resolve(key)
    customer = fingerprint.get("packages") or {}
    services = running_services(fingerprint, known if known is not None else load_services())
    wanted = set(packages or [])
    for service in services:
        wanted |= {p for p in customer for g in service.packages if fnmatch.fnmatch(p, g)}
    unknown = sorted(w for w in wanted if w not in customer and w in (packages or []))
    if unknown:
        raise ConfigError(
            f"package(s) not installed on the customer's machine: {', '.join(unknown)}",
            hint="check the name with: remotefix fingerprint show BUNDLE --json",
        )
    pinned = dict(customer) if all_packages else {p: customer[p] for p in sorted(wanted)}
    members = bundle_members or []
    files = {}
    for service in services:
        for member in members:
            path = "/" + member.removeprefix("files/")
            if member.startswith("files/") and any(fnmatch.fnmatch(path, g) for g in service.files):
                files[path] = f"bundle:{member}"
    return LabSpec(
        base=base.key,
        packages=pinned,
        files=files,
        services=tuple(s.init for s in services),
        bundle=bundle,
    )
