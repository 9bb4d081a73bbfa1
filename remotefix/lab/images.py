"""Offline base images: ``debootstrap`` a Debian root file system and ``docker import`` it.

No registry is reachable from where remotefix runs, so ``remotefix/base:debian-12`` and friends
are made from a Debian mirror. Builds are cached by tag (a second build is a lookup), serialised
per image by a lock file (two builds of one image at once do the work once), and atomic: the
image is tagged only after the root file system was built and imported in full.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from remotefix.dockerapi import LABEL
from remotefix.errors import DependencyError, ImageBuildError
from remotefix.lab.catalog import BaseImage, Catalog
from remotefix.lab.runtime import Image, LabRuntime
from remotefix.progress import Progress, quiet
from remotefix.workspace import Workspace

if TYPE_CHECKING:
    from remotefix.lab.runtime_local import LocalRuntime

DEBOOTSTRAP_TIMEOUT = 1800.0
KIND_LABEL = "remotefix.kind"


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A base image that exists; ``cached`` tells whether this call found it already built."""

    key: str
    tag: str
    image_id: str
    cached: bool
    duration_s: float
    labels: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "tag": self.tag,
            "id": self.image_id,
            "cached": self.cached,
            "duration_s": round(self.duration_s, 2),
            "labels": self.labels,
        }


def find_image(runtime: LabRuntime, base: BaseImage) -> Image | None:
    """The built image for ``base``, or None (an image under our tag not made by us is ignored)."""
    image = runtime.image(base.tag)
    if image is None:
        return None
    return image if image.labels.get("remotefix.suite") == base.suite else None


def build_base_image(
    runtime: LocalRuntime,
    base: BaseImage,
    *,
    mirror: str,
    workspace: Workspace,
    progress: Progress = quiet,
) -> BuiltImage:
    """Return the image for ``base``, building it when it does not exist yet."""
    started = time.monotonic()
    workspace.ensure()
    with FileLock(str(workspace.locks / f"base-{base.key.replace(':', '-')}.lock")):
        image = find_image(runtime, base)
        cached = image is not None
        if image is None:
            progress(f"{base.key}: debootstrap {base.suite} from {mirror}")
            with tempfile.TemporaryDirectory(dir=workspace.cache, prefix="rootfs-") as tmp:
                rootfs = Path(tmp) / "rootfs"
                debootstrap(base, rootfs, mirror=mirror, progress=progress)
                progress(f"{base.key}: importing into Docker as {base.tag}")
                image = _import(runtime, base, rootfs, mirror=mirror, scratch=Path(tmp))
    return BuiltImage(
        key=base.key,
        tag=base.tag,
        image_id=image.id,
        cached=cached,
        duration_s=time.monotonic() - started,
        labels=dict(image.labels),
    )


def debootstrap(base: BaseImage, rootfs: Path, *, mirror: str, progress: Progress) -> None:
    """Run debootstrap into ``rootfs``; stream its ``I:`` lines to ``progress``."""
    exe = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if exe is None:
        raise DependencyError("debootstrap not found", hint="apt-get install -y debootstrap")
    argv = [exe, f"--variant={base.variant}", base.suite, str(rootfs), mirror]
    tail: list[str] = []
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    watchdog = threading.Timer(DEBOOTSTRAP_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-19:], line.rstrip()]
            if line.startswith("I: ") and _is_milestone(line[3:]):
                progress(f"{base.key}: {line[3:].strip()}")
    finally:
        watchdog.cancel()
    code = proc.wait()
    if code != 0:
        raise _debootstrap_error(base, mirror, code, tail)


_MILESTONES = (
    "Retrieving Release",
    "Validating Release",
    "Resolving",
    "Checking component",
    "Installing core",
    "Unpacking the base",
    "Configuring the base",
    "Base system",
)


def _is_milestone(message: str) -> bool:
    return message.startswith(_MILESTONES)


def _debootstrap_error(base: BaseImage, mirror: str, code: int, tail: list[str]) -> ImageBuildError:
    text = "\n".join(tail)
    last = next((t for t in reversed(tail) if t.startswith("E: ")), tail[-1] if tail else "")
    if "Failed getting release file" in text or "Couldn't download" in text or "resolve" in text:
        return ImageBuildError(
            f"debootstrap of {base.key} failed: mirror {mirror} not reachable or has no "
            f"{base.suite} ({last.removeprefix('E: ')})",
            hint="check the network or pass another --mirror URL",
        )
    return ImageBuildError(f"debootstrap of {base.key} exited {code}: {last}")


def _import(
    runtime: LocalRuntime, base: BaseImage, rootfs: Path, *, mirror: str, scratch: Path
) -> Image:
    _slim(rootfs)
    tarball = scratch / "rootfs.tar"
    subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
        check=True,
        capture_output=True,
    )
    labels = {
        LABEL: "1",
        KIND_LABEL: "base",
        "remotefix.distro": base.distro,
        "remotefix.version": base.version,
        "remotefix.suite": base.suite,
        "remotefix.mirror": mirror,
        "remotefix.built": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    changes = [f"LABEL {k}={v!r}".replace("'", '"') for k, v in labels.items()]
    changes += ['CMD ["/bin/bash"]', "ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8"]
    return runtime.import_rootfs(tarball, base.tag, changes=changes)


def _slim(rootfs: Path) -> None:
    """Drop the downloaded .debs: labs run ``apt-get update`` themselves."""
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def list_base_images(runtime: LabRuntime, catalog: Catalog) -> list[Image]:
    """The catalog's base images that exist (images built FROM one inherit its labels, so the
    labels alone do not tell a base image)."""
    found = (find_image(runtime, base) for base in catalog.images.values())
    return [image for image in found if image is not None]


def remove_base_image(runtime: LabRuntime, base: BaseImage) -> bool:
    """Remove the image for ``base``; False when there was none."""
    if find_image(runtime, base) is None:
        return False
    return runtime.remove_image(base.tag)
