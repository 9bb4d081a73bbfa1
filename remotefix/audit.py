"""The append-only, hash-chained audit log: one JSON line per action taken on a target.

Each record carries ``prev`` (the previous record's hash; 64 zeros for the first) and ``hash``:
the SHA-256 of the record's canonical JSON without ``hash`` (sorted keys, ``(",", ":")``
separators, UTF-8). Editing, deleting or reordering a record breaks the chain at that record.

A chain alone cannot tell a log that was emptied and rewritten from scratch, or lost its tail,
from an honest one; so every append also writes a small *head* file next to the log
(``audit.head``: last seq and hash, and the first record's hash). ``verify`` checks the log
against it, and ``append`` refuses to continue a log that no longer reaches its head.

Appends from several processes are serialised by an ``flock`` on ``locks/audit.lock``; each
record is one ``os.write`` on an ``O_APPEND`` descriptor, then ``fsync``; a write that fails
part-way (disk full, ``ulimit -f``) is cut back off, so the log never keeps half a record it
wrote itself. A record that cannot be encoded (a name that is not UTF-8) is refused before
anything is written. A torn last line left by a crash is reported by ``verify`` and moved aside
by ``repair`` (kept next to the log, the repair itself recorded in the chain).

Output of commands is never stored, only its SHA-256; commands pass ``scrub_command`` first.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from remotefix._audit_chain import (
    GENESIS,
    RepairReport,
    VerifyReport,
    chain_error,
    check_head,
    check_reaches_head,
    cut_torn_tail,
    encoded,
    last_line,
    parse_line,
    read_head,
    record_hash,
    repair_fields,
    write_head,
)
from remotefix.errors import AuditError
from remotefix.redact_command import scrub_command
from remotefix.result import CommandResult
from remotefix.targets import Target
from remotefix.workspace import Workspace

WRITE_HINT = "free disk space (or raise `ulimit -f`) and check the workspace's permissions"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def result_fields(result: CommandResult) -> dict[str, Any]:
    """Audit fields of a ``CommandResult``: hashes of the output, never the output itself.

    The command is left out: pass the caller's redacted form as ``command=``.
    """
    return {
        "exit_code": result.exit_code,
        "duration_s": round(result.duration_s, 6),
        "timed_out": result.timed_out,
        "truncated": result.truncated,
        "stdout_sha256": sha256_hex(result.stdout),
        "stderr_sha256": sha256_hex(result.stderr),
    }


class AuditLog:
    """The audit log of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.audit_log
        self.head_path = workspace.audit_log.with_suffix(".head")

    def append(
        self,
        *,
        action: str,
        case: str | None = None,
        target: Target | str | None = None,
        address: str | None = None,
        consent_id: str | None = None,
        scope: str | None = None,
        command: str | None = None,
        exit_code: int | None = None,
        duration_s: float | None = None,
        timed_out: bool = False,
        truncated: bool = False,
        stdout_sha256: str | None = None,
        stderr_sha256: str | None = None,
        elevated: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record and return it (with seq, time, prev and hash filled in).

        ``elevated`` says whether the action ran as root through ``sudo -n``.
        """
        if isinstance(target, Target):
            address = address or target.address
        fields = {
            "actor": _actor(),
            "case": case,
            "target": target.name if isinstance(target, Target) else target,
            "address": address,
            "consent_id": consent_id,
            "scope": str(scope) if scope is not None else None,
            "action": action,
            "command": scrub_command(command) if command is not None else None,
            "exit_code": exit_code,
            "duration_s": duration_s,
            "timed_out": timed_out,
            "truncated": truncated,
            "stdout_sha256": stdout_sha256,
            "stderr_sha256": stderr_sha256,
            "elevated": elevated,
            "extra": _scrub_extra(extra),
        }
        with self._locked():
            return self._append_locked(fields)

    def records(self, case: str | None = None) -> Iterator[dict[str, Any]]:
        """Parsed records, oldest first, optionally only one case's (its timeline).

        A last line without its newline (being written, or torn) is skipped; ``verify`` says so.
        """
        for lineno, line in self._lines():
            if not line.endswith("\n"):
                return
            try:
                record = json.loads(line)
            except ValueError:
                raise AuditError(
                    f"audit log {self.path} line {lineno} is not valid JSON",
                    hint="run `remotefix audit verify`",
                ) from None
            if case is None or record.get("case") == case:
                yield record

    def verify(self) -> VerifyReport:
        """Recompute the chain; name the first broken record and why.

        Raises ``AuditError`` only when the log or its head file cannot be read at all.
        """
        with self._locked(shared=True):
            return self._verify_locked()

    def repair(self) -> RepairReport | None:
        """Move a torn last record aside (into ``audit.torn-*.jsonl`` next to the log) and
        record the repair in the chain. None when there is nothing to repair.

        Only a torn tail is repaired: any other break raises ``AuditError`` (that is tampering
        or loss, not a write cut short, and must stay visible).
        """
        with self._locked():
            report = self._verify_locked()
            if report.ok:
                return None
            if not report.torn_tail:
                raise AuditError(
                    f"audit log {self.path} is broken at seq {report.first_bad_seq} "
                    f"({report.reason}); only a torn last record can be repaired",
                    hint="keep the log as evidence; move audit.jsonl and audit.head aside "
                    "to start a new one",
                )
            moved_to, data = cut_torn_tail(self.path)
            record = self._append_locked(repair_fields(moved_to, data, report.reason, _actor()))
        return RepairReport(moved_to, len(data), sha256_hex(data), record)

    def _verify_locked(self) -> VerifyReport:
        head = read_head(self.head_path)
        seq, prev, at_head = 0, GENESIS, None
        lines = self._lines()
        for lineno, line in lines:
            record, reason = parse_line(line, f"line {lineno}")
            if record is not None:
                reason = chain_error(record, seq + 1, prev, head.get("first") if seq == 0 else None)
            if record is None or reason is not None:
                torn = record is None and next(lines, None) is None
                return VerifyReport(False, seq, seq + 1, reason, torn_tail=torn)
            seq, prev = seq + 1, record["hash"]
            if head and seq == head["seq"]:
                at_head = prev
        return check_head(head, seq, at_head)

    def _append_locked(self, fields: dict[str, Any]) -> dict[str, Any]:
        last, head = self._last_record(), read_head(self.head_path)
        check_reaches_head(self.path, last, head)
        record: dict[str, Any] = {
            "seq": last["seq"] + 1 if last else 1,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            **fields,
            "prev": last["hash"] if last else GENESIS,
        }
        # Round-trip so the hash is of exactly what verify will read back (tuples -> lists…).
        text = json.dumps(record, ensure_ascii=False, default=str, allow_nan=False)
        record = json.loads(encoded(text, record))  # refused before anything is written
        record["hash"] = record_hash(record)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._write_line(line.encode("utf-8"))
        first = head.get("first") or (self._first_hash() if last else record["hash"])
        write_head(self.head_path, {"seq": record["seq"], "hash": record["hash"], "first": first})
        return record

    def _write_line(self, data: bytes) -> None:
        """One ``write``; on failure or a short write the bytes written are cut back off."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        size, written = os.fstat(fd).st_size, 0
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise AuditError(
                    f"short write to audit log {self.path} ({written}/{len(data)} bytes)",
                    hint=WRITE_HINT,
                )
            os.fsync(fd)
        except BaseException:
            with suppress(OSError):
                os.ftruncate(fd, size)
            raise
        finally:
            os.close(fd)

    def _last_record(self) -> dict[str, Any] | None:
        """The last record, read backwards from the end of the file (never the whole log)."""
        try:
            with open(self.path, "rb") as fh:
                line = last_line(fh)
        except FileNotFoundError:
            return None
        if line is None:
            return None
        record, reason = parse_line(line, "the last line")
        if record is None or "hash" not in record or "seq" not in record:
            raise AuditError(
                f"the last record of audit log {self.path} is damaged ({reason or 'no hash'})",
                hint=(
                    "`remotefix audit repair` moves the torn record aside"
                    if reason
                    else "the record was edited: see `remotefix audit verify`"
                )
                + "; nothing is recorded (or sent) until then",
            )
        return record

    def _first_hash(self) -> str | None:
        with open(self.path, "rb") as fh:
            record, _ = parse_line(fh.readline(), "line 1")
        return record.get("hash") if record else None

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) of each line; a last line without newline is yielded as is."""
        try:
            fh = open(self.path, encoding="utf-8", errors="replace", newline="\n")  # noqa: SIM115
        except FileNotFoundError:
            return
        with fh:
            yield from enumerate(fh, start=1)

    @contextmanager
    def _locked(self, *, shared: bool = False) -> Iterator[None]:
        """Lock across processes (writers exclusive); OS errors become ``AuditError``."""
        fd = self._open_lock(shared)
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise AuditError(f"cannot write audit log {self.path}: {why}", hint=WRITE_HINT) from exc
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the lock

    def _open_lock(self, shared: bool) -> int | None:
        """The lock file's descriptor; None for a reader that cannot create it (read-only copy)."""
        try:
            if not shared:
                self.workspace.ensure()
            return os.open(self.workspace.locks / "audit.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if shared:
                return None
            raise AuditError(f"cannot lock audit log {self.path}: {exc.strerror}") from exc


def _scrub_extra(extra: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not extra:
        return None
    return {k: scrub_command(v) if isinstance(v, str) else v for k, v in extra.items()}


def _actor() -> str:
    """``user@hostname`` of whoever runs remotefix here."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"
