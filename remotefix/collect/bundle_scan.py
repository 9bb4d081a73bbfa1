"""One streaming pass over a bundle that checks every member before anything is used.

A bundle holds regular files (plain folders are tolerated) under unique, relative, clean names,
and ``manifest.json`` lists every file's sha256 and size. ``scan`` reads the archive once, front
to back, through a stream that refuses to grow past ``Limits`` (members, unpacked bytes, header
size), hashing each member in chunks: memory stays small whatever the archive claims. Links,
devices, FIFOs, sparse files, duplicate or unsafe names end the scan with a ``BundleError``;
``problems`` then compares what was found with the manifest. Callers use nothing of a bundle
until both passed (``remotefix.collect.bundle.open_bundle``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from remotefix.errors import BundleError

MANIFEST = "manifest.json"
FINGERPRINT = "fingerprint.json"
CHUNK = 64 * 1024
_MAX_READ = 1 << 20  # no tar header block (PAX record, GNU long name) of ours comes near this
_MAX_NAME = 1024
_MAX_PART = 255
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_KINDS = {
    tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link",
    tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO", tarfile.CONTTYPE: "contiguous file",
    tarfile.GNUTYPE_SPARSE: "sparse file",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a bundle may hold; reading stops with a ``BundleError`` past any of them."""

    members: int = 20_000
    unpacked_bytes: int = 1 << 30  # twice what one diagnose run may collect
    header_bytes: int = 64 << 20  # tar headers and padding, on top of the members
    json_bytes: int = 16 << 20  # manifest.json, fingerprint.json
    kept_bytes: int = 256 << 20  # members a reader keeps in memory, together


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Digest:
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Scan:
    """What one pass found: every name in archive order, each file's digest, the manifest."""

    names: tuple[str, ...]
    files: dict[str, Digest]  # regular files but the manifest itself
    manifest: dict[str, Any]


Write = Callable[[bytes], object]
Sink = Callable[[str, int], Write | None]
"""``sink(name, size)``: where a file member's bytes go, chunk by chunk, as they are read."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a bundle member name (None when it can)."""
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not UTF-8"
    path = PurePosixPath(name)
    if len(raw) > _MAX_NAME or any(len(p.encode()) > _MAX_PART for p in path.parts):
        return f"its name is longer than {_MAX_NAME} bytes (or {_MAX_PART} per part)"
    if _UNSAFE_CHARS.search(name):
        return "its name holds a control character or a backslash"
    if path.is_absolute():
        return "its name is an absolute path"
    if ".." in path.parts:
        return "its name climbs out with '..'"
    if name in ("", ".") or str(path) != name:
        return "its name is empty or not normalised (./, //, trailing /)"
    return None


class _Stream:
    """The decompressed archive, read forward only, never past ``cap`` bytes, in small reads."""

    def __init__(self, raw: IO[bytes], cap: int, path: Path) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._pos, self._cap, self._path = 0, cap, path

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _MAX_READ:
            raise BundleError(f"{self._path}: a tar header larger than 1 MiB: not a bundle")
        if self._pos + size > self._cap:
            raise BundleError(f"{self._path} unpacks to more than {self._cap} bytes: refused")
        data = self._gzip.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset + (self._pos if whence == 1 else 0)
        if whence not in (0, 1) or target < self._pos:
            raise BundleError(f"{self._path}: the archive cannot be read front to back: damaged")
        while self._pos < target and self.read(min(CHUNK, target - self._pos)):
            pass
        return self._pos


def scan(path: Path, *, limits: Limits = DEFAULT_LIMITS, sink: Sink | None = None) -> Scan:
    """Read the whole bundle once; ``BundleError`` on anything a bundle never holds."""
    with _open(path) as raw:
        stream = _Stream(raw, limits.unpacked_bytes + limits.header_bytes, path)
        try:
            with tarfile.open(fileobj=stream, mode="r:") as tar:  # type: ignore[call-overload]
                return _walk(tar, path, limits, sink)
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            raise BundleError(
                f"{path} is not a readable bundle (tar.gz): {exc}",
                hint="damaged, cut short or not a remotefix bundle: ask for it again",
            ) from exc


def _open(path: Path) -> IO[bytes]:
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise BundleError(
            f"cannot read bundle {path}: {exc.strerror}", hint="check the path"
        ) from exc


def _walk(tar: tarfile.TarFile, path: Path, limits: Limits, sink: Sink | None) -> Scan:
    names: dict[str, None] = {}  # ordered and quick to look up
    files: dict[str, Digest] = {}
    manifest = io.BytesIO()
    unpacked = 0
    for member in tar:
        _admit(member, names, limits, path)
        if member.isdir():
            continue
        unpacked += member.size
        if unpacked > limits.unpacked_bytes:
            raise BundleError(f"{path} unpacks to more than {limits.unpacked_bytes} bytes: refused")
        if member.name in (MANIFEST, FINGERPRINT) and member.size > limits.json_bytes:
            raise BundleError(f"{path}: {member.name} is larger than {limits.json_bytes} bytes")
        writes = [manifest.write] if member.name == MANIFEST else []
        out = sink(member.name, member.size) if sink else None
        digest = _digest(tar, member, [*writes, out] if out else writes)
        if member.name != MANIFEST:
            files[member.name] = digest
    if MANIFEST not in names:
        raise BundleError(f"{path} has no {MANIFEST}: not a remotefix bundle, or damaged")
    return Scan(tuple(names), files, parse_manifest(manifest.getvalue(), path))


def _admit(member: tarfile.TarInfo, names: dict[str, None], limits: Limits, path: Path) -> None:
    """Refuse a member of a kind, name or number a bundle never has; else record its name."""
    name = member.name
    if len(names) >= limits.members:
        raise BundleError(f"{path} holds more than {limits.members} members: refused")
    kind = None
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        kind = _KINDS.get(member.type, f"special member (type {member.type!r})")
    elif member.sparse is not None:
        kind = "sparse file"
    problem = f"it is a {kind}; bundles hold regular files only" if kind else name_problem(name)
    if problem is None and name in names:
        problem = "it appears twice"
    if problem:
        raise BundleError(
            f"{path}: refusing member {name!r}: {problem}",
            hint="this is not a bundle remotefix wrote; nothing was used",
        )
    names[name] = None


def _digest(tar: tarfile.TarFile, member: tarfile.TarInfo, writes: list[Write]) -> Digest:
    handle = tar.extractfile(member)
    assert handle is not None  # regular files always have a handle
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        for write in writes:
            write(chunk)
    return Digest(digest.hexdigest(), size)


def parse_manifest(data: bytes, path: Path) -> dict[str, Any]:
    """``manifest.json`` as an object of the remotefix bundle format (``BundleError`` if not)."""
    manifest = json_object(data, MANIFEST, path)
    if manifest.get("format") != "remotefix-bundle":
        raise BundleError(f"{path}: {MANIFEST} is not a remotefix bundle manifest")
    return manifest


def json_object(data: bytes, name: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise BundleError(f"{path}: {name} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {name} is not a JSON object")
    return value


def problems(found: Scan) -> list[str]:
    """Every way the files differ from the manifest (empty: the bundle is what it says)."""
    listed = found.manifest.get("files")
    if not isinstance(listed, dict):
        return [f"{MANIFEST}: lists no files"]
    out = []
    for name, digest in found.files.items():
        if name not in listed:
            out.append(f"{name}: not listed in the manifest")
        elif _entry(listed[name]) != digest:
            out.append(f"{name}: content does not match the manifest (sha256/size)")
    missing = sorted(set(listed) - found.files.keys())
    out += [f"{name}: listed in the manifest but missing" for name in missing]
    if FINGERPRINT not in found.files and FINGERPRINT not in listed:
        out.append(f"{FINGERPRINT}: missing")
    used = set(found.files) | {MANIFEST}
    folders = {str(p) for name in found.names for p in PurePosixPath(name).parents}
    out += [f"{n}: is both a file and a folder" for n in sorted(folders & used)]
    return out


def _entry(value: Any) -> Digest | None:
    if not isinstance(value, dict):
        return None
    sha, size = value.get("sha256"), value.get("size")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha) or type(size) is not int:
        return None
    return Digest(sha, size)


def verified(path: Path, limits: Limits = DEFAULT_LIMITS, sink: Sink | None = None) -> Scan:
    """``scan`` that also requires the bundle to match its manifest (``BundleError`` if not)."""
    found = scan(path, limits=limits, sink=sink)
    issues = problems(found)
    if issues:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise BundleError(
            f"{path} does not match its manifest: {issues[0]}{more}",
            hint=f"nothing of it was used; `remotefix bundle verify {path}` lists every problem",
        )
    return found
