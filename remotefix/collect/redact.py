"""Redaction of collected bytes before anything is written, and optional obfuscation.

Rules are data (``redaction.yaml`` next to this module, plus a user's file in the same format).
Each rule masks the named group ``secret`` of its pattern (or the whole match) with
``[redacted-<rule>]`` and is counted; the counts go into the manifest, the values never do.
Matching is on bytes, so output that is not UTF-8 passes through untouched.

Obfuscation (opt-in) then replaces every identity by a consistent placeholder
(``remotefix.collect.obfuscate``); the map back to the real values stays with the engineer.
"""

from __future__ import annotations

import functools
from typing import Any

from remotefix.collect.obfuscate import Obfuscator
from remotefix.collect.redact_engine import redact_bytes
from remotefix.collect.redact_rules import RULES_FILE, Rule, load_rules

__all__ = ["DEFAULT_RULES", "RULES_FILE", "Redactor", "Rule", "default_rules", "load_rules"]

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
        self.obfuscator = Obfuscator() if obfuscate else None

    @property
    def obfuscation_map(self) -> dict[str, str]:
        """Placeholder → real value (keep it away from the bundle)."""
        return self.obfuscator.mapping if self.obfuscator else {}

    def add_hostname(self, name: str) -> None:
        if self.obfuscator:
            self.obfuscator.learn_host(name)

    def add_username(self, name: str) -> None:
        if self.obfuscator:
            self.obfuscator.learn(name, "user")

    def redact(self, data: bytes, *, source: str = "") -> tuple[bytes, dict[str, int]]:
        """``data`` with every secret masked, and how many of each rule's matches were masked."""
        data, counts = redact_bytes(self.rules, data, source=source, mask=_mask)
        if self.obfuscator:
            data = self.obfuscator.apply(data)
        return data, counts


def _mask(rule: str) -> bytes:
    return f"[redacted-{rule}]".encode()
