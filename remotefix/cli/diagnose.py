"""``remotefix diagnose``: one consented pass of collection on one or many targets."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.collect.bundle import safe_name
from remotefix.collect.diagnose import DiagnoseOptions, diagnose
from remotefix.collect.obfuscate import bundle_stem
from remotefix.collect.runner import DiagnoseReport
from remotefix.fleet import DEFAULT_FORKS, Outcome, fan_out
from remotefix.inventory import resolve_targets
from remotefix.targets import Target


@click.command("diagnose")
@click.argument("addresses", nargs=-1)
@click.option("-i", "--inventory", type=click.Path(dir_okay=False), help="Ansible inventory.")
@click.option("--limit", help="Ansible host pattern to select from the inventory.")
@click.option("--case", required=True, help="The support case this work belongs to.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Bundle file (one target) or folder."
)
@click.option("--profile", type=click.Choice(["quick", "full"]), default="full", show_default=True)
@click.option("--only", multiple=True, help="Run only this collector (repeatable).")
@click.option("--skip", multiple=True, help="Skip this collector (repeatable).")
@click.option(
    "--obfuscate", is_flag=True, help="Replace host names, IPs and users by placeholders."
)
@click.option("--redact-rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of extra redaction patterns.")  # fmt: skip
@click.option("--forks", type=click.IntRange(1, 256), default=DEFAULT_FORKS, show_default=True)
@pass_app
def diagnose_cmd(app: App, addresses: tuple[str, ...], **opts: Any) -> None:
    """Collect everything a case needs, redacted, into a verifiable bundle per target."""
    targets = resolve_targets(list(addresses), opts["inventory"], opts["limit"])
    output: Path | None = opts["output"]
    states = {t.name: "queued" for t in targets}
    lock = threading.Lock()

    def work(target: Target) -> DiagnoseReport:
        with lock:
            states[target.name] = "collecting"
        dest = _destination(output, target, many=len(targets) > 1, obfuscate=opts["obfuscate"])
        options = DiagnoseOptions(
            profile=opts["profile"], only=opts["only"], skip=opts["skip"],
            obfuscate=opts["obfuscate"], extra_rules=opts["redact_rules"], output=dest,
        )  # fmt: skip
        return diagnose(target, case=opts["case"], workspace=app.workspace, options=options)

    outcomes = _run_with_progress(app, targets, work, states, lock, opts["forks"])
    app.emit([_as_dict(o) for o in outcomes], lambda: _summary(app, outcomes))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise click.exceptions.Exit(max(o.error.exit_code for o in failed if o.error))


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
        Live(_table(states), console=app.err, transient=True, refresh_per_second=4)
        if live
        else nullcontext()
    ):
        for outcome in fan_out(targets, work, forks=forks):
            outcomes.append(outcome)
            with lock:
                states[outcome.target.name] = "done" if outcome.ok else "FAILED"
            if not live:
                app.progress(f"{outcome.target.name}: {states[outcome.target.name]}")
    return outcomes


def _table(states: dict[str, str]) -> Table:
    table = Table("target", "state")
    for name, state in states.items():
        table.add_row(name, state)
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
            table.add_row(o.target.name, "[red]FAILED[/]", escape(str(o.error)), "", "", "")
            continue
        d = _as_dict(o)
        state = "[yellow]incomplete[/]" if d["incomplete"] else "[green]ok[/]"
        table.add_row(
            o.target.name, state, d["os"], str(d["packages"]), str(d["redactions"]), d["bundle"]
        )
    app.out.print(table)
    for o in outcomes:
        for reason in (_as_dict(o).get("incomplete_reasons") or []) if o.ok else []:
            app.out.print(f"[yellow]{escape(o.target.name)}: {escape(reason)}[/]")
