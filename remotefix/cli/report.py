"""``remotefix report CASE`` and ``remotefix kb draft CASE``: the case as documents."""

from __future__ import annotations

import time
from pathlib import Path

import click

from remotefix.cli._app import App, pass_app
from remotefix.errors import ConfigError


@click.command("report")
@click.argument("case")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: CASE-report.html or .md in the current directory).",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md"]),
    help="html (one self-contained page) or md (Markdown for ticket systems); default from -o.",
)  # fmt: skip
@pass_app
def report(app: App, case: str, output: Path | None, fmt: str | None) -> None:
    """Write the case report: summary, timeline, environment, triage, lab, repro, fix, audit.

    Built only from what the workspace holds (already redacted); the obfuscation map never goes
    in.

    \b
    Examples:
      remotefix report C-1042 -o C-1042.html
      remotefix report C-1042 -o C-1042.md
    """
    from remotefix.report import gather, report_text, write_atomic

    fmt = fmt or _format_of(output)
    path = output or Path(f"{case}-report.{fmt}")
    started = time.monotonic()
    dossier = gather(app.workspace, case)
    write_atomic(path, report_text(dossier, fmt))
    took = round(time.monotonic() - started, 3)
    data = {"case": case, "path": str(path), "format": fmt, "outcome": dossier.outcome,
            "seconds": took}  # fmt: skip
    app.emit(data, lambda: app.out.print(f"report for {case} written to {path} ({took:.2f} s)"))


def _format_of(path: Path | None) -> str:
    if path is None or path.suffix.lower() in (".html", ".htm"):
        return "html"
    if path.suffix.lower() in (".md", ".markdown"):
        return "md"
    raise ConfigError(
        f"cannot tell the format of {path.name} from its extension",
        hint="name it .html or .md, or pass --format html|md",
    )


@click.group("kb")
def kb() -> None:
    """Knowledge-base articles drafted from solved cases.

    \b
    Examples:
      remotefix kb draft C-1042 -o kb.md
    """


@kb.command("draft")
@click.argument("case")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="Markdown file to write (default: CASE-kb.md in the current directory).",
)  # fmt: skip
@click.option(
    "--case-file", "case_file", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a known-issue case skeleton here (for a problem triage did not know).",
)  # fmt: skip
@pass_app
def kb_draft(app: App, case: str, output: Path | None, case_file: Path | None) -> None:
    """Draft a KB article for a person to edit.

    Symptom, environment, cause, resolution and verification, from what the case holds.

    \b
    Examples:
      remotefix kb draft C-1042 -o kb.md
      remotefix kb draft C-1042 -o kb.md --case-file labs/known-issues/ki-0100.yaml
    """
    from remotefix.report import gather, write_atomic
    from remotefix.report.kb import case_skeleton, kb_article

    if case_file is not None and case_file.exists():
        raise ConfigError(f"{case_file} exists", hint="choose a new file for --case-file")
    dossier = gather(app.workspace, case)
    path = write_atomic(output or Path(f"{case}-kb.md"), kb_article(dossier))
    written = {"case": case, "article": str(path), "case_file": None}
    if case_file is not None:
        written["case_file"] = str(write_atomic(case_file, case_skeleton(dossier)))
    app.emit(written, lambda: app.out.print(" ".join(f"{k}={v}" for k, v in written.items())))
