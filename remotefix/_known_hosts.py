"""Reading OpenSSH ``known_hosts`` files line by line, markers included.

paramiko's loader raises on the first ``@cert-authority`` or ``@revoked`` line (and on any
line it cannot decode). Here every line is read on its own: plain lines are trusted keys,
``@revoked`` lines are keys to refuse, ``@cert-authority`` lines are kept so that callers can
say they are not used, and unreadable lines are skipped with a note (as OpenSSH does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey


class Marker(Enum):
    NONE = ""
    REVOKED = "@revoked"
    CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class KnownLine:
    """One usable line: its host names (or patterns, or hashes), key and marker."""

    path: Path
    number: int
    marker: Marker
    names: tuple[str, ...]
    key: paramiko.PKey

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


@dataclass(frozen=True)
class KnownFile:
    lines: tuple[KnownLine, ...]
    skipped: tuple[str, ...]
    """``path:line: why`` for each line that could not be read (not fatal)."""


def read_known_hosts(path: Path) -> KnownFile:
    """Every line of ``path`` (missing file: nothing)."""
    if not path.is_file():
        return KnownFile((), ())
    lines, skipped = [], []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker = Marker.NONE
        if line.startswith("@"):
            word, _, line = line.partition(" ")
            known = {m.value: m for m in Marker if m.value}
            if word not in known:
                skipped.append(f"{path}:{number}: unknown marker {word}")
                continue
            marker = known[word]
        entry = _entry(line, number)
        if entry is None:
            skipped.append(f"{path}:{number}: not a key this version can read")
            continue
        lines.append(KnownLine(path, number, marker, tuple(entry.hostnames), entry.key))
    return KnownFile(tuple(lines), tuple(skipped))


def _entry(line: str, number: int) -> HostKeyEntry | None:
    try:
        return HostKeyEntry.from_line(line, number)
    except (InvalidHostKey, paramiko.SSHException, ValueError, TypeError):
        return None


def names_match(names: tuple[str, ...], host: str) -> bool:
    """OpenSSH host matching: hashed names, ``*``/``?`` patterns and ``!`` negations."""
    host = host.lower()
    hit = False
    for name in names:
        negated = name.startswith("!")
        pattern = name[1:].lower() if negated else name.lower()
        if pattern.startswith("|1|"):
            found = paramiko.HostKeys.hash_host(host, name) == name
        else:
            found = _wildcard(pattern).fullmatch(host) is not None
        if found and negated:
            return False
        hit = hit or found
    return hit


def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH patterns know only ``*`` and ``?`` (``[host]:port`` brackets are literal)."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))
