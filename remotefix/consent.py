"""Consent grants: which customer contact allowed what, on which targets, for which case, until
when.

A grant is recorded in SQLite (``Workspace.consent_db``, WAL mode) so several remotefix processes
can grant, revoke and check at once. ``ConsentStore.check`` runs before every command a session
sends and reads the database afresh each time: a revocation or expiry stops the *next* command.

Grants, scopes and refusal messages are values, in ``remotefix.grants``.

Targets an engineer owns (``local://`` and remotefix lab containers) need no consent; see
``needs_consent``.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from remotefix.errors import ConsentError, WorkspaceError
from remotefix.grants import (
    RANK,
    Grant,
    GrantStatus,
    Scope,
    as_scope,
    grant_command,
    iso_utc,
    needs_consent,
    parse_duration,
    refusal,
    single_line,
    target_patterns,
    utc_now,
    valid_expiry,
)
from remotefix.targets import Target
from remotefix.workspace import Workspace

__all__ = [
    "ConsentStore",
    "Grant",
    "GrantStatus",
    "Scope",
    "grant_command",
    "needs_consent",
    "parse_duration",
]

BUSY_S = 10.0
_SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, targets TEXT NOT NULL, scope TEXT NOT NULL,
    granted_by TEXT NOT NULL, evidence TEXT NOT NULL, granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, revoked_at TEXT, sudo INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS grants_case ON grants (case_id);
"""
_ADD_SUDO = "ALTER TABLE grants ADD COLUMN sudo INTEGER NOT NULL DEFAULT 0"  # older databases
_INSERT = """INSERT INTO grants (id, case_id, targets, scope, granted_by, evidence, granted_at,
    expires_at, revoked_at, sudo) VALUES (:id, :case, :targets, :scope, :granted_by, :evidence,
    :granted_at, :expires_at, NULL, :sudo)"""


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
        sudo: bool = False,
        now: datetime | None = None,
    ) -> Grant:
        """Record a new grant and return it; ``sudo`` allows ``sudo -n`` on its targets."""
        granted_at = utc_now(now)
        grant = Grant(
            id="",
            case=single_line("case", case),
            targets=target_patterns(targets),
            scope=as_scope(scope),
            granted_by=single_line("granted_by (--by)", granted_by),
            evidence=single_line("evidence", evidence),
            granted_at=granted_at,
            expires_at=granted_at + valid_expiry(expires_in),
            sudo=bool(sudo),
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
            conn.execute(sql, (iso_utc(utc_now(now)), grant_id))
        return self.get(grant_id)

    def check(
        self,
        case: str,
        target: Target,
        scope: Scope | str,
        now: datetime | None = None,
        *,
        sudo: bool = False,
    ) -> Grant:
        """Return the grant allowing ``scope`` (and ``sudo -n`` when ``sudo``) on ``target``
        for ``case``, else raise.

        ``target`` is matched as connected to (see ``remotefix.grants``). Reads the database
        on every call, so a revocation by another process counts at once. Among several grants
        that allow the action, the narrowest wins (scope, then no sudo), then the latest expiry. The
        ``ConsentError`` message is one line: why (none, expired, revoked, scope too narrow,
        no sudo), the case, target and scope, and the exact ``remotefix consent grant``.
        """
        needed, moment = as_scope(scope), utc_now(now)
        with self._db() as conn:
            rows = conn.execute("SELECT * FROM grants WHERE case_id = ?", (case,)).fetchall()
        matching = [g for g in map(_from_row, rows) if g.covers(target)]
        active = [g for g in matching if g.status(moment) is GrantStatus.ACTIVE]
        allowed = [g for g in active if g.scope.allows(needed) and (g.sudo or not sudo)]
        if allowed:
            return min(
                allowed, key=lambda g: (RANK[g.scope.value], g.sudo, -g.expires_at.timestamp())
            )
        raise refusal(case, target, needed, matching, moment, sudo=sudo)

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
        except UnicodeEncodeError as exc:
            raise ConsentError(
                f"consent lookup refused: {exc.object[:80]!a} is not valid UTF-8",
                hint="use case ids and names that are valid UTF-8",
            ) from None
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
        columns = {row["name"] for row in conn.execute("PRAGMA table_info(grants)")}
        if "sudo" not in columns:
            conn.execute(_ADD_SUDO)
    finally:
        os.close(fd)
    return conn


def _to_row(grant: Grant) -> dict[str, object]:
    row = grant.to_dict()
    return {**row, "targets": json.dumps(row["targets"]), "sudo": int(grant.sudo)}


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
        sudo=bool(row["sudo"]),
    )
