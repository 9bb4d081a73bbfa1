"""Diagnose one target end to end: session → collectors → redaction → bundle → index."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from remotefix.collect.bundle import BundleIndex, default_bundle_path, safe_name
from remotefix.collect.include import cap_total, include_collector
from remotefix.collect.obfuscate import bundle_stem
from remotefix.collect.redact import DEFAULT_RULES, Redactor, load_rules
from remotefix.collect.runner import (
    DIAGNOSE_OUTPUT_CAP,
    DiagnoseReport,
    run_collectors,
    write_bundle,
)
from remotefix.collect.specs import Profile, load_collectors, select_collectors
from remotefix.session import Session
from remotefix.targets import Target
from remotefix.workspace import Workspace


@dataclass(frozen=True)
class DiagnoseOptions:
    """How to diagnose: which collectors, how to redact, where the bundle goes."""

    profile: Profile = "full"
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    obfuscate: bool = False
    include: tuple[str, ...] = ()
    """Files or folders of the customer's application (``--include``), capped and redacted."""
    extra_rules: Path | None = None
    output: Path | None = None
    transport_settings: dict[str, object] = field(default_factory=dict)


def make_redactor(options: DiagnoseOptions) -> Redactor:
    rules = list(DEFAULT_RULES) + (load_rules(options.extra_rules) if options.extra_rules else [])
    return Redactor(rules, obfuscate=options.obfuscate)


def diagnose(
    target: Target, *, case: str, workspace: Workspace, options: DiagnoseOptions
) -> DiagnoseReport:
    """Collect from ``target`` under the case's consent and write its bundle; return the report."""
    os_family = "windows" if target.connection == "winrm" else "linux"
    collectors = select_collectors(
        load_collectors(os_family), profile=options.profile, only=options.only, skip=options.skip
    )
    extra = include_collector(options.include, profile=options.profile)
    if extra is not None and os_family == "linux":
        collectors.append(extra)
    redactor = make_redactor(options)
    for name in (target.host, target.name) if options.obfuscate else ():
        redactor.add_hostname(name)
    redactor.add_username(target.user or "")
    settings = {"output_cap": DIAGNOSE_OUTPUT_CAP, **options.transport_settings}
    with Session(target, case=case, workspace=workspace, transport_settings=settings) as session:
        collected = run_collectors(session, collectors, profile=options.profile)
        items, cut = cap_total(collected.items)
        collected = replace(collected, items=items, problems=collected.problems + cut)
        grant = session.last_grant
        retries = [redactor.redact(line.encode())[0].decode() for line in session.retries]
    stem = bundle_stem(target.name, obfuscate=options.obfuscate)
    dest = options.output or default_bundle_path(workspace, case, stem, collected.started_at)
    meta = {
        "case": case,
        "target": {"name": target.name, "address": target.address, "connection": target.connection},
        "consent_id": grant.id if grant else None,
        "profile": options.profile,
        "source": "remote",
        "connection": {"retries": retries},
    }
    report = write_bundle(dest, collected, collectors, redactor=redactor, meta=meta)
    finish(workspace, case, report, redactor)
    return report


def finish(workspace: Workspace, case: str, report: DiagnoseReport, redactor: Redactor) -> None:
    """Register the bundle by case; keep the obfuscation map (if any) in the workspace only."""
    BundleIndex(workspace).register(case, report.path, report.manifest)
    if redactor.obfuscate:
        folder = workspace.ensure().cases / safe_name(case) / "obfuscation"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / (report.path.name.removesuffix(".tar.gz") + ".json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(redactor.obfuscation_map, fh, indent=2, sort_keys=True)
