"""The one door to a target: consent is checked and an *intent* audit record written before
anything is sent; the outcome is recorded after it.

Features (diagnose, labs, fixes) never open a transport themselves; they open a ``Session``::

    with Session(target, case="CASE-1") as s:
        result = s.run("uname -a")                       # diagnose scope
        s.run("apt-get -y install nginx", scope=Scope.FIX, sudo=True)

A grant revoked or expired while a session runs stops the very next command with ``ConsentError``.
``sudo=True`` needs a grant given with ``--sudo`` (``Session.check_consent(scope, sudo=True)``
asks the same question without running anything). When the intent record cannot be written (torn
log, disk full, a name that is not UTF-8) nothing is sent and ``AuditError`` says why. Every
record says whether the action was ``elevated``. Engineer-owned targets (``local://``, remotefix
labs) need no consent but are audited all the same.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

from remotefix.audit import AuditLog, result_fields
from remotefix.consent import ConsentStore, Grant, Scope, needs_consent
from remotefix.errors import AuditError, AuthError, ConsentError, RemotefixError, TransportError
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
        self._connected: Target | None = None
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

    def check_consent(
        self, scope: Scope, *, attempted: str = "", sudo: bool = False
    ) -> Grant | None:
        """Raise ``ConsentError`` unless a live grant covers this case, target and scope (and,
        with ``sudo=True``, allows ``sudo -n``). Returns the grant (None: engineer-owned target).

        A refusal is audited too (action ``refused``): the work order shows what was stopped.
        """
        if self._consent is None:
            return None
        try:
            endpoint = self._endpoint()
            self.last_grant = self._consent.check(self.case, endpoint, scope, sudo=sudo)
            return self.last_grant
        except ConsentError as exc:
            fields = self._base_fields("refused", attempted, None, scope, elevated=False)
            self._audit.append(**fields, extra={"reason": exc.message, "sudo": sudo})
            raise

    def may_elevate(self, scope: Scope) -> bool:
        """Whether a live grant allows ``sudo -n`` here (engineer-owned targets: yes). Asks only:
        nothing is refused or audited, so a caller can choose to work without root."""
        if self._consent is None:
            return True
        try:
            self._consent.check(self.case, self._endpoint(), scope, sudo=True)
        except ConsentError:
            return False
        return True

    def run(
        self,
        command: str,
        *,
        scope: Scope = Scope.DIAGNOSE,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        stdin: bytes | None = None,
        sudo: bool = False,
        sudo_inside: bool = False,
        action: str = "run",
        shown_as: str | None = None,
    ) -> CommandResult:
        """Run ``command`` after the consent check and the intent record; audit the outcome.

        ``shown_as`` replaces the command in the audit; ``sudo`` runs it through ``sudo -n``;
        ``sudo_inside`` says the command itself uses ``sudo -n`` for some of its parts (the
        collection script's root items): it needs the same sudo consent and is audited elevated.
        """
        shown = shown_as or command
        grant = self.check_consent(scope, attempted=shown, sudo=sudo or sudo_inside)
        elevated = (sudo or sudo_inside) and self._posix
        intent = self._intent(action, shown, grant, scope, elevated)
        wire = sudo_wrap(command) if sudo and self._posix else command
        started = time.monotonic()
        try:
            result = self.transport.run(wire, timeout=timeout, stdin=stdin)
        except RemotefixError as exc:
            self._record(action, shown, grant, scope, started, intent, elevated, error=exc)
            raise
        self._record(action, shown, grant, scope, started, intent, elevated, result=result)
        if elevated and result.exit_code == 1 and b"password is required" in result.stderr:
            raise AuthError(
                f"sudo on {self.target.name} wants a password; remotefix never types one",
                hint=f"allow passwordless sudo (NOPASSWD) for {self.target.user or 'this user'}",
            )
        return result

    def read_file(
        self, path: str, *, max_bytes: int = DEFAULT_READ_CAP, scope: Scope = Scope.DIAGNOSE
    ) -> RemoteFile:
        """Read a file from the target (consent checked, intent recorded, outcome audited)."""
        grant = self.check_consent(scope, attempted=f"read_file {path}")
        intent = self._intent("read_file", path, grant, scope, False)
        started = time.monotonic()
        try:
            data = self.transport.read_file(path, max_bytes=max_bytes)
        except RemotefixError as exc:
            self._record("read_file", path, grant, scope, started, intent, False, error=exc)
            raise
        fake = CommandResult(path, 0, data.data, b"", truncated=data.truncated)
        self._record("read_file", path, grant, scope, started, intent, False, result=fake)
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
        self._intent("shell", command, grant, Scope.SHELL, False, action="shell.start", extra=extra)
        status: int | None = None
        try:
            channel = opener(*terminal_size())
            with _transcript(transcript) as log:
                status = pump(channel, stdin=stdin, stdout=stdout, transcript=log)
        finally:
            fields = self._base_fields("shell.end", command, grant, Scope.SHELL, elevated=False)
            fields.update(exit_code=status, duration_s=round(time.monotonic() - started, 3))
            self._audit.append(**fields)
        return status

    @property
    def retries(self) -> list[str]:
        """Connection attempts the transport retried (transient failures), oldest first."""
        return list(getattr(self._transport, "retries", None) or [])

    def record_intent(
        self,
        action: str,
        command: str,
        *,
        scope: Scope,
        elevated: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Audit work about to reach the target outside ``run`` (e.g. a playbook phase) before
        it starts; returns the record's seq. ``AuditError`` means: do not start it.

        Call ``check_consent`` first: the record names the grant that check returned.
        """
        grant = self.last_grant if self._consent is not None else None
        return self._intent(action, command, grant, scope, elevated, action=action, extra=extra)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _endpoint(self) -> Target:
        """The target as it is connected to (for SSH after ``~/.ssh/config``): what grants
        are matched against, never the typed text. Resolved once per session."""
        if self._connected is not None:
            return self._connected
        connected = self.target
        if self.target.connection == "ssh":
            from remotefix.transports._ssh_settings import resolve  # paramiko: SSH only

            config = self._settings.get("ssh_config")
            got = resolve(self.target, Path(config) if config else None)
            connected = replace(self.target, host=got.host, port=got.port, user=got.user)
        self._connected = connected
        return connected

    @property
    def _posix(self) -> bool:
        """Whether commands go to a POSIX shell (sudo applies); known before connecting."""
        if self._transport is not None:
            return self._transport.shell == "posix"
        return self.target.connection != "winrm"

    def _base_fields(
        self, action: str, command: str, grant: Grant | None, scope: Scope, *, elevated: bool
    ) -> dict[str, Any]:
        return {
            "case": self.case,
            "target": self.target.name,
            "address": self.target.address,
            "consent_id": grant.id if grant else None,
            "scope": scope.value,
            "action": action,
            "command": command,
            "elevated": elevated,
        }

    def _intent(
        self,
        what: str,
        command: str,
        grant: Grant | None,
        scope: Scope,
        elevated: bool,
        *,
        action: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Write the record of what is about to be sent; its seq. Nothing is sent without it."""
        fields = self._base_fields(
            action or f"{what}.intent", command, grant, scope, elevated=elevated
        )
        try:
            return int(self._audit.append(**fields, extra=extra)["seq"])
        except AuditError as exc:
            raise AuditError(
                f"nothing sent to {self.target.name!a}: {exc.message}", hint=exc.hint
            ) from exc

    def _record(
        self,
        action: str,
        command: str,
        grant: Grant | None,
        scope: Scope,
        started: float,
        intent: int,
        elevated: bool,
        *,
        result: CommandResult | None = None,
        error: RemotefixError | None = None,
    ) -> None:
        fields = self._base_fields(action, command, grant, scope, elevated=elevated)
        if result is not None:
            fields.update(result_fields(result))
        fields["duration_s"] = round(time.monotonic() - started, 4)  # wall time, connect included
        extra: dict[str, Any] = {"intent_seq": intent}
        if error is not None:
            extra |= {"error": type(error).__name__, "message": error.message}
        self._audit.append(**fields, extra=extra)


@contextlib.contextmanager
def _transcript(path: Path | None) -> Iterator[BinaryIO | None]:
    if path is None:
        yield None
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        yield fh
