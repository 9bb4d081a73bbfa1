"""Target addresses: ``ssh://user@host:22``, ``user@host``, ``docker://name``, ``local://``,
``winrm://user@host:5986?transport=ntlm``. Inventories live in ``remotefix.inventory``."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import parse_qsl, unquote

from remotefix.errors import TargetError

Connection = Literal["ssh", "local", "docker", "winrm"]
CONNECTIONS: tuple[Connection, ...] = ("ssh", "local", "docker", "winrm")
DEFAULT_PORTS: dict[str, int] = {"ssh": 22, "winrm": 5986}
_HOST = re.compile(r"\w(?:[\w.-]*\w)?\.?")
"""Host names (IDN too), ssh_config aliases, IPv4 (full match: no space, "#", "/", "%" or "-x")."""
_USER = re.compile(r"[^\x00-\x20\x7f@:/?#\[\]]+")
"""A user name (after percent-decoding, e.g. ``DOMAIN%5Cuser``): no space, control or URL syntax."""
_CONTAINER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


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
    they would end up in shell history, process lists and logs. So are paths (``ssh://web1/etc``),
    empty ports (``host:``), unclosed IPv6 brackets and characters no host name has.
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
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    if scheme == "docker":
        return _docker_target(netloc if not path else location, text, name)
    if path and not (scheme == "winrm" and path.rstrip("/") == "wsman"):
        raise TargetError(
            f"path /{path} in target {text!r} refused: a target is a machine, not a path",
            hint=f"use {scheme}://[user@]host[:port] and name paths in the command",
        )
    return _network_target(scheme, netloc, query, text, name)


def _docker_target(container: str, text: str, name: str | None) -> Target:
    # Taken verbatim from the netloc: urlsplit would lowercase it, and names are case-sensitive.
    container = container.rstrip("/")
    if not _CONTAINER.fullmatch(container):
        raise TargetError(f"bad docker target {text!r}", hint="use docker://CONTAINER_NAME_OR_ID")
    return Target(name=name or container, connection="docker", host=container)


def _network_target(
    scheme: Connection, netloc: str, query: str, text: str, name: str | None
) -> Target:
    userinfo, at, hostport = netloc.rpartition("@")
    if ":" in userinfo:
        raise TargetError(
            f"password in target address {_mask(text)!r} refused",
            hint="use a key, ssh-agent, or the REMOTEFIX_PASSWORD environment variable",
        )
    user = unquote(userinfo) if at else None
    if at and not _USER.fullmatch(user or ""):
        why = "empty user name before '@'" if not user else f"bad user name {user!r}"
        raise TargetError(f"{why} in target {text!r}", hint="use e.g. ssh://alice@host")
    host, port = _host_port(hostport, text)
    options = {k: v for k, v in parse_qsl(query, keep_blank_values=True)}
    return Target(
        name=name or text,
        connection=scheme,
        host=host,
        port=port,
        user=user,
        options=MappingProxyType(options),
    )


def _host_port(hostport: str, text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` / ``[v6][:port]``; the host is kept as typed (case included)."""
    if hostport.startswith("["):
        host, closed, tail = hostport[1:].partition("]")
        if not closed:
            raise TargetError(
                f"unclosed '[' in target {text!r}", hint="write IPv6 as ssh://user@[::1]:22"
            )
        _check_ipv6(host, text)
        if tail and not tail.startswith(":"):
            raise TargetError(
                f"unexpected {tail!r} after ']' in target {text!r}", hint="e.g. ssh://[::1]:22"
            )
        return host, _port(tail[1:], text) if tail else None
    host, colon, port = hostport.partition(":")
    if ":" in port:
        raise TargetError(
            f"IPv6 address without brackets in target {text!r}",
            hint="write IPv6 as ssh://user@[::1]:22",
        )
    if not _HOST.fullmatch(host):
        why = "no host" if not host else f"bad host name {host!r}"
        raise TargetError(f"{why} in target {text!r}", hint="use e.g. ssh://user@host:22")
    return host, _port(port, text) if colon else None


def _port(text: str, address: str) -> int:
    if not text:
        raise TargetError(
            f"empty port after ':' in target {address!r}", hint="give a port (1-65535) or drop ':'"
        )
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"bad port {text!r} in target {address!r}", hint="ports are 1-65535")
    return int(text)


def _check_ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise TargetError(
            f"bad IPv6 address [{host}] in target {text!r}", hint="e.g. ssh://user@[fe80::1%eth0]"
        ) from None


def _mask(text: str) -> str:
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, sep, cred = head.rpartition("://")
    user = cred.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{tail}"
