"""Lab specs: what a lab is made of (base image, pinned packages, files, services, setup).

A spec is YAML (see ../shared/DESIGN.md, "Lab spec and fidelity")::

    base: {distro: debian, version: "12"}        # or "debian:12"; resolved through the catalog
    packages: {nginx: "1.22.1-9+deb12u1", curl: "*"}
    files: {/etc/nginx/nginx.conf: bundle:files/etc/nginx/nginx.conf}
    services: [nginx]
    init: systemd                                  # or "script" (default): what runs as PID 1
    units: {nginx: enabled, rfx-spare: disabled}   # systemd labs: unit states set at build
    setup:                                         # each step is a script (a YAML | block is
      - echo ready > /etc/motd                     # fine); it is copied in and run with sh -e
      - |
        useradd -m app
        echo 'app ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/app
    source: {bundle: customer.tar.gz}              # where bundle: files and the customer's
                                                   # fingerprint come from (relative to the spec)

Validation errors name the file, the key and what is wrong. The spec hash covers everything
that changes the image (file *contents*, not their paths on this machine).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from remotefix._yaml import load_yaml, string_list
from remotefix.errors import ConfigError

_KEYS = {"name", "base", "packages", "files", "services", "setup", "source", "init", "units"}
INITS = ("script", "systemd")
UNIT_STATES = ("enabled", "disabled")
# Every pattern is used with fullmatch: "$" would let a trailing newline through.
_BASE = re.compile(r"[a-z][a-z0-9]*:[A-Za-z0-9][A-Za-z0-9._-]*")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?")
_VERSION = re.compile(r"\*|[0-9][A-Za-z0-9.+~:-]*")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9@_.-]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SOURCES = ("bundle:", "file:", "inline:")


@dataclass(frozen=True)
class LabSpec:
    """A validated lab spec; ``folder`` is where relative paths in it are resolved.

    Every value is checked when the spec is made (from YAML, a bundle plan or a case), so a
    Dockerfile is only ever rendered from names, versions and paths that match their pattern
    in full. ``setup`` steps are scripts (several lines are fine): the build copies each into
    the image and runs it, never pastes it into the Dockerfile.
    """

    base: str
    packages: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    bundle: Path | None = None
    withheld: dict[str, str] = field(default_factory=dict)
    """Customer files the lab lacks because the customer's machine did not give them, and why."""
    name: str | None = None
    init: str = "script"
    """``systemd``: systemd boots as PID 1; ``script``: lab-init.sh starts ``services``."""
    units: dict[str, str] = field(default_factory=dict)
    """systemd labs: unit name → ``enabled`` / ``disabled``, as on the customer."""
    folder: Path = field(default_factory=Path.cwd)
    where: str = field(default="lab spec", compare=False, repr=False)

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ConfigError(f"{self.where}: {problem}")

    def to_yaml_dict(self) -> dict[str, Any]:
        distro, _, version = self.base.partition(":")
        data: dict[str, Any] = {"base": {"distro": distro, "version": version}}
        if self.name:
            data["name"] = self.name
        for key, value in (("packages", self.packages), ("files", self.files)):
            if value:
                data[key] = dict(sorted(value.items()))
        if self.services:
            data["services"] = list(self.services)
        if self.init != "script":
            data["init"] = self.init
        if self.units:
            data["units"] = dict(sorted(self.units.items()))
        if self.setup:
            data["setup"] = list(self.setup)
        if self.bundle:
            data["source"] = {"bundle": str(self.bundle)}
            if self.withheld:
                data["source"]["withheld"] = dict(sorted(self.withheld.items()))
        return data


def _problems(spec: LabSpec) -> Iterator[str]:
    """What is wrong with ``spec``, most important first (the first one is raised)."""
    if not _BASE.fullmatch(spec.base):
        yield f'base {spec.base!r}: base must be {{distro: debian, version: "12"}} or "debian:12"'
    for name, version in spec.packages.items():
        if not _PACKAGE.fullmatch(name):
            yield f"packages.{_shown(name)}: not a Debian package name"
        if not _VERSION.fullmatch(version):
            yield f'packages.{_shown(name)}: version {version!r} is not a Debian version or "*"'
    for dest, why in spec.withheld.items():
        if not dest.startswith("/") or _CONTROL.search(dest) or _CONTROL.search(why):
            yield f"source.withheld.{_shown(dest)}: an absolute path and a one-line reason"
    for dest, source in spec.files.items():
        path = PurePosixPath(dest)
        if not path.is_absolute() or ".." in path.parts or _CONTROL.search(dest):
            yield f"files.{_shown(dest)}: the destination must be an absolute path"
        if not source.startswith(_SOURCES) or (
            not source.startswith("inline:") and _CONTROL.search(source)
        ):
            yield f"files.{_shown(dest)}: source must be bundle:MEMBER, file:PATH or inline:TEXT"
    for service in spec.services:
        if not _SERVICE.fullmatch(service):
            yield f"services: {service!r} is not a valid name"
    if spec.init not in INITS:
        yield f"init {spec.init!r}: must be one of {', '.join(INITS)}"
    for unit, state in spec.units.items():
        if not _SERVICE.fullmatch(unit):
            yield f"units: {_shown(unit)!r} is not a valid unit name"
        if state not in UNIT_STATES:
            yield f"units.{_shown(unit)}: {state!r} must be one of {', '.join(UNIT_STATES)}"
    if spec.units and spec.init != "systemd":
        yield "units: only a systemd lab (init: systemd) enables or disables units"
    for step in spec.setup:
        if not step.strip() or "\x00" in step:
            yield f"setup: {step!r} is not a script (empty, or holds a NUL byte)"
    if spec.name is not None and not _NAME.fullmatch(spec.name):
        yield f"name {spec.name!r} is not a valid name (letters, digits, _ . -)"


def valid_unit(name: str) -> bool:
    """A name a spec accepts for a service or unit (a systemd unit name without ``.service``)."""
    return bool(_SERVICE.fullmatch(name))


def _shown(text: str) -> str:
    """A key as typed, or quoted when it holds a newline or other unprintable character."""
    return text if text.isprintable() else repr(text)


def dump_spec(spec: LabSpec) -> str:
    return yaml.safe_dump(spec.to_yaml_dict(), sort_keys=False, default_flow_style=False)


def load_spec(path: Path) -> LabSpec:
    """Read and validate a spec file."""
    raw = load_yaml(path)
    return parse_spec(raw, where=str(path), folder=path.resolve().parent)


def parse_spec(raw: Any, *, where: str, folder: Path) -> LabSpec:
    """Check the YAML's shape here; the values themselves are checked by ``LabSpec``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a lab spec is a mapping (base, packages, files, ...)")
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}",
            hint=f"allowed: {', '.join(sorted(_KEYS))}",
        )
    source = _mapping(where, "source", raw.get("source"))
    bundle = source.get("bundle")
    if bundle is not None and not isinstance(bundle, str):
        raise ConfigError(f"{where}: source.bundle must be a path")
    withheld = _mapping(where, "source.withheld", source.get("withheld"))
    packages = _mapping(where, "packages", raw.get("packages"))
    files = _mapping(where, "files", raw.get("files"))
    units = _mapping(where, "units", raw.get("units"))
    if not all(isinstance(v, str) for v in files.values()):
        raise ConfigError(f"{where}: files: source must be bundle:MEMBER, file:PATH or inline:TEXT")
    return LabSpec(
        base=_base(where, raw.get("base")),
        packages={k: "*" if v is None else str(v) for k, v in packages.items()},
        files=files,
        services=string_list(where, "services", raw.get("services")),
        setup=string_list(where, "setup", raw.get("setup")),
        bundle=(folder / bundle) if bundle else None,
        withheld={str(k): str(v) for k, v in withheld.items()},
        name=str(raw["name"]) if raw.get("name") else None,
        init=str(raw.get("init") or "script"),
        units={k: str(v) for k, v in units.items()},
        folder=folder,
        where=where,
    )


def _mapping(where: str, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping")
    return {str(k): v for k, v in value.items()}


def _base(where: str, value: Any) -> str:
    if isinstance(value, str) and ":" in value:
        return value.strip().lower()
    if isinstance(value, dict) and value.get("distro") and value.get("version") is not None:
        return f"{str(value['distro']).lower()}:{value['version']}"
    raise ConfigError(f'{where}: base must be {{distro: debian, version: "12"}} or "debian:12"')


def spec_hash(
    spec: LabSpec, file_contents: dict[str, bytes], base_image_id: str, recipe: str
) -> str:
    """Hash of everything that shapes the image: same spec + same base → same tag."""
    normal = {
        "base": spec.base,
        "base_image_id": base_image_id,
        "recipe": recipe,
        "packages": dict(sorted(spec.packages.items())),
        "files": {d: hashlib.sha256(c).hexdigest() for d, c in sorted(file_contents.items())},
        "services": list(spec.services),
        "setup": list(spec.setup),
    }
    if spec.init != "script":  # a script lab's hash (and cached image) is unchanged
        normal |= {"init": spec.init, "units": dict(sorted(spec.units.items()))}
    return hashlib.sha256(json.dumps(normal, sort_keys=True).encode()).hexdigest()[:16]
