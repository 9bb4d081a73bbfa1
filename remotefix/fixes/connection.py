"""How Ansible reaches a target: the session's own view of it, never a second policy.

A target is resolved exactly as the SSH transport resolves it (address fields over
``~/.ssh/config``: HostName, Port, User, IdentityFile, ProxyJump), and its host keys are the keys
the session trusts (``~/.ssh/known_hosts`` plus remotefix's own file, plus a lab's pinned file),
copied into a private ``known_hosts`` that OpenSSH reads with strict checking. OpenSSH gets its
own ``ssh_config`` (``-F``), so neither the user's ssh config nor the global known hosts can
weaken that; the bastion of ProxyJump is held to the same file. Nothing secret is written.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix.errors import FixError
from remotefix.hostkeys import host_entry, known_host_keys
from remotefix.targets import Target
from remotefix.transports._ssh_settings import SSHSettings, resolve
from remotefix.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One SSH hop after resolution: where, as whom, with which key files."""

    host: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: SSHSettings) -> Endpoint:
        return cls(settings.host, settings.port, settings.user, settings.identity_files)

    @property
    def known_as(self) -> str:
        return host_entry(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Host:
    """How Ansible reaches one target (everything but secrets)."""

    name: str
    connection: str = "ssh"
    endpoint: Endpoint | None = None
    jump: Endpoint | None = None
    pinned_known_hosts: Path | None = None  # a lab's own file, trusted next to the usual ones

    def variables(self, ssh_config: Path) -> dict[str, Any]:
        """The inventory variables of this host (``ssh_config``: from ``write_ssh_files``)."""
        if self.connection == "local":
            return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        assert self.endpoint is not None
        args = ["-F", str(ssh_config)]
        if self.endpoint.key_files:
            args += ["-o", "IdentitiesOnly=yes"]
            for key in self.endpoint.key_files:
                args += ["-i", key]
        if self.jump:
            args += ["-J", f"{self.jump.user}@{_bracket(self.jump.host)}:{self.jump.port}"]
        out: dict[str, Any] = {
            "ansible_connection": "ssh",
            "ansible_host": self.endpoint.host,
            "ansible_port": self.endpoint.port,
            "ansible_user": self.endpoint.user,
            "ansible_ssh_common_args": shlex.join(args),
            "ansible_python_interpreter": "auto_silent",
        }
        if self.endpoint.user != "root":
            out |= {"ansible_become": True, "ansible_become_method": "sudo"}
        return out


def host_for(target: Target, workspace: Workspace) -> Host:
    """The Ansible view of an ssh or local target (labs: see ``remotefix.fixes.fix.lab_host``)."""
    if target.connection == "local":
        return Host(target.name, connection="local")
    if target.connection != "ssh":
        raise FixError(
            f"{target.name}: fixes run over ssh (or local), not {target.connection}",
            hint="labs are reached through their sshd; winrm fixes are not built yet",
        )
    settings = resolve(target)
    jump = Endpoint.of(resolve(settings.proxy_jump)) if settings.proxy_jump else None
    return Host(target.name, endpoint=Endpoint.of(settings), jump=jump)


def write_ssh_files(hosts: list[Host], workspace: Workspace, directory: Path) -> Path:
    """Write ``known_hosts`` (the session's keys for these hosts) and ``ssh_config``; return it."""
    known = directory / "known_hosts"
    lines = []
    for host in hosts:
        extra = [host.pinned_known_hosts] if host.pinned_known_hosts else []
        trusted = known_host_keys(workspace, extra)
        for hop in (host.endpoint, host.jump):
            if hop is not None:
                keys = trusted.lookup(hop.known_as) or {}
                lines += [f"{hop.known_as} {k.get_name()} {k.get_base64()}" for k in keys.values()]
    known.write_text("".join(f"{line}\n" for line in sorted(set(lines))))
    config = directory / "ssh_config"
    blocks = [_jump_block(h.jump) for h in hosts if h.jump and h.jump.key_files]
    blocks.append(
        "Host *\n  StrictHostKeyChecking yes\n  GlobalKnownHostsFile /dev/null\n"
        f"  UserKnownHostsFile {_conf_path(known)}\n  UpdateHostKeys no\n  CheckHostIP no\n"
        "  BatchMode no\n"
    )
    config.write_text("".join(blocks))
    return config


def _jump_block(jump: Endpoint) -> str:
    keys = "".join(f"  IdentityFile {_conf_path(Path(k))}\n" for k in jump.key_files)
    return f"Host {jump.host}\n  IdentitiesOnly yes\n{keys}"


def _conf_path(path: Path) -> str:
    text = str(path)
    if any(c in text for c in '"\n\r%'):
        raise FixError(f"path {text!r} cannot be written into an ssh_config", hint="rename it")
    return f'"{text}"'


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
