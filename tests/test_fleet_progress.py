"""A fleet of many hosts: targets are taken as workers free up (memory stays bounded), each
finished host gets a line while the others run, and the end gives counts and the failures with
their reasons (a refused connection says how often it was tried). Real sshd on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.fleet import fan_out
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace
from tests.fixtures.cli import grant
from tests.fixtures.sshd import SshdFactory


def test_fan_out_takes_targets_only_as_workers_free_up() -> None:
    taken, finished, ahead = [0], [0], []
    lock = threading.Lock()

    def targets() -> Iterator[Target]:
        for i in range(40):
            with lock:
                taken[0] += 1
            yield parse_address(f"local://h{i}")

    def work(_: Target) -> int:
        with lock:
            ahead.append(taken[0] - finished[0])
        with lock:
            finished[0] += 1
        return 1

    outcomes = list(fan_out(targets(), work, forks=4))
    assert len(outcomes) == 40 and all(o.ok for o in outcomes)
    assert max(ahead) <= 4  # never more than `forks` targets queued or running


def test_a_large_fleet_ends_with_counts_and_the_failures(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    sshd = sshd_factory(log_level="ERROR")
    Workspace.default().ensure().known_hosts.write_text(sshd.known_hosts_line + "\n")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[fleet]\nh[01:21] ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root"
        f" ansible_ssh_private_key_file={sshd.client_key.private}\n"
        "dead ansible_host=127.0.0.1 ansible_port=1 ansible_user=root\n"
    )
    grant(["127.0.0.1", "dead"], "C-MANY")
    result = CliRunner().invoke(cli, ["diagnose", "-i", str(inventory), "--case", "C-MANY",
                                      "--profile", "quick", "--forks", "8",
                                      "-o", str(tmp_path / "b")])  # fmt: skip
    assert result.exit_code == 11, result.output
    lines = result.stderr.splitlines()
    assert sum(": done" in line for line in lines) == 21  # a line per host as it finishes
    assert any(line.startswith("… dead: UNREACHABLE") for line in lines)
    assert "22/22 hosts: 21 ok, 1 failed" in result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("dead: UNREACHABLE: ")]
    assert len(failed) == 1 and "after 4 attempts" in failed[0]  # one line, not a table cell
    assert "h01" not in result.stdout  # a fleet this large lists only the failed hosts
    assert len(list((tmp_path / "b").glob("*.tar.gz"))) == 21
