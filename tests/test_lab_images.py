"""Lab images without leaks (real Docker): `lab down` takes the last user's image with it unless
--keep-image, `lab images` lists lab and snapshot images with their case, `images ls` lists base
images only, and `lab prune` (--case, --older-than, --dry-run) removes labs and images."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from tests.fixtures.cli import cli_json

pytestmark = pytest.mark.docker


def _spec(tmp_path: Path) -> Path:
    """A spec no other test builds (its own file), so its image is this test's alone."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: debian:12\nfiles: {{/etc/rfx-own: 'inline:{uuid.uuid4().hex}'}}\n")
    return spec


def _up(spec: Path, case: str) -> dict[str, object]:
    code, lab = cli_json("lab", "up", str(spec), "--case", case)
    assert code == 0, lab
    return dict(lab)


def _exists(api: docker.DockerClient, ref: str) -> bool:
    try:
        api.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def test_down_removes_the_image_with_its_last_lab_unless_kept(
    tmp_path: Path, docker_api: docker.DockerClient
) -> None:
    spec = _spec(tmp_path)
    first = _up(spec, "C-DOWN")
    image = str(first["image"])
    labels = docker_api.images.get(image).labels
    assert labels["remotefix.case"] == "C-DOWN" and labels["remotefix.workspace"]

    second = _up(spec, "C-DOWN")
    assert second["cached"] is True and second["image"] == image
    code, out = cli_json("lab", "down", str(first["name"]))
    assert code == 0 and out[first["name"]]["image_removed"] is False
    assert out[first["name"]]["note"] == f"kept (used by {second['name']})"
    assert _exists(docker_api, image)

    code, out = cli_json("lab", "down", str(second["name"]))
    assert code == 0 and out[second["name"]] == {
        "name": second["name"], "image": image, "image_removed": True, "note": ""
    }  # fmt: skip
    assert not _exists(docker_api, image)
    assert cli_json("lab", "down", str(second["name"]))[0] == 30


def test_lab_images_list_and_prune_with_case_age_and_dry_run(
    tmp_path: Path, docker_api: docker.DockerClient
) -> None:
    lab = _up(_spec(tmp_path), "C-PRUNE")
    name, image = str(lab["name"]), str(lab["image"])
    tag = f"t{uuid.uuid4().hex[:8]}"
    snapshot = cli_json("lab", "snapshot", name, tag)[1]["image"]
    try:
        code, listed = cli_json("lab", "images")
        assert code == 0
        rows = {row["ref"]: row for row in listed}
        assert set(rows) == {image, snapshot}  # this workspace's only
        assert rows[image]["kind"] == "lab-image" and rows[image]["case"] == "C-PRUNE"
        assert rows[snapshot]["kind"] == "lab-snapshot" and rows[snapshot]["lab"] == name
        assert all(row["size"] > 0 and row["created"] for row in listed)
        assert {image, snapshot} <= {row["ref"] for row in cli_json("lab", "images", "--all")[1]}

        code, bases = cli_json("images", "ls")
        assert code == 0 and bases and all(b["tag"].startswith("remotefix/base:") for b in bases)

        dry = cli_json("lab", "prune", "--dry-run")[1]
        assert dry["labs"] == [name] and dry["dry_run"] is True
        assert sorted(dry["images"]) == sorted([image, snapshot])
        assert [x["name"] for x in cli_json("lab", "ls")[1]] == [name]
        assert _exists(docker_api, image) and _exists(docker_api, snapshot)

        nothing = {"labs": [], "images": [], "dry_run": False}
        assert cli_json("lab", "prune", "--case", "C-OTHER")[1] == nothing
        assert cli_json("lab", "prune", "--case", "C-PRUNE", "--older-than", "7d")[1] == nothing

        code, out = cli_json("lab", "down", "--keep-image", name)
        assert code == 0 and out[name]["image_removed"] is False
        assert out[name]["note"] == "kept (--keep-image)" and _exists(docker_api, image)

        done = cli_json("lab", "prune", "--case", "C-PRUNE")[1]
        assert done["labs"] == [] and sorted(done["images"]) == sorted([image, snapshot])
        assert cli_json("lab", "ls")[1] == [] and cli_json("lab", "images")[1] == []
        assert not _exists(docker_api, image) and not _exists(docker_api, snapshot)
    finally:
        cli_json("lab", "down", name)
        cli_json("lab", "snapshot", "rm", tag)
