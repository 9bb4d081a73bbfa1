"""Redaction rules as data: the ``Rule`` value and its loader (``redaction.yaml`` format).

A rule names a pattern whose ``secret…`` groups (or, without one, the whole match) are secrets.
Optional fields narrow it, in the spirit of gitleaks' rule catalogue: ``paths`` (globs of the
source the bytes came from), ``within`` (a region pattern: the rule only looks inside its matches,
or inside its group ``region``), ``keywords`` (the rule runs only when one of them occurs, ignoring
case: cheap, and it keeps expensive patterns off unrelated data), ``line_keywords`` (the same for a
rule that matches within one line: it only looks at the lines that hold one) and ``min_entropy``
(a candidate below this Shannon entropy, in bits per byte, is not a secret).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.errors import ConfigError

RULES_FILE = Path(__file__).with_name("redaction.yaml")
_RULE_KEYS = {
    "name",
    "pattern",
    "ignore_case",
    "paths",
    "within",
    "keywords",
    "line_keywords",
    "min_entropy",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One redaction pattern; it applies to items whose name matches one of ``paths`` (or all)."""

    name: str
    pattern: re.Pattern[bytes]
    paths: tuple[str, ...] = ()
    within: re.Pattern[bytes] | None = None
    keywords: tuple[bytes, ...] = ()
    min_entropy: float = 0.0
    line_keywords: tuple[bytes, ...] = ()

    def applies_to(self, source: str) -> bool:
        return not self.paths or any(fnmatch.fnmatch(source, p) for p in self.paths)


def load_rules(path: Path) -> list[Rule]:
    """Rules from a YAML list of ``{name, pattern, ignore_case?, paths?, within?, keywords?,
    line_keywords?, min_entropy?}``."""
    raw = load_yaml(path)
    if not isinstance(raw, list):
        raise ConfigError(
            f"{path}: expected a list of rules", hint="see remotefix/collect/redaction.yaml"
        )
    return [_rule(f"{path}: rule {index + 1}", item) for index, item in enumerate(raw)]


def _rule(where: str, item: Any) -> Rule:
    if not isinstance(item, dict) or not {"name", "pattern"} <= item.keys():
        raise ConfigError(f"{where}: needs 'name' and 'pattern'")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    where = f"{where} ({item['name']})"
    flags = re.MULTILINE | (re.IGNORECASE if item.get("ignore_case") else 0)
    within = item.get("within")
    return Rule(
        name=str(item["name"]),
        pattern=_compile(where, item["pattern"], flags),
        paths=_strings(where, item, "paths"),
        within=_compile(where, within, flags) if within is not None else None,
        keywords=tuple(k.lower().encode() for k in _strings(where, item, "keywords")),
        min_entropy=_number(where, item.get("min_entropy", 0.0)),
        line_keywords=tuple(k.lower().encode() for k in _strings(where, item, "line_keywords")),
    )


def _compile(where: str, pattern: Any, flags: int) -> re.Pattern[bytes]:
    try:
        return re.compile(str(pattern).encode(), flags)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regular expression: {exc}") from exc


def _strings(where: str, item: dict[str, Any], key: str) -> tuple[str, ...]:
    values = item.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(values)


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 8:
        raise ConfigError(f"{where}: 'min_entropy' must be a number from 0 to 8 (bits per byte)")
    return float(value)
