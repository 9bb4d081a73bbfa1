"""The audit of one case as a work order: records grouped into phases, with durations and who."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PHASES = ("consent", "diagnose", "triage", "lab", "repro", "fix practice", "fix", "verify", "other")


@dataclass(frozen=True, slots=True)
class Phase:
    """A run of consecutive records of one phase (a phase can occur more than once)."""

    name: str
    started: str
    ended: str
    duration_s: float
    busy_s: float
    actors: tuple[str, ...]
    targets: tuple[str, ...]
    actions: dict[str, int]
    first_seq: int
    last_seq: int
    refused: int


def phase_of(record: dict[str, Any], labs: set[str], fixed: bool) -> str:
    """Which phase a record belongs to; ``fixed`` says a fix was applied earlier in the case."""
    action = str(record.get("action", "")).removesuffix(".intent")
    on_lab = record.get("target") in labs or str(record.get("address") or "").startswith(
        "docker://"
    )
    if action.startswith("consent"):
        return "consent"
    if action.startswith("fix-lab"):
        return "fix practice"
    if action.startswith("fix"):
        return "fix"
    if action.startswith("lab") or (on_lab and action == "diagnose"):
        return "lab"
    if action == "repro":
        if on_lab:
            return "repro"
        return "verify" if fixed else "repro"
    if action == "diagnose":
        return "verify" if fixed else "diagnose"
    if action == "triage":
        return "triage"
    return "other"


def phases(records: tuple[dict[str, Any], ...], labs: set[str]) -> tuple[Phase, ...]:
    """Consecutive records of one phase become one ``Phase``, in the order they happened.

    An intent record whose outcome was written is folded into that outcome; one without an
    outcome (the work was cut off) stays, so the table shows it.
    """
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    fixed = False
    for record in outcomes(records):
        name = phase_of(record, labs, fixed)
        fixed = fixed or str(record.get("action", "")).startswith("fix-apply")
        if groups and groups[-1][0] == name:
            groups[-1][1].append(record)
        else:
            groups.append((name, [record]))
    return tuple(_phase(name, group) for name, group in groups)


def outcomes(records: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The records without the intents that a later outcome answers (the same action on the
    same target); an intent nothing answered stays: that work was cut off."""
    out, seen = [], set()
    for record in reversed(records):
        action, target = str(record.get("action", "")), record.get("target")
        if action.endswith(".intent"):
            if (action.removesuffix(".intent"), target) in seen:
                continue
        else:
            seen.add((action, target))
        out.append(record)
    return out[::-1]


def _phase(name: str, group: list[dict[str, Any]]) -> Phase:
    ends = [_time(r) for r in group]
    starts = [
        t - timedelta(seconds=float(r.get("duration_s") or 0))
        for t, r in zip(ends, group, strict=True)
    ]
    actions: dict[str, int] = {}
    for r in group:
        actions[str(r.get("action"))] = actions.get(str(r.get("action")), 0) + 1
    return Phase(
        name=name,
        started=_iso(min(starts)),
        ended=_iso(max(ends)),
        duration_s=round((max(ends) - min(starts)).total_seconds(), 2),
        busy_s=round(sum(float(r.get("duration_s") or 0) for r in group), 2),
        actors=tuple(sorted({str(r.get("actor", "")) for r in group})),
        targets=tuple(sorted({str(r.get("target")) for r in group if r.get("target")})),
        actions=actions,
        first_seq=int(group[0].get("seq", 0)),
        last_seq=int(group[-1].get("seq", 0)),
        refused=sum(r.get("action") == "refused" for r in group),
    )


def _time(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
