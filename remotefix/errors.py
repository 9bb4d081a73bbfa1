"""The one exception tree of remotefix.

Every error the core raises is a ``RemotefixError``; the CLI turns it into a one-line message and
the ``exit_code`` below, in one place (``remotefix.cli._errors``). Messages say what went wrong and
what to do next.

    RemotefixError (1)
    ├── ConfigError (3)            malformed YAML, invalid spec or data file
    ├── TargetError (4)            bad address, unknown target, inventory problem
    ├── ConsentError (5)           no grant, expired, revoked, or out of scope
    ├── DependencyError (6)        a local tool or daemon we need is missing (docker, debootstrap…)
    ├── AuditError (7)             audit log unreadable or its hash chain is broken
    ├── WorkspaceError (8)         state directory unusable (permissions, disk full)
    ├── TransportError (10)        talking to a target failed
    │   ├── ConnectError (11)      unreachable, refused, DNS, connect timeout
    │   ├── AuthError (12)         credentials refused, or a password would be needed (sudo -n)
    │   ├── HostKeyError (13)      unknown or *changed* host key (strict checking)
    │   └── ClosedError (14)       the transport was used after close()
    ├── CommandFailed (20)         a command the caller required to succeed did not
    │   └── CommandTimeout (21)    ... because it outlived its timeout (and was killed)
    ├── LabError (30)              lab build / run problems
    │   └── ImageBuildError (31)   base image build (debootstrap, docker import) failed
    ├── CaseError (40)             known-issue case problems
    ├── BundleError (50)           diagnostics bundle invalid, tampered or unsafe
    ├── FixError (60)              a fix playbook failed, was refused, or could not run
    │   └── FixVarError (61)       fix -e or a playbook would re-point the connection
    ├── ReportError (70)           a document cannot be built (the workspace lacks the case)
    └── Interrupted (130)          the engineer pressed Ctrl-C (128 + SIGINT, as shells report it)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remotefix.result import CommandResult


class RemotefixError(Exception):
    """Root of every error remotefix raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(RemotefixError):
    exit_code = 3


class TargetError(RemotefixError):
    exit_code = 4


class ConsentError(RemotefixError):
    exit_code = 5


class DependencyError(RemotefixError):
    exit_code = 6


class AuditError(RemotefixError):
    exit_code = 7


class WorkspaceError(RemotefixError):
    exit_code = 8


class TransportError(RemotefixError):
    exit_code = 10


class ConnectError(TransportError):
    exit_code = 11


class AuthError(TransportError):
    exit_code = 12


class HostKeyError(TransportError):
    exit_code = 13


class ClosedError(TransportError):
    exit_code = 14


class CommandFailed(RemotefixError):
    """Raised by ``CommandResult.check()``; carries the whole result."""

    exit_code = 20

    def __init__(self, result: CommandResult) -> None:
        why = "timed out" if result.timed_out else f"exited {result.exit_code}"
        tail = result.stderr_text.strip().splitlines()[-1:] or [""]
        super().__init__(f"command {why}: {result.command}" + (f": {tail[0]}" if tail[0] else ""))
        self.result = result


class CommandTimeout(CommandFailed):
    """A command outlived its timeout; it was killed on the target (``result.timed_out``)."""

    exit_code = 21

    def __init__(self, result: CommandResult, *, timeout: float) -> None:
        super().__init__(result)
        self.message = f"command timed out after {timeout:g}s and was killed: {result.command}"
        self.hint = "give it more time with --timeout"


class LabError(RemotefixError):
    exit_code = 30


class ImageBuildError(LabError):
    exit_code = 31


class CaseError(RemotefixError):
    exit_code = 40


class BundleError(RemotefixError):
    exit_code = 50


class FixError(RemotefixError):
    """A fix playbook could not run, failed on a host, or was refused (e.g. a lab run failed)."""

    exit_code = 60


class FixVarError(FixError):
    """``fix -e`` or the playbook would set a connection variable (or -e is not name=value)."""

    exit_code = 61


class ReportError(RemotefixError):
    """A report, KB draft or page cannot be built from what the workspace holds."""

    exit_code = 70


class Interrupted(RemotefixError):
    """Work stopped by Ctrl-C (``remotefix.interrupt``): running commands killed, none started."""

    exit_code = 130
