"""Fix runs as the audit recorded them: per target and phase, each task's status and change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from remotefix.filenames import safe_name
from remotefix.workspace import Workspace


@dataclass(frozen=True, slots=True)
class TaskRow:
    phase: str
    task: str
    status: str
    changed: bool
    message: str


@dataclass(frozen=True, slots=True)
class FixRun:
    """One playbook on one target (the lab during practice, or the customer)."""

    target: str
    playbook: str
    on_lab: bool
    tasks: tuple[TaskRow, ...]

    def phase(self, name: str) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if t.phase == name)

    def changed(self, name: str) -> int:
        return sum(t.changed for t in self.phase(name))

    @property
    def applied(self) -> bool:
        return bool(self.phase("apply"))

    @property
    def idempotent(self) -> bool | None:
        again = self.phase("idempotence")
        return None if not again else not any(t.changed for t in again)

    @property
    def failed(self) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if t.status in ("failed", "unreachable"))


def fix_runs(records: tuple[dict[str, Any], ...]) -> tuple[FixRun, ...]:
    """Group the ``fix-*`` task records by (target, playbook), keeping their order."""
    runs: dict[tuple[str, str, bool], list[TaskRow]] = {}
    for record in records:
        action = str(record.get("action", ""))
        if not action.startswith("fix-") or action.endswith(".intent") or not record.get("extra"):
            continue
        on_lab = action.startswith("fix-lab-")
        phase = action.removeprefix("fix-lab-" if on_lab else "fix-")
        playbook, _, task = str(record.get("command") or "").partition(": ")
        extra = record["extra"] if isinstance(record["extra"], dict) else {}
        row = TaskRow(
            phase=phase,
            task=task or playbook,
            status=str(extra.get("status", "")),
            changed=bool(extra.get("changed")),
            message=str(extra.get("message") or ""),
        )
        runs.setdefault((str(record.get("target")), playbook, on_lab), []).append(row)
    return tuple(
        FixRun(target=t, playbook=p, on_lab=lab, tasks=tuple(rows))
        for (t, p, lab), rows in runs.items()
    )


@dataclass(frozen=True, slots=True)
class FixDiff:
    """What an applied fix changed on one target: its fingerprint before vs after."""

    playbook: str
    target: str
    diff: dict[str, Any]


def fix_diffs(workspace: Workspace, case: str) -> tuple[FixDiff, ...]:
    """The before/after diffs ``remotefix fix`` kept for ``case``, oldest first."""
    out = []
    for path in sorted((workspace.cases / safe_name(case) / "fix").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for target, diff in (data.get("diffs") or {}).items():
            out.append(FixDiff(str(data.get("playbook", "")), str(target), dict(diff)))
    return tuple(out)
