"""The transport protocol every connection kind implements, and the pieces they share.

    class Transport(Protocol):
        target: Target
        shell: Literal["posix", "powershell"]
        def run(self, command, *, timeout, stdin=None) -> CommandResult
        def read_file(self, path, *, max_bytes) -> RemoteFile
        def close(self) -> None

Connections are lazy (opened by the first ``run``), ``close()`` is idempotent, and a transport is
a context manager. ``run`` never raises for a non-zero exit or a timeout: those are fields of the
``CommandResult``. It raises ``TransportError`` subclasses when the target cannot be talked to,
and ``ClosedError`` after ``close()``.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from remotefix.errors import ClosedError, TransportError
from remotefix.result import DEFAULT_OUTPUT_CAP, CommandResult
from remotefix.targets import Target

DEFAULT_COMMAND_TIMEOUT = 60.0
"""Seconds a command may run before it is stopped (``timed_out=True``)."""


class RemotePathError(TransportError):
    """A file to read is missing, unreadable or not a regular file."""

    exit_code = 15


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file read from a target. ``truncated`` is True when it was longer than ``max_bytes``."""

    path: str
    data: bytes
    truncated: bool = False


@runtime_checkable
class Transport(Protocol):
    target: Target
    shell: Literal["posix", "powershell"]

    def run(
        self, command: str, *, timeout: float = DEFAULT_COMMAND_TIMEOUT, stdin: bytes | None = None
    ) -> CommandResult: ...

    def read_file(self, path: str, *, max_bytes: int = DEFAULT_OUTPUT_CAP) -> RemoteFile: ...

    def close(self) -> None: ...


class CappedBuffer:
    """Collects one output stream up to ``cap`` bytes and remembers whether it cut anything."""

    def __init__(self, cap: int = DEFAULT_OUTPUT_CAP) -> None:
        self.cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = self.cap - self._size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


class OutputSink(Protocol):
    """Where a stream's bytes were collected (``CappedBuffer`` or a filter in front of one)."""

    @property
    def truncated(self) -> bool: ...

    def getvalue(self) -> bytes: ...


def collected_result(
    command: str,
    exit_code: int | None,
    stdout: OutputSink,
    stderr: OutputSink,
    started: float,
    *,
    timed_out: bool,
) -> CommandResult:
    """The ``CommandResult`` of a finished (or stopped) command; ``started`` is monotonic."""
    return CommandResult(
        command=command,
        exit_code=None if timed_out else exit_code,
        stdout=stdout.getvalue(),
        stderr=stderr.getvalue(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        truncated=stdout.truncated or stderr.truncated,
    )


# Exit codes of the read_file helper script; chosen to be unlikely from head(1) itself.
_MISSING, _UNREADABLE, _NOT_FILE = 201, 202, 203


def posix_read_command(path: str, max_bytes: int) -> str:
    """Shell command printing at most ``max_bytes + 1`` bytes of ``path`` (the +1 shows a cut)."""
    p = shlex.quote(path)
    return (
        f"if [ ! -e {p} ]; then exit {_MISSING}; fi; "
        f"if [ -d {p} ]; then exit {_NOT_FILE}; fi; "
        f"if [ ! -r {p} ]; then exit {_UNREADABLE}; fi; "
        f"head -c {max_bytes + 1} -- {p}"
    )


def raise_for_read(result: CommandResult, path: str, reasons: Mapping[int, str]) -> None:
    """Raise ``RemotePathError`` when a read script failed: a known exit code, or anything else."""
    if result.exit_code in reasons:
        raise RemotePathError(f"{path}: {reasons[result.exit_code]}")
    if not result.ok or result.truncated:
        why = "timed out" if result.timed_out else result.stderr_text.strip() or "read failed"
        raise RemotePathError(f"{path}: {' '.join(why.split())}")


def remote_file_from(result: CommandResult, path: str, max_bytes: int) -> RemoteFile:
    """Turn the result of ``posix_read_command`` into a ``RemoteFile`` or a clear error."""
    reasons = {
        _MISSING: "no such file",
        _UNREADABLE: "permission denied (needs root? collectors use sudo -n for these)",
        _NOT_FILE: "is a directory",
    }
    raise_for_read(result, path, reasons)
    data = result.stdout
    return RemoteFile(path=path, data=data[:max_bytes], truncated=len(data) > max_bytes)


class BaseTransport:
    """Lazy connect, idempotent close, context manager, POSIX ``read_file`` via ``run``.

    Subclasses implement ``_connect()``, ``_run()`` and ``_disconnect()``.
    """

    shell: Literal["posix", "powershell"] = "posix"

    def __init__(self, target: Target, *, output_cap: int = DEFAULT_OUTPUT_CAP) -> None:
        self.target = target
        self.output_cap = output_cap
        self._connected = False
        self._closed = False

    def run(
        self, command: str, *, timeout: float = DEFAULT_COMMAND_TIMEOUT, stdin: bytes | None = None
    ) -> CommandResult:
        self._ensure_open()
        return self._run(command, timeout=timeout, stdin=stdin, cap=self.output_cap)

    def read_file(self, path: str, *, max_bytes: int = DEFAULT_OUTPUT_CAP) -> RemoteFile:
        """Read up to ``max_bytes`` of ``path`` (the stream cap does not apply: the file's does)."""
        self._ensure_open()
        command = posix_read_command(path, max_bytes)
        result = self._run(command, timeout=DEFAULT_COMMAND_TIMEOUT, stdin=None, cap=max_bytes + 1)
        return remote_file_from(result, path, max_bytes)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._connected:
            self._connected = False
            self._disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClosedError(f"transport to {self.target.name} is closed")
        if not self._connected:
            self._connect()
            self._connected = True

    def _connect(self) -> None:
        raise NotImplementedError

    def _run(self, command: str, *, timeout: float, stdin: bytes | None, cap: int) -> CommandResult:
        """Run on the open connection; keep at most ``cap`` bytes of stdout (stderr: output_cap)."""
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError
