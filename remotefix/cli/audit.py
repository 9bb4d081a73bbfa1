"""``remotefix audit``: check the hash chain, and read a case's timeline (its work order)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from remotefix.audit import AuditLog
from remotefix.cli._app import App, pass_app, shown
from remotefix.errors import AuditError


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log.

    \b
    Examples:
      remotefix audit log --case C-1042
      remotefix audit verify
    """


@audit.command("verify")
@pass_app
def verify_cmd(app: App) -> None:
    """Recompute the hash chain; exit 0 when intact, else name the first broken record.

    \b
    Examples:
      remotefix audit verify
    """
    log = AuditLog(app.workspace)
    report = log.verify()
    if not report.ok:
        repair = (
            "; `remotefix audit repair` moves the torn record aside" if report.torn_tail else ""
        )
        raise AuditError(
            f"audit log {log.path} is broken at seq {report.first_bad_seq}: {report.reason}",
            hint=f"{report.records} record(s) before it are intact{repair}",
        )
    data = {**report.to_dict(), "path": str(log.path)}
    app.emit(
        data, lambda: app.out.print(f"audit log intact: {report.records} record(s) in {log.path}")
    )


@audit.command("repair")
@pass_app
def repair_cmd(app: App) -> None:
    """Move a torn last record (a write cut short) aside and record the repair in the chain.

    The torn bytes are kept in audit.torn-TIME.jsonl next to the log. Any other break (an
    edited, deleted or reordered record) is refused: it stays visible to `audit verify`.

    \b
    Examples:
      remotefix audit repair
    """
    log = AuditLog(app.workspace)
    done = log.repair()
    if done is None:
        data: dict[str, Any] = {"repaired": False, "path": str(log.path)}
        app.emit(data, lambda: app.out.print(f"audit log intact, nothing to repair: {log.path}"))
        return
    data = {"repaired": True, "path": str(log.path), **done.to_dict()}
    app.emit(
        data,
        lambda: app.out.print(
            f"moved a torn record ({done.size} bytes) aside to {done.moved_to}; "
            f"recorded as seq {done.record['seq']}"
        ),
    )


@audit.command("log")
@click.option("--case", help="Only this case's records: its timeline.")
@pass_app
def log_cmd(app: App, case: str | None) -> None:
    """Show the audit records (of one case with --case), oldest first.

    \b
    Examples:
      remotefix audit log --case C-1042
      remotefix audit log --json
    """
    records = list(AuditLog(app.workspace).records(case))

    def render() -> None:
        if not records:
            app.out.print("no audit records" + (f" for case {case}" if case else ""))
            return
        table = Table("seq", "time", "actor", "target", "action", "command", "exit", "duration")
        for r in _folded(records):
            table.add_row(*_row(r))
        app.out.print(table)

    app.emit(records, render)


def _folded(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table shows an intent record only when no outcome followed it (it never finished)."""
    finished = {(r.get("extra") or {}).get("intent_seq") for r in records}
    return [
        r
        for r in records
        if not (str(r.get("action", "")).endswith(".intent") and r.get("seq") in finished)
    ]


def _row(record: dict[str, Any]) -> tuple[str, ...]:
    duration = record.get("duration_s")
    exit_code = "timeout" if record.get("timed_out") else record.get("exit_code")
    extra = record.get("extra") or {}
    target = record.get("target") or " ".join(extra.get("targets", []))
    command = record.get("command") or _consent_summary(record, extra)
    return tuple(
        shown(cell)  # every field of a record may hold what a target or an inventory said
        for cell in (
            record.get("seq", ""),
            str(record.get("time", ""))[:19].replace("T", " "),
            record.get("actor") or "",
            target,
            str(record.get("action") or "") + (" (sudo)" if record.get("elevated") else ""),
            command,
            "" if exit_code is None else exit_code,
            "" if not isinstance(duration, int | float) else f"{duration:.2f}s",
        )
    )


def _consent_summary(record: dict[str, Any], extra: dict[str, Any]) -> str:
    """``fix until … by Alice (TCK-1)`` for consent records, which have no command."""
    if not str(record.get("action", "")).startswith("consent."):
        return ""
    until = str(extra.get("expires_at", ""))[:16].replace("T", " ")
    who = f"{extra.get('granted_by', '?')} ({extra.get('evidence', '?')})"
    return f"{record.get('consent_id')} {record.get('scope')} until {until} by {who}"
