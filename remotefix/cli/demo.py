"""``remotefix demo``: the main job end to end against a real customer container."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from remotefix.cli._app import App, pass_app
from remotefix.demo import run_demo


@click.command()
@click.option("--keep", is_flag=True, help="Keep the customer container and the demo workspace.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspace for the demo (default: a fresh temporary one).",
)
@click.option(
    "--report", "report_to", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("remotefix-demo-report.html"), show_default=True,
    help="Where the case report (HTML) is written at the end.",
)  # fmt: skip
@pass_app
def demo(app: App, keep: bool, home: Path | None, report_to: Path) -> None:
    """The whole story on a throw-away customer container, end to end.

    Diagnose, triage, lab, repro, fix, verify, and the case report.

    \b
    Examples:
      remotefix demo
      remotefix demo --keep --report /tmp/demo.html
    """

    def narrate(stage: str, message: str) -> None:
        if not app.json:
            app.out.print(f"[bold cyan]{stage:>9}[/] {escape(message)}")

    report = run_demo(narrate=narrate, keep=keep, home=home, report_to=report_to)

    def render() -> None:
        timings = ", ".join(f"{name} {secs:.1f}s" for name, secs in report.stages.items())
        app.out.print(f"[dim]{timings}[/]")
        kept = f" (kept: workspace {report.workspace})" if report.kept else ""
        app.out.print(f"[bold green]demo OK[/]: case {report.case} in {report.total_s:.1f}s{kept}")

    app.emit(
        {
            "ok": True,
            "case": report.case,
            "stages": report.stages,
            "total_s": report.total_s,
            "workspace": str(report.workspace),
            "kept": report.kept,
            "facts": report.facts,
        },
        render,
    )
