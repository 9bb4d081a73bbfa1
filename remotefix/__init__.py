"""remotefix: consented remote diagnostics, environment fingerprints and matching Docker labs.

The importable API (the CLI is a thin layer over it)::

    from remotefix import ConsentStore, Scope, Session, parse_address

    target = parse_address("ssh://root@web1")
    with Session(target, case="C-1042") as session:
        print(session.run("uname -a").stdout_text)
"""

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Grant, Scope
from remotefix.errors import (
    AuditError,
    AuthError,
    CommandFailed,
    ConfigError,
    ConnectError,
    ConsentError,
    DependencyError,
    HostKeyError,
    RemotefixError,
    TargetError,
    TransportError,
)
from remotefix.result import CommandResult
from remotefix.session import Session
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "AuditError",
    "AuditLog",
    "AuthError",
    "CommandFailed",
    "CommandResult",
    "ConfigError",
    "ConnectError",
    "ConsentError",
    "ConsentStore",
    "DependencyError",
    "Grant",
    "HostKeyError",
    "RemotefixError",
    "Scope",
    "Session",
    "Target",
    "TargetError",
    "TransportError",
    "Workspace",
    "__version__",
    "parse_address",
]
