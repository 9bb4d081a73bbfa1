"""Ask ansible-core itself what an inventory holds: its ``InventoryManager``, ``VariableManager``,
host patterns, vault and templating, with the same ``ansible.cfg`` / ``ANSIBLE_*`` settings as
``ansible-inventory``. Imported only when ``-i`` is given (ansible-core takes ~0.5 s to import).

Ansible's warnings are captured, never printed: failures become one ``ConfigError`` line, other
warnings are returned for the caller to show. Nothing here decides what remotefix can drive; that is
``remotefix.inventory``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import Any

from ansible import constants as C
from ansible.cli import CLI
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.path import unfrackpath
from ansible.utils.vars import combine_vars
from ansible.vars.manager import VariableManager
from ansible.vars.plugins import get_vars_from_inventory_sources

from remotefix._inventory_bounds import MAX_HOSTS
from remotefix.errors import ConfigError, TargetError

try:  # ansible-core >= 2.19: warnings captured as values
    from ansible._internal._display_utils import DeferredWarningContext
except ImportError:  # older: Ansible prints its warnings to stderr itself
    DeferredWarningContext = None  # type: ignore[assignment,misc]
try:  # ansible-core >= 2.19: vaulted strings decrypt through a process-wide context
    from ansible.parsing.vault import VaultSecretsContext
except ImportError:  # older: they decrypt through the loader
    VaultSecretsContext = None  # type: ignore[assignment,misc]

_MAPPED = ("connection", "remote_addr", "port", "remote_user", "private_key_file")
_PASSED = ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_docker_host")
_PASSED_PREFIXES = ("ansible_winrm_", "ansible_psrp_")


@dataclass(frozen=True)
class AnsibleHost:
    """One host as Ansible would connect to it: rendered connection variables, raw types."""

    name: str
    groups: tuple[str, ...]
    connection: str
    address: str
    port: Any
    user: Any
    private_key_file: Any
    extra: dict[str, str]


@dataclass(frozen=True)
class Reading:
    """What Ansible made of the sources: the hosts in order, and its warnings (one line each)."""

    hosts: list[AnsibleHost]
    warnings: list[str]


def read_hosts(
    sources: tuple[str, ...],
    *,
    limit: str | None,
    vault_files: tuple[str, ...],
    vault_password: str | None,
) -> Reading:
    """The hosts ``ansible-inventory -i SOURCES --limit LIMIT --list`` would show, in order."""
    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()  # as every ansible CLI does: plugins by FQCN, collections
    loader = DataLoader()
    with _Capture() as capture:
        try:
            _set_vault(loader, vault_files, vault_password)
            manager = InventoryManager(loader=loader, sources=list(sources), parse=False)
            _parse(manager, loader, sources, capture)
            check_host_count(len(manager.hosts))
            if limit:
                manager.subset(limit)
            hosts = manager.get_hosts("all")
            variables = VariableManager(loader=loader, inventory=manager)
            found = [_host(loader, variables, host) for host in hosts]
        except AnsibleError as exc:
            raise ConfigError(f"inventory: {_one_line(str(exc))}") from None
        return Reading(hosts=found, warnings=capture.warnings())


def check_host_count(count: int) -> None:
    """Refuse inventories past ``MAX_HOSTS`` (a bound on the work every later step does)."""
    if count > MAX_HOSTS:
        raise ConfigError(
            f"inventory holds {count} hosts, more than remotefix handles ({MAX_HOSTS})",
            hint="split it, or select a part with a smaller inventory source",
        )


def _parse(
    manager: InventoryManager, loader: DataLoader, sources: tuple[str, ...], capture: _Capture
) -> None:
    """Each source through Ansible's plugins; one that no plugin parses is an error, not empty."""
    for source in sources:
        if "," not in source:
            source = unfrackpath(source, follow=False)
        if "," not in source and not os.path.exists(source):
            raise TargetError(
                f"inventory {source} not found",
                hint="pass an inventory file, directory or script, or a host list like 'h1,h2,'",
            )
        mark = len(capture.texts())
        try:
            parsed = manager.parse_source(source)
        except AnsibleError as exc:
            raise ConfigError(f"inventory {source}: {_one_line(str(exc))}") from None
        if not parsed:
            failures = capture.failures(mark)
            why = failures[0] if failures else "no enabled inventory plugin accepts it"
            raise ConfigError(
                f"inventory {source}: Ansible cannot parse it: {why}",
                hint=f"check it with: ansible-inventory -i {shlex.quote(source)} --list",
            )
    manager.reconcile_inventory()
    for entity in (*manager.groups.values(), *manager.hosts.values()):
        found = get_vars_from_inventory_sources(loader, list(sources), [entity], "inventory")
        entity.vars = combine_vars(entity.vars, found)


def _host(loader: DataLoader, variables: VariableManager, host: Any) -> AnsibleHost:
    hostvars = variables.get_vars(host=host, include_hostvars=False, stage="all")
    templar = Templar(loader=loader, variables=hostvars)

    def value(*names: str, default: Any = None) -> Any:
        for name in names:
            if name in hostvars:
                return _render(templar, host.name, name, hostvars[name])
        return default

    mapped = {attr: C.MAGIC_VARIABLE_MAPPING[attr] for attr in _MAPPED}
    extra = {
        key: str(_render(templar, host.name, key, hostvars[key]))
        for key in hostvars
        if key in _PASSED or key.startswith(_PASSED_PREFIXES)
    }
    return AnsibleHost(
        name=host.name,
        groups=tuple(sorted(g.name for g in host.get_groups() if g.name != "all")),
        connection=str(value(*mapped["connection"], default=C.DEFAULT_TRANSPORT)),
        address=str(value(*mapped["remote_addr"], default=host.name)),
        port=value(*mapped["port"], default=C.DEFAULT_REMOTE_PORT),
        user=value(*mapped["remote_user"], default=C.DEFAULT_REMOTE_USER),
        private_key_file=value(*mapped["private_key_file"], default=C.DEFAULT_PRIVATE_KEY_FILE),
        extra=extra,
    )


def _render(templar: Templar, host: str, name: str, raw: Any) -> Any:
    """A variable as Ansible would use it: vault decrypted, templates rendered."""
    try:
        return templar.template(raw) if templar.is_possibly_template(raw) else _plain(raw)
    except (AnsibleError, ReferenceError) as exc:
        text = _one_line(str(exc))
        hint = None
        if "vault" in text.lower() or "decrypt" in text.lower():
            hint = "pass --vault-password-file FILE or --ask-vault-pass"
        raise ConfigError(f"inventory host {host}: cannot read {name}: {text}", hint=hint) from None


def _plain(raw: Any) -> Any:
    """Vault-encrypted values decrypt on ``str()``; everything else is returned as it is."""
    if type(raw).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        return str(raw)
    return raw


def _set_vault(loader: DataLoader, files: tuple[str, ...], password: str | None) -> None:
    """Vault secrets as ``ansible-inventory`` builds them, plus a prompted password if any."""
    extra = {} if VaultSecretsContext is None else {"initialize_context": False}
    try:
        secrets = CLI.setup_vault_secrets(
            loader,
            vault_ids=list(C.DEFAULT_VAULT_IDENTITY_LIST),
            vault_password_files=list(files),
            ask_vault_pass=False,
            auto_prompt=False,
            **extra,
        )
    except AnsibleError as exc:
        raise ConfigError(f"vault password: {_one_line(str(exc))}") from None
    if password is not None:
        secrets.append((C.DEFAULT_VAULT_IDENTITY, VaultSecret(password.encode())))
    loader.set_vault_secrets(secrets)
    if VaultSecretsContext is not None:
        current = VaultSecretsContext.current(optional=True)
        if current is None:
            VaultSecretsContext.initialize(VaultSecretsContext(secrets))
        else:  # one process may read several inventories (tests, the API)
            current.secrets = secrets


class _Capture:
    """Ansible's warnings held back while it works: failures are read, the rest returned."""

    def __init__(self) -> None:
        self._context = (
            None if DeferredWarningContext is None else DeferredWarningContext(variables={})
        )

    def __enter__(self) -> _Capture:
        if self._context is not None:
            self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)

    def texts(self, since: int = 0) -> list[str]:
        """One line per warning captured since the ``since``-th one."""
        found = self._context.get_warnings() if self._context is not None else []
        return [_event_text(summary.event) for summary in found[since:]]

    def failures(self, since: int) -> list[str]:
        return [t for t in self.texts(since) if t.startswith("Failed to parse inventory")]

    def warnings(self) -> list[str]:
        texts = dict.fromkeys(self.texts())
        return [f"ansible: {t}" for t in texts if not t.startswith("No inventory was parsed")]


def _event_text(event: Any) -> str:
    """An Ansible event and its causes on one line: ``msg: cause: cause``."""
    parts: list[str] = []
    while event is not None:
        msg = event.msg.strip().rstrip(".")
        if not parts or msg not in parts[-1]:
            parts.append(msg)
        event = event.chain.event if event.chain is not None else None
    return _one_line(": ".join(parts))


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
