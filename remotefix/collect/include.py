"""``diagnose --include GLOB``: the application's own files, in the same round trip.

An include becomes one more collector (``include``): files or folders (a folder brings the files
in it, two levels deep), read through ``sudo -n`` when the grant allows root, capped per file,
redacted like everything else and listed in the manifest. Globs that would reach the whole disk
or the kernel's virtual trees are refused before anything connects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import PurePosixPath

from remotefix.collect.script import Item
from remotefix.collect.specs import Collector, Profile
from remotefix.errors import ConfigError

NAME = "include"
FILE_CAP = 2 * 1024 * 1024
"""Bytes kept of each included file (more is cut and the item marked truncated)."""
BUNDLE_CAP = 32 * 1024 * 1024
"""Bytes kept of all included files together; files past it are cut and listed."""
MAX_GLOBS = 32
_SAFE = re.compile(r"/[A-Za-z0-9._@+=,:~*?\[\]/-]+")
_VIRTUAL = ("/proc", "/sys", "/dev", "/run")


def include_collector(
    globs: Iterable[str], *, profile: Profile = "full", where: str = "--include"
) -> Collector | None:
    """The ``include`` collector for ``globs`` (None when there are none); ``ConfigError`` for a
    glob that is not an absolute path, reaches the whole disk, or a virtual file system.
    ``where`` names the globs' origin in messages (``--include``, a case or profile file)."""
    checked = list(dict.fromkeys(check_glob(g, where=where) for g in globs))
    if not checked:
        return None
    if len(checked) > MAX_GLOBS:
        raise ConfigError(f"{where}: {len(checked)} globs", hint=f"at most {MAX_GLOBS} in all")
    return Collector(
        name=NAME, os="linux", description="the application's files (--include, include:)",
        profiles=(profile,), timeout=60, max_bytes=FILE_CAP, root=True, files=tuple(checked),
        folders=True,
    )  # fmt: skip


def check_glob(glob: str, *, where: str = "--include") -> str:
    """``glob`` normalised, or ``ConfigError`` naming why it is refused."""
    text = glob.strip().rstrip("/") or "/"
    path = PurePosixPath(text)
    if not _SAFE.fullmatch(text) or ".." in path.parts:
        raise ConfigError(
            f"{where} {glob!r}: use an absolute path or glob (letters, digits, ._-/*?[])",
            hint="e.g. --include '/etc/myapp/*.yml' --include /var/log/myapp.log",
        )
    fixed = [part for part in path.parts[1:] if not any(ch in part for ch in "*?[")]
    top = "/" + path.parts[1] if len(path.parts) > 1 else "/"
    if len(path.parts) < 3 or len(fixed) < 1 or any(ch in path.parts[1] for ch in "*?["):
        raise ConfigError(
            f"{where} {glob!r} reaches too much of the disk",
            hint="name a folder or files below a top-level folder, e.g. /etc/myapp",
        )
    if top in _VIRTUAL:
        raise ConfigError(f"{where} {glob!r}: {top} is not files on disk", hint="leave it out")
    return text


def cap_total(items: list[Item], cap: int = BUNDLE_CAP) -> tuple[list[Item], list[str]]:
    """Included files past ``cap`` bytes in all are cut (kept empty, marked truncated) and named."""
    kept, used, cut = [], 0, []
    for item in items:
        if item.collector == NAME and item.kind == "file":
            if used + len(item.stdout) > cap:
                cut.append(item.name)
                item = replace(item, stdout=b"")
            used += len(item.stdout)
        kept.append(item)
    problems = [f"--include: {len(cut)} file(s) cut at the {cap // 2**20} MiB cap: "
                + ", ".join(cut[:10]) + (" …" if len(cut) > 10 else "")] if cut else []  # fmt: skip
    return kept, problems
