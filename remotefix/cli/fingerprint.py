"""``remotefix fingerprint``: show a fingerprint, or what differs between two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.collect.bundle import open_bundle
from remotefix.errors import BundleError
from remotefix.fingerprint import diff_fingerprints

_SOURCE = click.Path(path_type=Path)  # a missing file is reported by the reader, in one line


def load_fingerprint(path: Path) -> dict[str, Any]:
    """A fingerprint from a bundle (``.tar.gz``) or a ``fingerprint.json`` file."""
    if path.suffix != ".json":
        return open_bundle(path).fingerprint
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise BundleError(f"cannot read fingerprint {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a fingerprint (a JSON object)")
    return data


@click.group()
def fingerprint() -> None:
    """Environment fingerprints (from bundles or fingerprint.json files).

    \b
    Examples:
      remotefix fingerprint show web1.tar.gz
      remotefix fingerprint diff before.tar.gz after.tar.gz
    """


@fingerprint.command("show")
@click.argument("source", type=_SOURCE)
@pass_app
def show(app: App, source: Path) -> None:
    """Summarise one fingerprint.

    \b
    Examples:
      remotefix fingerprint show web1.tar.gz
    """
    fp = load_fingerprint(source)

    def render() -> None:
        os_ = fp.get("os") if isinstance(fp.get("os"), dict) else {}
        for key, value in (
            ("os", os_.get("pretty_name")), ("version", os_.get("version")),
            ("kernel", fp.get("kernel")), ("arch", fp.get("arch")),
            ("hostname", fp.get("hostname")), ("init", fp.get("init")),
            ("container", fp.get("container")), ("packages", _count(fp.get("packages"))),
            ("services", _count(fp.get("services"))), ("versions", fp.get("versions")),
        ):  # fmt: skip
            app.out.print(f"{key:>10}  {escape(str(value))}")

    app.emit(fp, render)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, dict | list) else 0


@fingerprint.command("diff")
@click.argument("a", type=_SOURCE)
@click.argument("b", type=_SOURCE)
@pass_app
def diff(app: App, a: Path, b: Path) -> None:
    """What differs from A to B: OS, fields, packages, services.

    \b
    Examples:
      remotefix fingerprint diff before.tar.gz after.tar.gz
    """
    delta = diff_fingerprints(load_fingerprint(a), load_fingerprint(b))

    def render() -> None:
        table = Table("what", "name", escape(a.name), escape(b.name))
        rows = [
            ("field", k, old, new) for k, (old, new) in {**delta["os"], **delta["fields"]}.items()
        ]
        for section in ("packages", "services"):
            part = delta[section]
            rows += [(f"{section} +", name, "", value) for name, value in part["added"].items()]
            rows += [(f"{section} -", name, value, "") for name, value in part["removed"].items()]
            rows += [(f"{section} ~", n, old, new) for n, (old, new) in part["changed"].items()]
        for row in rows:
            table.add_row(*(escape(str(cell)) for cell in row))
        app.out.print(table if table.row_count else "no differences")

    app.emit(delta, render)
