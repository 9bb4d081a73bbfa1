"""Environment fingerprint: what a machine is (OS, kernel, packages, services…), from collected
items; and the difference between two fingerprints.

Its shape is published as a JSON Schema (``remotefix/collect/fingerprint.schema.json``).
os-release is parsed by the ``distro`` library, never by hand.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import distro

from remotefix.collect.script import Item
from remotefix.services import Service, services_of, systemd_services
from remotefix.services_sysv import sysv_services

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "collect" / "fingerprint.schema.json"


class Items:
    """Collected items by ``cmd:collector/name`` and ``file:path`` (text, decoded leniently)."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._by: dict[str, Item] = {}
        for item in items:
            key = f"cmd:{item.collector}/{item.name}" if item.kind == "cmd" else f"file:{item.name}"
            self._by[key] = item

    def text(self, key: str) -> str:
        item = self._by.get(key)
        if item is None or item.exit_code != 0:
            return ""
        return (item.stdout or item.stderr).decode("utf-8", errors="replace")

    def first_line(self, key: str) -> str:
        return next(iter(self.text(key).splitlines()), "").strip()


def build_fingerprint(items: Iterable[Item]) -> dict[str, Any]:
    """The fingerprint of a Linux machine from its collected items."""
    got = Items(items)
    return {
        "schema_version": SCHEMA_VERSION,
        "os": os_info(got.text("file:/etc/os-release"), got.text("file:/etc/debian_version")),
        "kernel": got.first_line("cmd:os/uname-r"),
        "arch": got.first_line("cmd:os/uname-m"),
        "hostname": got.first_line("cmd:os/hostname"),
        "init": got.first_line("cmd:platform/pid1"),
        "container": got.first_line("cmd:platform/container") or "unknown",
        "package_manager": got.first_line("cmd:platform/package-manager"),
        "packages": dpkg_packages(got.text("cmd:packages/dpkg")),
        "services": [s.to_dict() for s in linux_services(got)],
        "versions": versions(got),
        "locale": _locale(got.text("file:/etc/default/locale")),
        "timezone": _timezone(
            got.first_line("file:/etc/timezone"), got.first_line("cmd:platform/localtime")
        ),
    }


def os_info(os_release: str, debian_version: str = "") -> dict[str, str]:
    """os-release (and /etc/debian_version for the point release) through ``distro``."""
    with tempfile.TemporaryDirectory(prefix="remotefix-osr-") as root:
        etc = Path(root, "etc")
        etc.mkdir()
        (etc / "os-release").write_text(os_release, encoding="utf-8")
        if debian_version:
            (etc / "debian_version").write_text(debian_version, encoding="utf-8")
        info = distro.LinuxDistribution(
            root_dir=root, include_lsb=False, include_uname=False, include_oslevel=False
        )
        return {
            "family": "linux",
            "id": info.id(),
            "version_id": info.version(best=False),
            "version": info.version(best=True),
            "major": info.major_version(),
            "codename": info.codename() or info.os_release_attr("version_codename"),
            "pretty_name": info.name(pretty=True),
        }


def dpkg_packages(text: str) -> dict[str, str]:
    """Installed packages (status ``ii``) from ``dpkg-query -W -f='${db:Status-Abbrev}\\t…'``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0].strip() == "ii":
            found[fields[1]] = fields[2]
    return dict(sorted(found.items()))


def linux_services(got: Items) -> list[Service]:
    """Services by unit name: systemctl's view when systemd runs, else the packages' traces."""
    unit_files = got.text("cmd:services/systemd-unit-files")
    units = got.text("cmd:services/systemd-units")
    if unit_files.strip() or units.strip():
        return systemd_services(unit_files, units)
    processes = got.text("cmd:services/processes").splitlines()
    comms = [line.partition("\t")[2].strip() for line in processes]
    installed = set(dpkg_packages(got.text("cmd:packages/dpkg")))
    return sysv_services(
        got.text("cmd:services/init-links"),
        got.text("cmd:services/packaged"),
        [c for c in comms if c],
        {name.split(":", 1)[0] for name in installed},
    )


def versions(got: Items) -> dict[str, str]:
    patterns = {
        "python": ("cmd:versions/python3", r"Python (\S+)"),
        "openssl": ("cmd:versions/openssl", r"OpenSSL (\S+)"),
        "openssh": ("cmd:versions/openssh", r"OpenSSH_(\S+?)[, ]"),
    }
    found = {}
    for name, (key, pattern) in patterns.items():
        match = re.search(pattern, got.text(key))
        if match:
            found[name] = match.group(1)
    return found


def _locale(default_locale: str) -> str:
    """The system's configured locale; a session's own LANG depends on how one logged in."""
    match = re.search(r"^LANG=[\"']?([^\"'\n]*)", default_locale, re.M)
    return match.group(1) if match else ""


def _timezone(etc_timezone: str, localtime_link: str) -> str:
    if etc_timezone:
        return etc_timezone
    return localtime_link.split("zoneinfo/", 1)[1] if "zoneinfo/" in localtime_link else ""


def diff_fingerprints(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``a`` to ``b``: scalar fields, packages and services."""
    scalars = ("kernel", "arch", "hostname", "init", "container", "locale", "timezone")
    changed = {k: [a.get(k), b.get(k)] for k in scalars if a.get(k) != b.get(k)}
    os_changed = {
        k: [a.get("os", {}).get(k), b.get("os", {}).get(k)]
        for k in sorted(set(a.get("os", {})) | set(b.get("os", {})))
        if a.get("os", {}).get(k) != b.get("os", {}).get(k)
    }
    return {
        "os": os_changed,
        "fields": changed,
        "packages": _mapping_diff(a.get("packages", {}), b.get("packages", {})),
        "services": _mapping_diff(_service_map(a), _service_map(b)),
    }


def _service_map(fp: dict[str, Any]) -> dict[str, str]:
    """``name`` → ``running, enabled``: a change of state or of enablement is a change."""
    return {s.name: s.summary for s in services_of(fp)}


def _mapping_diff(a: dict[str, str], b: dict[str, str]) -> dict[str, Any]:
    return {
        "added": {k: b[k] for k in sorted(set(b) - set(a))},
        "removed": {k: a[k] for k in sorted(set(a) - set(b))},
        "changed": {k: [a[k], b[k]] for k in sorted(set(a) & set(b)) if a[k] != b[k]},
    }
