"""``diagnose``: run the collectors on a target in one consented round trip, redact every byte,
and write a verifiable bundle with its fingerprint.

The bundle is *incomplete* when any collector is partial or failed (see ``item_status``) or the
run itself was cut short.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remotefix import __version__
from remotefix.collect.bundle import BundleWriter
from remotefix.collect.obfuscate import learn_identities
from remotefix.collect.redact import Redactor
from remotefix.collect.script import (
    Item,
    collector_status,
    item_status,
    parse_output,
    ran_as_root,
    render_script,
)
from remotefix.collect.specs import Collector
from remotefix.consent import Scope
from remotefix.fingerprint import build_fingerprint
from remotefix.fingerprint_windows import build_windows_fingerprint
from remotefix.session import Session

DIAGNOSE_OUTPUT_CAP = 512 * 1024 * 1024
"""The collection script's whole output may be this large; each item has its own, smaller cap."""


@dataclass(frozen=True, slots=True)
class Collected:
    """The raw outcome of one collection run (before redaction, never written as is)."""

    items: list[Item]
    problems: list[str]  # why the run is incomplete; empty when it is whole
    started_at: datetime
    ended_at: datetime
    sudo: bool = True
    """Whether root items could use ``sudo -n`` (False: no sudo consent, they ran as the user)."""


@dataclass(frozen=True, slots=True)
class DiagnoseReport:
    path: Path
    manifest: dict[str, Any]
    fingerprint: dict[str, Any]

    @property
    def incomplete(self) -> bool:
        return bool(self.manifest["incomplete"])


def run_collectors(session: Session, collectors: list[Collector], *, profile: str) -> Collected:
    """Run every collector in one script through the session (consent checked, audited)."""
    started = datetime.now(UTC)
    names = ",".join(c.name for c in collectors)
    wants_root = any(c.root for c in collectors) and session.target.connection != "winrm"
    sudo = wants_root and session.may_elevate(Scope.DIAGNOSE)
    result = session.run(
        render_script(collectors, profile=profile, sudo=sudo),
        scope=Scope.DIAGNOSE,
        timeout=time_budget(collectors),
        shown_as=f"remotefix collectors (profile {profile}): {names}",
        action="diagnose",
        sudo_inside=sudo,
    )
    items, whole = parse_output(result.stdout)
    problems = []
    if result.timed_out:
        problems.append("the collection run hit its overall time budget")
    elif result.exit_code != 0:
        problems.append(
            f"the collection script exited {result.exit_code}: {result.stderr_text[-300:]}"
        )
    if result.truncated or not whole:
        problems.append("the collection output was cut short")
    privileged = sudo or not wants_root or ran_as_root(result.stdout)
    return Collected(items, problems, started, datetime.now(UTC), sudo=privileged)


def time_budget(collectors: list[Collector]) -> float:
    """Worst case of the whole run: every item using its full timeout, plus a margin."""
    items = sum(len(c.commands) + len(c.files) for c in collectors)
    worst = sum(c.timeout * (len(c.commands) + len(c.files)) for c in collectors)
    return float(min(worst + 30 + items, 3600))


def write_bundle(
    dest: Path,
    collected: Collected,
    collectors: list[Collector],
    *,
    redactor: Redactor,
    meta: dict[str, Any],
) -> DiagnoseReport:
    """Redact every item, then write the bundle atomically (nothing unredacted touches disk)."""
    if redactor.obfuscator:
        learn_identities(redactor.obfuscator, collected.items)
        meta = redactor.obfuscator.value(meta)
    clean = [_redacted(item, redactor) for item in collected.items]
    items = [item for item, _ in clean]  # from here on only redacted bytes are used
    windows = bool(collectors) and collectors[0].os == "windows"
    fingerprint = build_windows_fingerprint(items) if windows else build_fingerprint(items)
    with BundleWriter(dest) as writer:
        entries, counts = _write_items(writer, clean)
        manifest = _manifest(collected, items, collectors, entries, counts, meta, redactor)
        path = writer.commit(manifest, fingerprint)
    return DiagnoseReport(path, manifest, fingerprint)


def _redacted(item: Item, redactor: Redactor) -> tuple[Item, dict[str, dict[str, int]]]:
    out, out_counts = redactor.redact(item.stdout, source=item.name)
    err, err_counts = redactor.redact(item.stderr, source=item.name)
    name = redactor.obfuscator.text(item.name) if redactor.obfuscator else item.name
    cleaned = Item(item.kind, item.collector, name, item.exit_code, item.duration_ms,
                   out, err, item.stdout_size, item.stderr_size)  # fmt: skip
    return cleaned, {"stdout": out_counts, "stderr": err_counts}


def arcnames(item: Item) -> tuple[str, str]:
    """Where an item's stdout and stderr go in the bundle."""
    if item.kind == "file":
        base = "files/" + posixpath.normpath("/" + item.name).lstrip("/")
        return base, base + ".stderr"
    base = f"commands/{item.collector}/{item.name}"
    return base + ".out", base + ".err"


def _write_items(
    writer: BundleWriter, clean: list[tuple[Item, dict[str, dict[str, int]]]]
) -> tuple[dict[int, list[str]], dict[str, dict[str, int]]]:
    written: dict[int, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for index, (item, found) in enumerate(clean):
        if item.kind not in ("cmd", "file"):
            continue
        out_name, err_name = arcnames(item)
        names = [out_name]
        writer.add(out_name, item.stdout)
        if item.stderr:
            writer.add(err_name, item.stderr)
            names.append(err_name)
        for stream, name in (("stdout", out_name), ("stderr", err_name)):
            if found[stream]:
                counts[name] = found[stream]
        written[index] = names
    return written, counts


def _manifest(
    collected: Collected,
    items: list[Item],
    collectors: list[Collector],
    entries: dict[int, list[str]],
    counts: dict[str, dict[str, int]],
    meta: dict[str, Any],
    redactor: Redactor,
) -> dict[str, Any]:
    per_collector = _collector_entries(items, collectors, entries, sudo=collected.sudo)
    problems = [redactor.redact(p.encode())[0].decode(errors="replace") for p in collected.problems]
    reasons = problems + [
        f"collector {c['name']} is {c['status']}"
        for c in per_collector
        if c["status"] in ("partial", "failed")
    ]
    return {
        "format": "remotefix-bundle",
        "format_version": 1,
        "tool": {"name": "remotefix", "version": __version__},
        **meta,
        "started_at": collected.started_at.isoformat(),
        "ended_at": collected.ended_at.isoformat(),
        "incomplete": bool(reasons),
        "incomplete_reasons": reasons,
        "collectors": per_collector,
        "redaction": {
            "counts": counts,
            "total": sum(sum(c.values()) for c in counts.values()),
            "obfuscated": redactor.obfuscate,
        },
    }


def _collector_entries(
    items: list[Item], collectors: list[Collector], entries: dict[int, list[str]], *, sudo: bool
) -> list[dict[str, Any]]:
    rows = []
    for collector in collectors:
        mine = [(i, it) for i, it in enumerate(items) if it.collector == collector.name]
        unprivileged = collector.root and not sudo
        described = [_item_entry(it, entries.get(i, []), unprivileged) for i, it in mine]
        statuses = [d["status"] for d in described] or ["failed"]
        rows.append({
            "name": collector.name,
            "status": collector_status(statuses) if described else "failed",
            "duration_ms": sum(it.duration_ms for _, it in mine),
            "items": described,
        })  # fmt: skip
    return rows


_DENIED_WORDS = (b"permission denied", b"are you root", b"superuser", b"must be root")


def _says_denied(item: Item) -> bool:
    """A command that folds its errors into its output (``2>&1 || true``) and was refused."""
    text = (item.stdout[-4096:] + item.stderr[-4096:]).lower()
    return any(word in text for word in _DENIED_WORDS)


def _item_entry(item: Item, members: list[str], unprivileged: bool = False) -> dict[str, Any]:
    """A manifest row. A root item run without sudo consent is ``denied`` (``reason: no sudo
    consent``) when it failed, was refused, or gave nothing (nothing cannot be told from not
    allowed); one that gave something is kept, marked ``unprivileged`` (it may be partial)."""
    status = item_status(item)
    if (
        unprivileged
        and item.kind in ("cmd", "file")
        and (status in ("denied", "failed") or _says_denied(item) or not item.stdout.strip())
    ):
        status = "denied"
    entry: dict[str, Any] = {
        "kind": item.kind, "name": item.name, "status": status,
        "exit_code": item.exit_code, "duration_ms": item.duration_ms,
        "stdout_bytes": item.stdout_size, "stderr_bytes": item.stderr_size,
        "truncated": item.truncated, "members": members,
    }  # fmt: skip
    if status not in ("ok", "missing", "skipped") and item.stderr:
        entry["error"] = item.stderr.decode("utf-8", errors="replace")[-300:]
    if status == "denied":
        entry["reason"] = "no sudo consent" if unprivileged else "permission denied"
    elif unprivileged and item.kind in ("cmd", "file"):
        entry["unprivileged"] = True
    return entry
