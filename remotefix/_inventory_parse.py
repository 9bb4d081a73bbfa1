"""Parse Ansible INI and YAML inventories into groups, hosts and variables (no Ansible import).

The result is a ``RawInventory``: every group's direct hosts, children and vars, and every host's
own vars, in order of first appearance. ``remotefix.inventory`` turns it into ``Target`` values.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.errors import ConfigError

_RANGE = re.compile(r"\[([^\]:]*):([^\]:]*)(?::([^\]]*))?\]")


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawInventory:
    groups: dict[str, Group] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group(name))

    def add_host(self, group: str, host: str, hostvars: dict[str, Any]) -> None:
        self.hostvars.setdefault(host, {}).update(hostvars)
        members = self.group(group).hosts
        if host not in members:
            members.append(host)


def expand_hosts(pattern: str) -> list[str]:
    """``web[01:03]`` → web01 web02 web03; ``db-[a:c]``; ``[1:10:2]`` steps. Nested ranges too."""
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    if start.isdigit() or (not start and end.isdigit()):
        width = len(start) if start.startswith("0") else 0
        values = [str(n).zfill(width) for n in range(int(start or 0), int(end) + 1, step)]
    elif start in string.ascii_letters and end in string.ascii_letters:
        letters = string.ascii_letters
        values = list(letters[letters.index(start) : letters.index(end) + 1 : step])
    else:
        raise ConfigError(f"bad host range {match.group(0)!r} in {pattern!r}")
    return [host for value in values for host in expand_hosts(f"{head}{value}{tail}")]


def load_raw(path: Path) -> RawInventory:
    """Read ``path`` as YAML when it looks like YAML (extension or content), else as INI."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml") or (path.suffix != ".ini" and _looks_like_yaml(text)):
        return _parse_yaml(path, text)
    return _parse_ini(path, text)


def _looks_like_yaml(text: str) -> bool:
    first = next((ln for ln in text.splitlines() if ln.strip() and ln[0] not in "#;"), "")
    return first.rstrip().endswith(":") and not first.startswith("[")


def _value(text: str) -> Any:
    """INI values as Ansible reads them: Python literals when they parse, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _parse_ini(path: Path, text: str) -> RawInventory:
    inv = RawInventory()
    inv.group("all")
    section, kind = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section, kind = _section(path, lineno, line)
            inv.group(section)
            continue
        try:
            _ini_line(inv, section, kind, line)
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"{path} line {lineno}: {exc}") from exc
    return inv


def _section(path: Path, lineno: int, line: str) -> tuple[str, str]:
    if not line.endswith("]"):
        raise ConfigError(f"{path} line {lineno}: unterminated section header {line!r}")
    name, _, kind = line[1:-1].partition(":")
    if kind not in ("", "vars", "children") or not name:
        raise ConfigError(f"{path} line {lineno}: bad section {line!r}")
    return name, kind or "hosts"


def _ini_line(inv: RawInventory, section: str, kind: str, line: str) -> None:
    if kind == "children":
        child = line.split()[0]
        inv.group(child)
        if child not in inv.group(section).children:
            inv.group(section).children.append(child)
        return
    if kind == "vars":
        key, eq, value = line.partition("=")
        if not eq:
            raise ConfigError(f"expected key=value in [{section}:vars], got {line!r}")
        inv.group(section).vars[key.strip()] = _value(value.strip())
        return
    tokens = shlex.split(line, comments=True)
    pattern, hostvars = tokens[0], {}
    for token in tokens[1:]:
        key, eq, value = token.partition("=")
        if not eq:
            raise ConfigError(f"expected key=value after the host name, got {token!r}")
        hostvars[key] = _value(value)
    pattern, port = _split_port(pattern)
    if port is not None:
        hostvars.setdefault("ansible_port", port)
    for host in expand_hosts(pattern):
        inv.add_host(section, host, dict(hostvars))


def _split_port(pattern: str) -> tuple[str, int | None]:
    head, sep, tail = pattern.rpartition(":")
    if sep and tail.isdigit() and "]" not in tail and head.count(":") == 0:
        return head, int(tail)
    return pattern, None


def _parse_yaml(path: Path, text: str) -> RawInventory:
    data = load_yaml(path, text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an inventory must be a mapping of groups")
    inv = RawInventory()
    inv.group("all")
    for name, body in data.items():
        _yaml_group(path, inv, str(name), body)
    return inv


def _yaml_group(path: Path, inv: RawInventory, name: str, body: Any) -> None:
    group = inv.group(name)
    if body is None:
        return
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: group {name!r} must be a mapping")
    unknown = set(body) - {"hosts", "children", "vars"}
    if unknown:
        raise ConfigError(f"{path}: group {name!r} has unknown keys {sorted(unknown)}")
    group.vars.update(body.get("vars") or {})
    for pattern, hostvars in (body.get("hosts") or {}).items():
        pattern, port = _split_port(str(pattern))
        values = dict(hostvars or {})
        if port is not None:
            values.setdefault("ansible_port", port)
        for host in expand_hosts(pattern):
            inv.add_host(name, host, dict(values))
    for child, child_body in (body.get("children") or {}).items():
        if str(child) not in group.children:
            group.children.append(str(child))
        _yaml_group(path, inv, str(child), child_body)
