"""``remotefix redact``: the bundle redactor for files a customer sends by hand.

Every input is read and redacted, and every destination checked, before anything is written; each
output is then written to a temporary file beside it and renamed into place, so a failure leaves
either the complete redacted file or nothing. An input is never overwritten. Path-scoped rules
apply as if the file had been collected from ``as_path`` (default: the file's own absolute path).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from remotefix.collect.redact import Redactor
from remotefix.errors import ConfigError, WorkspaceError


@dataclass(frozen=True, slots=True)
class RedactedFile:
    """One input's redaction: where it went (``None``: stdout) and the counts per rule."""

    source: Path
    output: Path | None
    as_path: str
    counts: dict[str, int]
    data: bytes

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def redact_files(
    files: list[Path],
    redactor: Redactor,
    *,
    as_path: str | None = None,
    output: Path | None = None,
    directory: Path | None = None,
) -> list[RedactedFile]:
    """Redact ``files`` into ``output`` (one file), ``directory`` or, with neither, memory."""
    destinations = _destinations(files, output, directory)
    done = []
    for source, dest in zip(files, destinations, strict=True):
        where = as_path or str(source.resolve())
        data, counts = redactor.redact(_read(source), source=where)
        done.append(RedactedFile(source, dest, where, counts, data))
    for item in done:
        if item.output is not None:
            write_atomically(item.output, item.data)
    return done


def _destinations(
    files: list[Path], output: Path | None, directory: Path | None
) -> list[Path | None]:
    if not files:
        raise ConfigError("no file to redact", hint="name one or more files")
    if output is not None and directory is not None:
        raise ConfigError("-o and -d exclude each other", hint="-o for one file, -d for several")
    if output is None and directory is None:
        if len(files) > 1:
            raise ConfigError("several files need -d DIR", hint="or redact them one at a time")
        return [None]
    if output is not None:
        if len(files) > 1:
            raise ConfigError("-o takes one input file", hint="use -d DIR for several")
        dests = [output]
    else:
        assert directory is not None
        if directory.exists() and not directory.is_dir():
            raise ConfigError(f"{directory} is not a directory", hint="give -d an existing dir")
        dests = [directory / f.name for f in files]
    _check(files, dests)
    return list(dests)


def _check(files: list[Path], dests: list[Path]) -> None:
    names = [d.resolve() for d in dests]
    if len(set(names)) < len(names):
        raise ConfigError("two inputs have the same file name", hint="redact them into two dirs")
    inputs = {f.resolve() for f in files}
    for dest, name in zip(dests, names, strict=True):
        if name in inputs or (dest.exists() and any(_same(dest, f) for f in files)):
            raise ConfigError(f"{dest} is an input file", hint="write the redacted copy elsewhere")
        if dest.is_dir():
            raise ConfigError(f"{dest} is a directory", hint="-o names the output file")


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise ConfigError(f"{path} is a directory", hint="name the files inside it")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", hint="check the path") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}", hint="check its permissions"
        ) from exc


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a private temporary file renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise WorkspaceError(f"cannot write {path}: {exc.strerror}", hint="check the dir") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WorkspaceError(f"cannot write {path}: {exc.strerror}", hint="free space?") from exc
