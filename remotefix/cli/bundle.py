"""``remotefix bundle``: verify, summarise, extract, list and import diagnostics bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.collect.bundle import BundleIndex, open_bundle, verify_bundle
from remotefix.collect.bundle_extract import extract_bundle
from remotefix.collect.diagnose import DiagnoseOptions
from remotefix.collect.offline import import_output
from remotefix.errors import BundleError

_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)
_BUNDLE = click.Path(path_type=Path)  # opening it names a missing or unreadable file in one line


@click.group()
def bundle() -> None:
    """Diagnostics bundles: verify, show, extract, ls, import.

    \b
    Examples:
      remotefix bundle verify web1.tar.gz
      remotefix bundle ls --case C-1042
    """


@bundle.command("verify")
@click.argument("path", type=_BUNDLE)
@pass_app
def verify(app: App, path: Path) -> None:
    """Check every member's sha256 and size against the manifest.

    \b
    Examples:
      remotefix bundle verify web1.tar.gz
    """
    result = verify_bundle(path)
    data = {"bundle": str(path), "ok": result.ok, "checked": result.checked,
            "problems": result.problems}  # fmt: skip

    def render() -> None:
        if result.ok:
            app.out.print(f"[green]ok[/]: {result.checked} members match the manifest")
        for problem in result.problems:
            app.out.print(f"[red]problem[/]: {escape(problem)}")

    app.emit(data, render)
    if not result.ok:
        raise BundleError(f"{path} failed verification ({len(result.problems)} problem(s))")


@bundle.command("show")
@click.argument("path", type=_BUNDLE)
@pass_app
def show(app: App, path: Path) -> None:
    """Summarise a bundle: target, case, collectors, redactions, completeness.

    \b
    Examples:
      remotefix bundle show web1.tar.gz
    """
    opened = open_bundle(path)
    m, fp = opened.manifest, opened.fingerprint

    def render() -> None:
        target = _obj(m.get("target"))
        case, name = _text(m.get("case")), _text(target.get("name"))
        connection, profile = _text(target.get("connection")), _text(m.get("profile"))
        app.out.print(f"case {case}, target {name} ({connection}), profile {profile}")
        packages = len(_obj(fp.get("packages")))
        os_name = _text(_obj(fp.get("os")).get("pretty_name"))
        app.out.print(f"os {os_name}, {packages} packages, consent {_text(m.get('consent_id'))}")
        table = Table("collector", "status", "ms", "items")
        for c in map(_obj, _list(m.get("collectors"))):
            table.add_row(_text(c.get("name")), _text(c.get("status")),
                          _text(c.get("duration_ms")), str(len(_list(c.get("items")))))  # fmt: skip
        app.out.print(table)
        app.out.print(f"redactions: {_text(_obj(m.get('redaction')).get('total', 0))}")
        state = "[yellow]INCOMPLETE[/]" if m.get("incomplete") else "[green]complete[/]"
        app.out.print(state)
        for reason in _list(m.get("incomplete_reasons")):
            app.out.print(f"  {_text(reason)}")

    app.emit({"manifest": m, "fingerprint": fp}, render)


def _obj(value: Any) -> dict[str, Any]:
    """A manifest value that should be an object (a verified bundle may still be hand-made)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return escape(str(value))


@bundle.command("extract")
@click.argument("path", type=_BUNDLE)
@click.option(
    "-d",
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="New or empty folder to extract into.",
)
@pass_app
def extract(app: App, path: Path, dest: Path) -> None:
    """Verify, then extract into a new or empty folder (regular files only, never outside it).

    \b
    Examples:
      remotefix bundle extract web1.tar.gz -d web1/
    """
    names = extract_bundle(path, dest)
    app.emit({"dest": str(dest), "members": names},
             lambda: app.out.print(f"{len(names)} members extracted to {dest}"))  # fmt: skip


@bundle.command("ls")
@click.option("--case", help="Only this case's bundles.")
@pass_app
def ls(app: App, case: str | None) -> None:
    """Bundles registered in the workspace.

    \b
    Examples:
      remotefix bundle ls
      remotefix bundle ls --case C-1042
    """
    rows = BundleIndex(app.workspace).list(case)

    def render() -> None:
        table = Table("case", "target", "started", "state", "path")
        for r in rows:
            state = "missing" if not r["exists"] else "incomplete" if r["incomplete"] else "ok"
            table.add_row(r["case"], str(r["target"]), str(r["started_at"]), state, r["path"])
        app.out.print(table)

    app.emit(rows, render)


@bundle.command("import")
@click.argument("source", type=_EXISTING)
@click.option("--case", required=True, help="The support case this output belongs to.")
@click.option("--target-name", required=True, help="Name of the customer machine.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write (default: in the workspace, under the case).",
)
@click.option("--obfuscate", is_flag=True, help="Replace host names, IPs and users.")
@click.option("--redact-rules", type=_EXISTING, help="YAML file of extra redaction patterns.")
@pass_app
def import_cmd(app: App, source: Path, **opts: Any) -> None:
    """Turn the output of `remotefix collector-script` into a normal, redacted bundle.

    \b
    Examples:
      remotefix bundle import output.txt --case C-1042 --target-name web1
    """
    options = DiagnoseOptions(output=opts["output"], obfuscate=opts["obfuscate"],
                              extra_rules=opts["redact_rules"])  # fmt: skip
    report = import_output(source, case=opts["case"], target_name=opts["target_name"],
                           workspace=app.workspace, options=options)  # fmt: skip
    data = {"bundle": str(report.path), "incomplete": report.incomplete,
            "redactions": report.manifest["redaction"]["total"]}  # fmt: skip
    app.emit(data, lambda: app.out.print(f"bundle written: {report.path}"))
