"""Where and how to connect over SSH: the target, overlaid on ``~/.ssh/config``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from remotefix.errors import ConfigError, TargetError
from remotefix.targets import Target, parse_address

USER_SSH_CONFIG = Path("~/.ssh/config")
PASSWORD_ENV = "REMOTEFIX_PASSWORD"  # noqa: S105 (the variable name, not a password)


def password_from_env() -> str | None:
    """The SSH password, only ever from the environment (never argv, never the address)."""
    return os.environ.get(PASSWORD_ENV) or None


@dataclass(frozen=True, slots=True)
class SSHSettings:
    host: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    proxy_jump: Target | None


def resolve(target: Target, ssh_config: Path | None = None) -> SSHSettings:
    """Address fields win over ``~/.ssh/config`` (Host aliases, HostName, User, Port…)."""
    entry = _config(ssh_config).lookup(target.host)
    host = entry.get("hostname", target.host)
    port = target.port or int(entry.get("port", 22))
    user = target.user or entry.get("user") or _local_user()
    files = [target.options["identity_file"]] if target.options.get("identity_file") else []
    files += [os.path.expanduser(f) for f in entry.get("identityfile", [])]
    jump = target.options.get("proxy_jump") or entry.get("proxyjump")
    return SSHSettings(host, port, user, tuple(files), _jump_target(jump, target))


def _config(path: Path | None) -> paramiko.SSHConfig:
    path = (path or USER_SSH_CONFIG).expanduser()
    if not path.is_file():
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise ConfigError(f"cannot read ssh config {path}: {exc}") from exc


def _jump_target(jump: str | None, target: Target) -> Target | None:
    if not jump or jump.lower() == "none":
        return None
    if "," in jump:
        raise TargetError(
            f"ProxyJump {jump!r} has several hops; remotefix supports one bastion",
            hint="use a single user@bastion:port",
        )
    options = (
        {"identity_file": target.options["identity_file"]}
        if "identity_file" in target.options
        else {}
    )
    bastion = parse_address(jump.removeprefix("ssh://"), name=f"bastion {jump}")
    return Target(
        bastion.name,
        "ssh",
        bastion.host,
        bastion.port,
        bastion.user,
        options=type(target.options)(options),
    )


def _local_user() -> str:
    import getpass

    return getpass.getuser()
