"""Redaction of collected bytes before anything is written, and optional obfuscation.

Rules are data (``redaction.yaml`` next to this module, plus a user's file in the same format).
Each rule masks the named group ``secret`` of its pattern (or the whole match) with
``[redacted-<rule>]`` and is counted; the counts go into the manifest, the values never do.
Matching is on bytes, so output that is not UTF-8 passes through untouched.

Obfuscation (opt-in) then replaces every identity by a consistent placeholder
(``remotefix.collect.obfuscate``); the map back to the real values stays with the engineer.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.collect.obfuscate import Obfuscator
from remotefix.errors import ConfigError

RULES_FILE = Path(__file__).with_name("redaction.yaml")
_RULE_KEYS = {"name", "pattern", "ignore_case", "paths"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One redaction pattern; it applies to items whose name matches one of ``paths`` (or all)."""

    name: str
    pattern: re.Pattern[bytes]
    paths: tuple[str, ...] = ()

    def applies_to(self, source: str) -> bool:
        return not self.paths or any(fnmatch.fnmatch(source, p) for p in self.paths)

    @property
    def mask(self) -> bytes:
        return f"[redacted-{self.name}]".encode()


def load_rules(path: Path) -> list[Rule]:
    """Rules from a YAML list of ``{name, pattern, ignore_case?, paths?}``."""
    raw = load_yaml(path)
    if not isinstance(raw, list):
        raise ConfigError(
            f"{path}: expected a list of rules", hint="see remotefix/collect/redaction.yaml"
        )
    return [_rule(path, index, item) for index, item in enumerate(raw)]


def _rule(path: Path, index: int, item: Any) -> Rule:
    where = f"{path}: rule {index + 1}"
    if not isinstance(item, dict) or not {"name", "pattern"} <= item.keys():
        raise ConfigError(f"{where}: needs 'name' and 'pattern'")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    flags = re.MULTILINE | (re.IGNORECASE if item.get("ignore_case") else 0)
    try:
        pattern = re.compile(str(item["pattern"]).encode(), flags)
    except re.error as exc:
        raise ConfigError(f"{where} ({item['name']}): bad regular expression: {exc}") from exc
    paths = item.get("paths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{where}: 'paths' must be a list of globs")
    return Rule(str(item["name"]), pattern, tuple(paths))


DEFAULT_RULES: tuple[Rule, ...] = tuple(load_rules(RULES_FILE))


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
        counts: dict[str, int] = {}
        for rule in self.rules:
            if not rule.applies_to(source):
                continue
            data, found = _apply(rule, data)
            if found:
                counts[rule.name] = counts.get(rule.name, 0) + found
        if self.obfuscator:
            data = self.obfuscator.apply(data)
        return data, counts


def _apply(rule: Rule, data: bytes) -> tuple[bytes, int]:
    found = 0
    secret = "secret" in rule.pattern.groupindex

    def mask(match: re.Match[bytes]) -> bytes:
        nonlocal found
        if not secret:
            found += 1
            return rule.mask
        start, end = match.span("secret")
        if start < 0 or start == end:
            return match.group(0)
        found += 1
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + rule.mask + whole[end - offset :]

    return rule.pattern.sub(mask, data), found
