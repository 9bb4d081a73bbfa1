"""User defaults for command options, from ``~/.config/remotefix/config.toml``.

``$REMOTEFIX_CONFIG`` names another file. ``[defaults]`` applies to every command that has the
option; a table named after a command (``[diagnose]``, ``[lab.up]``) applies to it alone and wins::

    [defaults]
    forks = 16
    timeout = 120
    mirror = "http://deb.debian.org/debian"
    registry = "127.0.0.1:5000"   # regress / lab up --runtime swarm

    [diagnose]
    profile = "quick"

Keys are option names with ``-`` written as ``_``; values are checked by the option itself.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from remotefix.errors import ConfigError

CONFIG_ENV = "REMOTEFIX_CONFIG"


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(platformdirs.user_config_dir("remotefix")) / "config.toml"


def load_config(path: Path | None = None, *, commands: set[str]) -> dict[str, Any]:
    """The parsed file (empty when there is none); ``ConfigError`` naming what is wrong."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix or remove the file") from exc
    unknown = sorted(set(data) - commands - {"defaults"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(unknown)}",
            hint="use [defaults] or a command's name, e.g. [diagnose] or [lab.up]",
        )
    bad = [k for k, v in data.items() if not isinstance(v, dict)]
    if bad:
        raise ConfigError(f"{path}: {bad[0]} must be a table", hint=f"write [{bad[0]}] above it")
    return data


def defaults_for(params: set[str], base: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """Values for one command: ``[defaults]`` where it has the option, then its own table."""
    out = {name: value for name, value in base.items() if name in params}
    out.update({k: v for k, v in table.items() if not isinstance(v, dict)})
    return out
