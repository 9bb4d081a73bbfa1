"""Services without a running systemd: what the packages left behind, and what runs.

Inputs are two collector outputs (``remotefix/collect/specs/linux.yaml``, collector ``services``):

* ``init-links``: ``init NAME`` (/etc/init.d), ``rc LEVEL S|K NAME`` (/etc/rc?.d links),
  ``unit NAME.service`` / ``masked`` / ``static`` / ``alias A B`` (unit files),
  ``wants NAME.service`` (``*.wants`` links), ``exec NAME PATH`` (a unit's ExecStart or an
  init script's DAEMON);
* ``packaged``: ``svc PKG PATH`` (a package's init scripts and unit files), ``exe PKG PATH`` (its
  programs whose name a running process has), ``dep PKG DEPENDS``.

A service is *running* when a process maps to it: by the program its unit or init script starts,
else through the process's package (or a package it depends on) shipping a service of a related
name. Nothing here can see a crash, so a service that does not run is *stopped*.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from remotefix.services import Service, ServiceSource, ServiceState

_BOOT_LEVELS = {"2", "3", "4", "5", "S"}


@dataclass
class _Seen:
    init: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)
    masked: set[str] = field(default_factory=set)
    static: set[str] = field(default_factory=set)  # unit files without [Install]
    aliases: set[str] = field(default_factory=set)
    wants: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)  # rc S links in boot levels
    execs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # prog → names
    shipped: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # pkg → names
    owner: dict[str, str] = field(default_factory=dict)  # service name → package
    programs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # prog → pkgs
    depends: dict[str, list[str]] = field(default_factory=dict)


def sysv_services(
    init_links: str, packaged: str, processes: list[str], installed: set[str]
) -> list[Service]:
    """Services of a machine without systemd; ``installed``: packages in state ``ii``."""
    seen = _parse(init_links, packaged)
    running = {s for comm in processes for s in _map_process(comm, seen)}
    names = (seen.init | seen.units | seen.wants | running) - seen.aliases
    out = []
    for name in sorted(n for n in names if not n.endswith("@")):
        owner = seen.owner.get(name)
        if owner is not None and owner not in installed:
            continue  # an init script left behind by a removed (not purged) package
        state = ServiceState.RUNNING if name in running else ServiceState.STOPPED
        out.append(Service(name, state, _enabled(name, seen), _source(name, seen)))
    return out


def _enabled(name: str, seen: _Seen) -> bool | None:
    """An init script: its rc S links decide (that is what boots without systemd); a unit
    file: masked, a ``*.wants`` link, or static (no ``[Install]``: nothing to enable)."""
    if name in seen.init:
        return name in seen.started
    if name in seen.masked:
        return False
    if name in seen.wants:
        return True
    if name in seen.static:
        return None
    return False if name in seen.units else None


def _source(name: str, seen: _Seen) -> ServiceSource:
    if name in seen.init:
        return ServiceSource.SYSVINIT
    return ServiceSource.UNIT_FILE if name in seen.units else ServiceSource.PROCESS


def _map_process(comm: str, seen: _Seen) -> set[str]:
    """The services a running program belongs to (empty: not a packaged service's program)."""
    direct = seen.execs.get(comm)
    if direct:
        return direct
    found: set[str] = set()
    for package in seen.programs.get(comm, ()):
        candidates = seen.shipped.get(package) or {
            s for dep in seen.depends.get(package, []) for s in seen.shipped.get(dep, ())
        }
        found |= {s for s in candidates if _related(comm, s)}
    return found


def _related(comm: str, service: str) -> bool:
    """``sshd``/``ssh``, ``postgres``/``postgresql``, ``nginx``/``nginx``."""
    a, b = comm.lower(), service.lower()
    short = min(len(a), len(b))
    return short >= 3 and (a.startswith(b) or b.startswith(a))


def _parse(init_links: str, packaged: str) -> _Seen:
    seen = _Seen()
    for fields in _tab_rows(init_links):
        _init_row(seen, fields)
    for fields in _tab_rows(packaged):
        _package_row(seen, fields)
    return seen


def _init_row(seen: _Seen, f: list[str]) -> None:
    kind, rest = f[0], [_unit(v) for v in f[1:]]
    if kind == "init" and rest:
        seen.init.add(rest[0])
    elif kind == "unit" and rest:
        seen.units.add(rest[0])
    elif kind == "masked" and rest:
        seen.masked.add(rest[0])
    elif kind == "static" and rest:
        seen.static.add(rest[0])
    elif kind == "alias" and len(rest) == 2 and rest[0] != rest[1]:
        seen.aliases.add(rest[0])
    elif kind == "wants" and rest:
        seen.wants.add(rest[0])
    elif kind == "rc" and len(f) == 4 and f[2] == "S" and f[1] in _BOOT_LEVELS:
        seen.started.add(f[3])
    elif kind == "exec" and len(f) == 3:
        seen.execs[_program(f[2])].add(rest[0])


def _package_row(seen: _Seen, f: list[str]) -> None:
    if len(f) != 3:
        return
    kind, package, value = f
    if kind == "svc":
        name = _unit(value.rsplit("/", 1)[-1])
        seen.shipped[package].add(name)
        seen.owner.setdefault(name, package)
    elif kind == "exe":
        seen.programs[_program(value)].add(package)
    elif kind == "dep":
        seen.depends[package] = [
            re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0]
            for part in value.split(",")
            for alt in part.split("|")
            if alt.strip()
        ]


def _program(path: str) -> str:
    """A program as ``/proc/PID/comm`` names it (basename, at most 15 characters)."""
    return path.rsplit("/", 1)[-1][:15]


def _unit(value: str) -> str:
    return value.removesuffix(".service")


def _tab_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if "\t" in line]
