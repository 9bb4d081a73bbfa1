"""The audit log's hash chain as pure functions: hashing, parsing and the checks of ``verify``."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from remotefix.errors import AuditError

GENESIS = "0" * 64
_TAIL_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of ``AuditLog.verify``. ``records`` counts the records intact before any break."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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
