"""Triage a customer bundle against every known issue's ``match`` rule.

Each rule part (OS, each package range, each evidence pattern) is ``true``, ``false`` or
``blind`` (the bundle lacks what the rule needs). A case matches when every part is true; it is
*possible* when nothing is false but some part was blind (listed, so the engineer knows triage
could not look there: blind is not negative). Confidence is the share of true parts.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debian.debian_support import Version

from remotefix.cases.model import KnownIssue
from remotefix.collect.bundle import open_bundle, read_members

_OP = re.compile(r"(>=|<=|>>|<<|==|!=|>|<|=)\s*([0-9][A-Za-z0-9.+~:-]*)")


@dataclass
class CaseMatch:
    case: str
    title: str
    matched: bool
    possible: bool
    confidence: float
    checks: list[dict[str, Any]] = field(default_factory=list)
    blind: list[str] = field(default_factory=list)
    decision: str = ""


def in_range(version: str, spec: str) -> bool:
    """``1.2-3`` in ``>=1.2, <2`` with dpkg's ordering (``*`` is any version)."""
    if spec.strip() == "*":
        return True
    have = Version(version)
    for op, bound in _OP.findall(spec):
        other = Version(bound)
        ok = {
            ">=": have >= other, "<=": have <= other, ">": have > other, ">>": have > other,
            "<": have < other, "<<": have < other, "=": have == other, "==": have == other,
            "!=": have != other,
        }[op]  # fmt: skip
        if not ok:
            return False
    return True


def triage(bundle: Path, cases: list[KnownIssue]) -> list[CaseMatch]:
    """Every case's verdict on the bundle, best matches first."""
    opened = open_bundle(bundle)
    wanted = sorted({e["member"] for c in cases for e in c.match.get("evidence", [])}
                    & set(opened.members))  # fmt: skip
    members = read_members(bundle, wanted) if wanted else {}
    results = [evaluate(c, opened.fingerprint, members, set(opened.members)) for c in cases]
    return sorted(results, key=_rank)


def _rank(m: CaseMatch) -> tuple[bool, bool, int, float, str]:
    """Matches first; among them, those backed by observed evidence (the symptom itself)."""
    seen = sum(c["rule"].startswith("evidence") and c["result"] == "true" for c in m.checks)
    return (not m.matched, not m.possible, -seen, -m.confidence, m.case)


def evaluate(
    case: KnownIssue, fingerprint: dict[str, Any], members: dict[str, bytes], present: set[str]
) -> CaseMatch:
    checks: list[dict[str, Any]] = []
    rule = case.match
    os_rule = rule.get("os") or {}
    os_ = fingerprint.get("os") or {}
    if "distro" in os_rule:
        checks.append(_check("os.distro", os_.get("id"), lambda v: v == os_rule["distro"]))
    if "version" in os_rule:
        checks.append(_check("os.version", os_.get("version_id") or os_.get("major"),
                             lambda v: in_range(str(v), str(os_rule["version"]))))  # fmt: skip
    packages = fingerprint.get("packages")
    for name, spec in (rule.get("packages") or {}).items():
        have = None if packages is None else packages.get(name, "")
        checks.append(_check(f"package {name} {spec}", have,
                             lambda v, s=str(spec): bool(v) and in_range(v, s)))  # fmt: skip
    for evidence in rule.get("evidence") or []:
        member = evidence["member"]
        data = members.get(member) if member in present else None
        text = None if data is None else data.decode(errors="replace")
        if "contains" in evidence:
            test = lambda t, e=evidence: str(e["contains"]) in t  # noqa: E731
        else:
            pattern = re.compile(str(evidence["matches"]), re.M)
            test = lambda t, p=pattern: p.search(t) is not None  # noqa: E731
        checks.append(_check(f"evidence {member}", text, test, show=False))
    states = [c["result"] for c in checks]
    matched = bool(states) and all(s == "true" for s in states)
    possible = not matched and "false" not in states and "blind" in states
    confidence = states.count("true") / len(states) if states else 0.0
    result = CaseMatch(case.id, case.title, matched, possible, round(confidence, 2), checks,
                       [c["rule"] for c in checks if c["result"] == "blind"])  # fmt: skip
    result.decision = decide(case, fingerprint) if matched or possible else ""
    return result


def _check(rule: str, value: Any, test: Any, *, show: bool = True) -> dict[str, Any]:
    if value is None:
        return {"rule": rule, "result": "blind", "value": None}
    try:
        ok = bool(test(value))
    except (ValueError, TypeError, tarfile.TarError):
        ok = False
    return {"rule": rule, "result": "true" if ok else "false", "value": value if show else "…"}


def decide(case: KnownIssue, fingerprint: dict[str, Any]) -> str:
    """Known and fixed in a newer package → upgrade; known and unfixed → the workaround."""
    packages = fingerprint.get("packages") or {}
    upgrades = [
        f"upgrade {name} to >= {fixed}"
        for name, fixed in case.fixed_in.items()
        if fixed and name in packages and Version(packages[name]) < Version(fixed)
    ]
    if upgrades:
        return "; ".join(upgrades)
    text = f"workaround: {case.workaround.strip()}" if case.workaround else "known, no workaround"
    return text + (f" (fix playbook: {case.fix})" if case.fix else "")
