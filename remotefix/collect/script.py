"""Collector specs → one POSIX ``sh`` script, and that script's framed output → ``Item`` records.

The same script serves two roads: ``remotefix diagnose`` runs it through the session in a single
round trip, and ``remotefix collector-script`` hands it to a customer who allows no inbound
connection (its output comes back through ``remotefix bundle import``). Each item runs with its own
``timeout``, stdin from /dev/null, output capped with ``head -c``; records are framed as::

    @@RFX@@ <kind> <exit> <ms> <stdout bytes> <stderr bytes> <base64 item id>
    <base64 stdout>
    <base64 stderr>

Nothing in the script comes from the target: commands and file globs are the specs' own data.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from dataclasses import dataclass
from pathlib import Path

from remotefix.collect.specs import Collector

MARKER = "@@RFX@@"
HEADER_MARKER = "@@RFXSCRIPT@@"
UID_MARKER = "@@RFXUID@@"
SCRIPT_VERSION = 1
MAX_FILES_PER_GLOB = 200

_PRELUDE = Path(__file__).with_name("prelude.sh")
_PRELUDE_PS = Path(__file__).with_name("prelude.ps1")


@dataclass(frozen=True, slots=True)
class Item:
    """One collected item: a command's output or a file's content (already decoded)."""

    kind: str  # cmd | file | missing | skip
    collector: str
    name: str  # command name, file path, or the glob that matched nothing
    exit_code: int
    duration_ms: int
    stdout: bytes
    stderr: bytes
    stdout_size: int
    stderr_size: int

    @property
    def truncated(self) -> bool:
        return self.stdout_size > len(self.stdout) or self.stderr_size > len(self.stderr)


def render_script(
    collectors: list[Collector], *, profile: str = "custom", sudo: bool = True
) -> str:
    """The collection script for ``collectors``: POSIX sh (coreutils-like tools only), or
    PowerShell when the collectors are Windows ones. ``sudo=False`` never uses ``sudo`` (root
    items run as the connecting user, and what they are denied is recorded as such)."""
    windows = bool(collectors) and all(c.os == "windows" for c in collectors)
    names = ", ".join(c.name for c in collectors)
    prelude = (_PRELUDE_PS if windows else _PRELUDE).read_text(encoding="utf-8")
    for key, value in {
        "VERSION": SCRIPT_VERSION,
        "COUNT": len(collectors),
        "NAMES": names,
        "MAX_FILES": MAX_FILES_PER_GLOB,
        "PROFILE": profile,
        "NAMES_CSV": ",".join(c.name for c in collectors),
        "SUDO": 1 if sudo else 0,
    }.items():
        prelude = prelude.replace(f"@{key}@", str(value))
    parts = [prelude]
    parts += [_ps_block(c) if windows else _collector_block(c) for c in collectors]
    return "\n".join(parts) + "\nexit 0\n"


def _ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal (only ' needs doubling)."""
    return "'" + text.replace("'", "''") + "'"


def _ps_block(c: Collector) -> str:
    q = _ps_quote
    body = [
        f"  rfx_run {q(c.name + '/' + cmd.name)} {c.timeout} {c.max_bytes} {q(cmd.run)}"
        for cmd in c.commands
    ]
    body += [f"  rfx_file {q(c.name)} {q(glob)} {c.timeout} {c.max_bytes}" for glob in c.files]
    lines = [f"# {c.name}: {c.description}"]
    if c.when:
        lines += [f"if ({c.when}) {{", *body, f"}} else {{ rfx_skip {q(c.name)} }}"]
    else:
        lines += [line[2:] for line in body]
    return "\n".join(lines)


def _collector_block(c: Collector) -> str:
    q = shlex.quote
    root = "1" if c.root else "0"
    lines = [f"# {c.name}: {c.description}"]
    body = [
        f"  rfx_run {q(ident)} {c.timeout} {c.max_bytes} {root} {q(cmd.run)} {_b64(ident)}"
        for ident, cmd in ((f"{c.name}/{cmd.name}", cmd) for cmd in c.commands)
    ]
    reader = "rfx_tree" if c.folders else "rfx_file"
    body += [
        f"  {reader} {q(c.name)} {q(glob)} {c.timeout} {c.max_bytes} {root}" for glob in c.files
    ]
    if c.when:
        lines.append(f"if sh -c {q(c.when)} >/dev/null 2>&1 </dev/null; then")
        lines += body
        lines += ["else", f"  rfx_skip {q(c.name)}", "fi"]
    else:
        lines += [line[2:] for line in body]
    return "\n".join(lines)


def _b64(text: str) -> str:
    """An item ID as the script frames it, encoded here so the target forks no ``base64``."""
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True, slots=True)
class ScriptHeader:
    version: int
    profile: str
    collectors: tuple[str, ...]
    started_at: str
    os: str = "linux"


def parse_header(data: bytes) -> ScriptHeader | None:
    """The ``@@RFXSCRIPT@@`` line the script prints first (None when absent)."""
    for line in data.split(b"\n", 20)[:20]:
        if line.startswith(HEADER_MARKER.encode()):
            fields = line.decode("ascii", errors="replace").split()
            if len(fields) in (5, 6) and fields[1].isdigit():
                os_family = fields[5] if len(fields) == 6 else "linux"
                if os_family not in ("linux", "windows"):
                    return None
                names = tuple(fields[3].split(","))
                return ScriptHeader(int(fields[1]), fields[2], names, fields[4], os_family)
    return None


def ran_as_root(data: bytes) -> bool:
    """Whether the script said it ran as uid 0 (its ``@@RFXUID@@`` line)."""
    for line in data.split(b"\n", 20)[:20]:
        if line.startswith(UID_MARKER.encode()):
            return line.split()[1:2] == [b"0"]
    return False


def parse_output(data: bytes) -> tuple[list[Item], bool]:
    """Records from the script's output; the flag is False when the output ended mid-record."""
    lines = data.split(b"\n")
    items: list[Item] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(MARKER.encode()):
            i += 1
            continue
        if i + 2 >= len(lines):
            return items, False
        item = _record(lines[i], lines[i + 1], lines[i + 2])
        if item is None:
            return items, False
        items.append(item)
        i += 3
    return items, True


def _record(header: bytes, out: bytes, err: bytes) -> Item | None:
    fields = header.decode("ascii", errors="replace").split()
    if len(fields) != 7:
        return None
    _, kind, code, ms, out_size, err_size, ident = fields
    try:
        name = base64.b64decode(ident).decode("utf-8", errors="replace")
        stdout, stderr = base64.b64decode(out), base64.b64decode(err)
        numbers = int(code), int(ms), int(out_size), int(err_size)
    except (binascii.Error, ValueError):
        return None
    collector, sep, rest = name.partition("/" if kind == "cmd" else ":")
    return Item(kind, collector, rest if sep else "", *numbers[:2], stdout, stderr, *numbers[2:])


TIMED_OUT_CODES = (124, 137)


def item_status(item: Item) -> str:
    """``ok``; ``failed`` (non-zero exit); ``timed_out`` (its own timeout hit); ``denied``
    (permission, or sudo wanted a password); ``missing`` (no file matched the glob); ``skipped``
    (the collector's ``when`` test was false)."""
    if item.kind in ("missing", "skip"):
        return "missing" if item.kind == "missing" else "skipped"
    err = item.stderr.lower()
    if item.exit_code in TIMED_OUT_CODES:
        return "timed_out"
    if item.exit_code != 0 and (b"password is required" in err or b"permission denied" in err):
        return "denied"
    return "ok" if item.exit_code == 0 else "failed"


def collector_status(statuses: list[str]) -> str:
    """A collector is ``ok``, ``skipped``, ``partial`` (some items bad) or ``failed`` (all bad)."""
    if statuses == ["skipped"]:
        return "skipped"
    bad = [s for s in statuses if s in ("failed", "timed_out", "denied")]
    if not bad:
        return "ok"
    return "failed" if len(bad) == len(statuses) else "partial"
