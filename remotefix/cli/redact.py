"""``remotefix redact``: redact files a customer sends by hand, with the engine diagnose uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.collect.redact import DEFAULT_RULES, Redactor, load_rules
from remotefix.collect.redact_files import RedactedFile, redact_files

_PATH = click.Path(path_type=Path)


@click.command("redact")
@click.argument("files", nargs=-1, required=True, type=_PATH)
@click.option(
    "--as-path",
    metavar="SERVER_PATH",
    help="Apply path-scoped rules as if the file came from this path on the server.",
)
@click.option("-o", "--output", type=_PATH, help="Write the redacted copy of one file here.")
@click.option("-d", "--dir", "directory", type=_PATH, help="Write redacted copies into this dir.")
@click.option("--redact-rules", type=_PATH, help="YAML file of extra redaction patterns.")
@pass_app
def redact_cmd(app: App, files: tuple[Path, ...], as_path: str | None, output: Path | None,
               directory: Path | None, redact_rules: Path | None) -> None:  # fmt: skip
    """Redact FILE… (a config, a log) before it is shared; report counts, never values.

    Without -o or -d the redacted text goes to stdout and the report to stderr.

    \b
    Examples:
      remotefix redact app.conf --as-path /etc/app/app.conf -o app.redacted.conf
      remotefix redact /var/log/app/*.log -d redacted/
    """
    rules = [*DEFAULT_RULES, *(load_rules(redact_rules) if redact_rules else [])]
    done = redact_files(list(files), Redactor(rules), as_path=as_path, output=output,
                        directory=directory)  # fmt: skip
    if done[0].output is None:
        sys.stdout.buffer.write(done[0].data)
        sys.stdout.flush()
        _report(app, done, to_stderr=True)
    else:
        _report(app, done, to_stderr=False)


def _report(app: App, done: list[RedactedFile], *, to_stderr: bool) -> None:
    data = {"files": [_entry(item) for item in done], "total": sum(i.total for i in done)}
    if to_stderr:
        if app.json:
            click.echo(json.dumps(data, indent=2, sort_keys=True), err=True)
        else:
            _table(app, done, err=True)
        return
    app.emit(data, lambda: _table(app, done, err=False))


def _entry(item: RedactedFile) -> dict[str, object]:
    return {"file": str(item.source), "output": str(item.output) if item.output else "-",
            "as_path": item.as_path, "counts": item.counts, "total": item.total}  # fmt: skip


def _table(app: App, done: list[RedactedFile], *, err: bool) -> None:
    table = Table("file", "output", "redactions", "by rule")
    for item in done:
        rules = ", ".join(f"{name} {n}" for name, n in sorted(item.counts.items())) or "-"
        out = str(item.output) if item.output else "stdout"
        table.add_row(escape(str(item.source)), escape(out), str(item.total), rules)
    (app.err if err else app.out).print(table)
