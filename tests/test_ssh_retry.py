"""Transient SSH connection failures are retried with backoff and jitter, and the retries are
kept; permanent ones (authentication, host key) are not. Against real sshd on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from remotefix.collect.bundle import read_members
from remotefix.errors import AuthError, ConnectError
from remotefix.targets import parse_address
from remotefix.transports.ssh import SSHTransport
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant
from tests.fixtures.docker import make_keypair
from tests.fixtures.sshd import SshdFactory


def _workspace(tmp_path: Path, *lines: str) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    ws.known_hosts.write_text("".join(f"{line}\n" for line in lines))
    return ws


def test_a_burst_beyond_maxstartups_all_gets_through(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    """sshd drops every unauthenticated connection beyond 2: a burst of 24 from 12 threads."""
    sshd = sshd_factory(extra_config="MaxStartups 2:100:2")
    ws = _workspace(tmp_path, sshd.known_hosts_line)

    def one(_: int) -> tuple[int | None, list[str]]:
        transport = SSHTransport(sshd.target(), workspace=ws, connect_attempts=8)
        try:
            return transport.run("echo ok", timeout=60).exit_code, transport.retries
        finally:
            transport.close()

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(24)))
    assert [code for code, _ in results] == [0] * 24
    retried = [line for _, lines in results for line in lines]
    assert retried, "a burst this size against MaxStartups 2 is always cut somewhere"
    assert all(line.startswith("attempt ") and "retried after" in line for line in retried)


def test_refused_is_retried_a_fixed_number_of_times(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = SSHTransport(
        parse_address(f"ssh://root@127.0.0.1:{port}"), workspace=_workspace(tmp_path),
        connect_attempts=3,
    )  # fmt: skip
    with pytest.raises(ConnectError, match="refused"):
        transport.run("true", timeout=5)
    assert len(transport.retries) == 2


def test_a_refused_key_is_never_retried(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    sshd = sshd_factory()
    stranger = make_keypair(tmp_path, "stranger")
    target = parse_address(f"{sshd.address}?identity_file={stranger.private}")
    transport = SSHTransport(
        target, workspace=_workspace(tmp_path, sshd.known_hosts_line), use_agent=False
    )
    with pytest.raises(AuthError):
        transport.run("true", timeout=5)
    assert transport.retries == []


@pytest.mark.slow
def test_diagnose_fans_out_to_100_hosts_through_one_sshd(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    """100 inventory hosts behind one real sshd (its default MaxStartups), --forks 32: every
    host gets its bundle, and each manifest says what was retried."""
    sshd = sshd_factory(log_level="ERROR")
    ws = Workspace.default().ensure()
    ws.known_hosts.write_text(sshd.known_hosts_line + "\n")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[fleet]\nh[001:100] ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root"
        f" ansible_ssh_private_key_file={sshd.client_key.private}\n"
    )
    grant(["127.0.0.1"], "C-FLEET")
    out = tmp_path / "bundles"
    code, data = cli_json("diagnose", "-i", str(inventory), "--case", "C-FLEET",
                          "--profile", "quick", "--forks", "32", "-o", str(out))  # fmt: skip
    assert code == 0, data
    bundles = sorted(out.glob("*.tar.gz"))
    assert len(bundles) == 100
    for bundle in bundles[:5]:
        manifest = json.loads(read_members(bundle, ["manifest.json"])["manifest.json"])
        assert isinstance(manifest["connection"]["retries"], list)
