"""Which version of a package a lab gets: the customer's when the archive has it, else the nearest.

"Nearest" prefers the same upstream version (only the Debian revision differs, e.g. a security
update), then the closest neighbour in Debian version order (python-debian's ``Version``, the
same ordering dpkg uses; never string order). Every choice says whether it is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from debian.debian_support import Version

Status = Literal["exact", "approximated", "missing"]


@dataclass(frozen=True, slots=True)
class Choice:
    package: str
    wanted: str
    version: str | None
    status: Status
    note: str = ""

    @property
    def pin(self) -> str:
        """The apt argument: ``name=version`` (or ``name`` for "any version")."""
        return f"{self.package}={self.version}" if self.version else self.package


def parse_madison(text: str) -> dict[str, list[str]]:
    """``apt-cache madison`` output → {package: [versions, newest first, no duplicates]}."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3 or not parts[0] or not parts[1]:
            continue
        versions = found.setdefault(parts[0], [])
        if parts[1] not in versions:
            versions.append(parts[1])
    for versions in found.values():
        versions.sort(key=Version, reverse=True)
    return found


def choose(package: str, wanted: str, available: list[str]) -> Choice:
    """Pick the version to install for ``wanted`` (a Debian version or ``*``)."""
    if not available:
        return Choice(package, wanted, None, "missing", "not in the archive the lab can reach")
    if wanted == "*":
        return Choice(package, wanted, available[0], "exact", "any version (newest available)")
    if wanted in available:
        return Choice(package, wanted, wanted, "exact")
    target = Version(wanted)
    same_upstream = [v for v in available if Version(v).upstream_version == target.upstream_version]
    pool = same_upstream or available
    best = _closest(target, pool)
    why = "same upstream version, other Debian revision" if same_upstream else "nearest version"
    return Choice(package, wanted, best, "approximated", f"{wanted} is not in the archive; {why}")


def _closest(target: Version, pool: list[str]) -> str:
    """The nearest neighbour: the newest version below ``target``, else the oldest above it."""
    below = [v for v in pool if Version(v) < target]
    if below:
        return max(below, key=Version)
    return min(pool, key=Version)
