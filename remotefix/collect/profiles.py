"""Collector profiles: the built-in ``quick`` / ``full``, or a profile file.

A profile file (``diagnose --profile PATH.yaml``, or ``--profile NAME`` for
``<config dir>/profiles/NAME.yaml``, next to ``config.toml``) names a subset of the collectors
and the application's own files, checked in full before anything connects::

    base: full                        # the built-in profile whose items run (default: full)
    collectors: [os, packages, logs]  # a subset (default: every collector of the base)
    include: [/etc/myapp/*.yml, /var/log/myapp.log]   # bounded like --include
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml, string_list
from remotefix.collect.include import include_collector
from remotefix.collect.specs import PROFILES, Profile, load_collectors, select_collectors
from remotefix.config import config_path
from remotefix.errors import ConfigError

_KEYS = {"base", "collectors", "include"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class CollectorProfile:
    """What one diagnose run collects: a built-in profile's items, which collectors, which files."""

    name: str
    base: Profile = "full"
    collectors: tuple[str, ...] = ()
    """Exactly these collectors (empty: every collector of ``base``)."""
    include: tuple[str, ...] = ()


def profiles_dir() -> Path:
    return config_path().parent / "profiles"


def load_profile(ref: str) -> CollectorProfile:
    """``quick``, ``full``, a ``.yaml`` path, or the name of a file in ``profiles_dir()``."""
    if ref in PROFILES:
        return CollectorProfile(ref, base=ref)  # type: ignore[arg-type]
    path = Path(ref)
    if path.suffix not in (".yaml", ".yml"):
        if not _NAME.fullmatch(ref):
            raise ConfigError(f"--profile {ref!r}: not quick, full, a .yaml file or a name")
        path = profiles_dir() / f"{ref}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"no profile file {path}",
            hint=f"use quick, full, a .yaml path or {profiles_dir()}/NAME.yaml",
        )
    return parse_profile(load_yaml(path), where=str(path))


def parse_profile(raw: Any, *, where: str) -> CollectorProfile:
    """A validated profile: every collector known (Linux specs), every glob within bounds."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a profile is a mapping (base, collectors, include)")
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          hint=f"allowed: {', '.join(sorted(_KEYS))}")  # fmt: skip
    base = raw.get("base", "full")
    if base not in PROFILES:
        raise ConfigError(f"{where}: base must be one of {', '.join(PROFILES)}, not {base!r}")
    collectors = string_list(where, "collectors", raw.get("collectors"))
    include = string_list(where, "include", raw.get("include"))
    include_collector(include, where=f"{where}: include")
    try:
        select_collectors(load_collectors("linux"), only=collectors)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    return CollectorProfile(Path(where).stem, base, collectors, include)
