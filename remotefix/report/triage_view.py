"""Triage of the case's first bundle, as rows the documents show (states, evidence, decision)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from remotefix.cases.model import load_cases
from remotefix.cases.triage import triage
from remotefix.errors import RemotefixError


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    member: str
    line: int | None
    excerpt: str


@dataclass(frozen=True, slots=True)
class TriageRow:
    case: str
    title: str
    state: str
    score: float
    decision: str
    evidence: tuple[EvidenceLine, ...]
    missing: tuple[str, ...]


def triage_rows(bundle: Path) -> tuple[TriageRow, ...]:
    """Every shipped case's triage state on ``bundle``; cases that do not apply are left out."""
    try:
        results = triage(bundle, load_cases(None))
    except RemotefixError:
        return ()
    rows = tuple(_row(r) for r in results)
    return tuple(r for r in rows if r.state != "not_affected")


def _row(result: object) -> TriageRow:
    data = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    evidence = tuple(
        EvidenceLine(str(e.get("member", "")), e.get("line"), str(e.get("excerpt", ""))[:300])
        for e in data.get("evidence") or ()
        if isinstance(e, dict)
    )
    return TriageRow(
        case=str(data.get("case", "")),
        title=str(data.get("title", "")),
        state=str(data.get("state") or _legacy_state(data)),
        score=float(data.get("score", data.get("confidence", 0.0)) or 0.0),
        decision=str(data.get("decision", "")),
        evidence=evidence,
        missing=tuple(str(m) for m in data.get("missing") or data.get("blind") or ()),
    )


def _legacy_state(data: dict[str, object]) -> str:
    if data.get("matched"):
        return "matched"
    return "unknown" if data.get("possible") else "not_affected"
