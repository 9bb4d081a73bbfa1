"""``remotefix diagnose``: one consented pass of collection on one or many targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from remotefix import interrupt
from remotefix.cases.model import load_cases
from remotefix.cli._app import App, pass_app, shown
from remotefix.cli._fleet import error_label, fleet_exit_code, print_reasons, sigint_notice
from remotefix.cli._fleet_progress import Tally, fleet_view, print_tally
from remotefix.cli._inventory_options import inventory_options
from remotefix.collect.diagnose import DiagnoseOptions, diagnose
from remotefix.collect.include import include_collector
from remotefix.collect.obfuscate import bundle_stem
from remotefix.collect.profiles import CollectorProfile, load_profile
from remotefix.collect.runner import DiagnoseReport
from remotefix.filenames import safe_name
from remotefix.fleet import DEFAULT_FORKS, Outcome, fan_out
from remotefix.inventory import resolve_targets
from remotefix.targets import Target


@click.command("diagnose")
@click.argument("addresses", nargs=-1)
@inventory_options
@click.option("--case", required=True, help="The support case this work belongs to.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Bundle file (one target) or folder."
)
@click.option(
    "--profile", default="full", show_default=True, metavar="PROFILE",
    help="quick, full, a profile file PATH.yaml, or NAME for <config dir>/profiles/NAME.yaml.",
)  # fmt: skip
@click.option("--only", multiple=True, help="Run only this collector (repeatable).")
@click.option("--skip", multiple=True, help="Skip this collector (repeatable).")
@click.option(
    "--obfuscate", is_flag=True, help="Replace host names, IPs and users by placeholders."
)
@click.option("--redact-rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of extra redaction patterns.")  # fmt: skip
@click.option(
    "--forks",
    type=click.IntRange(1, 256),
    default=DEFAULT_FORKS,
    show_default=True,
    help="Targets collected from at the same time.",
)
@click.option(
    "--include", "include", multiple=True, metavar="GLOB",
    help="Also collect these files or folders (repeatable; capped, redacted; root under --sudo).",
)  # fmt: skip
@click.option(
    "--known", "known", multiple=True, metavar="CASE",
    help="Also collect the files this known issue's include: names (id or case file; repeatable).",
)  # fmt: skip
@pass_app
def diagnose_cmd(app: App, addresses: tuple[str, ...], **opts: Any) -> None:
    """Collect everything a case needs, redacted, into a verifiable bundle per target.

    Ctrl-C stops it: hosts not started are never contacted, running collections are killed on
    the target, finished bundles are kept; exit 130.

    \b
    Examples:
      remotefix diagnose web1 --case C-1042
      remotefix diagnose web1 --case C-1042 --profile quick --include /etc/myapp
      remotefix diagnose -i hosts.ini --limit web --case C-1042 --forks 16 -o bundles/
    """
    profile, include = _what_to_collect(opts)  # refused input stops here, before connecting
    targets = resolve_targets(list(addresses), opts["inventory"], opts["limit"])
    output: Path | None = opts["output"]

    def work(target: Target) -> Done:
        dest = _destination(output, target, many=len(targets) > 1, obfuscate=opts["obfuscate"])
        options = DiagnoseOptions(
            profile=profile.base, only=opts["only"] or profile.collectors, skip=opts["skip"],
            obfuscate=opts["obfuscate"], extra_rules=opts["redact_rules"], output=dest,
            include=include,
        )  # fmt: skip
        report = diagnose(target, case=opts["case"], workspace=app.workspace, options=options)
        return Done.of(report)

    outcomes, tally = _run_with_progress(app, targets, work, opts["forks"])
    app.emit([_as_dict(o) for o in outcomes], lambda: _summary(app, outcomes, tally))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise click.exceptions.Exit(fleet_exit_code(failed))


def _what_to_collect(opts: dict[str, Any]) -> tuple[CollectorProfile, tuple[str, ...]]:
    """The profile, and every glob of --include, the profile and the --known cases, checked."""
    profile = load_profile(opts["profile"])
    cases = load_cases(list(opts["known"])) if opts["known"] else []
    globs = (*opts["include"], *profile.include, *(g for c in cases for g in c.include))
    include_collector(globs)
    return profile, tuple(dict.fromkeys(globs))


def _destination(
    output: Path | None, target: Target, *, many: bool, obfuscate: bool
) -> Path | None:
    if output is None:
        return None
    if many or output.is_dir():
        return output / f"{safe_name(bundle_stem(target.name, obfuscate=obfuscate))}.tar.gz"
    return output


@dataclass(frozen=True, slots=True)
class Done:
    """What the summary and ``--json`` need of one host's bundle (its fingerprint and manifest
    stay in the bundle file: a fleet of hundreds holds only these)."""

    path: Path
    incomplete: bool
    incomplete_reasons: list[str]
    collectors: dict[str, str]
    redactions: int
    os: str
    packages: int
    retries: list[str]

    @classmethod
    def of(cls, report: DiagnoseReport) -> Done:
        m, fp = report.manifest, report.fingerprint
        return cls(
            report.path, bool(m["incomplete"]), list(m["incomplete_reasons"]),
            {c["name"]: c["status"] for c in m["collectors"]}, int(m["redaction"]["total"]),
            str(fp["os"]["pretty_name"]), len(fp["packages"]),
            list(m.get("connection", {}).get("retries", [])),
        )  # fmt: skip


def _run_with_progress(
    app: App, targets: list[Target], work: Any, forks: int
) -> tuple[list[Outcome[Done]], Tally]:
    outcomes: list[Outcome[Done]] = []
    with interrupt.on_sigint(lambda: sigint_notice(app)), fleet_view(app, len(targets)) as view:
        for outcome in fan_out(targets, work, forks=forks):
            outcomes.append(outcome)
            if outcome.error is not None:
                reason = str(outcome.error)
                view.done(outcome.target.name, label=error_label(outcome.error), reason=reason)
            else:
                assert outcome.value is not None
                label = "incomplete" if outcome.value.incomplete else "done"
                view.done(outcome.target.name, label=label, retries=len(outcome.value.retries))
    return outcomes, view.tally


def _as_dict(outcome: Outcome[Done]) -> dict[str, Any]:
    data: dict[str, Any] = {"target": outcome.target.name, "ok": outcome.ok}
    if outcome.error is not None:
        return {
            **data,
            "error": {"type": type(outcome.error).__name__, "message": str(outcome.error)},
        }
    done = outcome.value
    assert done is not None
    return {
        **data,
        "bundle": str(done.path),
        "incomplete": done.incomplete,
        "incomplete_reasons": done.incomplete_reasons,
        "collectors": done.collectors,
        "redactions": done.redactions,
        "os": done.os,
        "packages": done.packages,
        "retries": done.retries,
    }


TABLE_UP_TO = 20
"""Fleets this small get a row per host; larger ones the counts and the failed hosts."""


def _summary(app: App, outcomes: list[Outcome[Done]], tally: Tally) -> None:
    if len(outcomes) > TABLE_UP_TO:
        print_tally(app, tally)
        return
    table = Table("target", "result", "os", "packages", "redactions", "bundle")
    for o in outcomes:
        if o.error is not None:
            label = f"[red]{error_label(o.error)}[/]"  # why: after the table
            table.add_row(shown(o.target.name), label, "", "", "", "")
            continue
        d = o.value
        assert d is not None
        state = "[yellow]incomplete[/]" if d.incomplete else "[green]ok[/]"
        table.add_row(
            shown(o.target.name), state, shown(d.os), str(d.packages), str(d.redactions),
            shown(d.path),
        )  # fmt: skip
    app.out.print(table)
    print_reasons(app, outcomes)
    for o in outcomes:
        for reason in o.value.incomplete_reasons if o.value is not None else []:
            app.out.print(f"[yellow]{shown(o.target.name)}: {shown(reason)}[/]")
    if len(outcomes) > 1:
        app.out.print(tally.counts)
