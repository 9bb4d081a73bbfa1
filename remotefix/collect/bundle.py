"""The diagnostics bundle: a ``tar.gz`` of redacted outputs, ``fingerprint.json`` and a manifest
that lists every member's sha256 and size.

Writing is atomic (a temporary file in the destination folder, renamed on commit), so an
interrupted run leaves no half bundle. Members are reproducible (fixed owner, mode and mtime).
Extraction refuses traversal, absolute paths, escaping links and device files (tarfile's
``data`` filter), checking every member before the first byte is written.
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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any

from filelock import FileLock

from remotefix.errors import BundleError
from remotefix.filenames import safe_name
from remotefix.workspace import Workspace

MANIFEST = "manifest.json"
FINGERPRINT = "fingerprint.json"


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def _check_arcname(name: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or name != str(path):
        raise BundleError(f"refusing bundle member name {name!r}")
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
    """A bundle's manifest and fingerprint, read without extracting anything."""

    path: Path
    manifest: dict[str, Any]
    fingerprint: dict[str, Any]
    members: list[str] = field(default_factory=list)


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:gz")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BundleError(f"{path} is not a readable bundle (tar.gz): {exc}") from exc


def _read_member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise BundleError(f"{path} has no {name}: not a remotefix bundle, or damaged")
    return handle.read()


def _read_json(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_member(tar, name, path))
    except ValueError as exc:
        raise BundleError(f"{path}: {name} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: {name} is not a JSON object")
    return data


def open_bundle(path: Path) -> Bundle:
    """Read a bundle's manifest and fingerprint (``BundleError`` when it is not one)."""
    with _open_tar(path) as tar:
        try:
            members = tar.getnames()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BundleError(f"{path} is damaged: {exc}") from exc
        manifest = _read_json(tar, MANIFEST, path)
        fingerprint = _read_json(tar, FINGERPRINT, path)
    if manifest.get("format") != "remotefix-bundle":
        raise BundleError(f"{path}: manifest.json is not a remotefix bundle manifest")
    return Bundle(Path(path), manifest, fingerprint, members)


def read_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """The contents of some members of a bundle (``BundleError`` naming the first missing one)."""
    with _open_tar(path) as tar:
        return {name: _read_member(tar, name, path) for name in names}


@dataclass(frozen=True, slots=True)
class Verification:
    path: Path
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(path: Path) -> Verification:
    """Check every member against the manifest's sha256 and size; nothing extra, nothing missing."""
    problems: list[str] = []
    seen: set[str] = set()
    with _open_tar(path) as tar:
        manifest = _read_json(tar, MANIFEST, path)
        listed: dict[str, Any] = manifest.get("files") or {}
        try:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                seen.add(member.name)
                problems.extend(_check_member(tar, member, listed.get(member.name)))
        except (OSError, tarfile.TarError, EOFError) as exc:
            problems.append(f"archive is damaged: {exc}")
    problems.extend(
        f"{name}: listed in the manifest but missing" for name in sorted(set(listed) - seen)
    )
    if manifest.get("format") != "remotefix-bundle":
        problems.append("manifest.json is not a remotefix bundle manifest")
    return Verification(Path(path), len(seen), problems)


def _check_member(tar: tarfile.TarFile, member: tarfile.TarInfo, entry: Any) -> list[str]:
    if not member.isfile():
        return [f"{member.name}: not a regular file (links and devices are never in a bundle)"]
    if not isinstance(entry, dict):
        return [f"{member.name}: not listed in the manifest"]
    handle = tar.extractfile(member)
    data = handle.read() if handle else b""
    if len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        return [f"{member.name}: content does not match the manifest (sha256/size)"]
    return []


def extract_bundle(path: Path, dest: Path) -> list[str]:
    """Extract into ``dest`` after checking every member is safe; return the member names."""
    dest = Path(dest)
    with _open_tar(path) as tar:
        members = tar.getmembers()
        for member in members:
            try:
                if PurePosixPath(member.name).is_absolute():  # the filter would strip the "/"
                    raise tarfile.AbsolutePathError(member)
                tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                raise BundleError(f"{path}: refusing unsafe member {member.name!r}: {exc}") from exc
        try:
            dest.mkdir(parents=True, exist_ok=True)
            tar.extractall(dest, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise BundleError(f"cannot extract {path} into {dest}: {exc}") from exc
    return [m.name for m in members]


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
