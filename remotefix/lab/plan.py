"""From a customer's fingerprint (and bundle) to a lab spec.

Pinned by default: the packages behind the customer's well-known services (``labs/services.yaml``)
in any state (running, stopped, failed) plus those the engineer names; ``all_packages`` pins every
one. Copied: the config files of those services found in the bundle (redacted values stay
redacted), and the customer's package-manager state (``STATE_FILES``: dpkg's journal, so an
interrupted dpkg run is interrupted in the lab too, with the packages its entries name installed
at their versions), and the files the engineer included (``--include``, a case's ``include:``)
except those a lab keeps its own (``LAB_OWN_FILES``). Started in the lab: the services running on
the customer, and the failed ones (so they fail in the lab too); a stopped service stays stopped.

A customer whose PID 1 is systemd gets a systemd lab (``init: systemd``): systemd pinned to the
customer's version, every service unit enabled or disabled as on the customer, the unit files
and drop-ins collected from /etc/systemd/system copied (an alias link is not a unit of its own,
so it is left to ``systemctl enable``), and units the customer ran without enabling them started.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.collect.bundle import read_members
from remotefix.collect.include import NAME as INCLUDE
from remotefix.errors import ConfigError, LabError
from remotefix.lab import systemd
from remotefix.lab.catalog import Catalog
from remotefix.lab.spec import LabSpec, valid_unit
from remotefix.resources import data_dir
from remotefix.services import Service, ServiceSource, ServiceState, services_of


@dataclass(frozen=True, slots=True)
class KnownService:
    name: str
    units: tuple[str, ...]
    processes: tuple[str, ...]
    packages: tuple[str, ...]
    files: tuple[str, ...]
    init: str


STATE_FILES = ("/var/lib/dpkg/updates/*",)
"""Customer state copied into every lab from a bundle, whatever its services."""


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


@dataclass(frozen=True, slots=True)
class CustomerService:
    """A well-known service found on the customer's machine, in its customer state."""

    known: KnownService
    state: ServiceState

    @property
    def starts_in_lab(self) -> bool:
        """Running ones run in the lab; failed ones are started too, so they fail there too."""
        return self.state in (ServiceState.RUNNING, ServiceState.FAILED)


def customer_services(
    fingerprint: dict[str, Any], known: list[KnownService]
) -> list[CustomerService]:
    """Known services installed on the customer's machine, whatever their state: a stopped or
    failed service keeps its packages and configuration in the lab."""
    found = []
    for service in known:
        states = [s.state for s in services_of(fingerprint) if _is(s, service)]
        if states:
            found.append(CustomerService(service, min(states, key=_STATE_ORDER.index)))
    return found


_STATE_ORDER = [ServiceState.RUNNING, ServiceState.FAILED, ServiceState.EXITED,
                ServiceState.UNKNOWN, ServiceState.STOPPED]  # fmt: skip


def _is(found: Service, known: KnownService) -> bool:
    """By unit name; a bare process (bundles from before unit names) by program name."""
    names = known.units + (known.processes if found.source is ServiceSource.PROCESS else ())
    return any(fnmatch.fnmatch(found.name, pattern) for pattern in names)


def plan_lab(
    fingerprint: dict[str, Any],
    catalog: Catalog,
    *,
    bundle: Path | None = None,
    bundle_members: list[str] | None = None,
    packages: list[str] | None = None,
    all_packages: bool = False,
    known: list[KnownService] | None = None,
    manifest: dict[str, Any] | None = None,
) -> LabSpec:
    """The lab spec that reproduces ``fingerprint`` as closely as a container can.

    A file the customer's machine did not give whole (denied, failed, truncated: see the
    bundle's ``manifest``) is never copied; the spec lists it as ``withheld`` with the reason.
    """
    if is_windows(fingerprint):
        raise LabError(
            "a Windows machine is not reproducible on a Linux Docker host",
            hint="reproduce on a Windows VM; the fingerprint still lists its packages",
        )
    os_ = fingerprint.get("os") or {}
    key = f"{os_.get('id')}:{os_.get('major') or os_.get('version_id')}"
    base = catalog.resolve(key)
    customer = fingerprint.get("packages") or {}
    present = customer_services(fingerprint, known if known is not None else load_services())
    services = [p.known for p in present]
    wanted = set(packages or [])
    for service in services:
        wanted |= {p for p in customer for g in service.packages if fnmatch.fnmatch(p, g)}
    unknown = sorted(w for w in wanted if w not in customer and w in (packages or []))
    if unknown:
        raise ConfigError(
            f"package(s) not installed on the customer's machine: {', '.join(unknown)}",
            hint="check the name with: remotefix fingerprint show BUNDLE --json",
        )
    boots_systemd = str(fingerprint.get("init") or "").startswith("systemd")
    if boots_systemd:
        wanted |= {p for p in systemd.PACKAGES if p in customer}
    pinned = dict(customer) if all_packages else {p: customer[p] for p in sorted(wanted)}
    globs = [g for service in services for g in service.files] + list(STATE_FILES)
    if boots_systemd:
        globs += UNIT_FILES
    links = _unit_links(bundle, bundle_members or []) if boots_systemd else set()
    members = [m for m in bundle_members or [] if "/" + m.removeprefix("files/") not in links]
    not_given = withheld_members(manifest or {})
    files, withheld = copied_files(members, globs, not_given)
    included, kept_out = included_files(manifest or {}, not_given)
    files, withheld = included | files, kept_out | withheld
    pinned |= journal_packages(bundle, files)
    if not boots_systemd:
        started = tuple(p.known.init for p in present if p.starts_in_lab)
        return LabSpec(base=base.key, packages=pinned, files=files, services=started,
                       bundle=bundle, withheld=withheld)  # fmt: skip
    units = {s.name: "enabled" if s.enabled else "disabled" for s in _units(fingerprint)
             if s.enabled is not None}  # fmt: skip
    started = tuple(
        s.name for s in _units(fingerprint)
        if s.enabled is False and s.state in (ServiceState.RUNNING, ServiceState.FAILED)
    )  # fmt: skip
    return LabSpec(base=base.key, packages=pinned, files=files, services=started, bundle=bundle,
                   withheld=withheld, init="systemd", units=units)  # fmt: skip


UNIT_FILES = ["/etc/systemd/system/*.service", "/etc/systemd/system/*.service.d/*.conf"]
LINKS_MEMBER = "commands/systemd-units/links.out"


def _units(fingerprint: dict[str, Any]) -> list[Service]:
    """The customer's systemd service units that a spec can name."""
    return [s for s in services_of(fingerprint)
            if s.source is ServiceSource.SYSTEMD and valid_unit(s.name)]  # fmt: skip


def _unit_links(bundle: Path | None, members: list[str]) -> set[str]:
    """Paths under /etc/systemd/system that are symlinks on the customer (aliases, masks)."""
    if bundle is None or LINKS_MEMBER not in members:
        return set()
    text = read_members(bundle, [LINKS_MEMBER])[LINKS_MEMBER].decode(errors="replace")
    return {line.split("\t", 1)[0] for line in text.splitlines() if line.strip()}


def copied_files(
    members: list[str], globs: list[str], not_given: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Lab path → ``bundle:`` source for the members under ``files/`` that match ``globs``, and
    the matching ones the customer did not give whole (path → why), which are never copied."""
    files, withheld = {}, {}
    for member in members:
        path = "/" + member.removeprefix("files/")
        if member.startswith("files/") and any(fnmatch.fnmatch(path, g) for g in globs):
            if member in not_given:
                withheld[path] = not_given[member]
            else:
                files[path] = f"bundle:{member}"
    return files, withheld


def journal_packages(bundle: Path | None, files: dict[str, str]) -> dict[str, str]:
    """Package → version named by the dpkg journal entries the lab gets: an interrupted package
    is not ``ii`` (so not in the fingerprint) but is on the customer's disk, so the lab has it
    too. Read from the bundle only when it holds such entries (an interrupted run is rare)."""
    members = [source.removeprefix("bundle:") for path, source in files.items()
               if any(fnmatch.fnmatch(path, g) for g in STATE_FILES)]  # fmt: skip
    if bundle is None or not members:
        return {}
    found = {}
    for data in read_members(bundle, members).values():
        for stanza in data.decode("utf-8", errors="replace").split("\n\n"):
            fields = dict(_FIELD.findall(stanza))
            name, version = fields.get("Package", ""), fields.get("Version", "")
            if _PACKAGE.fullmatch(name) and _VERSION.fullmatch(version):
                found[name] = version
    return found


_FIELD = re.compile(r"^(Package|Version): *(\S+) *$", re.M)
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_VERSION = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")


LAB_OWN_FILES = (
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/subuid", "/etc/subgid",
    "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/fstab", "/etc/machine-id",
    "/etc/sudoers", "/etc/sudoers.d/*", "/etc/ssh/ssh_host_*", "/root/.ssh/*",
)  # fmt: skip
"""Files a lab keeps its own even when the customer's were included: its users, name, network,
mounts and access (a copy would lock the engineer out or point the lab at the customer's hosts)."""


def included_files(
    manifest: dict[str, Any], not_given: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The application files the engineer included (``--include``, ``include:``) that the lab
    gets at the same path, and those it does not (path → why): not given whole, or the lab's
    own (``LAB_OWN_FILES``)."""
    files, withheld = {}, {}
    for collector in manifest.get("collectors") or ():
        if collector.get("name") != INCLUDE:
            continue
        for item in collector.get("items") or ():
            for member in item.get("members") or ():
                if not member.startswith("files/") or member.endswith(".stderr"):
                    continue
                path = "/" + member.removeprefix("files/")
                if member in not_given:
                    withheld[path] = not_given[member]
                elif any(fnmatch.fnmatchcase(path, own) for own in LAB_OWN_FILES):
                    withheld[path] = "not copied: the lab keeps its own (users, name, network)"
                else:
                    files[path] = f"bundle:{member}"
    return files, withheld


def withheld_members(manifest: dict[str, Any]) -> dict[str, str]:
    """Bundle members the customer's machine did not give whole, with why (from the manifest)."""
    out = {}
    for collector in manifest.get("collectors") or ():
        for item in collector.get("items") or ():
            status = str(item.get("status", ""))
            why = ""
            if status == "denied":
                why = f"denied on the customer ({item.get('reason') or 'permission denied'})"
            elif status in ("failed", "timed_out"):
                why = f"{status.replace('_', ' ')} on the customer"
            elif item.get("truncated"):
                why = "truncated on the customer (over the size cap)"
            for member in item.get("members") or () if why else ():
                out[str(member)] = why
    return out
