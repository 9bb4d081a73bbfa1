"""Consent grants: which customer contact allowed what, on which targets, for which case, until
when.

A grant is recorded in SQLite (``Workspace.consent_db``, WAL mode) so several remotefix processes
can grant, revoke and check at once. ``ConsentStore.check`` runs before every command a session
sends and reads the database afresh each time: a revocation or expiry stops the *next* command.

Scopes are ordered, each including the ones below it: ``diagnose`` (read-only collection) <
``fix`` (changes; a fix needs to look before and after it acts, so it may also diagnose) <
``shell`` (an interactive shell can do anything, so it implies fix and diagnose).

Targets an engineer owns (``local://`` and remotefix lab containers) need no consent; see
``needs_consent``.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import re
import secrets
import shlex
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from remotefix.errors import ConfigError, ConsentError, WorkspaceError
from remotefix.targets import Target
from remotefix.workspace import Workspace

MAX_EXPIRY = timedelta(days=30)
BUSY_S = 10.0
_RANK = {"diagnose": 0, "fix": 1, "shell": 2}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, targets TEXT NOT NULL, scope TEXT NOT NULL,
    granted_by TEXT NOT NULL, evidence TEXT NOT NULL, granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS grants_case ON grants (case_id);
"""
_INSERT = """INSERT INTO grants VALUES (:id, :case, :targets, :scope, :granted_by, :evidence,
    :granted_at, :expires_at, NULL)"""


class Scope(StrEnum):
    """What a grant allows; a wider scope includes the narrower ones (see module docstring)."""

    DIAGNOSE = "diagnose"
    FIX = "fix"
    SHELL = "shell"

    def allows(self, needed: Scope) -> bool:
        return _RANK[self.value] >= _RANK[needed.value]


class GrantStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Grant:
    """One recorded consent. Times are timezone-aware UTC datetimes."""

    id: str
    case: str
    targets: tuple[str, ...]
    scope: Scope
    granted_by: str
    evidence: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def status(self, now: datetime | None = None) -> GrantStatus:
        if self.revoked_at is not None:
            return GrantStatus.REVOKED
        return GrantStatus.ACTIVE if _now(now) < self.expires_at else GrantStatus.EXPIRED

    def covers(self, target: Target) -> bool:
        """True when a pattern matches the target's name, address or host (case-sensitive)."""
        names = {target.name, target.address, target.host} - {""}
        return any(fnmatchcase(name, pat) for pat in self.targets for name in names)

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "id": self.id,
            "case": self.case,
            "targets": list(self.targets),
            "scope": self.scope.value,
            "granted_by": self.granted_by,
            "evidence": self.evidence,
            "granted_at": _iso(self.granted_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at) if self.revoked_at else None,
            "status": self.status(now).value,
        }


def needs_consent(target: Target) -> bool:
    """False for targets the engineer owns: ``local://`` and remotefix lab containers.

    A lab container is a docker target whose options carry ``lab="1"`` (set by the lab code,
    never taken from an inventory the customer supplied).
    """
    if target.connection == "local":
        return False
    return not (target.connection == "docker" and target.options.get("lab") == "1")


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``30m``, ``4h``, ``2d`` or a combination in that order (``1h30m``)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None:
        raise ConfigError(
            f"bad duration {text!r}",
            hint="use a number with a unit: 90s, 30m, 4h, 2d, or combined like 1h30m",
        )
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ConfigError(f"duration {text!r} is too long", hint="use e.g. 4h or 2d") from None


class ConsentStore:
    """Grants in SQLite. One connection per store, kept open; safe to share between threads."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def grant(
        self,
        case: str,
        targets: Sequence[str],
        scope: Scope | str,
        expires_in: timedelta,
        granted_by: str,
        evidence: str,
        *,
        now: datetime | None = None,
    ) -> Grant:
        """Record a new grant and return it."""
        granted_at = _now(now)
        grant = Grant(
            id="",
            case=_required("case", case),
            targets=_patterns(targets),
            scope=_scope(scope),
            granted_by=_required("granted_by (--by)", granted_by),
            evidence=_required("evidence", evidence),
            granted_at=granted_at,
            expires_at=granted_at + _expiry(expires_in),
        )
        return self._insert(grant)

    def list(
        self,
        case: str | None = None,
        *,
        include_inactive: bool = False,
        now: datetime | None = None,
    ) -> builtins.list[Grant]:
        """Grants (active only unless ``include_inactive``), oldest first."""
        sql = "SELECT * FROM grants WHERE ?1 IS NULL OR case_id = ?1 ORDER BY granted_at, id"
        with self._db() as conn:
            rows = conn.execute(sql, (case,)).fetchall()
        grants = [_from_row(row) for row in rows]
        if include_inactive:
            return grants
        return [g for g in grants if g.status(now) is GrantStatus.ACTIVE]

    def get(self, grant_id: str) -> Grant:
        with self._db() as conn:
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        if row is None:
            raise ConsentError(f"no consent grant {grant_id!r}; see `remotefix consent ls --all`")
        return _from_row(row)

    def revoke(self, grant_id: str, *, now: datetime | None = None) -> Grant:
        """Revoke a grant; revoking twice keeps the first revocation time."""
        sql = "UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        with self._db() as conn:
            conn.execute(sql, (_iso(_now(now)), grant_id))
        return self.get(grant_id)

    def check(
        self, case: str, target: Target, scope: Scope | str, now: datetime | None = None
    ) -> Grant:
        """Return the grant allowing ``scope`` on ``target`` for ``case``, else raise.

        Reads the database on every call, so a revocation by another process counts at once.
        Among several grants that allow the action, the narrowest scope wins, then the latest
        expiry. The ``ConsentError`` message is one line: why (none, expired, revoked, scope
        too narrow), the case, target and scope, and the exact ``remotefix consent grant``.
        """
        needed, moment = _scope(scope), _now(now)
        with self._db() as conn:
            rows = conn.execute("SELECT * FROM grants WHERE case_id = ?", (case,)).fetchall()
        matching = [g for g in map(_from_row, rows) if g.covers(target)]
        active = [g for g in matching if g.status(moment) is GrantStatus.ACTIVE]
        allowed = [g for g in active if g.scope.allows(needed)]
        if allowed:
            return min(allowed, key=lambda g: (_RANK[g.scope.value], -g.expires_at.timestamp()))
        raise _refusal(case, target, needed, matching, moment)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ConsentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, grant: Grant) -> Grant:
        for _ in range(5):
            grant = replace(grant, id=f"c-{secrets.token_hex(4)}")
            try:
                with self._db() as conn:
                    conn.execute(_INSERT, _to_row(grant))
                return grant
            except sqlite3.IntegrityError:
                continue  # id collision: draw another
        raise WorkspaceError(f"could not allocate a consent id in {self.workspace.consent_db}")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The open connection (autocommit); sqlite errors become ``WorkspaceError``."""
        path = self.workspace.consent_db
        try:
            with self._lock:
                if self._conn is None:
                    self._conn = _connect(self.workspace)
                yield self._conn
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise WorkspaceError(
                f"consent database {path}: {exc}",
                hint="check its permissions and disk space; another process may hold it locked",
            ) from exc


def _connect(workspace: Workspace) -> sqlite3.Connection:
    """Autocommit connection (every statement sees the latest commit), WAL, busy timeout."""
    path = workspace.ensure().consent_db
    conn = sqlite3.connect(path, timeout=BUSY_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # Two processes creating the database at once: switching to WAL and creating the table can
    # fail with "database is locked" without waiting for the busy timeout, so serialise it.
    fd = os.open(workspace.locks / "consent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        conn.executescript(_SCHEMA)
    finally:
        os.close(fd)
    return conn


def _refusal(
    case: str, target: Target, needed: Scope, matching: list[Grant], now: datetime
) -> ConsentError:
    """Why no grant allows ``needed``: scope too narrow, revoked, expired or none at all."""
    active = [g for g in matching if g.status(now) is GrantStatus.ACTIVE]
    what = f"for case {case!r} on target {target.name!r} (scope {needed.value} needed)"
    if active:
        widest = max(active, key=lambda g: _RANK[g.scope.value])
        why = f"consent {widest.id} allows only {widest.scope.value} {what}"
    elif matching:
        last = max(matching, key=lambda g: g.revoked_at or g.expires_at)
        if last.revoked_at is not None:
            why = f"consent {last.id} was revoked at {_when(last.revoked_at, now)} {what}"
        else:
            why = f"consent {last.id} expired at {_when(last.expires_at, now)} {what}"
    else:
        why = f"no consent {what}"
    return ConsentError(f"{why}; grant it with: {grant_command(case, target.name, needed)}")


def grant_command(case: str, target: str, scope: Scope | str) -> str:
    """The ``remotefix consent grant`` command line that would allow ``scope`` on ``target``."""
    return (
        f"remotefix consent grant --case {shlex.quote(case)} --target {shlex.quote(target)} "
        f"--scope {_scope(scope).value} --expires 4h "
        "--by '<customer contact>' --evidence '<ticket ref>'"
    )


def _when(moment: datetime, now: datetime) -> str:
    """``2024-05-01 12:00:00 UTC (3:12:05 ago)``."""
    ago = timedelta(seconds=int((now - moment).total_seconds()))
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" + (f" ({ago} ago)" if ago >= timedelta(0) else "")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    """Fixed-width UTC ISO form, so that text order in SQLite is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _required(name: str, value: str) -> str:
    value = (value or "").strip()
    if not value or any(ch in value for ch in "\r\n\0"):
        raise ConsentError(f"consent {name} must be a non-empty single line", hint="see --help")
    return value


def _patterns(targets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(targets, str):
        targets = [targets]
    patterns = tuple(_required("target", t) for t in targets)
    if not patterns:
        raise ConsentError("a consent grant needs at least one --target pattern")
    return patterns


def _scope(scope: Scope | str) -> Scope:
    try:
        return Scope(scope)
    except ValueError:
        choices = ", ".join(s.value for s in Scope)
        raise ConsentError(f"unknown consent scope {scope!r}", hint=f"use {choices}") from None


def _expiry(expires_in: timedelta) -> timedelta:
    if not timedelta(0) < expires_in <= MAX_EXPIRY:
        raise ConsentError(f"consent expiry must be >0 and <=30 days, not {expires_in}")
    return expires_in


def _to_row(grant: Grant) -> dict[str, object]:
    row = grant.to_dict()
    return {**row, "targets": json.dumps(row["targets"])}


def _from_row(row: sqlite3.Row) -> Grant:
    revoked = row["revoked_at"]
    return Grant(
        id=row["id"],
        case=row["case_id"],
        targets=tuple(json.loads(row["targets"])),
        scope=Scope(row["scope"]),
        granted_by=row["granted_by"],
        evidence=row["evidence"],
        granted_at=datetime.fromisoformat(row["granted_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
    )
