"""Known issues: ``case new|lint|ls``, ``repro``, ``regress`` and ``triage``."""

from __future__ import annotations

import json
import re
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.live import Live
from rich.table import Table

from remotefix.cases.model import cases_dir, load_case, load_cases
from remotefix.cases.regress import DEFAULT_JOBS, Cell, cells, junit_xml, parse_shard, run_matrix
from remotefix.cases.repro import ReproResult, reproduce
from remotefix.cases.triage import Action, State, TriageEntry, triage
from remotefix.cli._app import App, pass_app, shown
from remotefix.errors import ConfigError
from remotefix.lab.catalog import Catalog

_VERDICT_COLOUR = {"REPRODUCED": "magenta", "NOT_REPRODUCED": "cyan", "ERROR": "red"}
_SCAFFOLD = """\
id: {id}
title: {title}
severity: medium
summary: >
  What the customer sees, on which versions, and why.
matrix: [debian:11, debian:12, debian:13]
lab:
  packages: {{}}          # e.g. {{python3-pip: "*"}}
  setup: []              # commands that put the lab in the customer's state
repro:
  - run: "true"          # the command that shows the problem
    timeout: 60
    expect: {{exit_code: nonzero, output_contains: "the error text"}}
reproduces_on: {{debian:11: true, debian:12: true, debian:13: true}}
match:
  os: {{distro: debian}}
  packages: {{}}          # e.g. {{python3-pip: ">=23"}}
include: []              # files diagnose --known collects, e.g. [/etc/myapp/*.yml]
fixed_in: {{}}
workaround: ""
references: []
"""


@click.group("case")
def case() -> None:
    """Known-issue case files: scaffold, validate, list.

    \b
    Examples:
      remotefix case new KI-0100 --title 'nginx fails after upgrade'
      remotefix case lint
    """


@case.command("new")
@click.argument("case_id")
@click.option("--title", required=True, help="One line naming the problem, as triage shows it.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (instead of CASE_ID.yaml in --dir or the current directory).",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for CASE_ID.yaml (default: the current directory).",
)
@pass_app
def new(app: App, case_id: str, title: str, output: Path | None, folder: Path | None) -> None:
    """Scaffold a case file in the current directory, --dir or -o (validated, then written).

    \b
    Examples:
      remotefix case new KI-0100 --title 'nginx fails after upgrade'
      remotefix case new KI-0100 --title '...' --dir labs/known-issues
    """
    if not _CASE_ID.fullmatch(case_id):
        raise ConfigError(f"case id {case_id!r} must look like KI-0001", hint="e.g. KI-0101")
    if output and folder:
        raise ConfigError("give -o FILE or --dir DIR, not both")
    path = output or (folder or Path.cwd()) / f"{case_id.lower()}.yaml"
    if path.exists():
        raise ConfigError(f"{path} exists", hint="choose another id, --dir or -o path")
    if not path.parent.is_dir():
        raise ConfigError(f"folder {path.parent} does not exist", hint="create it first")
    _write_validated(path, _SCAFFOLD.format(id=case_id, title=_yaml_string(title)))
    app.emit({"written": str(path)}, lambda: app.out.print(f"case written: {shown(str(path))}"))


_CASE_ID = re.compile(r"[A-Z][A-Z0-9]*-[0-9]{3,}")


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are YAML): ':', '#', newlines stay text."""
    return json.dumps(text, ensure_ascii=False)


def _write_validated(path: Path, text: str) -> None:
    """Write through a temporary file next to ``path``; nothing is left if it does not load."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_case(tmp)
    except ConfigError:
        tmp.unlink()
        raise
    tmp.replace(path)


@case.command("lint")
@click.argument("sources", nargs=-1)
@pass_app
def lint(app: App, sources: tuple[str, ...]) -> None:
    """Validate case files (default: every shipped case), reporting every problem.

    Every file is checked and each problem reported on one line.

    \b
    Examples:
      remotefix case lint
      remotefix case lint labs/known-issues/ ki-0100.yaml
    """
    rows = []
    for source in _one_by_one(sources or (str(cases_dir()),)):
        try:
            rows += [
                {"source": str(c.path), "id": c.id, "error": None} for c in load_cases([source])
            ]
        except ConfigError as exc:
            rows.append({"source": source, "id": None, "error": exc.message})
    bad = [r for r in rows if r["error"]]

    def render() -> None:
        for row in bad:
            app.err.print(f"[red]invalid[/] {shown(row['error'])}")
        app.out.print(f"{len(rows) - len(bad)} case(s) valid, {len(bad)} invalid")

    app.emit(rows, render)
    if bad:
        raise click.exceptions.Exit(ConfigError.exit_code)


def _one_by_one(sources: tuple[str, ...]) -> list[str]:
    """Folders as their case files, so one bad file does not hide the others' problems."""
    out = []
    for source in sources:
        path = Path(source)
        out += [str(p) for p in sorted(path.glob("*.yaml"))] if path.is_dir() else [source]
    return out


@case.command("ls")
@pass_app
def ls(app: App) -> None:
    """The known issues remotefix ships (and any in $REMOTEFIX_LABS).

    \b
    Examples:
      remotefix case ls
      remotefix case ls --json
    """
    found = load_cases()

    def render() -> None:
        table = Table("id", "severity", "title", "reproduces on")
        for c in found:
            table.add_row(
                c.id,
                c.severity,
                shown(c.title),
                ", ".join(k for k, v in c.reproduces_on.items() if v),
            )
        app.out.print(table)

    app.emit(
        [
            {"id": c.id, "title": c.title, "path": str(c.path), "reproduces_on": c.reproduces_on}
            for c in found
        ],
        render,
    )


@click.command("repro")
@click.argument("case_ref")
@click.option("--on", "on", help="Matrix entry, e.g. debian:12 (default: the newest).")
@click.option(
    "--bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reproduce on a lab built from this customer bundle.",
)
@click.option(
    "--keep",
    type=click.Choice(["always", "never", "on-failure"]),
    default="never",
    show_default=True,
    help="Keep the lab afterwards? never (default: labs cost disk and memory), always, or "
    "on-failure (only when the verdict is not the declared one, to look into it).",
)
@click.option(
    "--case", "for_case",
    help="The support case this is for: the lab, verdict and evidence join its timeline.",
)  # fmt: skip
@pass_app
def repro(
    app: App, case_ref: str, on: str | None, bundle: Path | None, keep: str, for_case: str | None
) -> None:
    """Reproduce a known issue in a lab: REPRODUCED / NOT_REPRODUCED / ERROR with evidence.

    With --bundle the customer's collected state is tried first and the case's own setup only
    when that state does not show the symptom; the verdict says which one did.

    \b
    Examples:
      remotefix repro KI-0004 --on debian:12
      remotefix repro KI-0004 --bundle web1.tar.gz --case C-1042 --keep on-failure
    """
    (found,) = load_cases([case_ref])
    if on and on not in found.matrix:
        raise ConfigError(
            f"{found.id} has no matrix entry {on}", hint=f"one of {', '.join(found.matrix)}"
        )
    result = reproduce(
        found,
        workspace=app.workspace,
        on=on,
        bundle=bundle,
        keep=keep,  # type: ignore[arg-type]
        progress=app.progress,
        for_case=for_case,
    )
    app.emit(result.to_dict(), lambda: _render_repro(app, result))
    if result.verdict == "ERROR":
        raise click.exceptions.Exit(40)


def _render_repro(app: App, result: ReproResult) -> None:
    for step in result.steps:
        app.out.print(
            f"$ {shown(step.command)}  [dim](exit {step.exit_code}, {step.duration_s}s)[/]"
        )
        for line in step.output.strip().splitlines()[-6:]:
            app.out.print(f"  {shown(line)}", highlight=False)
        for problem in step.problems:
            app.out.print(f"  [yellow]{shown(problem)}[/]")
    colour = _VERDICT_COLOUR[result.verdict]
    declared = (
        ""
        if result.expected is None
        else (" (as declared)" if result.as_declared else " [red](NOT as declared)[/]")
    )
    origin = f" ({result.origin})" if result.origin else ""
    app.out.print(
        f"[bold {colour}]{result.verdict}{origin}[/]{declared} {result.case} on {result.on} "
        f"in {result.duration_s}s" + (f": {shown(result.error)}" if result.error else "")
    )
    app.out.print(f"[dim]evidence: {result.evidence}[/]")
    if result.lab:
        app.out.print(f"lab kept: {result.lab}")


@click.command("regress")
@click.argument("sources", nargs=-1)
@click.option("--matrix", help="Comma-separated OS list (default: each case's own matrix).")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Cells (case x OS) run at the same time.",
)
@click.option("--shard", help="i/n: run this CI job's share of the cells.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML output.")
@click.option(
    "--html", type=click.Path(dir_okay=False, path_type=Path),
    help="The matrix as a self-contained page (cells coloured by verdict vs declaration).",
)  # fmt: skip
@click.option(
    "--runtime", type=click.Choice(["local", "swarm"]), default="local", show_default=True,
    help="Where cells run: this Docker engine, or as Swarm services (DOCKER_HOST: a manager).",
)  # fmt: skip
@click.option(
    "--registry", metavar="HOST:PORT",
    help="Registry the swarm's nodes pull lab images from (--runtime swarm; config: registry).",
)  # fmt: skip
@pass_app
def regress(app: App, sources: tuple[str, ...], **opts: Any) -> None:
    """Run every case on every OS; fail when a verdict differs from its declaration.

    \b
    Examples:
      remotefix regress --matrix debian:11,debian:12,debian:13 --jobs 6
      remotefix regress --shard 1/2 --junit out.xml --html matrix.html
    """
    matrix = [m.strip() for m in opts["matrix"].split(",")] if opts["matrix"] else None
    catalog = Catalog.load()
    for entry in matrix or []:
        catalog.resolve(entry)  # an OS the catalog does not know is named, not silently empty
    selected = cells(load_cases(list(sources) or None), matrix, parse_shard(opts["shard"]))
    if not selected:
        raise ConfigError(
            "no case x OS cell to run", hint="check the case ids, --matrix and --shard"
        )
    states = {c.key: "queued" for c in selected}
    lock = threading.Lock()
    live_on = not app.json and app.err.is_terminal
    live = Live(_progress(states), console=app.err, transient=True) if live_on else None

    def started(cell: Cell) -> None:
        with lock:
            states[cell.key] = "running"
        if live:
            live.update(_progress(states))

    def done(cell: Cell, result: ReproResult) -> None:
        with lock:
            states[cell.key] = result.verdict
        if live:
            live.update(_progress(states))
        elif not app.json:
            app.progress(f"{cell.key}: {result.verdict} ({result.duration_s}s)")

    with live or nullcontext():
        results = run_matrix(
            selected, workspace=app.workspace, jobs=opts["jobs"], on_start=started, on_done=done,
            runtime=opts["runtime"], registry=opts["registry"],
        )  # fmt: skip
    if opts["junit"]:
        junit_xml(selected, results, opts["junit"])
    if opts["html"]:
        from remotefix.report.matrix import write_matrix_page

        write_matrix_page(selected, results, opts["html"])
    rows = [{"case": c.case.id, "on": c.on, **results[c.key].to_dict()} for c in selected]
    app.emit(rows, lambda: _render_matrix(app, selected, results))
    bad = [r for r in results.values() if not r.as_declared]
    if bad:
        raise click.exceptions.Exit(40)


def _progress(states: dict[str, str]) -> Table:
    table = Table("case@os", "state")
    for key, state in states.items():
        table.add_row(key, state)
    return table


def _render_matrix(app: App, selected: list[Cell], results: dict[str, ReproResult]) -> None:
    systems = sorted({c.on for c in selected})
    table = Table("case", *systems)
    for case_id in sorted({c.case.id for c in selected}):
        row = []
        for on in systems:
            result = results.get(f"{case_id}@{on}")
            if result is None:
                row.append("")
                continue
            mark = "" if result.as_declared else " ✗"
            colour = _VERDICT_COLOUR[result.verdict]
            row.append(f"[{colour}]{result.verdict}[/]{mark} {result.duration_s:.0f}s")
        table.add_row(case_id, *row)
    app.out.print(table)
    bad = sum(not r.as_declared for r in results.values())
    app.out.print(f"{len(results)} cell(s), {bad} not as declared")


_STATE_COLOUR = {State.AFFECTED: "red", State.SUSCEPTIBLE: "yellow", State.UNKNOWN: "magenta",
                 State.NOT_AFFECTED: "dim"}  # fmt: skip


@click.command("triage")
@click.argument("bundle", type=click.Path(path_type=Path))  # the opener names a missing one
@click.option("--cases", "sources", multiple=True, help="Case files/folders (default: shipped).")
@click.option("--symptom", default="", help="The ticket's words (e.g. the error the customer saw).")
@click.option("--all", "show_all", is_flag=True, help="Also list the cases ruled out.")
@pass_app
def triage_cmd(
    app: App, bundle: Path, sources: tuple[str, ...], symptom: str, show_all: bool
) -> None:
    """Which known issues does this bundle show, best first, with a decision for each.

    Each case is affected (with evidence), susceptible, unknown (what is missing) or
    not_affected.

    \b
    Examples:
      remotefix triage web1.tar.gz
      remotefix triage web1.tar.gz --symptom 'dpkg was interrupted' --all
    """
    entries = triage(bundle, load_cases(list(sources) or None), symptom=symptom)
    app.emit([e.to_dict() for e in entries], lambda: _render_triage(app, bundle, entries, show_all))


def _render_triage(app: App, bundle: Path, entries: list[TriageEntry], show_all: bool) -> None:
    table = Table("case", "state", "score", "title", "evidence / decision")
    for e in entries:
        if e.state is State.NOT_AFFECTED and not show_all:
            continue
        lines = [f"{x.member}:{x.line}: {x.excerpt}" for x in e.evidence[:3]]
        lines += [f"missing: {m}" for m in e.missing]
        if e.symptom:
            lines.append(f"the ticket's words match its {e.symptom}")
        if e.decision.action is not Action.NONE:
            lines.append(f"{e.decision.action.value}: {e.decision.detail}")
        state = f"[{_STATE_COLOUR[e.state]}]{e.state.value}[/]"
        table.add_row(e.case, state, f"{e.score:.2f}", shown(e.title), "\n".join(map(shown, lines)))
    if table.row_count:
        app.out.print(table)
    if not any(e.state is State.AFFECTED for e in entries):
        app.out.print(
            "[yellow]no known issue shows on this machine: escalate; start a lab: "
            f"remotefix lab plan {shown(str(bundle))} -o lab.yaml[/]"
        )
