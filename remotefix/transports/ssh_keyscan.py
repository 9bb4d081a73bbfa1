"""Learn an SSH server's host key (like ``ssh-keyscan``), through its ProxyJump if it has one.

The key is fetched over the same route a session takes: ``~/.ssh/config`` and the address's
``?proxy_jump=`` are honoured, and the bastion's own key is checked strictly (it must be
trusted first). Key types already trusted for the host are asked for first, so a server that
still has the trusted key offers that one and a change of key type is visible.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Sequence

import paramiko

from remotefix.errors import ConnectError
from remotefix.transports._ssh_settings import SSHSettings
from remotefix.transports.ssh import SSHTransport
from remotefix.workspace import Workspace

_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
"""Key type (as known_hosts names it) -> host-key algorithms that present such a key."""


def scan_host_key(
    settings: SSHSettings,
    *,
    workspace: Workspace,
    prefer: Sequence[str] = (),
    timeout: float = 10.0,
) -> paramiko.PKey:
    """The key the server at ``settings`` (see ``_ssh_settings.resolve``) presents; no
    authentication to it."""
    with _socket(settings, workspace, timeout) as sock:
        transport = paramiko.Transport(sock)
        try:
            options = transport.get_security_options()
            wanted = [a for t in prefer for a in _ALGORITHMS.get(t, (t,))]
            first = [a for a in wanted if a in options.key_types]
            options.key_types = tuple(first + [a for a in options.key_types if a not in first])
            transport.start_client(timeout=timeout)
            return transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            where = f"{settings.host}:{settings.port}"
            raise ConnectError(f"no SSH server answered at {where}: {exc}") from exc
        finally:
            transport.close()


@contextlib.contextmanager
def _socket(
    settings: SSHSettings, workspace: Workspace, timeout: float
) -> Iterator[socket.socket | paramiko.Channel]:
    where = (settings.host, settings.port)
    if settings.proxy_jump is None:
        try:
            sock = socket.create_connection(where, timeout=timeout)
        except OSError as exc:
            raise ConnectError(
                f"cannot reach {where[0]}:{where[1]}: {exc.strerror or exc}"
            ) from exc
        with sock:
            yield sock
        return
    with SSHTransport(settings.proxy_jump, workspace=workspace, connect_timeout=timeout) as jump:
        transport = jump.client.get_transport()
        assert transport is not None
        try:
            channel = transport.open_channel(
                "direct-tcpip", where, ("127.0.0.1", 0), timeout=timeout
            )
        except (paramiko.SSHException, OSError) as exc:
            raise ConnectError(
                f"bastion {settings.proxy_jump.address} cannot reach {where[0]}:{where[1]}: {exc}"
            ) from exc
        with channel:
            yield channel
