"""Target addresses: ``ssh://user@host:22``, ``user@host``, ``docker://name``, ``local://``,
``winrm://user@host:5986?transport=ntlm``. Inventories live in ``remotefix.inventory``."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from remotefix.errors import TargetError

Connection = Literal["ssh", "local", "docker", "winrm"]
CONNECTIONS: tuple[Connection, ...] = ("ssh", "local", "docker", "winrm")
DEFAULT_PORTS: dict[str, int] = {"ssh": 22, "winrm": 5986}


@dataclass(frozen=True, slots=True)
class Target:
    """One machine to talk to.

    ``name`` is how the engineer refers to it (inventory host name or the address as typed);
    ``host`` is what we connect to (host name, IP, container name; "" for local).
    ``port``/``user`` are None when the address leaves them to ssh_config or defaults.
    ``options`` holds connection-specific settings (e.g. ``identity_file``, ``proxy_jump``,
    ``winrm_transport``, ``winrm_scheme``, ``cert_validation``); never a password.
    """

    name: str
    connection: Connection
    host: str = ""
    port: int | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    options: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def address(self) -> str:
        """Canonical address, e.g. ``ssh://alice@web1:2222`` or ``docker://Lab1``."""
        if self.connection == "local":
            return "local://"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.connection}://{user}{host}{port}"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "connection": self.connection,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "groups": list(self.groups),
            "options": dict(self.options),
        }


def parse_address(text: str, *, name: str | None = None) -> Target:
    """Parse one address typed by the engineer into a ``Target``.

    A bare ``host`` or ``user@host[:port]`` means ssh. Passwords in the address are refused:
    they would end up in shell history, process lists and logs.
    """
    text = text.strip()
    if not text:
        raise TargetError("empty target address", hint="use e.g. ssh://user@host or docker://name")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "ssh", text
    scheme = scheme.lower()
    if scheme not in CONNECTIONS:
        raise TargetError(
            f"unknown target scheme {scheme!r} in {text!r}",
            hint=f"use one of: {', '.join(c + '://' for c in CONNECTIONS)}",
        )
    if scheme == "local":
        return Target(name=name or "local", connection="local")
    netloc, _, query = rest.partition("?")
    netloc = netloc.rstrip("/")
    if scheme == "docker":
        return _docker_target(netloc, text, name)
    return _network_target(scheme, netloc, query, text, name)


def _docker_target(container: str, text: str, name: str | None) -> Target:
    # Taken verbatim from the netloc: urlsplit would lowercase it, and names are case-sensitive.
    if not container or "/" in container or "@" in container:
        raise TargetError(f"bad docker target {text!r}", hint="use docker://CONTAINER_NAME_OR_ID")
    return Target(name=name or container, connection="docker", host=container)


def _network_target(
    scheme: Connection, netloc: str, query: str, text: str, name: str | None
) -> Target:
    parts = urlsplit(f"//{netloc}")
    if parts.password is not None:
        raise TargetError(
            f"password in target address {_mask(text)!r} refused",
            hint="use a key, ssh-agent, or the REMOTEFIX_PASSWORD environment variable",
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"bad port in target {text!r}", hint="ports are 1-65535") from exc
    # Host case is kept for display; hostnames are case-insensitive on the wire anyway.
    host = netloc.rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if parts.port is not None and not host.endswith("]") else host
    host = host.strip("[]")
    if not host:
        raise TargetError(f"no host in target {text!r}", hint="use e.g. ssh://user@host:22")
    options = {k: v for k, v in parse_qsl(query, keep_blank_values=True)}
    user = unquote(parts.username) if parts.username else None
    return Target(
        name=name or text,
        connection=scheme,
        host=host,
        port=port,
        user=user,
        options=MappingProxyType(options),
    )


def _mask(text: str) -> str:
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, sep, cred = head.rpartition("://")
    user = cred.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{tail}"
