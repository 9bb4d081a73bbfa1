"""Redaction of collected bytes before anything is written, and optional obfuscation.

Rules are data (``redaction.yaml`` next to this module, plus a user's file in the same format).
Each rule masks the named group ``secret`` of its pattern (or the whole match) with
``[redacted-<rule>]`` and is counted; the counts go into the manifest, the values never do.
Matching is on bytes, so output that is not UTF-8 passes through untouched.

Obfuscation (opt-in) then replaces IPv4 addresses, learned host names and user names by
consistent placeholders (``ip-1``, ``host-1``, ``user-1``); the map back to the real values stays
with the engineer, outside the bundle.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any

from remotefix.collect.redact_engine import redact_bytes
from remotefix.collect.redact_rules import RULES_FILE, Rule, load_rules

__all__ = ["DEFAULT_RULES", "RULES_FILE", "Redactor", "Rule", "default_rules", "load_rules"]

_OCTET = rb"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV4 = re.compile(rb"(?<![\w.])(?:" + _OCTET + rb"\.){3}" + _OCTET + rb"(?![\w.])")
_KEEP_IPS = (b"127.", b"0.0.0.0", b"255.", b"169.254.")  # not identifying, needed to read output


DEFAULT_RULES: tuple[Rule, ...]  # provided by __getattr__ below, on first use


@functools.cache
def default_rules() -> tuple[Rule, ...]:
    """The rules of ``redaction.yaml``, loaded (and compiled) once, on first use."""
    return tuple(load_rules(RULES_FILE))


def __getattr__(name: str) -> Any:
    # DEFAULT_RULES is loaded lazily: `import remotefix` (the audit) should not compile them
    if name == "DEFAULT_RULES":
        return default_rules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Redactor:
    """Applies the rules (and, when asked, obfuscation) to one bundle's worth of data."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...], *, obfuscate: bool = False) -> None:
        self.rules = tuple(rules)
        self.obfuscate = obfuscate
        self._placeholders: dict[bytes, bytes] = {}
        self._kinds: Counter[str] = Counter()
        self._names: re.Pattern[bytes] | None = None

    @property
    def obfuscation_map(self) -> dict[str, str]:
        """Placeholder → real value (keep it away from the bundle)."""
        return {p.decode(): v.decode(errors="replace") for v, p in self._placeholders.items()}

    def add_hostname(self, name: str) -> None:
        self._learn(name, "host")

    def add_username(self, name: str) -> None:
        self._learn(name, "user")

    def _learn(self, value: str, kind: str) -> None:
        raw = value.strip().encode()
        if not self.obfuscate or len(raw) < 2 or raw in self._placeholders:
            return
        self._placeholder(raw, kind)
        names = sorted((v for v, p in self._placeholders.items() if not p.startswith(b"ip-")),
                       key=len, reverse=True)  # fmt: skip
        alternatives = b"|".join(re.escape(n) for n in names)
        self._names = re.compile(rb"(?<![\w.-])(?:" + alternatives + rb")(?![\w-])")

    def _placeholder(self, value: bytes, kind: str) -> bytes:
        if value not in self._placeholders:
            self._kinds[kind] += 1
            self._placeholders[value] = f"{kind}-{self._kinds[kind]}".encode()
        return self._placeholders[value]

    def redact(self, data: bytes, *, source: str = "") -> tuple[bytes, dict[str, int]]:
        """``data`` with every secret masked, and how many of each rule's matches were masked."""
        data, counts = redact_bytes(self.rules, data, source=source, mask=_mask)
        if self.obfuscate:
            data = self._obfuscated(data)
        return data, counts

    def _obfuscated(self, data: bytes) -> bytes:
        def ip(match: re.Match[bytes]) -> bytes:
            value = match.group(0)
            return value if value.startswith(_KEEP_IPS) else self._placeholder(value, "ip")

        data = _IPV4.sub(ip, data)
        if self._names is not None:
            data = self._names.sub(lambda m: self._placeholders[m.group(0)], data)
        return data


def _mask(rule: str) -> bytes:
    return f"[redacted-{rule}]".encode()
