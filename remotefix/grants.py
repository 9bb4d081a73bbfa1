"""Consent grants as values: scopes, a grant's status and reach, and why a check refuses.

Scopes are ordered, each including the ones below it: ``diagnose`` (read-only collection) <
``fix`` (changes; a fix needs to look before and after it acts, so it may also diagnose) <
``shell`` (an interactive shell can do anything, so it implies fix and diagnose). Elevation is
separate: only a grant given with ``sudo`` (``consent grant --sudo``) lets a command run through
``sudo -n``. Storage is ``remotefix.consent``.

What a target pattern covers is decided by ``remotefix._grant_patterns`` (the endpoint actually
connected to, never the typed text):

* ``*`` alone covers every target; ``10.0.0.5`` / ``10.0.0.0/24`` / ``fd00::/64`` cover IPs by
  whole address or network; ``10.0.0.*`` takes whole octets only (``10.0.0.5*`` is refused);
* host-name globs match dot-separated labels one for one: ``*.customer.example`` covers
  ``web1.customer.example``, not ``customer.example``, ``a.b.customer.example`` or an IP;
* a plain name (``web1``) also covers the inventory host or ssh alias of exactly that name;
* ``scheme://``, ``user@`` and ``:port`` must match when given; a query string is ignored.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from remotefix._grant_patterns import parse_pattern
from remotefix.errors import ConfigError, ConsentError
from remotefix.targets import Target

MAX_EXPIRY = timedelta(days=30)
RANK = {"diagnose": 0, "fix": 1, "shell": 2}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class Scope(StrEnum):
    """What a grant allows; a wider scope includes the narrower ones (see module docstring)."""

    DIAGNOSE = "diagnose"
    FIX = "fix"
    SHELL = "shell"

    def allows(self, needed: Scope) -> bool:
        return RANK[self.value] >= RANK[needed.value]


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
    sudo: bool = False
    """The customer allows ``sudo -n`` (root) on these targets."""

    def status(self, now: datetime | None = None) -> GrantStatus:
        if self.revoked_at is not None:
            return GrantStatus.REVOKED
        return GrantStatus.ACTIVE if utc_now(now) < self.expires_at else GrantStatus.EXPIRED

    def covers(self, target: Target) -> bool:
        """True when a pattern covers ``target`` (its host/port/user as connected to, or an
        exact inventory alias); see the module docstring. Unparseable old patterns cover
        nothing."""
        return any(_covers(pattern, target) for pattern in self.targets)

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "id": self.id,
            "case": self.case,
            "targets": list(self.targets),
            "scope": self.scope.value,
            "granted_by": self.granted_by,
            "evidence": self.evidence,
            "granted_at": iso_utc(self.granted_at),
            "expires_at": iso_utc(self.expires_at),
            "revoked_at": iso_utc(self.revoked_at) if self.revoked_at else None,
            "sudo": self.sudo,
            "status": self.status(now).value,
        }


def _covers(text: str, target: Target) -> bool:
    try:
        pattern = parse_pattern(text)
    except ConsentError:
        return False
    return pattern.covers(target) or pattern.names_alias(target.name)


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


def refusal(
    case: str,
    target: Target,
    needed: Scope,
    matching: list[Grant],
    now: datetime,
    *,
    sudo: bool = False,
) -> ConsentError:
    """Why no grant allows ``needed``: no sudo, scope too narrow, revoked, expired or none."""
    active = [g for g in matching if g.status(now) is GrantStatus.ACTIVE]
    what = f"for case {case!r} on target {target.name!r} (scope {needed.value} needed)"
    scoped = [g for g in active if g.scope.allows(needed)]
    if scoped:  # only sudo is missing
        why = f"consent {scoped[0].id} does not allow sudo (granted without --sudo) {what}"
    elif active:
        widest = max(active, key=lambda g: RANK[g.scope.value])
        why = f"consent {widest.id} allows only {widest.scope.value} {what}"
    elif matching:
        last = max(matching, key=lambda g: g.revoked_at or g.expires_at)
        if last.revoked_at is not None:
            why = f"consent {last.id} was revoked at {_when(last.revoked_at, now)} {what}"
        else:
            why = f"consent {last.id} expired at {_when(last.expires_at, now)} {what}"
    else:
        why = f"no consent {what}"
    command = grant_command(case, target.name, needed, sudo=sudo)
    return ConsentError(f"{why}; grant it with: {command}")


def grant_command(case: str, target: str, scope: Scope | str, *, sudo: bool = False) -> str:
    """The ``remotefix consent grant`` command line that would allow ``scope`` on ``target``."""
    return (
        f"remotefix consent grant --case {shlex.quote(case)} --target {shlex.quote(target)} "
        f"--scope {as_scope(scope).value}{' --sudo' if sudo else ''} --expires 4h "
        "--by '<customer contact>' --evidence '<ticket ref>'"
    )


def _when(moment: datetime, now: datetime) -> str:
    """``2024-05-01 12:00:00 UTC (3:12:05 ago)``."""
    ago = timedelta(seconds=int((now - moment).total_seconds()))
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" + (f" ({ago} ago)" if ago >= timedelta(0) else "")


def utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO form, so that text order in SQLite is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def single_line(name: str, value: str) -> str:
    value = (value or "").strip()
    if not value or any(ch in value for ch in "\r\n\0"):
        raise ConsentError(f"consent {name} must be a non-empty single line", hint="see --help")
    return value


def target_patterns(targets: Sequence[str]) -> tuple[str, ...]:
    """The patterns, each checked against the rules (``ConsentError`` naming a bad one)."""
    if isinstance(targets, str):
        targets = [targets]
    patterns = tuple(single_line("target", t) for t in targets)
    if not patterns:
        raise ConsentError("a consent grant needs at least one --target pattern")
    for pattern in patterns:
        parse_pattern(pattern)
    return patterns


def as_scope(scope: Scope | str) -> Scope:
    try:
        return Scope(scope)
    except ValueError:
        choices = ", ".join(s.value for s in Scope)
        raise ConsentError(f"unknown consent scope {scope!r}", hint=f"use {choices}") from None


def valid_expiry(expires_in: timedelta) -> timedelta:
    if not timedelta(0) < expires_in <= MAX_EXPIRY:
        raise ConsentError(f"consent expiry must be >0 and <=30 days, not {expires_in}")
    return expires_in
