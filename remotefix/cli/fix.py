"""``remotefix fix``: a playbook, under fix consent, practised on the lab, checked, confirmed,
applied, proved idempotent, with the before/after fingerprint diff."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from remotefix.cli._app import App, pass_app, shown
from remotefix.cli._inventory_options import inventory_options
from remotefix.errors import ConfigError, FixError
from remotefix.fixes.ansible import PlaybookRun
from remotefix.fixes.extravars import parse_extra_vars
from remotefix.fixes.fix import FixReport, find_playbook, fix
from remotefix.inventory import resolve_targets


@click.command("fix")
@click.argument("playbook")
@click.argument("addresses", nargs=-1)
@inventory_options
@click.option("--case", required=True, help="The support case (its consent must allow fix).")
@click.option(
    "-e",
    "--extra-vars",
    "extra_vars",
    multiple=True,
    help="name=value (repeatable; never a connection variable).",
)
@click.option("--lab", help="Practise on this lab first (check, apply, idempotence).")
@click.option("--require-lab-pass", is_flag=True, help="Refuse to apply unless the lab run passed.")
@click.option("--yes", is_flag=True, help="Apply without asking (scripted use).")
@pass_app
def fix_cmd(app: App, playbook: str, addresses: tuple[str, ...], **opts: Any) -> None:
    """Apply a fix playbook: practise on a lab, check with diff, confirm, apply, re-apply.

    Needs a fix grant. PLAYBOOK is a file or a shipped playbook's name. With --lab the
    playbook runs on the lab first. Every lab has python3 (for Ansible): a customer lacking
    a tool the lab added and the playbook needs is warned about before anything runs there.

    \b
    Examples:
      remotefix fix ki-0004-dpkg-configure web1 --case C-1042 --lab LAB --require-lab-pass
      remotefix fix fix.yml -i hosts.ini --limit web --case C-1042 -e port=8080 --yes
      remotefix fix ki-0004-dpkg-configure --lab LAB --case C-1042
    """
    extra_vars = parse_extra_vars(opts["extra_vars"])  # refused before anything else
    path = find_playbook(playbook)
    practice_only = not addresses and not opts["inventory"] and opts["lab"]
    targets = (
        [] if practice_only else resolve_targets(list(addresses), opts["inventory"], opts["limit"])
    )
    if app.json and not opts["yes"]:
        raise ConfigError("--json needs --yes (there is no one to confirm the apply step)")

    previewed: list[PlaybookRun] = []

    def confirm(check: PlaybookRun) -> bool:
        _render_run(app, "check mode (nothing changed yet)", check)
        previewed.append(check)
        return bool(opts["yes"]) or click.confirm("Apply these changes?", default=False)

    report = fix(
        path,
        targets,
        case=opts["case"],
        workspace=app.workspace,
        confirm=confirm,
        extra_vars=extra_vars,
        lab=opts["lab"],
        require_lab_pass=opts["require_lab_pass"],
        progress=app.progress,
        warn=lambda message: app.err.print(f"[bold yellow]warning:[/] {shown(message)}"),
    )
    app.emit(report_dict(report), lambda: _render(app, report, previewed=bool(previewed)))
    if report.failed_hosts or report.not_idempotent():
        app.progress(
            f"fix {path.name}: failed on {', '.join(report.failed_hosts) or 'no host'}; "
            f"not idempotent on {', '.join(report.not_idempotent()) or 'no host'}"
        )
        raise click.exceptions.Exit(FixError.exit_code)


def report_dict(report: FixReport) -> dict[str, Any]:
    def run(r: PlaybookRun | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {
            "rc": r.rc,
            "status": r.status,
            "stats": r.stats,
            "events": [asdict(e) for e in r.events if e.status != "skipped"],
        }

    practice = report.practice
    return {
        "playbook": report.playbook,
        "case": report.case,
        "applied": report.applied,
        "practice": None
        if practice is None
        else {
            "lab": practice.lab,
            "passed": practice.passed,
            "restored": practice.restored,
            "check": run(practice.check),
            "apply": run(practice.apply),
            "idempotence": run(practice.again),
        },
        "check": run(report.check),
        "apply": run(report.apply),
        "idempotence": run(report.again),
        "failed_hosts": report.failed_hosts,
        "not_idempotent": report.not_idempotent(),
        "fingerprint_diff": report.diffs,
        "warnings": report.warnings,
    }


def _render_run(app: App, title: str, run: PlaybookRun) -> None:
    if app.json:
        return
    app.out.print(f"[bold]{title}[/]")
    for event in run.events:
        if event.status == "skipped" or not (event.changed or event.status != "ok"):
            continue
        colour = "yellow" if event.changed else "red"
        message = event.message if event.status != "ok" else event.message[:120]  # why, whole
        app.out.print(
            f"  [{colour}]{event.status}{' (changed)' if event.changed else ''}[/] "
            f"{shown(event.host)}: {shown(event.task)} {shown(message)}"
        )
        for diff in event.diff:
            after = str(diff.get("after", ""))
            if after:
                for line in after.splitlines()[:8]:
                    app.out.print(f"      [green]+ {escape(line)}[/]")
    table = Table("host", "ok", "changed", "failed", "unreachable", "skipped")
    for host, s in sorted(run.stats.items()):
        table.add_row(
            host, *(str(s[k]) for k in ("ok", "changed", "failed", "unreachable", "skipped"))
        )
    app.out.print(table)


def _render(app: App, report: FixReport, *, previewed: bool) -> None:
    if report.practice:
        p = report.practice
        state = "[green]passed[/]" if p.passed else "[red]FAILED[/]"
        app.out.print(
            f"practice on lab {p.lab}: {state} "
            f"(changed {p.apply.changed(p.lab)}, then {p.again.changed(p.lab)} on re-run)"
        )
    if not report.applied:
        if report.check is not None and not previewed:  # every host failed the check: say why
            _render_run(app, "check mode failed", report.check)
        app.out.print(
            "practice only (no customer target)"
            if report.check is None
            else "[yellow]not applied[/]"
        )
        return
    if report.apply:
        _render_run(app, "applied", report.apply)
    if report.again:
        _render_run(app, "applied again (must change nothing)", report.again)
    for host, delta in report.diffs.items():
        pk = delta["packages"]
        app.out.print(
            f"{escape(host)} fingerprint: +{len(pk['added'])} -{len(pk['removed'])} "
            f"~{len(pk['changed'])} packages, "
            f"{len(delta['services']['changed'])} service change(s)"
        )
