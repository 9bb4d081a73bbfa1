"""``remotefix images``: build, list and remove the offline base images."""

from __future__ import annotations

import click
from rich.table import Table

from remotefix.cli._app import App, pass_app
from remotefix.lab.catalog import Catalog
from remotefix.lab.images import build_base_image, list_base_images, remove_base_image
from remotefix.lab.runtime_local import LocalRuntime


@click.group()
def images() -> None:
    """Offline Debian base images (debootstrap + docker import)."""


@images.command("build")
@click.argument("names", nargs=-1, required=True)
@click.option("--mirror", help="Debian mirror URL (default: the catalog's default_mirror).")
@pass_app
def build(app: App, names: tuple[str, ...], mirror: str | None) -> None:
    """Build base images, e.g. `remotefix images build debian:11 debian:12 debian:13`."""
    catalog = Catalog.load()
    wanted = [catalog.resolve(name) for name in names]
    runtime = LocalRuntime()
    built = [
        build_base_image(
            runtime,
            base,
            mirror=mirror or catalog.default_mirror,
            workspace=app.workspace,
            progress=app.progress,
        )
        for base in wanted
    ]

    def render() -> None:
        for image in built:
            state = "cached" if image.cached else "built"
            app.out.print(f"{image.tag}  {state}  {image.image_id[7:19]}  {image.duration_s:.1f}s")

    app.emit([image.to_dict() for image in built], render)


@images.command("ls")
@pass_app
def ls(app: App) -> None:
    """List the base images that exist (lab and snapshot images: `remotefix lab images`)."""
    rows = [
        {
            "tag": image.ref,
            "id": image.id,
            "version": image.labels.get("remotefix.version", ""),
            "suite": image.labels.get("remotefix.suite", ""),
            "built": image.labels.get("remotefix.built", ""),
            "size_mb": round(image.size / 1e6, 1),
        }
        for image in list_base_images(LocalRuntime(), Catalog.load())
    ]
    rows.sort(key=lambda row: str(row["tag"]))

    def render() -> None:
        table = Table("tag", "suite", "built", "size MB", "id")
        for row in rows:
            table.add_row(
                str(row["tag"]),
                str(row["suite"]),
                str(row["built"]),
                str(row["size_mb"]),
                str(row["id"])[7:19],
            )
        app.out.print(table if rows else "no base images (remotefix images build debian:12)")

    app.emit(rows, render)


@images.command("rm")
@click.argument("names", nargs=-1, required=True)
@pass_app
def rm(app: App, names: tuple[str, ...]) -> None:
    """Remove base images."""
    catalog = Catalog.load()
    runtime = LocalRuntime()
    removed = {base.tag: remove_base_image(runtime, base) for base in map(catalog.resolve, names)}

    def render() -> None:
        for tag, gone in removed.items():
            app.out.print(f"{tag}  {'removed' if gone else 'not present'}")

    app.emit(removed, render)
