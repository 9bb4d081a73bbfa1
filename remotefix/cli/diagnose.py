"""``remotefix diagnose``: one consented pass of collection on one or many targets."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.live import Live
from rich.table import Table

from remotefix import interrupt
from remotefix.cases.model import load_cases
from remotefix.cli._app import App, pass_app, shown
from remotefix.cli._fleet import error_label, fleet_exit_code, print_reasons, sigint_notice
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
    states = {t.name: "queued" for t in targets}
    lock = threading.Lock()

    def work(target: Target) -> DiagnoseReport:
        with lock:
            states[target.name] = "collecting"
        dest = _destination(output, target, many=len(targets) > 1, obfuscate=opts["obfuscate"])
        options = DiagnoseOptions(
            profile=profile.base, only=opts["only"] or profile.collectors, skip=opts["skip"],
            obfuscate=opts["obfuscate"], extra_rules=opts["redact_rules"], output=dest,
            include=include,
        )  # fmt: skip
        return diagnose(target, case=opts["case"], workspace=app.workspace, options=options)

    outcomes = _run_with_progress(app, targets, work, states, lock, opts["forks"])
    app.emit([_as_dict(o) for o in outcomes], lambda: _summary(app, outcomes))
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


def _run_with_progress(
    app: App, targets: list[Target], work: Any, states: dict[str, str], lock: threading.Lock,
    forks: int,
) -> list[Outcome[DiagnoseReport]]:  # fmt: skip
    outcomes: list[Outcome[DiagnoseReport]] = []
    live = not app.json and app.err.is_terminal
    with (
        interrupt.on_sigint(lambda: sigint_notice(app)),
        Live(_table(states), console=app.err, transient=True, refresh_per_second=4)
        if live
        else nullcontext(),
    ):
        for outcome in fan_out(targets, work, forks=forks):
            outcomes.append(outcome)
            with lock:
                states[outcome.target.name] = _state(outcome)
            if not live:
                app.progress(f"{shown(outcome.target.name)}: {states[outcome.target.name]}")
    return outcomes


def _state(outcome: Outcome[DiagnoseReport]) -> str:
    return "done" if outcome.error is None else error_label(outcome.error)


def _table(states: dict[str, str]) -> Table:
    table = Table("target", "state")
    for name, state in states.items():
        table.add_row(shown(name), state)
    return table


def _as_dict(outcome: Outcome[DiagnoseReport]) -> dict[str, Any]:
    data: dict[str, Any] = {"target": outcome.target.name, "ok": outcome.ok}
    if outcome.error is not None:
        return {
            **data,
            "error": {"type": type(outcome.error).__name__, "message": str(outcome.error)},
        }
    report = outcome.value
    assert report is not None
    m = report.manifest
    return {
        **data,
        "bundle": str(report.path),
        "incomplete": m["incomplete"],
        "incomplete_reasons": m["incomplete_reasons"],
        "collectors": {c["name"]: c["status"] for c in m["collectors"]},
        "redactions": m["redaction"]["total"],
        "os": report.fingerprint["os"]["pretty_name"],
        "packages": len(report.fingerprint["packages"]),
    }


def _summary(app: App, outcomes: list[Outcome[DiagnoseReport]]) -> None:
    table = Table("target", "result", "os", "packages", "redactions", "bundle")
    for o in outcomes:
        if o.error is not None:
            label = f"[red]{error_label(o.error)}[/]"  # why: after the table
            table.add_row(shown(o.target.name), label, "", "", "", "")
            continue
        d = _as_dict(o)
        state = "[yellow]incomplete[/]" if d["incomplete"] else "[green]ok[/]"
        table.add_row(
            shown(o.target.name), state, shown(d["os"]), str(d["packages"]),
            str(d["redactions"]), shown(d["bundle"]),
        )  # fmt: skip
    app.out.print(table)
    print_reasons(app, outcomes)
    for o in outcomes:
        for reason in (_as_dict(o).get("incomplete_reasons") or []) if o.ok else []:
            app.out.print(f"[yellow]{shown(o.target.name)}: {shown(reason)}[/]")
