"""The diagnostics bundle: a ``tar.gz`` of redacted outputs, ``fingerprint.json`` and a manifest
that lists every member's sha256 and size.

Writing is atomic (a temporary file in the destination folder, renamed on commit), so an
interrupted run leaves no half bundle. Members are reproducible (fixed owner, mode and mtime).
Reading goes through ``open_bundle`` only: one streaming pass (``bundle_scan``) refuses anything
but regular files with safe, unique names, within size limits, and the whole bundle must match
its manifest before any of it is used.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from filelock import FileLock

from remotefix.collect.bundle_scan import (
    DEFAULT_LIMITS,
    FINGERPRINT,
    MANIFEST,
    Limits,
    Write,
    json_object,
    name_problem,
    problems,
    scan,
    verified,
)
from remotefix.errors import BundleError
from remotefix.filenames import safe_name
from remotefix.workspace import Workspace


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def _check_arcname(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise BundleError(f"refusing bundle member name {name!r}: {problem}")
    return name


class BundleWriter:
    """``with BundleWriter(dest) as w: w.add(name, data); w.commit(manifest, fingerprint)``."""

    def __init__(self, dest: Path, *, mtime: int = 0) -> None:
        self.dest = Path(dest)
        self.mtime = mtime
        self.files: dict[str, dict[str, Any]] = {}
        self._tmp: Path | None = None
        self._raw: IO[bytes] | None = None
        self._gzip: gzip.GzipFile | None = None
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> BundleWriter:
        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.dest.name}.", suffix=".partial",
                                        dir=self.dest.parent)  # fmt: skip
        except OSError as exc:
            raise BundleError(
                f"cannot write a bundle in {self.dest.parent}: {exc.strerror}"
            ) from exc
        self._tmp = Path(name)
        self._raw = os.fdopen(fd, "wb")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=self.mtime)
        self._tar = tarfile.open(fileobj=self._gzip, mode="w", format=tarfile.PAX_FORMAT)
        return self

    def add(self, arcname: str, data: bytes) -> None:
        """Add one member (already redacted) and record its digest for the manifest."""
        name = _check_arcname(arcname)
        if name in self.files or name in (MANIFEST, FINGERPRINT):
            raise BundleError(f"bundle member {name} added twice")
        self._write(name, data)

    def commit(self, manifest: dict[str, Any], fingerprint: dict[str, Any]) -> Path:
        """Write fingerprint and manifest (with every digest), then move the bundle in place."""
        self._write(FINGERPRINT, _json_bytes(fingerprint))
        manifest = {**manifest, "files": dict(sorted(self.files.items()))}
        self._write(MANIFEST, _json_bytes(manifest), listed=False)
        try:
            self._close()
            assert self._tmp is not None
            os.replace(self._tmp, self.dest)
        except OSError as exc:
            raise BundleError(f"cannot write bundle {self.dest}: {exc.strerror}") from exc
        self._tmp = None
        return self.dest

    def _write(self, name: str, data: bytes, *, listed: bool = True) -> None:
        assert self._tar is not None, "use BundleWriter as a context manager"
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), self.mtime, 0o644
        info.uname = info.gname = "remotefix"
        try:
            self._tar.addfile(info, io.BytesIO(data))
        except OSError as exc:
            raise BundleError(f"cannot write bundle {self.dest}: {exc.strerror}") from exc
        if listed:
            self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def _close(self) -> None:
        for closable in (self._tar, self._gzip):
            if closable is not None:
                closable.close()
        if self._raw is not None:
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
        self._tar = self._gzip = self._raw = None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:  # not committed: leave nothing behind
            with contextlib.suppress(OSError):
                self._close()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle: its manifest, fingerprint, member names and the members asked for."""

    path: Path
    manifest: dict[str, Any]
    fingerprint: dict[str, Any]
    members: list[str] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)

    def required(self, names: Iterable[str]) -> dict[str, bytes]:
        """The members ``names``, read with the bundle (``BundleError`` naming a missing one)."""
        for name in names:
            if name not in self.contents:
                raise BundleError(f"{self.path} has no {name}: not a remotefix bundle, or damaged")
        return self.contents


def open_bundle(
    path: Path, *, read: Iterable[str] = (), read_if: Callable[[str], bool] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Bundle:  # fmt: skip
    """The one way in: the whole bundle is checked against its manifest before any of it is
    returned (``BundleError`` naming the first bad member); ``read`` members, and those
    ``read_if`` accepts, come back in ``contents`` (those the bundle holds), read in that pass."""
    keep = _Keep({FINGERPRINT, *read}, limits.kept_bytes, path, read_if)
    found = verified(path, limits, keep)
    fingerprint = json_object(keep.take(FINGERPRINT), FINGERPRINT, path)
    return Bundle(Path(path), found.manifest, fingerprint, list(found.names), keep.rest())


def read_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """The contents of some members of a verified bundle (``BundleError`` naming a missing one)."""
    return open_bundle(path, read=names).required(names)


class _Keep:
    """A scan sink that keeps the wanted members in memory, within ``limit`` bytes together."""

    def __init__(
        self, wanted: set[str], limit: int, path: Path, also: Callable[[str], bool] | None = None
    ) -> None:
        self.wanted, self.left, self.path, self.also = wanted, limit, path, also
        self._buffers: dict[str, io.BytesIO] = {}

    def __call__(self, name: str, size: int) -> Write | None:
        if name not in self.wanted and not (self.also and self.also(name)):
            return None
        if size > self.left:
            raise BundleError(f"{self.path}: {name} is too large to read into memory ({size} B)")
        self.left -= size
        self._buffers[name] = io.BytesIO()
        return self._buffers[name].write

    def take(self, name: str) -> bytes:
        buffer = self._buffers.pop(name, None)
        if buffer is None:
            raise BundleError(f"{self.path} has no {name}: not a remotefix bundle, or damaged")
        return buffer.getvalue()

    def rest(self) -> dict[str, bytes]:
        """Every kept member not taken yet."""
        return {n: buffer.getvalue() for n, buffer in self._buffers.items()}


@dataclass(frozen=True, slots=True)
class Verification:
    path: Path
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Verification:
    """Check every member against the manifest's sha256 and size; nothing extra, nothing missing.
    An archive that is no bundle at all (unreadable, unsafe members, too big) is a
    ``BundleError``."""
    found = scan(path, limits=limits)
    return Verification(Path(path), len(found.files), problems(found))


def default_bundle_path(workspace: Workspace, case: str, target_name: str, when: datetime) -> Path:
    """``<workspace>/bundles/<case>/<target>-<UTC time>.tar.gz`` (never an existing file)."""
    folder = workspace.ensure().bundles / safe_name(case)
    stem = f"{safe_name(target_name)}-{when:%Y%m%dT%H%M%SZ}"
    candidate, n = folder / f"{stem}.tar.gz", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}.tar.gz"
    return candidate


class BundleIndex:
    """Bundles registered per case in the workspace (one JSON line per bundle)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.bundles / "index.jsonl"

    def register(self, case: str, path: Path, manifest: dict[str, Any]) -> None:
        entry = {
            "case": case,
            "path": str(Path(path).resolve()),
            "target": (manifest.get("target") or {}).get("name"),
            "source": manifest.get("source"),
            "profile": manifest.get("profile"),
            "started_at": manifest.get("started_at"),
            "incomplete": manifest.get("incomplete"),
        }
        self.workspace.ensure()
        try:
            lock = FileLock(str(self.workspace.locks / "bundle-index.lock"), timeout=30)
            with lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:
            raise BundleError(f"cannot register the bundle in {self.path}: {exc.strerror}") from exc

    def list(self, case: str | None = None) -> list[dict[str, Any]]:
        """Registered bundles (of one case), oldest first, each saying whether it still exists."""
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if case is None or entry.get("case") == case:
                rows.append({**entry, "exists": Path(entry["path"]).is_file()})
        return rows
