"""``bundle extract``: write a verified bundle's files into a new or empty folder.

Nothing is written before the whole bundle matched its manifest. The files then go into a fresh
private folder next to the destination (no link can be in it: bundles hold regular files only,
and each file is created with ``O_EXCL | O_NOFOLLOW``), are checked again as they are written,
and the folder is renamed into place, so a failure leaves the destination as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO

from remotefix.collect.bundle_scan import DEFAULT_LIMITS, MANIFEST, Limits, Write, scan, verified
from remotefix.errors import BundleError

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def extract_bundle(path: Path, dest: Path, *, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Verify the bundle, then extract it into ``dest`` (new or empty); return the member names."""
    first = verified(path, limits)
    dest = Path(dest)
    staging = _staging(dest)
    try:
        writer = _Writer(staging, dest)
        with contextlib.closing(writer):
            second = scan(path, limits=limits, sink=writer)
        if second != first:
            raise BundleError(f"{path} changed while it was being extracted; nothing was kept")
        for name in set(second.names) - second.files.keys() - {MANIFEST}:
            writer.folder(name)
        os.rename(staging, dest)  # replaces an empty folder, fails on a non-empty one
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"cannot extract {path} into {dest}: {exc.strerror}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return list(second.names)


def _staging(dest: Path) -> Path:
    """A private, empty folder next to ``dest`` once ``dest`` is known to be new or empty."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BundleError(f"{dest} is not a folder", hint="give a new or empty folder with -d")
    if dest.is_dir() and any(dest.iterdir()):
        raise BundleError(f"{dest} is not empty", hint="give a new or empty folder with -d")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    except OSError as exc:
        raise BundleError(f"cannot extract into {dest}: {exc.strerror}") from exc


class _Writer:
    """A scan sink writing each file member under ``root``, a folder only this writer fills."""

    def __init__(self, root: Path, dest: Path) -> None:
        self.root, self.dest = root, dest
        self._file: IO[bytes] | None = None

    def __call__(self, name: str, size: int) -> Write:
        self.close()
        target = self.folder(str(PurePosixPath(name).parent)) / PurePosixPath(name).name
        try:
            self._file = os.fdopen(os.open(target, _CREATE, 0o644), "wb")
        except OSError as exc:
            raise self._error(exc) from exc
        return self._write

    def folder(self, name: str) -> Path:
        path = self.root.joinpath(*PurePosixPath(name).parts)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from exc
        return path

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                raise self._error(exc) from exc

    def _error(self, exc: OSError) -> BundleError:
        return BundleError(f"cannot extract into {self.dest}: {exc.strerror}")
