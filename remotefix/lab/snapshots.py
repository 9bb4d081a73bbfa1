"""Lab snapshots: list, remove, start a lab from one, and the *pristine* snapshot fixes use.

A snapshot is an image ``remotefix/lab-snapshot:TAG`` committed from a lab (``labs.snapshot``).
``fix --lab`` takes a pristine snapshot of the lab the first time it practises there and, on
every later practice, first puts the lab back to it (a fresh container from that image, same
name, new port and host key recorded), so each practice starts from the customer's state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from remotefix.errors import LabError
from remotefix.lab import labs
from remotefix.lab.build import KIND_LABEL, SPEC_LABEL
from remotefix.lab.runtime import Image, LabRuntime, get_runtime
from remotefix.workspace import Workspace

REPOSITORY = labs.SNAPSHOT_REPOSITORY


@dataclass(frozen=True, slots=True)
class Snapshot:
    tag: str
    lab: str
    created: str
    size: int

    def to_dict(self) -> dict[str, object]:
        return {"tag": self.tag, "lab": self.lab, "created": self.created, "size": self.size}


def list_snapshots(*, runtime: LabRuntime | None = None) -> list[Snapshot]:
    """Every lab snapshot the runtime holds, oldest first."""
    images = (runtime or get_runtime()).list_images({KIND_LABEL: "lab-snapshot"})
    found = [
        Snapshot(image.ref.split(":", 1)[1], image.labels.get(labs.NAME_LABEL, ""),
                 image.created, image.size)
        for image in images if image.ref.startswith(f"{REPOSITORY}:")
    ]  # fmt: skip
    return sorted(found, key=lambda s: s.created)


def remove_snapshot(tag: str, *, runtime: LabRuntime | None = None) -> None:
    """Delete one snapshot (refused while a lab still runs from it)."""
    try:
        removed = (runtime or get_runtime()).remove_image(f"{REPOSITORY}:{tag}")
    except LabError as exc:
        raise LabError(
            f"cannot remove lab snapshot {tag!r}: {exc.message}",
            hint="a lab still runs from it: remotefix lab down NAME first",
        ) from None
    if not removed:
        raise LabError(f"no lab snapshot {tag!r}", hint="see: remotefix lab snapshots")


def up_from_snapshot(
    tag: str,
    *,
    workspace: Workspace,
    name: str | None = None,
    case: str | None = None,
    runtime: LabRuntime | None = None,
) -> labs.Lab:
    """A new lab from a snapshot (no build, no fidelity run: it is the snapshot's state)."""
    runtime = runtime or get_runtime()
    image = _image(runtime, tag)
    name = name or f"lab-{tag[:40]}-{uuid.uuid4().hex[:4]}"
    if labs.list_labs(workspace, name, runtime=runtime):
        raise LabError(f"a lab named {name!r} exists", hint="pick another --name")
    spec = image.labels.get(SPEC_LABEL, "")
    lab = labs.start_from_image(workspace, name, case or "LAB", image.ref, spec, runtime=runtime)
    labs.save_lab(workspace, lab)
    return lab


def restore(
    name: str, tag: str, *, workspace: Workspace, runtime: LabRuntime | None = None
) -> labs.Lab:
    """Put lab ``name`` back to snapshot ``tag``: its container replaced by a fresh one."""
    runtime = runtime or get_runtime()
    old = labs.get_lab(name, workspace, runtime=runtime)
    pending = labs.pending_fidelity(workspace, name)
    image = _image(runtime, tag)
    labs.down(name, workspace=workspace, runtime=runtime)
    lab = labs.start_from_image(
        workspace, name, old.case, image.ref, old.spec_hash, runtime=runtime
    )
    lab.fidelity, lab.fidelity_pending = old.fidelity, pending is not None
    labs.save_lab(workspace, lab, pending)
    return lab


def pristine(name: str, *, workspace: Workspace, runtime: LabRuntime | None = None) -> bool:
    """Restore the lab to its pristine snapshot (True), or take that snapshot now (False)."""
    runtime = runtime or get_runtime()
    tag = f"{name}-pristine-{labs.workspace_id(workspace)[:8]}"
    if runtime.image(f"{REPOSITORY}:{tag}") is None:
        labs.snapshot(name, tag, workspace=workspace, runtime=runtime)
        return False
    restore(name, tag, workspace=workspace, runtime=runtime)
    return True


def _image(runtime: LabRuntime, tag: str) -> Image:
    found = runtime.image(f"{REPOSITORY}:{tag}")
    if found is None:
        raise LabError(f"no lab snapshot {tag!r}", hint="see: remotefix lab snapshots")
    return found
