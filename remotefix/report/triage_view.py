"""Triage of the case's first bundle, as rows the documents show (states, evidence, decision)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from remotefix.cases.model import load_cases
from remotefix.cases.signatures import Evidence
from remotefix.cases.triage import Decision, State, TriageEntry, triage
from remotefix.errors import RemotefixError


@dataclass(frozen=True, slots=True)
class TriageRow:
    case: str
    title: str
    state: str
    score: float
    decision: str
    evidence: tuple[Evidence, ...]
    missing: tuple[str, ...]


def triage_rows(bundle: Path) -> tuple[TriageRow, ...]:
    """Every shipped case's triage state on ``bundle``; cases that do not apply are left out."""
    try:
        entries = triage(bundle, load_cases(None))
    except RemotefixError:
        return ()
    return tuple(_row(e) for e in entries if e.state is not State.NOT_AFFECTED)


def _row(entry: TriageEntry) -> TriageRow:
    return TriageRow(
        case=entry.case,
        title=entry.title,
        state=entry.state.value,
        score=entry.score,
        decision=_decision(entry.decision),
        evidence=entry.evidence,
        missing=entry.missing,
    )


def _decision(decision: Decision) -> str:
    action = decision.action.value
    return f"{action}: {decision.detail}" if decision.detail else action
