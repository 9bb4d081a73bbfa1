"""``fix -e name=value``: playbook variables, never connection settings.

Extra vars outrank the generated inventory, so one ``-e ansible_host=…`` would send the playbook
to a machine that has no grant (and ``-e ansible_ssh_common_args=…`` could turn host-key checking
off) while the audit names the consented target. Every variable Ansible reads to decide *where*,
*as whom* or *how* to connect or elevate is refused: the names ansible-core's own connection,
become and shell plugins declare, its magic connection variables, and the families the plugins of
collections use (``ansible_ssh_*``, ``ansible_become*``, ``ansible_*_args``, …). Ordinary
variables (``ansible_python_interpreter`` included) stay allowed.
"""

from __future__ import annotations

import functools
import re

from remotefix.errors import FixVarError

_FAMILIES = re.compile(
    r"ansible_(?:"
    r"(?:ssh|sshpass|become|sudo|su|runas|paramiko|libssh|winrm|psrp|docker|podman|kubectl"
    r"|netconf|httpapi|network|connection|jump|proxy|control_path)(?:_.*)?"
    r"|.*_args|(?:.*_)?(?:host|hosts|port|user|pass|password|passphrase)"
    r"|(?:.*_)?private_key(?:_.*)?|(?:.*_)?host_key_checking|(?:.*_)?executable"
    r"|(?:.*_)?timeout|shell_type|pipelining|remote_tmp|delegated_vars"
    r")"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_extra_vars(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``name=value`` pairs as a dict; a connection variable or a bad pair is refused."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _NAME.fullmatch(key):
            raise FixVarError(
                f"bad --extra-vars {pair!r}", hint="use name=value (files with @ are not read)"
            )
        out[key] = value
    check_extra_vars(out)
    return out


def check_extra_vars(extra_vars: dict[str, str]) -> None:
    """Raise ``FixVarError`` when any name would change the connection or elevation."""
    refused = sorted(k for k in extra_vars if is_connection_var(k))
    if refused:
        raise FixVarError(
            f"--extra-vars may not set connection variable(s) {', '.join(refused)}: "
            "the connection is the consented target's, from remotefix",
            hint="drop them; change the target or its inventory entry (and its grant) instead",
        )


def is_connection_var(name: str) -> bool:
    """True for every variable that decides where, as whom or how Ansible connects."""
    if _FAMILIES.fullmatch(name):
        return True
    return (name.startswith("ansible_") or name == "inventory_hostname") and name in _declared()


@functools.cache
def _declared() -> frozenset[str]:
    """The variable names ansible-core's connection, become and shell plugins read."""
    from ansible import constants
    from ansible.plugins.loader import become_loader, connection_loader, shell_loader

    names = {v for values in constants.MAGIC_VARIABLE_MAPPING.values() for v in values}
    for loader, kind in ((connection_loader, "connection"), (become_loader, "become"),
                         (shell_loader, "shell")):  # fmt: skip
        for plugin in loader.all(class_only=True):
            options = constants.config.get_configuration_definitions(kind, plugin._load_name)
            for option in (options or {}).values():
                names.update(v["name"] for v in option.get("vars") or [])
    return frozenset(n for n in names if _NAME.fullmatch(n))
