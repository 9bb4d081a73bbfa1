"""Lab lifecycle: up (build, start, verify fidelity), ls, down, prune, snapshot, and the target.

State lives in Docker (labels on the container: case, spec hash, created) and in the workspace
(``labs/<name>.json``: fidelity report, ssh port, host key), so ``ls`` works after a restart.
Commands in a lab go through the same audited session as remote ones; a lab needs no consent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from filelock import FileLock

from remotefix import dockerapi
from remotefix.errors import ConfigError, DependencyError, LabError
from remotefix.lab import systemd
from remotefix.lab.build import KIND_LABEL, SPEC_LABEL, LabImage, build_lab_image
from remotefix.lab.catalog import Catalog
from remotefix.lab.runtime import Instance, LabRuntime, StartOptions, StartRequest, get_runtime
from remotefix.lab.spec import LabSpec
from remotefix.progress import Progress, quiet
from remotefix.sandbox import wait_for_ssh_banner
from remotefix.session import Session
from remotefix.targets import Target
from remotefix.workspace import Workspace

if TYPE_CHECKING:  # fidelity and bundles load when used: `lab exec` needs neither
    from remotefix.lab.fidelity_inputs import FidelityInputs

NAME_LABEL = "remotefix.lab"
CASE_LABEL = "remotefix.case"
CREATED_LABEL = "remotefix.created"
WORKSPACE_LABEL = "remotefix.workspace"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
READY_TIMEOUT = 60.0
READY_FILE = "/run/remotefix-lab/ready"
READY_LINE = b"remotefix-lab: ready"  # lab-init.sh's stdout once READY_FILE exists
FOLLOW_S = 1.0
SNAPSHOT_REPOSITORY = "remotefix/lab-snapshot"


@dataclass
class Lab:
    name: str
    image: str
    case: str
    spec_hash: str
    created: str
    ssh_port: int | None
    host_key: str | None
    status: str = "running"
    fidelity: dict[str, Any] | None = None
    fidelity_pending: bool = False  # not measured yet: see measured_fidelity
    build_s: float = 0.0
    cached: bool = False
    runtime: str = "local"

    @property
    def target(self) -> Target:
        return lab_target(self.name)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def lab_target(name: str) -> Target:
    """The docker target of a lab; ``lab=1`` marks it engineer-owned (audited, no consent)."""
    return Target(name=name, connection="docker", host=name, options=MappingProxyType({"lab": "1"}))


def spec_files(spec: LabSpec) -> dict[str, bytes]:
    """File contents: ``bundle:MEMBER``, ``file:PATH`` (relative to the spec), ``inline:TEXT``."""
    return _spec_inputs(spec)[0]


def _spec_inputs(spec: LabSpec) -> tuple[dict[str, bytes], dict[str, Any] | None]:
    """The spec's file contents and the customer's fingerprint (None without a bundle), from
    one verifying pass over the bundle."""
    members = {
        d: s.removeprefix("bundle:") for d, s in spec.files.items() if s.startswith("bundle:")
    }
    if members and spec.bundle is None:
        raise ConfigError("the spec copies bundle: files but names no source.bundle")
    out, customer = {}, None
    if spec.bundle is not None:
        from remotefix.collect.bundle import open_bundle

        wanted = sorted(set(members.values()))
        opened = open_bundle(spec.bundle, read=wanted)
        found, customer = opened.required(wanted), opened.fingerprint
        out.update({d: found[m] for d, m in members.items()})
    for dest, source in spec.files.items():
        if source.startswith("file:"):
            path = spec.folder / source.removeprefix("file:")
            try:
                out[dest] = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"files.{dest}: cannot read {path}: {exc.strerror}") from exc
        elif source.startswith("inline:"):
            out[dest] = source.removeprefix("inline:").encode()
    return out, customer


def up(
    spec: LabSpec,
    *,
    workspace: Workspace,
    name: str | None = None,
    case: str | None = None,
    refresh_index: bool = False,
    progress: Progress = quiet,
    runtime: LabRuntime | None = None,
    check_fidelity: bool = True,
    ssh: bool = True,
) -> Lab:
    """Build (or reuse) the spec's image, start the lab, record it; verify its fidelity now
    (``check_fidelity``) or on first ask (``measured_fidelity``). ``ssh=False``: no published
    ssh port (``lab exec`` and sessions only), no wait for sshd."""
    if name is not None and not _NAME.match(name):
        raise ConfigError(f"bad lab name {name!r}", hint="letters, digits, '.', '_' and '-'")
    from remotefix.lab.fidelity import file_checks
    from remotefix.lab.fidelity_inputs import FidelityInputs

    runtime = runtime or get_runtime()
    files, customer = _spec_inputs(spec)
    case = case or "LAB"
    owner = {CASE_LABEL: case, WORKSPACE_LABEL: workspace_id(workspace)}

    def build() -> LabImage:
        return build_lab_image(
            runtime, spec, files, Catalog.load(), owner=owner, refresh_index=refresh_index,
            progress=progress,
        )  # fmt: skip

    def start() -> Lab:
        assert name is not None
        return _start(runtime, workspace, name, case, image.tag, image.spec_hash, customer,
                      ssh=ssh, progress=progress)  # fmt: skip

    image = build()
    name = name or f"lab-{image.spec_hash[:8]}-{uuid.uuid4().hex[:4]}"
    progress(f"starting lab {name} ({'cached image' if image.cached else 'new image'})")
    try:
        lab = start()
    except LabError:
        if runtime.image(image.tag) is not None:
            raise
        image = build()  # a concurrent `lab down` removed the unused image between build and start
        lab = start()
    lab.build_s, lab.cached = image.duration_s, image.cached
    inputs = FidelityInputs(customer, spec.base, image.choices, image.tooling,
                            file_checks(files), spec.services, dict(spec.withheld or {}),
                            spec.init)  # fmt: skip
    if not check_fidelity:
        lab.fidelity_pending = True
        _save(workspace, lab, inputs)
        return lab
    try:
        progress("verifying fidelity: quick collectors inside the lab")
        with Session(lab.target, case=case, workspace=workspace) as session:
            lab.fidelity = inputs.measure(session)
    except BaseException:
        down(name, workspace=workspace, runtime=runtime)
        raise
    _save(workspace, lab)
    return lab


def measured_fidelity(
    name: str, workspace: Workspace, *, runtime: LabRuntime | None = None
) -> dict[str, Any] | None:
    """The lab's fidelity report; a pending one (``up(check_fidelity=False)``) is measured now,
    in the running lab, and recorded. None for a lab with neither (a snapshot's without one)."""
    lab = get_lab(name, workspace, runtime=runtime)
    inputs = pending_fidelity(workspace, lab.name)
    if inputs is None:
        return lab.fidelity
    with Session(lab.target, case=lab.case, workspace=workspace) as session:
        lab.fidelity = inputs.measure(session)
    lab.fidelity_pending = False
    _save(workspace, lab)
    return lab.fidelity


def _start(
    runtime: LabRuntime,
    workspace: Workspace,
    name: str,
    case: str,
    image: str,
    digest: str,
    customer: dict[str, Any] | None,
    *,
    options: StartOptions | None = None,
    ssh: bool = True,
    progress: Progress = quiet,
) -> Lab:
    """Start it; ready once lab-init.sh is (and, with ``ssh``, its sshd answers)."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    extra = {
        KIND_LABEL: "lab",
        NAME_LABEL: name,
        CASE_LABEL: case,
        SPEC_LABEL: digest,
        CREATED_LABEL: created,
        WORKSPACE_LABEL: workspace_id(workspace),
    }
    boots_systemd = systemd.start_options(runtime, image) if options is None else None
    request = StartRequest(
        image=image,
        name=name,
        labels=dockerapi.labels(**extra),
        hostname=_hostname((customer or {}).get("hostname") or name),
        env={"REMOTEFIX_LAB_KEY": lab_public_key(workspace)},
        publish_ssh=ssh,
        options=options or boots_systemd or StartOptions(),
    )
    instance = runtime.start(request)
    try:
        if boots_systemd is not None:
            progress("waiting for systemd to boot (is-system-running --wait)")
            systemd.wait_booted(runtime, name)
        progress("waiting for the lab's init (its ready line)")
        ready = _wait_ready(runtime, name, follow=boots_systemd is None)
        if instance.ssh_port is not None:  # swarm labs publish none (see runtime_swarm)
            progress("waiting for sshd's banner")
            wait_for_ssh_banner("127.0.0.1", instance.ssh_port, timeout=20)
        host_key = (_ready_key(ready) or _host_key(runtime, name)) if ssh else None
    except BaseException:
        with contextlib.suppress(LabError):
            runtime.remove(name)
        raise
    return Lab(name, image, case, digest, created, instance.ssh_port, host_key,
               runtime=runtime.name)  # fmt: skip


def start_from_image(
    workspace: Workspace,
    name: str,
    case: str,
    image: str,
    spec_hash: str,
    *,
    runtime: LabRuntime | None = None,
) -> Lab:
    """A lab container from an existing image (a snapshot): no build, no fidelity run."""
    return _start(runtime or get_runtime(), workspace, name, case, image, spec_hash, None)


def save_lab(workspace: Workspace, lab: Lab, pending: FidelityInputs | None = None) -> None:
    """Record the lab in the workspace (``labs/<name>.json``), with its pending fidelity check."""
    _save(workspace, lab, pending)


def pending_fidelity(workspace: Workspace, name: str) -> FidelityInputs | None:
    """The inputs of the lab's fidelity check when it has not run yet, else None."""
    saved = _load(workspace, name)
    if saved.get("fidelity") is not None or "fidelity_inputs" not in saved:
        return None
    from remotefix.lab.fidelity_inputs import FidelityInputs

    return FidelityInputs.from_dict(saved["fidelity_inputs"])


def _hostname(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", text)[:63].strip("-")
    return cleaned or "lab"


@runtime_checkable
class LogFollower(Protocol):
    """A runtime that can follow an instance's stdout (``LocalRuntime.log_line``)."""

    def log_line(self, name: str, prefix: bytes, *, timeout: float) -> str | None: ...


def _wait_ready(runtime: LabRuntime, name: str, *, follow: bool = True) -> str | None:
    """Until lab-init.sh is done: its ready line in the log stream (no exec; returned, it names
    the host key), checked against the ready file each ``FOLLOW_S`` (an image older than the
    line, a systemd lab whose boot script logs to the journal, a runtime that cannot follow)."""
    deadline = time.monotonic() + READY_TIMEOUT
    follower = runtime if follow and isinstance(runtime, LogFollower) else None
    while time.monotonic() < deadline:
        if follower is not None:
            line = follower.log_line(name, READY_LINE, timeout=FOLLOW_S)
            if line is not None:
                return line
        with contextlib.suppress(LabError):  # the container may have just stopped
            if runtime.exec(name, ["test", "-f", READY_FILE], timeout=10).exit_code == 0:
                return None
        found = runtime.get(name)
        if found is None or found.status == "exited":
            raise LabError(f"lab {name} stopped while starting: {runtime.logs(name, tail=5)}")
        if follower is None:
            time.sleep(0.1)
    raise LabError(f"lab {name} was not ready in {READY_TIMEOUT:.0f}s")


def _ready_key(line: str | None) -> str | None:
    """``ssh-ed25519 KEY`` from the ready line (``remotefix-lab: ready ssh-ed25519 KEY …``)."""
    words = (line or "").split()[2:]
    return f"{words[0]} {words[1]}" if len(words) >= 2 and words[0] == "ssh-ed25519" else None


def _host_key(runtime: LabRuntime, name: str) -> str:
    result = runtime.exec(name, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"], timeout=10)
    words = result.text.split()
    if result.exit_code != 0 or len(words) < 2:
        raise LabError(f"cannot read the ssh host key of lab {name}")
    return f"{words[0]} {words[1]}"


def lab_public_key(workspace: Workspace) -> str:
    """The workspace's lab key (made once, under a lock); labs authorise it for root."""
    key = lab_key_path(workspace)
    workspace.ensure()
    with FileLock(str(workspace.locks / "lab-key.lock"), timeout=60):
        if not key.exists():
            _make_key(key)
    return key.with_suffix(".pub").read_text().strip()


def _make_key(key: Path) -> None:
    tmp = key.with_name(f".{key.name}.{uuid.uuid4().hex[:6]}")
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "remotefix-lab", "-f", str(tmp)]
    try:
        subprocess.run(argv, check=True, capture_output=True)
    except FileNotFoundError as exc:
        raise DependencyError(
            "ssh-keygen not found", hint="apt-get install openssh-client"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise LabError(f"ssh-keygen failed: {exc.stderr.decode(errors='replace').strip()}") from exc
    tmp.with_name(tmp.name + ".pub").replace(key.with_suffix(".pub"))
    tmp.replace(key)


def pinned_known_hosts(lab: Lab, workspace: Workspace) -> Path:
    """A known_hosts file holding only the lab's recorded host key (strict checking for ssh)."""
    known = workspace.labs / f"{lab.name}.known_hosts"
    known.write_text(f"[127.0.0.1]:{lab.ssh_port} {lab.host_key}\n")
    return known


def lab_key_path(workspace: Workspace) -> Path:
    return workspace.labs / "id_ed25519"


def _state_path(workspace: Workspace, name: str) -> Path:
    return workspace.labs / f"{name}.json"


def _save(workspace: Workspace, lab: Lab, inputs: FidelityInputs | None = None) -> None:
    extra = {"fidelity_inputs": inputs.to_dict()} if inputs is not None else {}
    _write(workspace, lab.name, {**lab.to_dict(), **extra})


def _write(workspace: Workspace, name: str, state: dict[str, Any]) -> None:
    path = _state_path(workspace.ensure(), name)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)


def workspace_id(workspace: Workspace) -> str:
    """Labs belong to the workspace that made them: ls, down and prune never touch another's."""
    return hashlib.sha256(str(workspace.root.resolve()).encode()).hexdigest()[:16]


def instances(runtime: LabRuntime, workspace: Workspace, name: str | None = None) -> list[Instance]:
    """The runtime's lab instances of this workspace (or the one named), any state."""
    wanted = {KIND_LABEL: "lab", WORKSPACE_LABEL: workspace_id(workspace)}
    return runtime.list_instances({**wanted, **({NAME_LABEL: name} if name else {})})


def list_labs(
    workspace: Workspace, name: str | None = None, *, runtime: LabRuntime | None = None
) -> list[Lab]:
    """Every lab the runtime knows (the truth), or the one named, with what the workspace
    recorded."""
    labs = []
    for instance in instances(runtime or get_runtime(), workspace, name):
        labels = instance.labels
        name = labels.get(NAME_LABEL, instance.name)
        saved = _load(workspace, name)
        labs.append(
            Lab(
                name=name,
                image=saved.get("image") or instance.image,
                case=labels.get(CASE_LABEL, ""),
                spec_hash=labels.get(SPEC_LABEL, ""),
                created=labels.get(CREATED_LABEL, ""),
                ssh_port=saved.get("ssh_port"),
                host_key=saved.get("host_key"),
                status=instance.status,
                fidelity=saved.get("fidelity"),
                fidelity_pending=bool(saved.get("fidelity_pending")),
                runtime=saved.get("runtime", "local"),
            )
        )
    return sorted(labs, key=lambda lab: lab.created)


def recorded_runtime(workspace: Workspace, name: str) -> str:
    """The runtime the lab ``name`` was started on, as recorded (``local`` when unknown)."""
    return str(_load(workspace, name).get("runtime") or "local")


def _load(workspace: Workspace, name: str) -> dict[str, Any]:
    try:
        return dict(json.loads(_state_path(workspace, name).read_text()))
    except (OSError, ValueError):
        return {}


def get_lab(name: str, workspace: Workspace, *, runtime: LabRuntime | None = None) -> Lab:
    found = list_labs(workspace, name, runtime=runtime)
    if found:
        return found[0]
    raise LabError(f"no lab named {name!r}", hint="see: remotefix lab ls")


def down(name: str, *, workspace: Workspace, runtime: LabRuntime | None = None) -> bool:
    """Remove the lab's container and its workspace record (its image stays: see
    ``lifecycle.teardown``); False when there was none."""
    runtime = runtime or get_runtime()
    found = instances(runtime, workspace, name)
    for instance in found:
        runtime.remove(instance.name)
    _state_path(workspace, name).unlink(missing_ok=True)
    return bool(found)


def snapshot(
    name: str, tag: str, *, workspace: Workspace, runtime: LabRuntime | None = None
) -> str:
    """Commit the lab's current state as ``remotefix/lab-snapshot:TAG``; return the image ref.

    The snapshot keeps the lab's labels (case, spec hash, workspace) and is ``lab-snapshot``."""
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", tag):
        raise ConfigError(f"bad snapshot tag {tag!r}", hint="letters, digits, '.', '_' and '-'")
    runtime = runtime or get_runtime()
    get_lab(name, workspace, runtime=runtime)
    (instance,) = instances(runtime, workspace, name)
    labels = dockerapi.labels(**{KIND_LABEL: "lab-snapshot", NAME_LABEL: name})
    return runtime.snapshot(instance.name, f"{SNAPSHOT_REPOSITORY}:{tag}", labels=labels).ref
