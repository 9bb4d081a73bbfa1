"""Symptom signatures: patterns over named bundle members that only a machine with the problem
shows (an error line in a log, a dpkg journal entry), as opposed to ``match`` (the environment the
problem needs: OS, package versions).

In a case file::

    signatures:
      - name: pip refused a system-wide install
        members: ["commands/logs/*.out", "files/**.log"]     # globs over bundle member names
        matches: "error: externally-managed-environment"    # a regular expression, per line
        ignore_case: false                                   # optional

A signature's evidence is the matching lines, each with its member and line number; the
excerpts come from the bundle, which is redacted before it is written, and are capped.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from remotefix.errors import ConfigError

EXCERPT_CHARS = 200
EVIDENCE_PER_SIGNATURE = 3
_KEYS = {"name", "members", "matches", "ignore_case"}
_TAIL_HEADER = re.compile(r"^==> (/\S+) <==$")  # what `tail` prints before each of several files
_MEMBER = re.compile(r"^(commands|files)/[A-Za-z0-9_./*?@+\[\]-]+$")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One line that shows the symptom: where it is and what it says (redacted, capped)."""

    member: str
    line: int
    excerpt: str
    signature: str
    source: str | None = None  # the file a tail of several logs was taken from

    def to_dict(self) -> dict[str, Any]:
        out = {"member": self.member, "line": self.line, "excerpt": self.excerpt,
               "signature": self.signature}  # fmt: skip
        return out | ({"source": self.source} if self.source else {})


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    members: tuple[str, ...]
    pattern: re.Pattern[str]

    def wants(self, member: str) -> bool:
        return not member.endswith((".err", ".stderr")) and any(
            fnmatch.fnmatchcase(member, glob) for glob in self.members
        )

    def search(self, member: str, text: str) -> list[Evidence]:
        """The first few lines of ``text`` that match, as evidence."""
        found = []
        source = None
        for number, line in enumerate(text.splitlines(), start=1):
            header = _TAIL_HEADER.match(line)
            if header:
                source = header.group(1)
            elif self.pattern.search(line):
                found.append(Evidence(member, number, _excerpt(line), self.name, source))
                if len(found) == EVIDENCE_PER_SIGNATURE:
                    break
        return found

    def mentions(self, text: str) -> bool:
        """Does a ticket's text (an error message the customer pasted) show this symptom?"""
        return any(self.pattern.search(line) for line in text.splitlines())


def _excerpt(line: str) -> str:
    line = line.strip()
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 1] + "…"


def parse_signatures(where: str, raw: Any) -> tuple[Signature, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: signatures must be a list")
    return tuple(_signature(f"{where}: signatures[{i}]", item) for i, item in enumerate(raw))


def _signature(at: str, raw: Any) -> Signature:
    if not isinstance(raw, dict) or set(raw) - _KEYS or not raw.get("matches"):
        raise ConfigError(f"{at}: a signature holds {', '.join(sorted(_KEYS))} (matches needed)")
    members = raw.get("members")
    if not isinstance(members, list) or not members:
        raise ConfigError(f"{at}: members must list bundle member globs like commands/logs/*.out")
    bad = [m for m in members if not isinstance(m, str) or not _MEMBER.match(m)]
    if bad:
        raise ConfigError(f"{at}: member glob {bad[0]!r} must start with commands/ or files/")
    flags = re.IGNORECASE if raw.get("ignore_case") else 0
    try:
        pattern = re.compile(str(raw["matches"]), flags)
    except re.error as exc:
        raise ConfigError(f"{at}: matches: bad regular expression: {exc}") from exc
    if pattern.search(""):
        raise ConfigError(f"{at}: matches {raw['matches']!r} matches an empty line (everything)")
    return Signature(str(raw.get("name") or raw["matches"])[:80], tuple(members), pattern)


def collectors_named(signatures: Iterable[Signature]) -> set[str]:
    """Collectors whose command outputs the signatures read (``commands/<collector>/...``)."""
    return {
        glob.split("/")[1]
        for s in signatures
        for glob in s.members
        if glob.startswith("commands/") and not set(glob.split("/")[1]) & set("*?[")
    }
