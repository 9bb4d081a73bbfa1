"""The fingerprint of a Windows machine, from the PowerShell collectors' JSON, in the same
schema as Linux: ``os.family = windows``, packages = installed programs, services = the SCM's.

``ConvertTo-Json`` gives an object for one element and a list for several, and PowerShell 5.1
wraps dates as ``/Date(ms)/``; both are normalised here. A collector the user was not allowed to
run leaves its fields empty rather than failing the fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from remotefix.collect.script import Item
from remotefix.fingerprint import SCHEMA_VERSION, Items
from remotefix.services import Service, ServiceSource, ServiceState

_ARCH = {
    "64-bit": "x86_64",
    "64 bits": "x86_64",
    "32-bit": "i686",
    "arm 64-bit": "aarch64",
    "arm64": "aarch64",
    "arm 64-bit processor": "aarch64",
}
_SERVICE_STATE = {"running": ServiceState.RUNNING, "stopped": ServiceState.STOPPED}


def _json(got: Items, key: str) -> Any:
    text = got.text(key).strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def build_windows_fingerprint(items: Iterable[Item]) -> dict[str, Any]:
    got = Items(items)
    os_row = next(iter(_rows(_json(got, "cmd:os/os"))), {})
    computer = next(iter(_rows(_json(got, "cmd:os/computer"))), {})
    time_row = next(iter(_rows(_json(got, "cmd:time/time"))), {})
    version = str(os_row.get("Version") or "")
    build = str(os_row.get("BuildNumber") or "")
    ubr = os_row.get("UBR")
    powershell = _json(got, "cmd:os/powershell")
    return {
        "schema_version": SCHEMA_VERSION,
        "os": {
            "family": "windows",
            "id": "windows",
            "version_id": version,
            "version": f"{version}.{ubr}" if version and ubr is not None else version,
            "major": version.split(".")[0] if version else "",
            "codename": str(os_row.get("DisplayVersion") or ""),
            "pretty_name": str(os_row.get("Caption") or "").strip(),
            "build": build,
            "edition": str(os_row.get("EditionID") or ""),
        },
        "kernel": f"{version}.{ubr}" if version and ubr is not None else version,
        "arch": _ARCH.get(
            str(os_row.get("OSArchitecture", "")).strip().lower(),
            str(os_row.get("OSArchitecture") or ""),
        ),
        "hostname": str(os_row.get("CSName") or ""),
        "init": "windows-scm",
        "container": _virtualisation(computer),
        "package_manager": "windows-installer",
        "packages": programs(_json(got, "cmd:programs/programs")),
        "services": services(_json(got, "cmd:services/services")),
        "versions": {"powershell": str(powershell)} if isinstance(powershell, str) else {},
        "locale": str(time_row.get("Culture") or ""),
        "timezone": str(time_row.get("TimeZone") or ""),
    }


def programs(value: Any) -> dict[str, str]:
    """Installed programs {DisplayName: DisplayVersion}; a 32- and a 64-bit entry of the same
    name and version collapse, different versions of one name are both kept (name [n])."""
    found: dict[str, str] = {}
    for row in _rows(value):
        name = str(row.get("DisplayName") or "").strip()
        if not name:
            continue
        version = str(row.get("DisplayVersion") or "").strip()
        key, n = name, 1
        while key in found and found[key] != version:
            n += 1
            key = f"{name} [{n}]"
        found[key] = version
    return dict(sorted(found.items()))


def services(value: Any) -> list[dict[str, Any]]:
    """The SCM's services in the shared schema; paused / pending states are ``unknown``."""
    rows = []
    for row in _rows(value):
        name = str(row.get("Name") or "")
        if not name:
            continue
        mode = _start_type(row.get("StartType"))
        service = Service(name, _status(row.get("Status")), _START_ENABLED.get(mode),
                          ServiceSource.WINDOWS, start_mode=mode)  # fmt: skip
        rows.append(service.to_dict())
    return sorted(rows, key=lambda r: str(r["name"]).lower())


# PowerShell 5.1 without "$(...)" serialises enums as numbers
_STATUS_CODES = {1: "stopped", 2: "start_pending", 3: "stop_pending", 4: "running", 7: "paused"}
_START_CODES = {0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}
_START_ENABLED = {"boot": True, "system": True, "automatic": True,
                  "automaticdelayedstart": True, "disabled": False}  # fmt: skip


def _status(value: Any) -> ServiceState:
    text = _STATUS_CODES.get(value, "") if isinstance(value, int) else str(value or "").lower()
    return _SERVICE_STATE.get(text.strip(), ServiceState.UNKNOWN)


def _start_type(value: Any) -> str:
    if isinstance(value, int):
        return _START_CODES.get(value, str(value))
    return str(value or "").lower()


def _virtualisation(computer: dict[str, Any]) -> str:
    model = f"{computer.get('Manufacturer', '')} {computer.get('Model', '')}".lower()
    for needle, name in (
        ("vmware", "vmware"),
        ("virtualbox", "virtualbox"),
        ("kvm", "kvm"),
        ("qemu", "kvm"),
        ("virtual machine", "hyper-v"),
        ("amazon ec2", "aws"),
        ("google compute", "gce"),
    ):
        if needle in model:
            return name
    return "none" if computer else "unknown"
