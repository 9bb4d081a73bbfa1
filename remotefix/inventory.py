"""Ansible inventories → ``Target`` values, read by ansible-core itself.

Every source ``ansible-inventory`` accepts works (INI, YAML, directories with ``group_vars/`` and
``host_vars/``, scripts, inventory plugins, vault), with the same ``ansible.cfg`` and
``ANSIBLE_INVENTORY_*`` settings, and ``--limit`` is Ansible's own host pattern. Ansible is
imported only here, only when an inventory is read.

A host whose connection remotefix cannot drive (``lxc_ssh``, ``network_cli``, ``podman``…) is
*skipped* with its reason, never an error for the whole inventory. ``ansible_connection=local`` is
skipped too: it would run on the engineer's machine under the customer's host name, without any
consent (use ``local://`` for your own machine). Password variables never reach a ``Target``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from remotefix._inventory_bounds import check_sources
from remotefix.errors import ConfigError, TargetError
from remotefix.targets import Connection, Target, parse_address

if TYPE_CHECKING:
    from remotefix._ansible_inventory import AnsibleHost

_PREFIXES = ("ansible.builtin.", "ansible.legacy.")
_FAMILIES: dict[str, Connection] = {
    "ssh": "ssh", "paramiko": "ssh", "paramiko_ssh": "ssh", "smart": "ssh",
    "docker": "docker", "community.docker.docker": "docker",
    "community.docker.docker_api": "docker",
    "winrm": "winrm", "psrp": "winrm",
}  # fmt: skip
_OPTIONS = {
    "ansible_winrm_transport": "transport",
    "ansible_winrm_scheme": "scheme",
    "ansible_winrm_server_cert_validation": "cert",
    "ansible_winrm_ca_trust_path": "ca",
    "ansible_psrp_auth": "transport",
    "ansible_psrp_protocol": "scheme",
    "ansible_psrp_cert_validation": "cert",
    "ansible_psrp_ca_cert": "ca",
}
LOCAL_REFUSED = (
    "ansible_connection=local would run on this machine, not on the customer's; "
    "use local:// to work on your own machine"
)


@dataclass(frozen=True)
class InventorySource:
    """What ``-i`` and the vault options name. ``vault_password`` comes from a prompt only."""

    paths: tuple[str, ...]
    vault_password_files: tuple[str, ...] = ()
    vault_password: str | None = field(default=None, repr=False)
    warn: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def warning(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)


@dataclass(frozen=True)
class Skipped:
    """An inventory host remotefix will not touch, and why."""

    name: str
    connection: str
    host: str
    port: int | str | None
    user: str | None
    groups: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "address": None, "connection": self.connection,
            "host": self.host, "port": self.port, "user": self.user,
            "groups": list(self.groups), "options": {}, "skipped": self.reason,
        }  # fmt: skip


@dataclass(frozen=True)
class Inventory:
    """The hosts an inventory (after ``--limit``) holds: usable targets and skipped hosts."""

    targets: tuple[Target, ...]
    skipped: tuple[Skipped, ...]


def load_inventory(
    source: InventorySource | str | PathLike[str], limit: str | None = None
) -> Inventory:
    """Every host ``ansible-inventory -i SOURCE --limit LIMIT --list`` shows, as we would use it."""
    if not isinstance(source, InventorySource):
        source = InventorySource(paths=(os.fspath(source),))
    check_sources(source.paths)
    from remotefix._ansible_inventory import read_hosts

    reading = read_hosts(
        source.paths,
        limit=limit,
        vault_files=source.vault_password_files,
        vault_password=source.vault_password,
    )
    if limit and not reading.hosts:
        raise TargetError(
            f"--limit {limit!r} matches no host", hint="see `remotefix targets ls -i INVENTORY`"
        )
    converted = [_convert(h) for h in reading.hosts]
    for warning in reading.warnings:  # only once nothing failed: an error stays one line
        source.warning(warning)
    return Inventory(
        targets=tuple(c for c in converted if isinstance(c, Target)),
        skipped=tuple(c for c in converted if isinstance(c, Skipped)),
    )


def resolve_targets(
    addresses: list[str], inventory: InventorySource | str | PathLike[str] | None, limit: str | None
) -> list[Target]:
    """Addresses typed by the engineer plus an inventory's hosts (``--limit`` applies to those).

    Skipped inventory hosts are reported through the source's ``warn`` callback.
    """
    targets = [parse_address(a) for a in addresses]
    if limit and inventory is None:
        raise TargetError("--limit selects from an inventory", hint="pass -i INVENTORY too")
    if inventory is not None:
        found = load_inventory(inventory, limit)
        source = inventory if isinstance(inventory, InventorySource) else None
        for skipped in found.skipped:
            if source is not None:
                source.warning(f"skipping {skipped.name}: {skipped.reason}")
        targets += found.targets
    unique = list({t.name: t for t in targets}.values())
    if not unique:
        raise TargetError("no targets", hint="name a TARGET or pass -i INVENTORY")
    return unique


def _convert(host: AnsibleHost) -> Target | Skipped:
    name = host.connection
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    family = _FAMILIES.get(name)
    if family is None:
        why = LOCAL_REFUSED if name == "local" else (
            f"connection {host.connection!r} is not one remotefix can drive (ssh, winrm, docker)"
        )  # fmt: skip
        return Skipped(
            name=host.name, connection=host.connection, host=host.address,
            port=_lenient_port(host.port),
            user=None if host.user is None else str(host.user),
            groups=host.groups, reason=why,
        )  # fmt: skip
    address = host.extra.get("ansible_docker_host", host.address)  # wins in the docker plugins
    return Target(
        name=host.name,
        connection=family,
        host=address if family == "docker" else host.address,
        port=_port(host),
        user=str(host.user) if host.user not in (None, "") else None,
        groups=host.groups,
        options=MappingProxyType(_options(host)),
    )


def _lenient_port(port: Any) -> int | str | None:
    """A skipped host's port as shown: a number when it is one, else the text as written."""
    if port in (None, ""):
        return None
    return int(port) if str(port).strip().isdigit() else str(port)


def _port(host: AnsibleHost) -> int | None:
    if host.port in (None, ""):
        return None
    text = str(host.port).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(
            f"inventory host {host.name}: ansible_port {host.port!r} is not a port number",
            hint="use a number from 1 to 65535",
        )
    return int(text)


def _options(host: AnsibleHost) -> dict[str, str]:
    extra = host.extra
    options = {ours: extra[theirs] for theirs, ours in _OPTIONS.items() if theirs in extra}
    if host.private_key_file not in (None, ""):
        options["identity_file"] = str(host.private_key_file)
    args = f"{extra.get('ansible_ssh_common_args', '')} {extra.get('ansible_ssh_extra_args', '')}"
    jump = _proxy_jump(host.name, args)
    if jump:
        options["proxy_jump"] = jump
    return options


def _proxy_jump(name: str, args: str) -> str | None:
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise ConfigError(f"inventory host {name}: bad ansible_ssh_*_args: {exc}") from None
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else None
        if word == "-J" and following:
            return following
        if word.startswith("-J") and len(word) > 2:
            return word[2:]
        option: Any = word[2:] if word.startswith("-o") and len(word) > 2 else None
        option = option or (following if word == "-o" else None)
        if option and option.lower().startswith("proxyjump="):
            return str(option.split("=", 1)[1])
    return None
