"""The audit log's hash chain as pure functions: hashing, parsing and the checks of ``verify``."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from remotefix.errors import AuditError

GENESIS = "0" * 64
_TAIL_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of ``AuditLog.verify``. ``records`` counts the records intact before any break.

    ``torn_tail`` is true when the only damage is a last line that is not a whole record (a
    write cut short): ``AuditLog.repair`` can move it aside.
    """

    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None
    torn_tail: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What ``AuditLog.repair`` did: the torn bytes kept in ``moved_to``, the repair record."""

    moved_to: Path
    size: int
    sha256: str
    record: dict[str, Any]

    def to_dict(self) -> dict[str, object]:
        return {
            "moved_to": str(self.moved_to),
            "bytes": self.size,
            "sha256": self.sha256,
            "seq": self.record["seq"],
        }


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``record`` without its ``hash`` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def last_line(fh: BinaryIO) -> bytes | None:
    """The last line of a binary file (with its newline, if any); None for an empty file."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return None
    buf, pos = b"", end
    while pos > 0:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
        cut = buf.rfind(b"\n", 0, len(buf) - 1)
        if cut >= 0:
            return buf[cut + 1 :]
    return buf


def torn_tail(fh: BinaryIO) -> tuple[int, bytes] | None:
    """(offset, bytes) of a last line that is not a whole record; None when the tail is whole."""
    line = last_line(fh)
    if line is None:
        return None
    record, _ = parse_line(line, "the last line")
    if record is not None and {"seq", "hash"} <= record.keys():
        return None
    return fh.seek(0, os.SEEK_END) - len(line), line


def cut_torn_tail(path: Path) -> tuple[Path, bytes]:
    """Copy a torn last line into a new private file next to ``path``, then cut it off.

    Returns (that file, the bytes). The caller holds the log's write lock.
    """
    with open(path, "r+b") as fh:
        tail = torn_tail(fh)
        if tail is None:
            raise AuditError(f"audit log {path} has no torn last line to move aside")
        offset, data = tail
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        moved_to = path.with_name(f"{path.stem}.torn-{stamp}.jsonl")
        fd = os.open(moved_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        fh.truncate(offset)
        fh.flush()
        os.fsync(fh.fileno())
    return moved_to, data


def encoded(line: str, record: Mapping[str, Any]) -> bytes:
    """``line`` as UTF-8, or ``AuditError`` naming the field that cannot be (e.g. a name with
    bytes that are not UTF-8, which Python keeps as surrogates)."""
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        bad = next((k for k, v in record.items() if not _is_utf8(v)), "record")
        shown = ascii(record.get(bad, ""))[:80]
        raise AuditError(
            f"audit record not written: its {bad} {shown} is not valid UTF-8",
            hint="use a name that is valid UTF-8 (e.g. an inventory alias)",
        ) from None


def _is_utf8(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_line(line: str | bytes, where: str) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None), or (None, why the line is not a complete record)."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    if not text.endswith("\n"):
        return None, "last line is incomplete (no newline): truncated or torn write"
    try:
        record = json.loads(text)
    except ValueError:
        return None, f"{where} is not valid JSON"
    if not isinstance(record, dict):
        return None, f"{where} is not a JSON object"
    return record, None


def chain_error(record: dict[str, Any], expected: int, prev: str, first: str | None) -> str | None:
    """Why ``record`` does not continue the chain; ``first`` is the head's first hash."""
    if record.get("hash") != record_hash(record):
        return "hash mismatch: the record was edited"
    if record.get("seq") != expected:
        return f"found seq {record.get('seq')} where {expected} was expected (deleted or reordered)"
    if record.get("prev") != prev:
        return f"prev does not match the hash of record {expected - 1} (deleted or reordered)"
    if first is not None and record["hash"] != first:
        return "differs from the first record the head remembers (log rewritten?)"
    return None


def check_reaches_head(path: Path, last: dict[str, Any] | None, head: dict[str, Any]) -> None:
    """Refuse to extend a log that lost records the head remembers (or was rewritten)."""
    seq = last["seq"] if last else 0
    if head and (
        seq < head["seq"] or (seq == head["seq"] and last and last["hash"] != head["hash"])
    ):
        raise AuditError(
            f"audit log {path} ends at seq {seq} but its head records seq {head['seq']}: "
            "records were removed or the log was rewritten",
            hint="run `remotefix audit verify`; move audit.jsonl and audit.head aside to "
            "start a new log",
        )


def check_head(head: dict[str, Any], count: int, at_head: str | None) -> VerifyReport:
    """The chain is intact; does the log still reach the record the head remembers?"""
    if head and count < head["seq"]:
        why = f"log ends at seq {count} but the head records seq {head['seq']} (records removed)"
        return VerifyReport(False, count, count + 1, why)
    if head and at_head != head["hash"]:
        why = "does not match the record the head remembers (log rewritten?)"
        return VerifyReport(False, head["seq"] - 1, head["seq"], why)
    return VerifyReport(True, count)


def read_head(path: Path) -> dict[str, Any]:
    """The head file (last seq and hash, first hash); {} when there is none yet."""
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuditError(f"audit head {path} is unreadable: {exc}") from exc
    if not isinstance(head, dict) or not {"seq", "hash", "first"} <= head.keys():
        raise AuditError(f"audit head {path} is malformed")
    return head


def write_head(path: Path, head: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".head.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(head) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


_NULL_FIELDS = ("case", "target", "address", "consent_id", "scope", "command", "exit_code")
_NULL_FIELDS += ("duration_s", "stdout_sha256", "stderr_sha256")


def repair_fields(moved_to: Path, data: bytes, reason: str | None, actor: str) -> dict[str, Any]:
    """The fields of the ``audit.repair`` record that says where a torn tail went."""
    extra = {
        "moved_to": str(moved_to),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "reason": reason,
    }
    return {
        **dict.fromkeys(_NULL_FIELDS),
        "actor": actor,
        "action": "audit.repair",
        "timed_out": False,
        "truncated": False,
        "elevated": False,
        "extra": extra,
    }
