"""Labs against the real Docker daemon and Debian's mirror: build, fidelity, lifecycle, and the
whole road from a customer's bundle to a verified lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.lab.build import INDEX_REPOSITORY, KIND_LABEL, index_image
from remotefix.lab.catalog import BaseImage, Catalog
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.lab.versions import parse_madison
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant
from tests.fixtures.docker import CustomerFactory

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def nginx_versions(docker_api: docker.DockerClient, base12: BaseImage) -> list[str]:
    """nginx versions the lab's archive really has (so the test needs no hard-coded version)."""
    index = index_image(LocalRuntime(client=docker_api), base12, Catalog.load())
    assert index.startswith(INDEX_REPOSITORY)
    out = docker_api.containers.run(index, ["apt-cache", "madison", "nginx"], remove=True,
                                    labels={"remotefix": "1"})  # fmt: skip
    return parse_madison(out.decode())["nginx"]


def _subprocess(*args: str, keys: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "remotefix", *args]
    return subprocess.run(argv, input=keys, capture_output=True, timeout=60, env=os.environ.copy())


def _items(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["kind"], i["name"]): i for i in report["fidelity"]["items"]}


def test_hand_spec_lab_lifecycle(tmp_path: Path, nginx_versions: list[str],
                                 docker_api: docker.DockerClient) -> None:  # fmt: skip
    oldest = nginx_versions[-1]
    absent = oldest + "~notinarchive"  # same upstream, sorts just below: must be approximated
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "base: {distro: debian, version: '12'}\n"
        f"packages: {{nginx: '{absent}'}}\n"
        "files: {/etc/motd: 'inline:hello from the lab\n'}\n"
        "services: [nginx]\n"
        "setup: ['echo built > /etc/lab-setup']\n"
    )
    name = f"t-lab-{uuid.uuid4().hex[:6]}"
    code, lab = cli_json("lab", "up", str(spec), "--name", name, "--case", "C-LAB", "--fidelity")
    try:
        assert code == 0, lab
        items = _items(lab)
        nginx = items[("package", "nginx")]
        assert nginx["status"] == "approximated" and nginx["lab"] == oldest, nginx
        assert items[("package", "nginx-common")]["status"] == "exact"  # pinned to match nginx
        assert items[("file", "/etc/motd")]["status"] == "exact"
        assert items[("service", "nginx")]["status"] == "exact"
        assert items[("os", "release")]["status"] == "exact"
        assert items[("package", "openssh-server")]["status"] == "added"

        code, listed = cli_json("lab", "ls")
        assert [x["name"] for x in listed] == [name] and listed[0]["case"] == "C-LAB"

        code, out = cli_json(
            "lab", "exec", name, "--", "cat /etc/lab-setup; pgrep -x nginx >/dev/null && echo up"
        )
        assert code == 0 and out["stdout"] == "built\nup\n", out
        assert cli_json("lab", "exec", name, "--", "exit 3")[0] == 3

        ssh = _subprocess("lab", "ssh", name, "--", "cat", "/etc/motd")
        assert ssh.returncode == 0 and ssh.stdout.startswith(b"hello from the lab"), ssh.stderr
        shell = _subprocess("lab", "shell", name, keys=b"tty; echo answer-$((6*7)); exit 3\n")
        assert (
            shell.returncode == 3 and b"answer-42" in shell.stdout and b"/dev/pts/" in shell.stdout
        )

        code, snap = cli_json("lab", "snapshot", name, f"t{uuid.uuid4().hex[:6]}")
        assert (
            code == 0 and docker_api.images.get(snap["image"]).labels[KIND_LABEL] == "lab-snapshot"
        )

        audit = Workspace.default().audit_log.read_text()
        assert "lab-exec" in audit and "C-LAB" in audit

        code, again = cli_json("lab", "up", str(spec), "--keep", "never")
        # no rebuild: the unchanged spec is a lookup (its time is measured in bench/lab.py)
        assert code == 0 and again["cached"] is True and again["status"] == "removed"
    finally:
        cli_json("lab", "down", name)
    assert cli_json("lab", "ls")[1] == []
    assert cli_json("lab", "down", name)[0] == 30


def test_build_failure_names_the_step_and_leaves_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\nsetup: ['echo about to fail; exit 7']\n")
    result = CliRunner().invoke(cli, ["lab", "up", str(spec), "--name", "t-never-up"])
    assert result.exit_code == 30
    assert "failed at Step" in result.output and "exit 7" in result.output
    assert cli_json("lab", "ls")[1] == []


def test_unknown_package_is_a_clear_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: debian:12\npackages: {no-such-package-rfx: '*'}\n")
    code, out = cli_json("lab", "up", str(spec))
    assert code == 30
    assert "not in the archive the lab can reach: no-such-package-rfx" in out["error"]["message"]


def test_prune_older_than(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: debian:12\nfiles: {{/etc/rfx-prune: 'inline:{uuid.uuid4().hex}'}}\n")
    code, lab = cli_json("lab", "up", str(spec), "--name", f"t-prune-{uuid.uuid4().hex[:6]}")
    assert code == 0, lab
    assert cli_json("lab", "prune", "--older-than", "1h")[1] == {
        "labs": [],
        "images": [],
        "dry_run": False,
    }
    assert cli_json("lab", "prune")[1] == {
        "labs": [lab["name"]],
        "images": [lab["image"]],
        "dry_run": False,
    }


def test_from_customer_bundle_to_verified_lab(
    customer_factory: CustomerFactory, docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    customer = customer_factory()
    box = docker_api.containers.get(customer.name)
    code, out = box.exec_run(["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                              "apt-get install -y -qq nginx >/dev/null && /etc/init.d/nginx start"])  # fmt: skip
    assert code == 0, out[-500:]
    grant([customer.name], "C-CUST")
    bundle = tmp_path / "cust.tar.gz"
    code, report = cli_json(
        "diagnose", f"docker://{customer.name}", "--case", "C-CUST", "-o", str(bundle)
    )
    assert code == 0, report
    spec = tmp_path / "lab.yaml"
    code, planned = cli_json("lab", "plan", str(bundle), "-o", str(spec))
    assert code == 0, planned
    assert {"nginx", "nginx-common"} <= set(planned["packages"]) and "nginx" in planned["services"]
    assert "/etc/nginx/nginx.conf" in planned["files"]
    name = f"t-cust-{uuid.uuid4().hex[:6]}"
    code, lab = cli_json(
        "lab", "up", str(spec), "--name", name, "--case", "C-CUST"
    )  # checked by default
    try:
        assert code == 0, lab
        items = _items(lab)
        assert items[("os", "release")]["status"] == "exact"
        for package in planned["packages"]:
            assert items[("package", package)]["status"] == "exact", items[("package", package)]
        assert items[("service", "nginx")]["status"] == "exact"
        assert items[("file", "/etc/nginx/nginx.conf")]["status"] == "exact"
        assert items[("kernel", "kernel")]["status"] == "not reproducible"
        # every customer package is compared: the only differences are packages not pinned
        others = [i for i in lab["fidelity"]["items"]
                  if i["status"] not in ("exact", "added", "not reproducible")]  # fmt: skip
        assert ("package", "sudo") in {(i["kind"], i["name"]) for i in others}
        assert all(i["kind"] == "package" and "not pinned" in i["note"] for i in others), others
        assert lab["fidelity"]["score"] < 1.0
    finally:
        cli_json("lab", "down", name)


def test_windows_fingerprint_is_reported_not_crashed(tmp_path: Path) -> None:
    fp = tmp_path / "fingerprint.json"
    fp.write_text(json.dumps({"os": {"family": "windows", "id": "windows", "version": "10.0"},
                              "packages": {}, "services": []}))  # fmt: skip
    result = CliRunner().invoke(cli, ["lab", "plan", str(fp)])
    assert result.exit_code == 30
    assert (
        "not reproducible on a Linux Docker host" in result.output and "skeleton" in result.output
    )
