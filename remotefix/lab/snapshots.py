"""Lab snapshots: list, remove, start a lab from one, and the *pristine* snapshot fixes use.

A snapshot is an image ``remotefix/lab-snapshot:TAG`` committed from a lab (``labs.snapshot``).
``fix --lab`` takes a pristine snapshot of the lab the first time it practises there and, on
every later practice, first puts the lab back to it (a fresh container from that image, same
name, new port and host key recorded), so each practice starts from the customer's state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import docker.errors

from remotefix import dockerapi
from remotefix.errors import LabError
from remotefix.lab import labs
from remotefix.lab.build import KIND_LABEL, SPEC_LABEL
from remotefix.workspace import Workspace

REPOSITORY = "remotefix/lab-snapshot"


@dataclass(frozen=True, slots=True)
class Snapshot:
    tag: str
    lab: str
    created: str
    size: int

    def to_dict(self) -> dict[str, object]:
        return {"tag": self.tag, "lab": self.lab, "created": self.created, "size": self.size}


def list_snapshots() -> list[Snapshot]:
    """Every lab snapshot Docker holds, oldest first."""
    api = dockerapi.client()
    with dockerapi.docker_errors("listing lab snapshots"):
        images = api.images.list(filters={"label": f"{KIND_LABEL}=lab-snapshot"})
    found = [
        Snapshot(tag.split(":", 1)[1], image.labels.get(labs.NAME_LABEL, ""),
                 str(image.attrs.get("Created", "")), int(image.attrs.get("Size", 0)))
        for image in images for tag in image.tags if tag.startswith(f"{REPOSITORY}:")
    ]  # fmt: skip
    return sorted(found, key=lambda s: s.created)


def remove_snapshot(tag: str) -> None:
    """Delete one snapshot (refused while a lab still runs from it)."""
    api = dockerapi.client()
    try:
        api.images.remove(f"{REPOSITORY}:{tag}")
    except docker.errors.ImageNotFound:
        raise LabError(f"no lab snapshot {tag!r}", hint="see: remotefix lab snapshots") from None
    except docker.errors.APIError as exc:
        raise LabError(
            f"cannot remove lab snapshot {tag!r}: {exc.explanation or exc}",
            hint="a lab still runs from it: remotefix lab down NAME first",
        ) from None


def up_from_snapshot(
    tag: str, *, workspace: Workspace, name: str | None = None, case: str | None = None
) -> labs.Lab:
    """A new lab from a snapshot (no build, no fidelity run: it is the snapshot's state)."""
    image = _image(tag)
    name = name or f"lab-{tag[:40]}-{uuid.uuid4().hex[:4]}"
    if labs.list_labs(workspace, name):
        raise LabError(f"a lab named {name!r} exists", hint="pick another --name")
    spec = image.labels.get(SPEC_LABEL, "")
    lab = labs.start_from_image(workspace, name, case or "LAB", f"{REPOSITORY}:{tag}", spec)
    labs.save_lab(workspace, lab)
    return lab


def restore(name: str, tag: str, *, workspace: Workspace) -> labs.Lab:
    """Put lab ``name`` back to snapshot ``tag``: its container replaced by a fresh one."""
    old = labs.get_lab(name, workspace)
    _image(tag)
    labs.down(name, workspace=workspace)
    lab = labs.start_from_image(workspace, name, old.case, f"{REPOSITORY}:{tag}", old.spec_hash)
    lab.fidelity = old.fidelity
    labs.save_lab(workspace, lab)
    return lab


def pristine(name: str, *, workspace: Workspace) -> bool:
    """Restore the lab to its pristine snapshot (True), or take that snapshot now (False)."""
    tag = f"{name}-pristine-{labs.workspace_id(workspace)[:8]}"
    try:
        _image(tag)
    except LabError:
        labs.snapshot(name, tag, workspace=workspace)
        return False
    restore(name, tag, workspace=workspace)
    return True


def _image(tag: str) -> docker.models.images.Image:
    api = dockerapi.client()
    try:
        return api.images.get(f"{REPOSITORY}:{tag}")
    except docker.errors.ImageNotFound:
        raise LabError(f"no lab snapshot {tag!r}", hint="see: remotefix lab snapshots") from None
    except docker.errors.APIError as exc:
        raise LabError(f"cannot read lab snapshot {tag!r}: {exc}") from None
