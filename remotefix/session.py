"""The one door to a target: consent is checked before every command, audit is written after it.

Features (diagnose, labs, fixes) never open a transport themselves; they open a ``Session``::

    with Session(target, case="CASE-1") as s:
        result = s.run("uname -a")                       # diagnose scope
        s.run("apt-get -y install nginx", scope=Scope.FIX, sudo=True)

A grant revoked or expired while a session runs stops the very next command with ``ConsentError``.
Engineer-owned targets (``local://``, remotefix labs) need no consent but are audited all the same.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

from remotefix.audit import AuditLog, result_fields
from remotefix.consent import ConsentStore, Grant, Scope, needs_consent
from remotefix.errors import AuthError, ConsentError, RemotefixError, TransportError
from remotefix.interactive import pump, terminal_size
from remotefix.result import CommandResult
from remotefix.targets import Target
from remotefix.transports import open_transport
from remotefix.transports.base import DEFAULT_COMMAND_TIMEOUT, RemoteFile, Transport
from remotefix.workspace import Workspace

DEFAULT_READ_CAP = 16 * 1024 * 1024


def sudo_wrap(command: str) -> str:
    """Run ``command`` as root without ever prompting (``sudo -n``), quoted for a POSIX shell."""
    return f"sudo -n /bin/sh -c {shlex.quote(command)}"


class Session:
    """A consented, audited conversation with one target over one reused transport."""

    def __init__(
        self,
        target: Target,
        *,
        case: str,
        workspace: Workspace | None = None,
        transport: Transport | None = None,
        transport_settings: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.case = case
        self.workspace = (workspace or Workspace.default()).ensure()
        self._consent = ConsentStore(self.workspace) if needs_consent(target) else None
        self._audit = AuditLog(self.workspace)
        self._settings = transport_settings or {}
        self._transport = transport
        self.last_grant: Grant | None = None
        """The grant that allowed the most recent action (None for engineer-owned targets)."""

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            settings = dict(self._settings)
            if self.target.connection == "ssh":
                settings.setdefault("workspace", self.workspace)
            self._transport = open_transport(self.target, **settings)
        return self._transport

    def check_consent(self, scope: Scope, *, attempted: str = "") -> Grant | None:
        """Raise ``ConsentError`` unless a live grant covers this case, target and scope.

        A refusal is audited too (action ``refused``): the work order shows what was stopped.
        """
        if self._consent is None:
            return None
        try:
            self.last_grant = self._consent.check(self.case, self.target, scope)
            return self.last_grant
        except ConsentError as exc:
            fields = self._base_fields("refused", attempted, None, scope)
            self._audit.append(**fields, extra={"reason": exc.message})
            raise

    def run(
        self,
        command: str,
        *,
        scope: Scope = Scope.DIAGNOSE,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        stdin: bytes | None = None,
        sudo: bool = False,
        action: str = "run",
        shown_as: str | None = None,
    ) -> CommandResult:
        """Run ``command`` after the consent check; audit it. ``shown_as`` replaces it in audit."""
        grant = self.check_consent(scope, attempted=shown_as or command)
        wire = sudo_wrap(command) if sudo and self.transport.shell == "posix" else command
        started = time.monotonic()
        try:
            result = self.transport.run(wire, timeout=timeout, stdin=stdin)
        except RemotefixError as exc:
            self._record(action, shown_as or command, grant, scope, started, error=exc)
            raise
        self._record(action, shown_as or command, grant, scope, started, result=result)
        if sudo and result.exit_code == 1 and b"password is required" in result.stderr:
            raise AuthError(
                f"sudo on {self.target.name} wants a password; remotefix never types one",
                hint=f"allow passwordless sudo (NOPASSWD) for {self.target.user or 'this user'}",
            )
        return result

    def read_file(
        self, path: str, *, max_bytes: int = DEFAULT_READ_CAP, scope: Scope = Scope.DIAGNOSE
    ) -> RemoteFile:
        """Read a file from the target (after the consent check; audited as ``read_file``)."""
        grant = self.check_consent(scope, attempted=f"read_file {path}")
        started = time.monotonic()
        try:
            data = self.transport.read_file(path, max_bytes=max_bytes)
        except RemotefixError as exc:
            self._record("read_file", path, grant, scope, started, error=exc)
            raise
        fake = CommandResult(path, 0, data.data, b"", truncated=data.truncated)
        self._record("read_file", path, grant, scope, started, result=fake)
        return data

    def shell(
        self,
        *,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        transcript: Path | None = None,
    ) -> int | None:
        """An interactive shell (needs the ``shell`` scope); audited at start and end.

        ``transcript`` (opt-in, mode 0600) records what the shell printed.
        """
        command = "interactive shell"
        grant = self.check_consent(Scope.SHELL, attempted=command)
        opener = getattr(self.transport, "open_shell", None)
        if opener is None:
            raise TransportError(f"no interactive shell over {self.target.connection} yet")
        started = time.monotonic()
        extra = {"transcript": str(transcript)} if transcript else None
        self._audit.append(
            **self._base_fields("shell.start", command, grant, Scope.SHELL), extra=extra
        )
        cols, rows = terminal_size()
        status: int | None = None
        try:  # shell.end is recorded however the session ends
            channel = opener(cols, rows)
            with _transcript(transcript) as log:
                status = pump(channel, stdin=stdin, stdout=stdout, transcript=log)
        finally:
            fields = self._base_fields("shell.end", command, grant, Scope.SHELL)
            fields.update(exit_code=status, duration_s=round(time.monotonic() - started, 3))
            self._audit.append(**fields)
        return status

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _base_fields(
        self, action: str, command: str, grant: Grant | None, scope: Scope
    ) -> dict[str, Any]:
        return {
            "case": self.case,
            "target": self.target.name,
            "address": self.target.address,
            "consent_id": grant.id if grant else None,
            "scope": scope.value,
            "action": action,
            "command": command,
        }

    def _record(
        self,
        action: str,
        command: str,
        grant: Grant | None,
        scope: Scope,
        started: float,
        *,
        result: CommandResult | None = None,
        error: RemotefixError | None = None,
    ) -> None:
        fields = self._base_fields(action, command, grant, scope)
        if result is not None:
            fields.update(result_fields(result))
        fields["duration_s"] = round(time.monotonic() - started, 4)  # wall time, connect included
        if error is not None:
            fields["extra"] = {"error": type(error).__name__, "message": error.message}
        self._audit.append(**fields)


@contextlib.contextmanager
def _transcript(path: Path | None) -> Iterator[BinaryIO | None]:
    if path is None:
        yield None
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        yield fh
