"""Bounds on inventories, checked before Ansible expands anything.

Ansible expands host ranges eagerly: ``h[1:1000][1:1000][1:1000]`` is 10^9 host names built in
memory. The text of every inventory file is scanned first and the ranges' sizes multiplied
(without expanding them); past ``MAX_HOSTS`` the inventory is refused. The layers of ``generator``
plugin configs are multiplied the same way. Other sources that make hosts (scripts, cloud plugins)
are bounded by the host count Ansible reports once it has parsed them.
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Iterator
from pathlib import Path

import yaml

from remotefix.errors import ConfigError

MAX_HOSTS = 10_000
"""Most hosts one inventory may hold (a fleet of hundreds fits many times over)."""
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest inventory file read (a 10,000-host INI file is well under 1 MiB)."""

# Ansible's ranges: [01:50], [:9], [a:f], [1:9:2] (see ansible.plugins.inventory.detect_range).
_RANGE = re.compile(r"\[(\d*|[A-Za-z]):(\d+|[A-Za-z])(?::(\d+))?\]")


def check_sources(sources: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` when the sources' host ranges would expand past ``MAX_HOSTS``."""
    total = sum(range_hosts(s.replace(",", " ")) for s in sources if "," in s)  # host lists
    for path in (f for source in sources for f in _files(source)):
        text = _read(path)
        total += range_hosts(text) + generated_hosts(text)
        if total > MAX_HOSTS:
            raise _too_many(str(path))
    if total > MAX_HOSTS:
        raise _too_many(",".join(sources))


def _too_many(where: str) -> ConfigError:
    return ConfigError(
        f"inventory {where}: host ranges expand to more than {MAX_HOSTS} hosts",
        hint="use smaller ranges like web[01:50], or split the inventory",
    )


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(
                f"inventory file {path} is larger than {MAX_FILE_BYTES // 2**20} MiB",
                hint="split it or pass a smaller inventory",
            )
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read inventory file {path}: {exc.strerror}") from None


def range_hosts(text: str) -> int:
    """Hosts the ranged patterns in ``text`` name, counted without expanding them."""
    total = 0
    for word in text.split():
        sizes = [_size(*m.groups()) for m in _RANGE.finditer(word)]
        if sizes:
            total += math.prod(sizes)
    return total


def generated_hosts(text: str) -> int:
    """Hosts a ``generator`` plugin config makes: the product of its layers' lengths."""
    if "generator" not in text:
        return 0
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return 0
    if not isinstance(config, dict) or "generator" not in str(config.get("plugin", "")):
        return 0
    layers = config.get("layers")
    if not isinstance(layers, dict):
        return 0
    return math.prod(len(v) if isinstance(v, list) else 1 for v in layers.values())


def _size(start: str, end: str, step: str | None) -> int:
    stride = max(int(step or 1), 1)
    if end.isdigit() and (start.isdigit() or not start):
        return max(0, (int(end) - int(start or 0)) // stride + 1)
    if start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        return max(0, (letters.index(end) - letters.index(start)) // stride + 1)
    return 1


def _files(source: str) -> Iterator[Path]:
    """Files Ansible may read as static inventories (scripts run; their output is bounded later)."""
    path = Path(source)
    if path.is_file() and not os.access(path, os.X_OK):
        yield path
    elif path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                child = Path(root, name)
                if not name.startswith(".") and not os.access(child, os.X_OK):
                    yield child
