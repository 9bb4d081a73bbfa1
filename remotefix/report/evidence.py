"""The case's evidence as the workspace stored it: bundles (verified first) and repro verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remotefix.collect.bundle import open_bundle
from remotefix.errors import RemotefixError
from remotefix.workspace import Workspace


@dataclass(frozen=True, slots=True)
class BundleView:
    """One collected bundle: where it came from, its fingerprint, what was not given."""

    name: str
    path: Path
    target: str
    started_at: str
    profile: str
    fingerprint: dict[str, Any]
    redacted: int
    not_given: tuple[str, ...]
    verified: bool
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepView:
    name: str
    command: str
    exit_code: int | None
    met: bool | None
    output: str


@dataclass(frozen=True, slots=True)
class ReproView:
    """A repro verdict: on a lab (``on`` names the base or bundle) or on the customer (verify)."""

    case: str
    on: str
    lab: str | None
    verdict: str
    as_declared: bool
    origin: str
    duration_s: float
    steps: tuple[StepView, ...]
    when: str

    @property
    def on_customer(self) -> bool:
        return self.on.startswith("customer:")


def load_bundles(workspace: Workspace, case: str) -> tuple[BundleView, ...]:
    """The case's bundles from the workspace index, oldest first, each verified before use."""
    index = workspace.bundles / "index.jsonl"
    if not index.exists():
        return ()
    rows = []
    for line in index.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("case") == case:
            rows.append(row)
    rows.sort(key=lambda r: str(r.get("started_at", "")))
    return tuple(v for v in (_bundle_view(workspace, case, r) for r in rows) if v is not None)


def _bundle_view(workspace: Workspace, case: str, row: dict[str, Any]) -> BundleView | None:
    path = Path(str(row.get("path", "")))
    if not path.is_file():
        path = workspace.bundles / case / path.name
    if not path.is_file():
        return None
    try:
        opened = open_bundle(path)  # verifies every member against the manifest first
    except RemotefixError as exc:
        return BundleView(path.name, path, str(row.get("target", "")), "", "", {}, 0, (),
                          False, (exc.message,))  # fmt: skip
    manifest = opened.manifest
    return BundleView(
        name=path.name,
        path=path,
        target=str(row.get("target") or manifest.get("target", {}).get("name", "")),
        started_at=str(manifest.get("started_at", "")),
        profile=str(manifest.get("profile", "")),
        fingerprint=opened.fingerprint,
        redacted=int((manifest.get("redaction") or {}).get("total", 0)),
        not_given=_not_given(manifest),
        verified=True,
        problems=(),
    )


def _not_given(manifest: dict[str, Any]) -> tuple[str, ...]:
    """Items the customer's machine did not give (denied, failed, truncated), named with why."""
    out = []
    for collector in manifest.get("collectors") or ():
        for item in collector.get("items") or ():
            status = str(item.get("status", ""))
            if status in ("denied", "failed", "timed_out") or item.get("truncated"):
                why = "truncated" if item.get("truncated") and status == "ok" else status
                why += f" ({item['reason']})" if item.get("reason") else ""
                out.append(f"{collector.get('name')}/{item.get('name')}: {why}")
    return tuple(out)


def load_repros(
    workspace: Workspace, case: str, labs: set[str], bundles: tuple[BundleView, ...]
) -> tuple[ReproView, ...]:
    """Verdicts that belong to this case: run for it, on its labs, or on one of its bundles."""
    names = {f"bundle:{b.name}" for b in bundles}
    views = []
    for path in sorted(workspace.cases.glob("*/repro/*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        mine = data.get("for_case") == case or data.get("lab") in labs or data.get("on") in names
        if mine:
            views.append(_repro_view(data, path))
    return tuple(sorted(views, key=lambda v: v.when))


def _repro_view(data: dict[str, Any], path: Path) -> ReproView:
    steps = tuple(
        StepView(
            name=str(s.get("name", "")),
            command=str(s.get("command", "")),
            exit_code=s.get("exit_code"),
            met=s.get("met"),
            output=str(s.get("output", ""))[:2000],
        )
        for s in data.get("steps") or ()
    )
    return ReproView(
        case=str(data.get("case", "")),
        on=str(data.get("on", "")),
        lab=data.get("lab"),
        verdict=str(data.get("verdict", "")),
        as_declared=bool(data.get("as_declared", False)),
        origin=str(data.get("origin") or ""),
        duration_s=float(data.get("duration_s") or 0.0),
        steps=steps,
        when=path.stem.split("-", 1)[0],
    )
