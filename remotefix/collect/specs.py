"""Collector specs: what to run or read, for which OS, with which timeout and size cap.

Specs are data (``remotefix/collect/specs/<os>.yaml``), validated into frozen dataclasses; the
script renderer and the parser are generic. Unknown keys are errors, so a typo never silently
turns a collector off.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from remotefix._yaml import load_yaml
from remotefix.errors import ConfigError

SPEC_DIR = Path(__file__).parent / "specs"
Profile = Literal["quick", "full"]
PROFILES: tuple[Profile, ...] = ("quick", "full")
MAX_TIMEOUT = 600
MAX_BYTES = 64 * 1024 * 1024
_KEYS = {
    "name",
    "description",
    "profiles",
    "when",
    "timeout",
    "max_bytes",
    "root",
    "commands",
    "files",
}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    run: str


@dataclass(frozen=True, slots=True)
class Collector:
    """One collector: its commands and files share its timeout (per item) and cap."""

    name: str
    os: str
    description: str
    profiles: tuple[Profile, ...]
    timeout: int
    max_bytes: int
    root: bool = False
    when: str | None = None
    commands: tuple[Command, ...] = ()
    files: tuple[str, ...] = ()
    folders: bool = False
    """A glob naming a folder brings the files in it (``diagnose --include``)."""


def load_collectors(os_family: str = "linux", path: Path | None = None) -> list[Collector]:
    """All collectors of ``os_family`` (``linux`` / ``windows``), in file order."""
    path = path or SPEC_DIR / f"{os_family}.yaml"
    if not path.is_file():
        raise ConfigError(f"no collector specs for {os_family!r} ({path} missing)")
    stat = path.stat()
    return list(_parsed(path, os_family, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _parsed(path: Path, os_family: str, mtime_ns: int, size: int) -> tuple[Collector, ...]:
    """Parsed once per file version: a fleet run of many hosts parses the YAML once."""
    raw = load_yaml(path)
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of collectors")
    collectors = [_collector(path, i, item, os_family) for i, item in enumerate(raw)]
    names = [c.name for c in collectors]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"{path}: duplicate collector names {sorted(duplicates)}")
    return tuple(collectors)


def select_collectors(
    collectors: Iterable[Collector],
    *,
    profile: Profile = "full",
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> list[Collector]:
    """The collectors a run uses: the profile's, or exactly ``only``; minus ``skip``."""
    pool = list(collectors)
    known = {c.name for c in pool}
    unknown = (set(only) | set(skip)) - known
    if unknown:
        raise ConfigError(
            f"unknown collector(s) {', '.join(sorted(unknown))}",
            hint=f"known: {', '.join(sorted(known))}",
        )
    chosen = (
        [c for c in pool if c.name in set(only)]
        if only
        else [c for c in pool if profile in c.profiles]
    )
    return [c for c in chosen if c.name not in set(skip)]


def _collector(path: Path, index: int, item: Any, os_family: str) -> Collector:
    where = f"{path} collector #{index + 1}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping")
    where = f"{path} collector {item.get('name', '#' + str(index + 1))!r}"
    unknown = set(item) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    profiles = tuple(item.get("profiles") or ())
    if not profiles or set(profiles) - set(PROFILES):
        raise ConfigError(f"{where}: profiles must be a non-empty subset of {list(PROFILES)}")
    commands = tuple(_command(where, c) for c in item.get("commands") or ())
    files = tuple(_glob(where, f) for f in item.get("files") or ())
    if not commands and not files:
        raise ConfigError(f"{where}: needs commands or files")
    return Collector(
        name=_name(where, item.get("name")),
        os=os_family,
        description=str(item.get("description") or ""),
        profiles=profiles,  # type: ignore[arg-type]
        timeout=_bounded(where, "timeout", item.get("timeout"), MAX_TIMEOUT),
        max_bytes=_bounded(where, "max_bytes", item.get("max_bytes"), MAX_BYTES),
        root=bool(item.get("root", False)),
        when=str(item["when"]) if item.get("when") else None,
        commands=commands,
        files=files,
    )


def _command(where: str, raw: Any) -> Command:
    if not isinstance(raw, dict) or set(raw) != {"name", "run"}:
        raise ConfigError(f"{where}: each command needs exactly 'name' and 'run'")
    return Command(_name(where, raw["name"]), str(raw["run"]))


_GLOB = re.compile(r"^/[A-Za-z0-9_./*?@+\[\]-]+$")


def _glob(where: str, value: Any) -> str:
    """File globs are expanded by the shell: absolute, and no spaces or shell syntax."""
    text = str(value)
    if not _GLOB.match(text) or ".." in text.split("/"):
        raise ConfigError(f"{where}: file glob {text!r} must be an absolute path (glob chars ok)")
    return text


def _name(where: str, value: Any) -> str:
    text = str(value or "")
    if not text or not all(ch.isalnum() or ch in "-_." for ch in text):
        raise ConfigError(f"{where}: name {text!r} must be letters, digits, '-', '_' or '.'")
    return text


def _bounded(where: str, key: str, value: Any, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= limit:
        raise ConfigError(f"{where}: {key} must be an integer in 1..{limit} (every item needs one)")
    return value
