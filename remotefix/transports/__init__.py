"""Transports: how commands reach a target. Only ``remotefix.session`` opens one.

A registry maps a target's connection to its transport class, imported lazily so that, for
example, pywinrm is not loaded for SSH work.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from remotefix.errors import TargetError

if TYPE_CHECKING:
    from remotefix.targets import Target
    from remotefix.transports.base import Transport

_REGISTRY: dict[str, str] = {
    "local": "remotefix.transports.local:LocalTransport",
    "docker": "remotefix.transports.docker:DockerTransport",
    "ssh": "remotefix.transports.ssh:SSHTransport",
    "winrm": "remotefix.transports.winrm:WinRMTransport",
}


def transport_class(connection: str) -> type[Transport]:
    """Return the transport class for a connection name (``ssh``, ``docker``…)."""
    try:
        module_name, _, attr = _REGISTRY[connection].partition(":")
    except KeyError:
        raise TargetError(f"no transport for connection {connection!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TargetError(
            f"the {connection} transport is not available yet ({exc.name} missing)"
        ) from exc
    return getattr(module, attr)  # type: ignore[no-any-return]


def open_transport(target: Target, **settings: object) -> Transport:
    """Create (not yet connect: connections are lazy) the transport for ``target``."""
    return transport_class(target.connection)(target, **settings)
