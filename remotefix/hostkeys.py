"""Known host keys: strict checking, OpenSSH fingerprints, and trusting a key on purpose.

Keys are looked up in ``~/.ssh/known_hosts`` and remotefix's own ``known_hosts`` file in the
workspace (``remotefix hosts trust`` writes only the latter, never the user's file). For a host
name listed in remotefix's file, that file wins: ``hosts trust --replace`` can so replace a
stale key that lives in ``~/.ssh/known_hosts``. An unknown key is refused with its fingerprint
and the command to trust it; a *changed* key is refused loudly and never accepted.

``@revoked`` lines are honoured: a key listed there is never trusted, for any host, and a
server offering it is refused loudly. ``@cert-authority`` lines are read but not used
(paramiko does not check host certificates): the unknown-key error says so, and
``hosts ls`` lists them as ignored.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import paramiko

from remotefix._known_hosts import KnownLine, Marker, names_match, read_known_hosts
from remotefix.errors import HostKeyError
from remotefix.workspace import Workspace

USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:…`` exactly as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_entry(host: str, port: int) -> str:
    """The known_hosts name of a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


class TrustedKeys(paramiko.HostKeys):
    """The keys we trust, plus the ``@revoked`` and ``@cert-authority`` lines seen on the way."""

    def __init__(self) -> None:
        super().__init__()
        self.revoked: tuple[KnownLine, ...] = ()
        self.authorities: tuple[KnownLine, ...] = ()
        self.skipped: tuple[str, ...] = ()

    def revocation(self, key: paramiko.PKey) -> KnownLine | None:
        """The ``@revoked`` line listing ``key``, if any."""
        return next((line for line in self.revoked if line.key == key), None)


def known_host_keys(workspace: Workspace, extra: list[Path] | None = None) -> TrustedKeys:
    """Every key we trust: the user's OpenSSH known_hosts and any extra files, then ours
    (which overrides them for the host names it lists); revoked keys are left out."""
    theirs = [read_known_hosts(p) for p in [USER_KNOWN_HOSTS.expanduser(), *(extra or [])]]
    ours = read_known_hosts(workspace.known_hosts)
    every = [line for f in [*theirs, ours] for line in f.lines]
    keys = TrustedKeys()
    keys.revoked = tuple(line for line in every if line.marker is Marker.REVOKED)
    keys.authorities = tuple(line for line in every if line.marker is Marker.CERT_AUTHORITY)
    keys.skipped = tuple(note for f in [*theirs, ours] for note in f.skipped)
    own_names = {n for line in ours.lines if line.marker is Marker.NONE for n in line.names}
    for line in (line for f in [*theirs, ours] for line in f.lines):
        if line.marker is not Marker.NONE or keys.revocation(line.key):
            continue
        for name in line.names:
            if line.path == workspace.known_hosts or not _overridden(name, own_names):
                keys.add(name, line.key.get_name(), line.key)
    return keys


def _overridden(name: str, own_names: set[str]) -> bool:
    return name in own_names or any(names_match((name,), own) for own in own_names)


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Strict checking: an unknown key is an error naming its fingerprint and the fix; a
    revoked key is refused loudly."""

    def __init__(self, address: str, known: TrustedKeys | None = None) -> None:
        self.address = address
        self.known = known if known is not None else TrustedKeys()

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        revoked = self.known.revocation(key)
        if revoked is not None:
            raise revoked_key_error(hostname, key, revoked)
        hint = f"verify it with the customer, then: remotefix hosts trust {self.address}"
        authority = next(
            (a for a in self.known.authorities if names_match(a.names, hostname)), None
        )
        if authority is not None:
            hint += (
                f"; the @cert-authority line {authority.where} is not used "
                "(remotefix does not check host certificates)"
            )
        raise HostKeyError(
            f"host key of {hostname} is unknown ({key.get_name()} {fingerprint(key)})", hint=hint
        )


def revoked_key_error(name: str, key: paramiko.PKey, line: KnownLine) -> HostKeyError:
    return HostKeyError(
        f"HOST KEY OF {name} IS REVOKED ({key.get_name()} {fingerprint(key)} is listed "
        f"@revoked in {line.where}); refusing",
        hint="this key must not be used again: ask the customer to replace it, then trust "
        "the new one",
    )


def changed_key_error(host: str, port: int, exc: paramiko.BadHostKeyException) -> HostKeyError:
    return HostKeyError(
        f"HOST KEY OF {host_entry(host, port)} HAS CHANGED: possible man-in-the-middle "
        f"(known {fingerprint(exc.expected_key)}, offered {fingerprint(exc.key)}); refusing",
        hint="ask the customer whether the machine was reinstalled; if so remove the old line "
        "from ~/.ssh/known_hosts or the remotefix known_hosts and trust the new key",
    )


@dataclass(frozen=True)
class Trusted:
    """What ``trust`` did: ``added`` False when the key was already trusted; ``shadowed`` are
    keys of ~/.ssh/known_hosts (or another file) that remotefix's entry now overrides."""

    name: str
    added: bool
    shadowed: tuple[str, ...] = ()


def trust(
    workspace: Workspace, host: str, port: int, key: paramiko.PKey, *, replace: bool = False
) -> Trusted:
    """Record ``key`` for ``host:port`` in remotefix's known_hosts.

    A revoked key is refused. Any other key already trusted for that host, of the same type or
    not, is a ``HostKeyError`` unless ``replace``; with ``replace`` the new key becomes the only
    one remotefix trusts for the host (a stale key in ~/.ssh/known_hosts is overridden).
    """
    name = host_entry(host, port)
    known = known_host_keys(workspace)
    revoked = known.revocation(key)
    if revoked is not None:
        raise revoked_key_error(name, key, revoked)
    current = dict(known.lookup(name) or {})
    if current.get(key.get_name()) == key and (len(current) == 1 or not replace):
        return Trusted(name, added=False)
    others = {t: k for t, k in current.items() if k != key}
    if others and not replace:
        raise _already_trusted(name, key, others)
    _write_own(workspace, name, key)
    return Trusted(name, added=True, shadowed=_shadowed(workspace, name, key))


def _already_trusted(
    name: str, key: paramiko.PKey, others: dict[str, paramiko.PKey]
) -> HostKeyError:
    if key.get_name() in others:
        what = f"a different {key.get_name()} key ({fingerprint(others[key.get_name()])})"
    else:
        listed = ", ".join(f"{t} {fingerprint(k)}" for t, k in sorted(others.items()))
        what = f"a trusted key of another type ({listed}); a second key type is not added"
    return HostKeyError(
        f"{name} already has {what}; refusing to record {key.get_name()} {fingerprint(key)}",
        hint="confirm the change with the customer and pass --replace",
    )


def _write_own(workspace: Workspace, name: str, key: paramiko.PKey) -> None:
    """Our file keeps every other line as it was; lines naming only ``name`` are replaced."""
    path = workspace.known_hosts
    kept = []
    for line in read_known_hosts(path).lines:
        rest = tuple(n for n in line.names if n != name)
        if rest:
            prefix = f"{line.marker.value} " if line.marker.value else ""
            kept.append(f"{prefix}{','.join(rest)} {line.key.get_name()} {line.key.get_base64()}")
    kept.append(f"{name} {key.get_name()} {key.get_base64()}")
    workspace.ensure()
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    tmp.replace(path)


def _shadowed(workspace: Workspace, name: str, key: paramiko.PKey) -> tuple[str, ...]:
    theirs = read_known_hosts(USER_KNOWN_HOSTS.expanduser()).lines
    return tuple(
        f"{line.where} {line.key.get_name()} {fingerprint(line.key)}"
        for line in theirs
        if line.marker is Marker.NONE
        and line.key != key
        and any(_overridden(n, {name}) for n in line.names)
    )
