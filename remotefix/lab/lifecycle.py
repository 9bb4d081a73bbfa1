"""Lab images without leaks: tear a lab down with its image, list lab images, prune.

A lab image (``remotefix/lab:<spec hash>``) holds the customer's configuration files, so it goes
with the last lab that uses it unless the engineer keeps it. Images carry the case and the
workspace that built them (labels), so ``lab images`` and ``lab prune`` stay in their workspace.
Snapshots are removed only by ``lab snapshot rm`` or ``lab prune``, never by ``lab down``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from remotefix.dockerapi import LABEL
from remotefix.errors import LabError
from remotefix.lab import labs
from remotefix.lab.build import KIND_LABEL, SPEC_LABEL
from remotefix.lab.runtime import Image, LabRuntime, get_runtime
from remotefix.workspace import Workspace

IMAGE_KINDS = ("lab-image", "lab-snapshot")


@dataclass(frozen=True, slots=True)
class Teardown:
    """A removed lab; ``note`` says why its image stayed (empty when it was removed)."""

    name: str
    image: str
    image_removed: bool
    note: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LabImage:
    """A lab or snapshot image with the case it was made for."""

    ref: str
    kind: str
    case: str
    lab: str
    spec_hash: str
    workspace: str
    size: int
    created: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Pruned:
    """What ``prune`` removed (or, in a dry run, would remove)."""

    labs: tuple[str, ...]
    images: tuple[str, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, object]:
        return {"labs": list(self.labs), "images": list(self.images), "dry_run": self.dry_run}


def teardown(
    name: str, *, workspace: Workspace, keep_image: bool = False, runtime: LabRuntime | None = None
) -> Teardown | None:
    """Remove lab ``name`` and, unless ``keep_image``, its image once no container uses it."""
    runtime = runtime or get_runtime()
    found = labs.instances(runtime, workspace, name)
    if not labs.down(name, workspace=workspace, runtime=runtime):
        return None
    image = found[0].image
    if keep_image:
        return Teardown(name, image, False, "kept (--keep-image)")
    removed, note = release_image(runtime, image)
    return Teardown(name, image, removed, note)


def release_image(runtime: LabRuntime, ref: str) -> tuple[bool, str]:
    """Remove lab image ``ref`` when no container uses it; (removed, why it stayed)."""
    image = runtime.image(ref)
    if image is None:
        return False, "already gone"
    kind = image.labels.get(KIND_LABEL, "")
    if kind != "lab-image":
        return False, f"kept ({kind or 'not a lab image'}: lab down removes lab images only)"
    users = runtime.image_users(ref)
    if users:
        return False, f"kept (used by {', '.join(sorted(u.name for u in users))})"
    try:
        runtime.remove_image(ref)
    except LabError as exc:  # a lab started from it meanwhile
        return False, f"kept ({exc.message})"
    return True, ""


def lab_images(
    workspace: Workspace, *, every: bool = False, runtime: LabRuntime | None = None
) -> list[LabImage]:
    """Lab and snapshot images of this workspace (``every``: of all workspaces), oldest first."""
    runtime = runtime or get_runtime()
    mine = labs.workspace_id(workspace)
    found = [
        _lab_image(image)
        for kind in IMAGE_KINDS
        for image in runtime.list_images({LABEL: "1", KIND_LABEL: kind})
    ]
    return sorted(
        (i for i in found if every or i.workspace == mine), key=lambda i: (i.created, i.ref)
    )


def _lab_image(image: Image) -> LabImage:
    labels = image.labels
    return LabImage(
        ref=image.ref,
        kind=labels.get(KIND_LABEL, ""),
        case=labels.get(labs.CASE_LABEL, ""),
        lab=labels.get(labs.NAME_LABEL, ""),
        spec_hash=labels.get(SPEC_LABEL, ""),
        workspace=labels.get(labs.WORKSPACE_LABEL, ""),
        size=image.size,
        created=image.created,
    )


def prune(
    *,
    workspace: Workspace,
    case: str | None = None,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    runtime: LabRuntime | None = None,
) -> Pruned:
    """Remove this workspace's labs and lab/snapshot images of ``case`` (all when None) made
    more than ``older_than`` ago (any age when None); an image still used by a lab that stays
    is kept. ``dry_run``: list them, remove nothing."""
    runtime = runtime or get_runtime()
    now = datetime.now(UTC)

    def wanted(of_case: str, created: str) -> bool:
        return (case is None or of_case == case) and _older(created, older_than, now)

    doomed = [lab.name for lab in labs.list_labs(workspace, runtime=runtime)
              if wanted(lab.case, lab.created)]  # fmt: skip
    images = [
        image.ref
        for image in lab_images(workspace, runtime=runtime)
        if wanted(image.case, image.created)
        and all(user.name in doomed for user in runtime.image_users(image.ref))
    ]
    if dry_run:
        return Pruned(tuple(doomed), tuple(images), True)
    for name in doomed:
        labs.down(name, workspace=workspace, runtime=runtime)
    gone = [ref for ref in reversed(images) if _remove(runtime, ref)]  # snapshots before parents
    return Pruned(tuple(doomed), tuple(gone), False)


def _remove(runtime: LabRuntime, ref: str) -> bool:
    try:
        return runtime.remove_image(ref)
    except LabError:  # a lab started from it meanwhile: it stays
        return False


def _older(created: str, age: timedelta | None, now: datetime) -> bool:
    if age is None:
        return True
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return False  # unknown age: never old enough
    return now - when >= age
