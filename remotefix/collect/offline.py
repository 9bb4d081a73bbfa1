"""The offline road: a customer runs ``remotefix collector-script`` output themselves and sends
its output back; ``import_output`` turns it into the same bundle a remote ``diagnose`` writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from remotefix.collect.bundle import default_bundle_path
from remotefix.collect.diagnose import DiagnoseOptions, finish, make_redactor
from remotefix.collect.obfuscate import bundle_stem
from remotefix.collect.runner import Collected, DiagnoseReport, write_bundle
from remotefix.collect.script import SCRIPT_VERSION, parse_header, parse_output
from remotefix.collect.specs import load_collectors
from remotefix.errors import BundleError
from remotefix.workspace import Workspace


def import_output(
    source: Path, *, case: str, target_name: str, workspace: Workspace, options: DiagnoseOptions
) -> DiagnoseReport:
    """Redact and bundle the output of a collection script run by the customer."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {source}: {exc.strerror}") from exc
    header = parse_header(data)
    if header is None:
        raise BundleError(
            f"{source} is not the output of a remotefix collection script (no header line)",
            hint="run the script with: sh collect.sh > output.txt",
        )
    if header.version > SCRIPT_VERSION:
        raise BundleError(
            f"{source} comes from a newer script (v{header.version}); upgrade remotefix"
        )
    by_name = {c.name: c for c in load_collectors(header.os)}
    collectors = [by_name[n] for n in header.collectors if n in by_name]
    items, whole = parse_output(data)
    started = _when(header.started_at)
    problems = [] if whole else ["the script output ends mid-record (cut short in transfer?)"]
    collected = Collected(items, problems, started, started)
    meta = {
        "case": case,
        "target": {"name": target_name, "address": None, "connection": "offline-script"},
        "consent_id": None,
        "profile": header.profile,
        "source": "import",
        "imported_from": source.name,
    }
    stem = bundle_stem(target_name, obfuscate=options.obfuscate)
    dest = options.output or default_bundle_path(workspace, case, stem, started)
    redactor = make_redactor(options)
    redactor.add_hostname(target_name)
    report = write_bundle(dest, collected, collectors, redactor=redactor, meta=meta)
    finish(workspace, case, report, redactor)
    return report


def _when(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)
