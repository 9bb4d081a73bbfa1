"""Services as the init system names them (``ssh``, ``postgresql@15-main``), with their state.

On a systemd host the truth is ``systemctl`` (unit files + units). Without systemd (a container,
sysvinit) a service is known from what its package left behind: an init script, ``/etc/rc?.d``
links, a unit file and the ``*.wants`` links ``deb-systemd-helper`` makes; a running process is
mapped to its package's service (``sshd`` in openssh-server → ``ssh``; ``postgres`` in
postgresql-15, which depends on postgresql-common → ``postgresql``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ServiceState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    EXITED = "exited"  # a oneshot that ran and finished (systemd: active/exited)
    UNKNOWN = "unknown"


class ServiceSource(StrEnum):
    SYSTEMD = "systemd"  # systemctl, systemd running
    SYSVINIT = "sysvinit"  # an init script in /etc/init.d (systemd not running)
    UNIT_FILE = "unit-file"  # only a packaged unit file (systemd not running)
    PROCESS = "process"  # only a running process, mapped to its package's service
    WINDOWS = "windows"  # the Windows service control manager


@dataclass(frozen=True, slots=True)
class Service:
    """One service; ``enabled`` is None when the init system does not say (static, manual)."""

    name: str
    state: ServiceState
    enabled: bool | None
    source: ServiceSource
    start_mode: str | None = None  # Windows only: automatic, manual, disabled, ...

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "state": self.state.value,
            "enabled": self.enabled,
            "source": self.source.value,
        }
        if self.start_mode is not None:
            out["start_mode"] = self.start_mode
        return out

    @property
    def summary(self) -> str:
        """``running, enabled``: what a fingerprint diff compares."""
        flag = {True: ", enabled", False: ", disabled", None: ""}[self.enabled]
        return self.state.value + flag


def services_of(fingerprint: dict[str, Any]) -> list[Service]:
    """The typed services of a fingerprint (old bundles: ``active`` → running, no ``enabled``)."""
    return [service_from_dict(raw) for raw in fingerprint.get("services") or []]


def service_from_dict(raw: dict[str, Any]) -> Service:
    state = str(raw.get("state") or "unknown")
    state = {"active": "running", "inactive": "stopped", "dead": "stopped"}.get(state, state)
    source = str(raw.get("source") or "process")
    enabled = raw.get("enabled")
    return Service(
        name=str(raw.get("name") or ""),
        state=_enum(ServiceState, state, ServiceState.UNKNOWN),
        enabled=enabled if isinstance(enabled, bool) else None,
        source=_enum(ServiceSource, source, ServiceSource.PROCESS),
        start_mode=raw.get("start_mode"),
    )


def _enum(kind: Any, value: str, default: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return default


# --- systemd: systemctl list-unit-files / list-units ----------------------------------------

_ENABLED = {"enabled": True, "enabled-runtime": True, "disabled": False, "masked": False,
            "masked-runtime": False}  # fmt: skip
_ACTIVE = {"failed": ServiceState.FAILED, "inactive": ServiceState.STOPPED}


def systemd_services(unit_files: str, units: str) -> list[Service]:
    """Every service unit systemd knows: installed unit files and loaded units (instances)."""
    enabled: dict[str, bool | None] = {}
    for row in _rows(unit_files, 2):
        name, state = row[0].removesuffix(".service"), row[1]
        if state != "alias" and row[0].endswith(".service"):
            enabled[name] = _ENABLED.get(state)
    states: dict[str, ServiceState] = {}
    for row in _rows(units, 4):
        unit, load, active, sub = row[:4]
        if unit.endswith(".service") and load != "not-found":
            states[unit.removesuffix(".service")] = _unit_state(active, sub)
    names = {n for n in enabled if not n.endswith("@")} | set(states)
    return sorted(
        (
            Service(n, states.get(n, ServiceState.STOPPED), _instance_enabled(n, enabled),
                    ServiceSource.SYSTEMD)
            for n in names
        ),
        key=lambda s: s.name,
    )  # fmt: skip


def _unit_state(active: str, sub: str) -> ServiceState:
    if active == "active":
        return ServiceState.EXITED if sub == "exited" else ServiceState.RUNNING
    if active in ("activating", "deactivating", "reloading", "refreshing"):
        return ServiceState.UNKNOWN
    return _ACTIVE.get(active, ServiceState.UNKNOWN)


def _instance_enabled(name: str, enabled: dict[str, bool | None]) -> bool | None:
    if name in enabled:
        return enabled[name]
    template = name.split("@", 1)[0] + "@" if "@" in name else None
    return enabled.get(template) if template else None


def _rows(text: str, width: int) -> Iterable[list[str]]:
    for line in text.splitlines():
        fields = line.lstrip("●* ").split()
        if len(fields) >= width:
            yield fields
