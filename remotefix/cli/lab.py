"""``remotefix lab``: plan a lab from a bundle, bring it up, work in it, snapshot, tear down."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from remotefix import interrupt, timings
from remotefix.cli._app import App, pass_app, shown, visible
from remotefix.cli._fleet import DashDashCommand, remote_words, sigint_notice
from remotefix.cli.shell import exit_with
from remotefix.commandline import command_line
from remotefix.consent import Scope
from remotefix.errors import CommandTimeout, ConfigError, LabError
from remotefix.grants import parse_duration
from remotefix.lab import labs, lifecycle, snapshots
from remotefix.lab.runtime import LabRuntime, get_runtime
from remotefix.lab.spec import LabSpec, dump_spec, load_spec
from remotefix.session import Session

_SOURCE = click.Path(exists=True, dir_okay=False, path_type=Path)
_PLANNED = click.Path(path_type=Path)  # a missing bundle is named in one line


@click.group()
def lab() -> None:
    """Docker labs that reproduce a customer's machine, with an honest fidelity report.

    \b
    Examples:
      remotefix lab plan web1.tar.gz -o lab.yaml
      remotefix lab up lab.yaml --case C-1042
      remotefix lab ls
    """


def _plan(source: Path, packages: tuple[str, ...], all_packages: bool) -> LabSpec:
    """A spec from a bundle or fingerprint file (a ``.yaml`` source is read as a spec)."""
    if source.suffix in (".yaml", ".yml"):
        return load_spec(source)
    # planning's modules load only here: `lab up SPEC.yaml` and `lab exec` start faster
    import yaml

    from remotefix.cli.fingerprint import load_fingerprint
    from remotefix.collect.bundle import open_bundle
    from remotefix.lab.catalog import Catalog
    from remotefix.lab.plan import is_windows, plan_lab

    fingerprint = load_fingerprint(source)
    if is_windows(fingerprint):
        skeleton = {
            "base": {"distro": "windows", "version": fingerprint.get("os", {}).get("version")},
            "packages": {},
            "services": [],
        }
        raise LabError(
            "a Windows machine is not reproducible on a Linux Docker host "
            f"(spec skeleton: {yaml.safe_dump(skeleton, default_flow_style=True).strip()})",
            hint="reproduce it on a Windows VM",
        )
    bundle = source.resolve() if source.suffix != ".json" else None
    opened = open_bundle(source) if bundle else None
    return plan_lab(
        fingerprint,
        Catalog.load(),
        bundle=bundle,
        bundle_members=opened.members if opened else [],
        packages=list(packages),
        all_packages=all_packages,
        manifest=opened.manifest if opened else None,
    )


@lab.command("plan")
@click.argument("source", type=_PLANNED)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec file to write (default: the spec goes to stdout).",
)
@click.option("--package", "packages", multiple=True, help="Also pin this package (repeatable).")
@click.option("--all-packages", is_flag=True, help="Pin every package of the customer.")
@pass_app
def plan(
    app: App, source: Path, output: Path | None, packages: tuple[str, ...], all_packages: bool
) -> None:
    """Write a lab spec from a bundle or fingerprint.

    \b
    Examples:
      remotefix lab plan web1.tar.gz -o lab.yaml
      remotefix lab plan web1.tar.gz --package nginx -o lab.yaml
    """
    spec = _plan(source, packages, all_packages)
    text = dump_spec(spec)
    if output:
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    data = {**spec.to_yaml_dict(), "written_to": str(output) if output else None}
    app.emit(
        data,
        lambda: app.out.print(
            f"spec written: {output}" if output else text, markup=False, highlight=False
        ),
    )


_RUNTIME = click.option(
    "--runtime", type=click.Choice(["local", "swarm"]), default="local", show_default=True,
    help="This Docker engine, or a Swarm service (one-node path: DOCKER_HOST is the manager).",
)  # fmt: skip


def _runtime(name: str, registry: str | None) -> LabRuntime:
    return get_runtime(name, registry=registry) if name == "swarm" else get_runtime(name)


@lab.command("up")
@click.argument("source", type=_SOURCE, required=False)
@click.option("--from-snapshot", "snapshot_tag", help="Start from a lab snapshot (no build).")
@click.option("--name", help="Lab name (default: lab-<spec hash>-<random>).")
@click.option("--case", help="Case the lab belongs to (labels and audit).")
@click.option("--package", "packages", multiple=True, help="Also pin this package (bundle only).")
@click.option("--all-packages", is_flag=True, help="Pin every package (bundle only).")
@click.option("--refresh-index", is_flag=True, help="Fetch fresh apt package lists first.")
@click.option(
    "--keep",
    type=click.Choice(["always", "never", "on-failure"]),
    default="always",
    show_default=True,
    help="Keep the lab afterwards? always (default: `lab up` is for working in it), never "
    "(just measure its fidelity), or on-failure (only when something the spec asks for is "
    "missing; an unpinned package is not).",
)
@click.option(
    "--fidelity/--no-fidelity", "check_fidelity", default=None,
    help="Verify fidelity before returning (default for a lab from a customer's bundle, so "
    "`lab up` shows what differs, and with --keep never/on-failure), or on the first "
    "`lab fidelity NAME` (default for a hand-written spec kept: ready ~2 s sooner).",
)  # fmt: skip
@_RUNTIME
@click.option(
    "--registry", metavar="HOST:PORT",
    help="Registry the swarm pulls lab images from (--runtime swarm; config: registry).",
)  # fmt: skip
@pass_app
def up(app: App, source: Path, **opts: Any) -> None:
    """Bring up a lab from a spec (.yaml), a bundle / fingerprint, or --from-snapshot TAG.

    \b
    Examples:
      remotefix lab up lab.yaml --case C-1042
      remotefix lab up web1.tar.gz --keep never
      remotefix lab up --from-snapshot before-fix --case C-1042
    """
    if (source is None) == (opts["snapshot_tag"] is None):
        raise ConfigError("lab up needs a SOURCE or --from-snapshot TAG (one of them)")
    if opts["snapshot_tag"]:
        made = snapshots.up_from_snapshot(
            opts["snapshot_tag"], workspace=app.workspace, name=opts["name"], case=opts["case"]
        )
        app.emit(made.to_dict(), lambda: _render_up(app, made))
        return
    check = opts["check_fidelity"]
    if check is False and opts["keep"] == "on-failure":
        raise ConfigError("--keep on-failure needs the fidelity check", hint="drop --no-fidelity")
    spec = _plan(source, opts["packages"], opts["all_packages"])
    clock = timings.PhaseClock(app.progress, first="spec and image (cache lookup or build)")
    runtime = _runtime(opts["runtime"], opts["registry"])
    if check is None:  # lazy only for a kept local lab with no customer to compare it with
        check = opts["keep"] != "always" or runtime.name != "local" or spec.bundle is not None
    made = labs.up(
        spec,
        workspace=app.workspace,
        name=opts["name"],
        case=opts["case"],
        refresh_index=opts["refresh_index"],
        progress=clock,
        runtime=runtime,
        check_fidelity=check,
    )
    for done in clock.stop() if app.verbose else ():
        app.progress(f"{done.seconds:6.2f}s  {shown(done.name)}")
    report = made.fidelity or {}
    failed = report.get("shortfalls", 0) > 0
    if opts["keep"] == "never" or (opts["keep"] == "on-failure" and not failed):
        labs.down(made.name, workspace=app.workspace, runtime=runtime)
        made.status = "removed"
    app.emit(made.to_dict(), lambda: _render_up(app, made))


def _render_up(app: App, made: labs.Lab) -> None:
    state = "cached image" if made.cached else f"built in {made.build_s:.1f}s"
    ssh = f"ssh on 127.0.0.1:{made.ssh_port}" if made.ssh_port else "no ssh port (lab exec/shell)"
    app.out.print(f"lab [bold]{shown(made.name)}[/] {made.status} ({state}), {ssh}")
    if made.fidelity_pending:
        app.out.print(
            f"fidelity not verified yet: `remotefix lab fidelity {shown(made.name)}` runs the "
            "check in the lab (or `lab up --fidelity`)"
        )
    else:
        _render_fidelity(app, made.fidelity or {})


_STATUSES = ("exact", "approximated", "newer", "older", "missing", "added", "not reproducible")
_COLOURS = {"exact": "green", "approximated": "yellow", "newer": "yellow", "older": "yellow",
            "missing": "red"}  # fmt: skip


def _render_fidelity(app: App, report: dict[str, Any]) -> None:
    """Counts per kind, then every item that is not exact (the whole list is in --json)."""
    items = report.get("items", [])
    per_kind: dict[str, dict[str, int]] = {}
    for item in items:
        row = per_kind.setdefault(item["kind"], {})
        row[item["status"]] = row.get(item["status"], 0) + 1
    used = [s for s in _STATUSES if any(s in row for row in per_kind.values())]
    table = Table("kind", *(s.replace("not reproducible", "not repr.") for s in used))
    for kind, row in per_kind.items():
        table.add_row(shown(kind), *(str(row.get(s, "")) for s in used))
    app.out.print(table)
    others = [i for i in items if i["status"] != "exact"]
    if others:
        app.out.print(f"differences ({len(others)}):")
    for item in others:
        colour = _COLOURS.get(item["status"], "dim")
        theirs, ours = (shown(item[k] if item[k] is not None else "-") for k in ("customer", "lab"))
        app.out.print(
            f"  {shown(item['kind'])} {shown(item['name'])}: [{colour}]{item['status']}[/]"
            f" (customer {theirs}, lab {ours})"
            + (f" - {shown(item['note'])}" if item["note"] else "")
        )
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.get("counts", {}).items()))
    app.out.print(
        f"fidelity score {report.get('score', 0):.0%} of reproducible items exact ({counts})"
    )


@lab.command("fidelity")
@click.argument("name")
@pass_app
def fidelity_cmd(app: App, name: str) -> None:
    """Show the lab's fidelity report (checked in the lab now if `lab up` left it pending).

    \b
    Examples:
      remotefix lab fidelity lab-1a2b3c4d-ef01
    """
    report = labs.measured_fidelity(name, app.workspace) or {}
    app.emit(report, lambda: _render_fidelity(app, report))


@lab.command("ls")
@pass_app
def ls(app: App) -> None:
    """Labs Docker knows about (with their case, age and fidelity score).

    \b
    Examples:
      remotefix lab ls
      remotefix lab ls --json
    """
    found = labs.list_labs(app.workspace)

    def render() -> None:
        table = Table("name", "status", "case", "created", "ssh", "fidelity")
        for x in found:
            score = f"{x.fidelity['score']:.0%}" if x.fidelity else "?"
            score = "pending" if x.fidelity_pending else score
            table.add_row(x.name, x.status, x.case, x.created, str(x.ssh_port or ""), score)
        app.out.print(table)

    app.emit([x.to_dict() for x in found], render)


@lab.command("exec", cls=DashDashCommand)
@click.argument("name")
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds before the command is killed (exit 21).",
)
@pass_app
@click.pass_context
def exec_cmd(ctx: click.Context, app: App, name: str, timeout: float) -> None:
    """Run a command in a lab: `remotefix lab exec NAME -- CMD ARG...` (audited).

    Several words are passed as words, like `docker exec`; a single word is a shell command
    line (`-- 'ps aux | grep nginx'`). Exits with the command's code; 21 when it outlived
    --timeout (it is killed), 130 after Ctrl-C.

    \b
    Examples:
      remotefix lab exec lab-1a2b3c4d-ef01 -- dpkg -l nginx
      remotefix lab exec lab-1a2b3c4d-ef01 -- 'ps aux | grep nginx'
    """
    found = labs.get_lab(name, app.workspace)
    command = command_line(remote_words(ctx), found.target)
    with (
        interrupt.on_sigint(lambda: sigint_notice(app)),
        Session(found.target, case=found.case, workspace=app.workspace) as session,
    ):
        result = session.run(command, scope=Scope.FIX, timeout=timeout, action="lab-exec")
    timeout_error = CommandTimeout(result, timeout=timeout) if result.timed_out else None
    data = {
        "exit_code": result.exit_code,
        "stdout": result.stdout_text,
        "stderr": result.stderr_text,
        "timed_out": result.timed_out,
        "error": str(timeout_error) if timeout_error else None,
    }
    app.emit(data, lambda: _echo_output(result.stdout, result.stderr))
    if timeout_error is not None:  # one line on stderr; the JSON above already holds it
        click.echo(f"remotefix: error: {visible(timeout_error)}", err=True)
        raise click.exceptions.Exit(timeout_error.exit_code)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code if result.exit_code > 0 else 1)


def _echo_output(stdout: bytes, stderr: bytes) -> None:
    """Raw bytes into a pipe (binary-safe, as docker exec); on a terminal, control codes shown."""
    for data, err in ((stdout, False), (stderr, True)):
        stream = click.get_binary_stream("stderr" if err else "stdout")
        if stream.isatty():
            text = data.decode("utf-8", errors="replace")
            data = "\n".join(visible(line) for line in text.split("\n")).encode()
        stream.write(data)
        stream.flush()


@lab.command("shell")
@click.argument("name")
@pass_app
def shell(app: App, name: str) -> None:
    """Interactive shell in a lab (audited).

    \b
    Examples:
      remotefix lab shell lab-1a2b3c4d-ef01
    """
    found = labs.get_lab(name, app.workspace)
    with Session(found.target, case=found.case, workspace=app.workspace) as session:
        status = session.shell()
    exit_with(status, name)


@lab.command("ssh", cls=DashDashCommand)
@click.argument("name")
@pass_app
@click.pass_context
def ssh(ctx: click.Context, app: App, name: str) -> None:
    """OpenSSH into the lab (127.0.0.1 only, its host key pinned): `lab ssh NAME [-- CMD]`.

    \b
    Examples:
      remotefix lab ssh lab-1a2b3c4d-ef01
      remotefix lab ssh lab-1a2b3c4d-ef01 -- uptime
    """
    found = labs.get_lab(name, app.workspace)
    if not found.ssh_port or not found.host_key:
        raise LabError(f"lab {name} has no recorded sshd", hint="bring it up again with lab up")
    known = labs.pinned_known_hosts(found, app.workspace)
    argv = [
        "ssh",
        "-i",
        str(labs.lab_key_path(app.workspace)),
        "-p",
        str(found.ssh_port),
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "root@127.0.0.1",
    ]
    words = remote_words(ctx)
    if words:
        argv += ["--", command_line(words, found.target)]  # ssh(1) would re-split the words
    raise click.exceptions.Exit(subprocess.run(argv, check=False).returncode)


@lab.command("snapshot")
@click.argument("name")
@click.argument("tag")
@pass_app
def snapshot(app: App, name: str, tag: str) -> None:
    """Save lab NAME as an image (remotefix/lab-snapshot:TAG); `snapshot rm TAG` deletes one.

    \b
    Examples:
      remotefix lab snapshot lab-1a2b3c4d-ef01 before-fix
      remotefix lab snapshot rm before-fix
    """
    if name == "rm":
        snapshots.remove_snapshot(tag)
        app.emit({"removed": tag}, lambda: app.out.print(f"removed snapshot {shown(tag)}"))
        return
    ref = labs.snapshot(name, tag, workspace=app.workspace)
    app.emit({"image": ref}, lambda: app.out.print(f"snapshot: {ref}"))


@lab.command("snapshots")
@pass_app
def snapshots_cmd(app: App) -> None:
    """List lab snapshots (tag, lab, created, size).

    \b
    Examples:
      remotefix lab snapshots
    """
    found = snapshots.list_snapshots()

    def render() -> None:
        table = Table("tag", "lab", "created", "size")
        for snap in found:
            table.add_row(shown(snap.tag), shown(snap.lab), snap.created[:19],
                          f"{snap.size / 1e6:.0f} MB")  # fmt: skip
        app.out.print(table)

    app.emit([s.to_dict() for s in found], render)


@lab.command("down")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--keep-image",
    is_flag=True,
    help="Keep the lab's image (it holds the customer's configs: by default it goes with the "
    "last lab using it).",
)
@click.option(
    "--runtime", type=click.Choice(["local", "swarm"]),
    help="Where the lab runs (default: the runtime it was started on, as recorded).",
)  # fmt: skip
@pass_app
def down(app: App, names: tuple[str, ...], keep_image: bool, runtime: str | None) -> None:
    """Remove labs, and each lab's image once no other lab uses it.

    \b
    Examples:
      remotefix lab down lab-1a2b3c4d-ef01
      remotefix lab down lab-1a2b3c4d-ef01 --keep-image
    """
    results = {
        n: lifecycle.teardown(
            n,
            workspace=app.workspace,
            keep_image=keep_image,
            runtime=_runtime(runtime or labs.recorded_runtime(app.workspace, n), None),
        )
        for n in names
    }

    def render() -> None:
        for n, gone in results.items():
            if gone is None:
                app.out.print(f"{shown(n)}: no such lab")
            else:
                image = "image removed" if gone.image_removed else f"image {gone.note}"
                app.out.print(f"{shown(n)}: removed; {shown(gone.image)} {image}")

    app.emit({n: r.to_dict() if r else None for n, r in results.items()}, render)
    missing = [n for n, gone in results.items() if gone is None]
    if missing:
        raise LabError(f"no lab named {', '.join(missing)}")


@lab.command("images")
@click.option("--all", "every", is_flag=True, help="Also other workspaces' lab images.")
@pass_app
def images_cmd(app: App, every: bool) -> None:
    """List lab and snapshot images (case, size, age); base images: `remotefix images ls`.

    \b
    Examples:
      remotefix lab images
      remotefix lab images --all --json
    """
    found = lifecycle.lab_images(app.workspace, every=every)
    now = datetime.now(UTC)

    def render() -> None:
        table = Table("image", "kind", "case", "lab", "size", "age")
        for i in found:
            table.add_row(shown(i.ref), i.kind, shown(i.case), shown(i.lab),
                          f"{i.size / 1e6:.0f} MB", _age(i.created, now))  # fmt: skip
        app.out.print(table if found else "no lab images")

    app.emit([i.to_dict() for i in found], render)


def _age(created: str, now: datetime) -> str:
    try:
        seconds = (now - datetime.fromisoformat(created)).total_seconds()
    except ValueError:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


@lab.command("prune")
@click.option("--case", help="Only labs and images of this case.")
@click.option("--older-than", help="Only labs and images older than this (e.g. 2h, 7d).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@pass_app
def prune(app: App, case: str | None, older_than: str | None, dry_run: bool) -> None:
    """Remove this workspace's labs and their lab/snapshot images (all, or --case/--older-than).

    \b
    Examples:
      remotefix lab prune --case C-1042 --older-than 7d --dry-run
      remotefix lab prune --older-than 3d
    """
    age = parse_duration(older_than) if older_than else None
    done = lifecycle.prune(workspace=app.workspace, case=case, older_than=age, dry_run=dry_run)

    def render() -> None:
        verb = "would remove" if done.dry_run else "removed"
        for name in done.labs:
            app.out.print(f"{verb} lab {shown(name)}")
        for ref in done.images:
            app.out.print(f"{verb} image {shown(ref)}")
        app.out.print(f"{verb} {len(done.labs)} lab(s), {len(done.images)} image(s)")

    app.emit(done.to_dict(), render)
