"""Offline base images: cache hits, real os-release inside each, failures, and the build lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest
import yaml
from click.testing import CliRunner

from remotefix import dockerapi
from remotefix.cli import cli
from remotefix.lab.catalog import Catalog

pytestmark = pytest.mark.docker
REMOTEFIX = [sys.executable, "-m", "remotefix"]


def _no_debootstrap_path(tmp_path: Path) -> str:
    """A PATH whose first debootstrap fails loudly: proves a cached build never calls it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    trap = bin_dir / "debootstrap"
    trap.write_text(f"#!/bin/sh\ntouch {tmp_path}/debootstrap-was-called\nexit 99\n")
    trap.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_second_build_is_cached_same_id_and_runs_no_debootstrap(
    base12: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = CliRunner().invoke(cli, ["--json", "images", "build", "debian:12"])
    monkeypatch.setenv("PATH", _no_debootstrap_path(tmp_path))
    second = CliRunner().invoke(cli, ["--json", "images", "build", "debian:12"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    a, b = json.loads(first.stdout)[0], json.loads(second.stdout)[0]
    assert b["cached"] is True and a["id"] == b["id"]
    assert b["duration_s"] < 5
    assert not (tmp_path / "debootstrap-was-called").exists()


@pytest.mark.parametrize(("key", "version_id", "codename"), [
    ("debian:11", "11", "bullseye"),
    ("debian:12", "12", "bookworm"),
    ("debian:13", "13", "trixie"),
])  # fmt: skip
def test_base_image_is_the_debian_it_claims(
    docker_api: docker.DockerClient, catalog: Catalog, key: str, version_id: str, codename: str
) -> None:
    base = catalog.resolve(key)
    image = docker_api.images.get(base.tag)
    assert image.labels["remotefix"] == "1" and image.labels["remotefix.suite"] == codename
    out = docker_api.containers.run(
        base.tag, ["cat", "/etc/os-release"], remove=True, labels=dockerapi.labels()
    ).decode()
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert fields["VERSION_ID"].strip('"') == version_id
    assert fields["VERSION_CODENAME"] == codename


def _test_catalog(tmp_path: Path, key: str, suite: str = "bookworm") -> Path:
    labs = tmp_path / "labs"
    labs.mkdir()
    entry = {"distro": "debian", "version": "12", "suite": suite, "variant": "minbase"}
    catalog = {"default_mirror": "http://deb.debian.org/debian", "images": {key: entry}}
    (labs / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    return labs


def test_unreachable_mirror_names_the_mirror_and_leaves_no_image(
    docker_api: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMOTEFIX_LABS", str(_test_catalog(tmp_path, "unreachable:12")))
    mirror = "http://127.0.0.1:9/debian"
    result = CliRunner().invoke(cli, ["images", "build", "unreachable:12", "--mirror", mirror])
    assert result.exit_code == 31, result.output
    assert mirror in result.output and "--mirror" in result.output
    with pytest.raises(docker.errors.ImageNotFound):
        docker_api.images.get("remotefix/base:unreachable-12")
    assert not list((tmp_path / "remotefix-home" / "cache").glob("rootfs-*"))


def test_malformed_catalog_is_a_one_line_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labs = tmp_path / "labs"
    labs.mkdir()
    (labs / "catalog.yaml").write_text("images:\n  debian:12: [unclosed\n")
    monkeypatch.setenv("REMOTEFIX_LABS", str(labs))
    result = CliRunner().invoke(cli, ["images", "build", "debian:12"])
    assert result.exit_code == 3
    assert "catalog.yaml line" in result.output and "malformed YAML" in result.output


@pytest.mark.slow
def test_two_concurrent_builds_of_one_image_build_it_once(
    docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    """Two processes race to build the same missing image: one builds, one waits and reuses."""
    env = {**os.environ, "REMOTEFIX_LABS": str(_test_catalog(tmp_path, "locktest:12"))}
    try:
        procs = [
            subprocess.Popen(
                [*REMOTEFIX, "--json", "images", "build", "locktest:12"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=600) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        results = [json.loads(out)[0] for out, _ in outputs]
        assert sorted(r["cached"] for r in results) == [False, True]
        assert results[0]["id"] == results[1]["id"]
        image = docker_api.images.get("remotefix/base:locktest-12")
        assert image.labels["remotefix"] == "1"
    finally:
        subprocess.run([*REMOTEFIX, "images", "rm", "locktest:12"], env=env, check=False)
