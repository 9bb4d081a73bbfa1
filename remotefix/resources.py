"""Locate the data folders shipped with remotefix (``labs/``, ``playbooks/``).

In a source checkout they sit beside the package; in a wheel they are packaged under
``remotefix/_data``. ``$REMOTEFIX_LABS`` overrides the labs folder (e.g. a team's own catalog).
"""

from __future__ import annotations

import os
from pathlib import Path

from remotefix.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``labs`` or ``playbooks``), checked in order of precedence."""
    override = os.environ.get(f"REMOTEFIX_{name.upper()}")
    candidates = [Path(override)] if override else []
    candidates += [_PACKAGE / "_data" / name, _PACKAGE.parent / name]
    for path in candidates:
        if path.is_dir():
            return path
    raise ConfigError(
        f"data folder {name!r} not found (looked in {', '.join(map(str, candidates))})",
        hint=f"reinstall remotefix or set REMOTEFIX_{name.upper()}",
    )
