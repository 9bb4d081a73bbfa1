"""Triage a customer bundle against the known issues, on evidence.

Each case is judged in two parts: its ``match`` rule (the environment the problem needs: OS,
package ranges) and its ``signatures`` (what only an affected machine shows). The state is:

* ``affected``: a signature matched (its lines are the evidence), environment not ruled out;
* ``susceptible``: the environment matches, the signatures' inputs were looked at, none matched;
* ``unknown``: an input needed to decide was missing (a collector not run, an item denied or
  failed, no package list) and nothing matched; the missing inputs are named;
* ``not_affected``: the environment rules the case out.

A ticket's words (``symptom``) raise cases whose signatures match that text, or whose titles share
its words. Scores order the list; an affected case always outranks every other state.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from debian.debian_support import Version

from remotefix.cases.model import KnownIssue
from remotefix.cases.signatures import Evidence, collectors_named
from remotefix.collect.bundle import open_bundle

_OP = re.compile(r"(>=|<=|>>|<<|==|!=|>|<|=)\s*([0-9][A-Za-z0-9.+~:-]*)")
_WORD = re.compile(r"[a-z0-9][a-z0-9_'.-]{3,}")
_BAD_STATUS = {"denied", "failed", "timed_out"}


class State(StrEnum):
    AFFECTED = "affected"
    SUSCEPTIBLE = "susceptible"
    UNKNOWN = "unknown"
    NOT_AFFECTED = "not_affected"


class Action(StrEnum):
    UPGRADE = "upgrade"
    WORKAROUND = "workaround"
    ESCALATE = "escalate"
    NONE = "none"


class Result(StrEnum):
    TRUE = "true"
    FALSE = "false"
    BLIND = "blind"  # the bundle lacks what the rule needs


@dataclass(frozen=True, slots=True)
class Check:
    rule: str
    result: Result
    value: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    detail: str


@dataclass(frozen=True, slots=True)
class TriageEntry:
    case: str
    title: str
    state: State
    score: float
    evidence: tuple[Evidence, ...]
    decision: Decision
    checks: tuple[Check, ...] = ()
    missing: tuple[str, ...] = ()
    symptom: str | None = None  # "signature" or "title" when the ticket's words matched

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "title": self.title,
            "state": self.state.value,
            "score": self.score,
            "evidence": [e.to_dict() for e in self.evidence],
            "decision": {"action": self.decision.action.value, "detail": self.decision.detail},
            "missing": list(self.missing),
            "symptom_match": self.symptom,
            "checks": [
                {"rule": c.rule, "result": c.result.value, "value": c.value} for c in self.checks
            ],
        }


@dataclass(frozen=True)
class BundleView:
    """What triage reads from a bundle: fingerprint, manifest, and the members it searches."""

    path: Path
    fingerprint: dict[str, Any]
    manifest: dict[str, Any]
    names: tuple[str, ...]
    texts: dict[str, str] = field(default_factory=dict)


def read_bundle(path: Path, cases: list[KnownIssue]) -> BundleView:
    """The one place triage opens a bundle; reads only the members some signature searches."""
    signatures = [s for c in cases for s in c.signatures]
    opened = open_bundle(path, read_if=lambda name: any(s.wants(name) for s in signatures))
    texts = {name: raw.decode("utf-8", errors="replace") for name, raw in opened.contents.items()}
    return BundleView(path, opened.fingerprint, opened.manifest, tuple(opened.members), texts)


def triage(bundle: Path, cases: list[KnownIssue], *, symptom: str = "") -> list[TriageEntry]:
    """Every case's state on the bundle, best first."""
    view = read_bundle(bundle, cases)
    entries = [evaluate(c, view, symptom=symptom) for c in cases]
    return sorted(entries, key=lambda e: (-e.score, list(State).index(e.state), e.case))


def evaluate(case: KnownIssue, view: BundleView, *, symptom: str = "") -> TriageEntry:
    checks = environment_checks(case, view.fingerprint)
    results = {c.result for c in checks}
    evidence = tuple(
        e for s in case.signatures for name, text in view.texts.items() if s.wants(name)
        for e in s.search(name, text)
    )  # fmt: skip
    missing = missing_inputs(case, view)
    if Result.BLIND in results:
        missing = (*missing, *(f"{c.rule}: not in the fingerprint" for c in checks
                               if c.result is Result.BLIND))  # fmt: skip
    if Result.FALSE in results:
        state = State.NOT_AFFECTED
    elif evidence:
        state = State.AFFECTED
    else:
        state = State.UNKNOWN if missing else State.SUSCEPTIBLE
    matched_by = symptom_match(case, symptom)
    score = _score(case, state, evidence, matched_by, symptom)
    decision = decide(case, view, state, missing, matched_by)
    return TriageEntry(case.id, case.title, state, score, evidence, decision, tuple(checks),
                       tuple(missing) if state is State.UNKNOWN else (), matched_by)  # fmt: skip


def environment_checks(case: KnownIssue, fingerprint: dict[str, Any]) -> list[Check]:
    """The case's ``match`` rule, part by part: true, false or blind."""
    checks = []
    os_rule = case.match.get("os") or {}
    os_ = fingerprint.get("os") or {}
    if "distro" in os_rule:
        checks.append(_check("os.distro", os_.get("id"), lambda v: v == os_rule["distro"]))
    if "version" in os_rule:
        checks.append(_check("os.version", os_.get("version_id") or os_.get("major"),
                             lambda v: in_range(v, str(os_rule["version"]))))  # fmt: skip
    packages = fingerprint.get("packages")
    for name, spec in (case.match.get("packages") or {}).items():
        have = None if packages is None else packages.get(name, "")
        checks.append(_check(f"package {name} {spec}", have,
                             lambda v, s=str(spec): bool(v) and in_range(v, s)))  # fmt: skip
    return checks


def _check(rule: str, value: Any, test: Any) -> Check:
    if value is None:
        return Check(rule, Result.BLIND, None)
    try:
        ok = bool(test(str(value)))
    except (ValueError, TypeError):
        ok = False
    return Check(rule, Result.TRUE if ok else Result.FALSE, str(value))


def missing_inputs(case: KnownIssue, view: BundleView) -> list[str]:
    """Inputs the signatures name that the bundle does not hold: a collector that did not run,
    or an item that was denied, failed or timed out (globs over files/ only when exact)."""
    collectors = {c.get("name"): c for c in view.manifest.get("collectors") or []}
    missing = [
        f"collector {name} did not run (diagnose --profile full, or --only {name})"
        for name in sorted(collectors_named(case.signatures))
        if name not in collectors
    ]
    for name, collector in collectors.items():
        bad: dict[str, list[str]] = {}
        for item in collector.get("items") or []:
            members = item.get("members") or []
            if item.get("status") in _BAD_STATUS and any(_named_by(case, m) for m in members):
                bad.setdefault(_why(item), []).append(str(item.get("name")))
        missing += [f"{name}: {', '.join(items)} ({why})" for why, items in bad.items()]
    return sorted(set(missing))


def _named_by(case: KnownIssue, member: str) -> bool:
    for signature in case.signatures:
        for glob in signature.members:
            exact_file = glob.startswith("files/") and not set(glob) & set("*?[")
            if (glob.startswith("commands/") or exact_file) and fnmatch.fnmatchcase(member, glob):
                return True
    return False


def _why(item: dict[str, Any]) -> str:
    if item.get("status") == "denied":
        return str(item.get("reason") or "denied")
    return str(item.get("status"))


def symptom_match(case: KnownIssue, symptom: str) -> str | None:
    """``signature`` when the ticket's text shows a signature, ``title`` when it shares words."""
    if not symptom.strip():
        return None
    if any(s.mentions(symptom) for s in case.signatures):
        return "signature"
    return "title" if _overlap(case.title, symptom) >= 0.3 else None


def _overlap(title: str, symptom: str) -> float:
    words = set(_WORD.findall(title.lower()))
    return len(words & set(_WORD.findall(symptom.lower()))) / len(words) if words else 0.0


_BASE = {State.AFFECTED: 0.7, State.SUSCEPTIBLE: 0.25, State.UNKNOWN: 0.2,
         State.NOT_AFFECTED: 0.0}  # fmt: skip


def _score(
    case: KnownIssue, state: State, evidence: tuple[Evidence, ...], by: str | None, symptom: str
) -> float:
    """Affected: 0.7 + up to 0.2 for the share of signatures seen + 0.1 when the ticket says
    so; others stay below 0.6 (a ticket's words move them up among themselves, never above)."""
    score = _BASE[state]
    if state is State.AFFECTED:
        seen = len({e.signature for e in evidence})
        score += 0.2 * seen / max(1, len(case.signatures)) + (0.1 if by else 0.0)
    elif by == "signature":
        score += 0.3
    elif by == "title":
        score += 0.3 * min(1.0, _overlap(case.title, symptom))
    return round(min(score, 1.0), 2)


def decide(
    case: KnownIssue, view: BundleView, state: State, missing: list[str], by: str | None
) -> Decision:
    """Affected: upgrade when a fixed version exists, else the workaround. Unknown, or a
    symptom the ticket reports without evidence: escalate with a lab."""
    repro = f"remotefix repro {case.id} --bundle {view.path}"
    if state is State.AFFECTED:
        return fix_decision(case, view.fingerprint)
    if state is State.UNKNOWN:
        return Decision(Action.ESCALATE, f"collect: {'; '.join(missing)}; or reproduce: {repro}")
    if state is State.SUSCEPTIBLE and by:
        return Decision(Action.ESCALATE, f"reported but not seen in the bundle: {repro}")
    return Decision(Action.NONE, "")


def fix_decision(case: KnownIssue, fingerprint: dict[str, Any]) -> Decision:
    """Known and fixed in a newer package → upgrade; known and unfixed → the workaround."""
    packages = fingerprint.get("packages") or {}
    upgrades = [
        f"upgrade {name} to >= {fixed}"
        for name, fixed in case.fixed_in.items()
        if fixed and name in packages and Version(packages[name]) < Version(fixed)
    ]
    if upgrades:
        return Decision(Action.UPGRADE, "; ".join(upgrades))
    text = case.workaround.strip() if case.workaround else "known, no workaround written"
    return Decision(Action.WORKAROUND, text + (f" (fix playbook: {case.fix})" if case.fix else ""))


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
