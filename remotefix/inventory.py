"""Ansible inventories (INI and YAML) → ``Target`` values, with Ansible's own semantics.

Group vars are applied in Ansible's order (shallower groups first, then by
``ansible_group_priority``, then by name) and host vars win; a host in no group but ``all`` lands in
``ungrouped``. Password variables are dropped: a password never travels inside a ``Target``.
The test suite checks the result against ``ansible-inventory --list``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from types import MappingProxyType
from typing import Any

from remotefix._inventory_parse import RawInventory, load_raw
from remotefix.errors import TargetError
from remotefix.patterns import select
from remotefix.targets import Connection, Target, parse_address

_CONNECTIONS: dict[str, Connection] = {
    "ssh": "ssh", "paramiko": "ssh", "paramiko_ssh": "ssh", "smart": "ssh",
    "ansible.builtin.ssh": "ssh", "local": "local", "ansible.builtin.local": "local",
    "docker": "docker", "community.docker.docker": "docker",
    "community.docker.docker_api": "docker",
    "winrm": "winrm", "psrp": "winrm", "ansible.builtin.winrm": "winrm",
}  # fmt: skip
_OPTIONS = {
    "ansible_ssh_private_key_file": "identity_file",
    "ansible_private_key_file": "identity_file",
    "ansible_winrm_transport": "transport",
    "ansible_winrm_scheme": "scheme",
    "ansible_winrm_server_cert_validation": "cert",
    "ansible_winrm_ca_trust_path": "ca",
}


def load_inventory(path: str | Path) -> list[Target]:
    """Every host of the inventory at ``path`` as a ``Target``, in order of first appearance."""
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"inventory {path} not found", hint="pass an INI or YAML inventory file")
    raw = load_raw(path)
    parents = _link_to_all(raw)
    depth = _depths(raw, parents)
    return [_target(raw, host, _ancestors(raw, host, parents), depth) for host in raw.hostvars]


def resolve_targets(
    addresses: list[str], inventory: str | Path | None, limit: str | None
) -> list[Target]:
    """Addresses typed by the engineer plus an inventory's hosts, filtered by ``--limit``."""
    targets = [parse_address(a) for a in addresses]
    if inventory is not None:
        targets += load_inventory(inventory)
    if limit:
        targets = select(targets, limit)
    unique = list({t.name: t for t in targets}.values())
    if not unique:
        raise TargetError("no targets", hint="name a TARGET or pass -i INVENTORY")
    return unique


def _link_to_all(raw: RawInventory) -> dict[str, set[str]]:
    """Parents of every group; a group nobody claims is a child of ``all`` (as in Ansible).

    Hosts in no group but ``all`` join ``ungrouped``.
    """
    for host in raw.hostvars:
        if _only_in_all(raw, host):
            raw.add_host("ungrouped", host, {})
    raw.group("ungrouped")
    parents: dict[str, set[str]] = {name: set() for name in raw.groups}
    for group in raw.groups.values():
        for child in group.children:
            parents[child].add(group.name)
    for name, found in parents.items():
        if name != "all" and not found:
            found.add("all")
    return parents


def _only_in_all(raw: RawInventory, host: str) -> bool:
    return all(g.name == "all" for g in raw.groups.values() if host in g.hosts)


def _depths(raw: RawInventory, parents: dict[str, set[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def of(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            ups = [p for p in parents.get(name, ()) if p not in seen]
            depth[name] = 1 + max((of(p, seen | {name}) for p in ups), default=-1)
        return depth[name]

    for name in raw.groups:
        of(name)
    return depth


def _ancestors(raw: RawInventory, host: str, parents: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    todo = [g.name for g in raw.groups.values() if host in g.hosts]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(parents.get(name, ()))
    found.add("all")
    if len(found) > 2:
        found.discard("ungrouped")
    return found


def _target(raw: RawInventory, host: str, groups: set[str], depth: dict[str, int]) -> Target:
    order = sorted(groups, key=lambda g: (depth[g], _priority(raw, g), g))
    merged: dict[str, Any] = {}
    for name in order:
        merged.update(raw.groups[name].vars)
    merged.update(raw.hostvars[host])
    connection = _connection(host, merged)
    port = merged.get("ansible_port", merged.get("ansible_ssh_port"))
    user = merged.get("ansible_user", merged.get("ansible_ssh_user"))
    return Target(
        name=host,
        connection=connection,
        host="" if connection == "local" else str(merged.get("ansible_host", host)),
        port=int(port) if port not in (None, "") else None,
        user=str(user) if user not in (None, "") else None,
        groups=tuple(sorted(g for g in groups if g != "all")),
        options=MappingProxyType(_options(merged)),
    )


def _priority(raw: RawInventory, group: str) -> int:
    return int(raw.groups[group].vars.get("ansible_group_priority", 1))


def _connection(host: str, merged: dict[str, Any]) -> Connection:
    name = str(merged.get("ansible_connection", "ssh"))
    if name not in _CONNECTIONS:
        raise TargetError(f"host {host}: unsupported ansible_connection {name!r}")
    return _CONNECTIONS[name]


def _options(merged: dict[str, Any]) -> dict[str, str]:
    options = {ours: str(merged[theirs]) for theirs, ours in _OPTIONS.items() if theirs in merged}
    args = f"{merged.get('ansible_ssh_common_args', '')} {merged.get('ansible_ssh_extra_args', '')}"
    jump = _proxy_jump(args)
    if jump:
        options["proxy_jump"] = jump
    return options


def _proxy_jump(args: str) -> str | None:
    words = shlex.split(args)
    for i, word in enumerate(words):
        if word == "-J" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("-J") and len(word) > 2:
            return word[2:]
        option = word[2:] if word.startswith("-o") and len(word) > 2 else None
        option = option or (words[i + 1] if word == "-o" and i + 1 < len(words) else None)
        if option and option.lower().startswith("proxyjump="):
            return option.split("=", 1)[1]
    return None
