"""Known host keys: strict checking, OpenSSH fingerprints, and trusting a key on purpose.

Keys are looked up in ``~/.ssh/known_hosts`` and remotefix's own ``known_hosts`` file in the
workspace (``remotefix hosts trust`` writes only the latter). An unknown key is refused with its
fingerprint and the command to trust it; a *changed* key is refused loudly and never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import paramiko

from remotefix.errors import ConnectError, HostKeyError
from remotefix.workspace import Workspace

USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:…`` exactly as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_entry(host: str, port: int) -> str:
    """The known_hosts name of a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def known_host_keys(workspace: Workspace, extra: list[Path] | None = None) -> paramiko.HostKeys:
    """Every key we trust: the user's OpenSSH known_hosts, ours, and any extra files."""
    keys = paramiko.HostKeys()
    for path in [USER_KNOWN_HOSTS.expanduser(), workspace.known_hosts, *(extra or [])]:
        if path.is_file():
            keys.load(str(path))
    return keys


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Strict checking: an unknown key is an error naming its fingerprint and the fix."""

    def __init__(self, address: str) -> None:
        self.address = address

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyError(
            f"host key of {hostname} is unknown ({key.get_name()} {fingerprint(key)})",
            hint=f"verify it with the customer, then: remotefix hosts trust {self.address}",
        )


def changed_key_error(host: str, port: int, exc: paramiko.BadHostKeyException) -> HostKeyError:
    return HostKeyError(
        f"HOST KEY OF {host_entry(host, port)} HAS CHANGED: possible man-in-the-middle "
        f"(known {fingerprint(exc.expected_key)}, offered {fingerprint(exc.key)}); refusing",
        hint="ask the customer whether the machine was reinstalled; if so remove the old line "
        "from ~/.ssh/known_hosts or the remotefix known_hosts and trust the new key",
    )


def fetch_host_key(host: str, port: int, *, timeout: float = 10.0) -> paramiko.PKey:
    """Connect just far enough to learn the server's host key (no authentication)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectError(f"cannot reach {host}:{port}: {exc.strerror or exc}") from exc
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ConnectError(f"no SSH server answered at {host}:{port}: {exc}") from exc
    finally:
        transport.close()


def trust(
    workspace: Workspace, host: str, port: int, key: paramiko.PKey, *, replace: bool = False
) -> bool:
    """Record ``key`` for ``host:port`` in remotefix's known_hosts; False if already there.

    A different key already known for that host is a ``HostKeyError`` unless ``replace``.
    """
    name = host_entry(host, port)
    known = known_host_keys(workspace).lookup(name) or {}
    current = known.get(key.get_name())
    if current is not None and current == key:
        return False
    if current is not None and not replace:
        raise HostKeyError(
            f"{name} already has a different {key.get_name()} key ({fingerprint(current)}); "
            f"refusing to record {fingerprint(key)}",
            hint="confirm the change with the customer and pass --replace",
        )
    keys = paramiko.HostKeys()
    if workspace.known_hosts.is_file():
        keys.load(str(workspace.known_hosts))
    keys.add(name, key.get_name(), key)
    workspace.ensure()
    tmp = workspace.known_hosts.with_suffix(".tmp")
    keys.save(str(tmp))
    tmp.replace(workspace.known_hosts)
    return True
