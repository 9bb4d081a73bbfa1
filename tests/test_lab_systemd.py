"""A systemd customer diagnosed over SSH becomes a systemd lab: PID 1 is systemd, every unit is
enabled and active as on the customer (nginx fails on the same typo, redis-server runs with its
PrivateUsers relaxed and says so), and fidelity compares every package."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from remotefix.config import CONFIG_ENV
from remotefix.lab.catalog import BaseImage
from remotefix.workspace import HOME_ENV
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import KeyPair
from tests.fixtures.systemd_customer import systemd_customer

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@dataclass(frozen=True)
class Made:
    home: Path
    customer: Any
    bundle: Path
    spec: dict[str, Any]
    lab: dict[str, Any]


@pytest.fixture(scope="module")
def made(
    docker_api: docker.DockerClient, base12: BaseImage, client_key: KeyPair,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Made]:  # fmt: skip
    """Customer → diagnose over SSH → lab plan → lab up, once for the module."""
    folder = tmp_path_factory.mktemp("systemd-lab")
    home = folder / "home"
    with pytest.MonkeyPatch.context() as patch, systemd_customer(
        docker_api, base12, client_key.public_line
    ) as customer:  # fmt: skip
        patch.setenv(HOME_ENV, str(home))
        patch.setenv(CONFIG_ENV, str(folder / "no-config.toml"))
        trust(customer)
        address = f"{customer.address}?identity_file={client_key.private}"
        grant([customer.address], "C-SYSD")
        bundle = folder / "customer.tar.gz"
        code, out = cli_json("diagnose", address, "--case", "C-SYSD", "-o", str(bundle))
        assert code == 0, out
        spec_path = folder / "lab.yaml"
        code, spec = cli_json("lab", "plan", str(bundle), "-o", str(spec_path))
        assert code == 0, spec
        code, lab = cli_json("lab", "up", str(spec_path), "--case", "C-SYSD")  # checked by default
        assert code == 0, lab
        try:
            yield Made(home, customer, bundle, spec, lab)
        finally:
            cli_json("lab", "down", lab["name"])


@pytest.fixture
def in_home(made: Made, monkeypatch: pytest.MonkeyPatch) -> Made:
    monkeypatch.setenv(HOME_ENV, str(made.home))
    return made


def _exec(name: str, command: str) -> str:
    code, out = cli_json("lab", "exec", name, "--", command)
    assert code in (0, 3), out  # systemctl is-active exits 3 for an inactive unit
    return str(out["stdout"])


def _customer(docker_api: docker.DockerClient, made: Made, *argv: str) -> str:
    _, out = docker_api.containers.get(made.customer.name).exec_run(list(argv))
    return bytes(out).decode()


def test_plan_writes_a_systemd_spec_from_the_customer(in_home: Made) -> None:
    spec = in_home.spec
    assert spec["init"] == "systemd"
    units = spec["units"]
    assert units["nginx"] == units["redis-server"] == units["rfx-report"] == "enabled"
    assert units["rfx-spare"] == "disabled"
    assert "systemd" in spec["packages"] and "nginx" in spec["packages"]
    files = spec["files"]
    assert "/etc/systemd/system/redis-server.service.d/limits.conf" in files
    assert "/etc/systemd/system/rfx-report.service" in files
    assert "/etc/systemd/system/redis.service" not in files  # an alias link, not a unit


def test_lab_boots_systemd_and_units_match_the_customer(
    in_home: Made, docker_api: docker.DockerClient
) -> None:
    name = in_home.lab["name"]
    assert _exec(name, "cat /proc/1/comm").strip() == "systemd"
    units = ["ssh", "nginx", "redis-server", "rfx-report", "rfx-spare"]
    words = " ".join(units)
    lab_states = _exec(name, f"systemctl is-active {words}; systemctl is-enabled {words}")
    theirs = _customer(docker_api, in_home, "sh", "-c",
                       f"systemctl is-active {words}; systemctl is-enabled {words}")  # fmt: skip
    assert lab_states == theirs
    assert lab_states.split()[:5] == ["active", "failed", "active", "active", "inactive"]
    journal = _exec(name, "journalctl -u nginx --no-pager")
    assert "nginx.conf" in journal  # the same typo, from the customer's copied config
    assert _exec(name, "systemctl show -p LimitNOFILE redis-server").strip() == "LimitNOFILE=10032"


def test_fidelity_compares_every_package_and_unit(in_home: Made) -> None:
    items = {(i["kind"], i["name"]): i for i in in_home.lab["fidelity"]["items"]}
    code, customer = cli_json("fingerprint", "show", str(in_home.bundle))
    assert code == 0, customer
    for package in customer["packages"]:
        assert ("package", package) in items, package
    redis = items[("unit", "redis-server")]
    assert redis["status"] == "approximated"
    assert "sandboxing relaxed in a container" in redis["note"]
    assert redis["customer"] == redis["lab"] == "running, enabled"
    assert items[("unit", "nginx")]["status"] == "exact"
    assert items[("unit", "nginx")]["lab"] == "failed, enabled"
    assert items[("platform", "init")]["status"] == "exact"
    assert items[("platform", "system state")]["lab"] == "degraded"
    for kind, name in (("kernel", "kernel"), ("platform", "hardware"), ("platform", "clock")):
        assert items[(kind, name)]["status"] == "not reproducible"
    print(f"\nsystemd lab fidelity score {in_home.lab['fidelity']['score']}")


def test_a_snapshot_of_a_systemd_lab_boots_systemd_again(in_home: Made) -> None:
    tag = f"t-sysd-{uuid.uuid4().hex[:6]}"
    code, out = cli_json("lab", "snapshot", in_home.lab["name"], tag)
    assert code == 0, out
    try:
        code, again = cli_json("lab", "up", "--from-snapshot", tag, "--case", "C-SYSD")
        assert code == 0, again
        try:
            assert _exec(again["name"], "cat /proc/1/comm").strip() == "systemd"
            assert _exec(again["name"], "systemctl is-active nginx").strip() == "failed"
        finally:
            cli_json("lab", "down", again["name"])
    finally:
        cli_json("lab", "snapshot", "rm", tag)


def _on_terminal(columns: int, *args: str) -> str:
    """Run the CLI with its stdout on a real pseudo-terminal of ``columns`` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    with subprocess.Popen([sys.executable, "-m", "remotefix", *args], stdout=slave,
                          stderr=subprocess.STDOUT, env=env) as proc:  # fmt: skip
        os.close(slave)
        chunks = []
        with contextlib.suppress(OSError):  # EIO: the terminal's other end is closed
            while chunk := os.read(master, 65536):
                chunks.append(chunk)
        assert proc.wait(timeout=60) == 0, b"".join(chunks)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode()).replace("\r", "")


def test_fidelity_view_fits_80_columns(in_home: Made) -> None:
    text = _on_terminal(80, "lab", "fidelity", in_home.lab["name"])
    lines = text.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), text
    assert any(line.startswith("│ unit") for line in lines), text  # the counts per kind
    assert "unit redis-server: approximated" in text
    assert "sandboxing relaxed" in text and "fidelity score" in text
