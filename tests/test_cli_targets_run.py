"""``targets ls`` and ``run`` from the CLI: JSON shapes, exit codes, parallel hosts, failures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.consent import ConsentStore, Scope
from remotefix.sandbox import Customer
from remotefix.workspace import Workspace
from tests.fixtures.docker import KeyPair

DATA = Path(__file__).parent / "data" / "inventories"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_targets_ls_json() -> None:
    code, out = invoke(
        "--json", "targets", "ls", "-i", str(DATA / "datacenter.ini"), "--limit", "db"
    )
    rows = json.loads(out)
    assert code == 0
    assert {r["name"] for r in rows} == {"db-a", "db-b", "db-c", "db-x"}
    assert {"name", "host", "port", "user", "connection", "groups"} <= set(rows[0])
    assert "never-in-a-target" not in out


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["-i", str(DATA / "datacenter.ini"), "--limit", "nope"], 4, "matches no host"),
        (["-i", "/nonexistent/inv.ini"], 4, "not found"),
        (["ssh://a:pw@h"], 4, "password in target address"),
    ],
)
def test_targets_ls_errors_are_one_line(args: list[str], code: int, text: str) -> None:
    got, out = invoke("targets", "ls", *args)
    assert got == code and text in out
    assert len(out.strip().splitlines()) == 1


def test_run_without_a_command_says_so() -> None:
    code, out = invoke("run", "local://", "--case", "C")
    assert code == 4 and "put it after --" in out


@pytest.mark.docker
def test_run_on_many_hosts_keeps_going_past_an_unreachable_one(
    customer: Customer, client_key: KeyPair, tmp_path: Path
) -> None:
    ws = Workspace.default().ensure()
    ws.known_hosts.write_text(customer.known_hosts_line + "\n")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[customers]\n"
        f"good ansible_host=127.0.0.1 ansible_port={customer.port} ansible_user=root "
        f"ansible_ssh_private_key_file={client_key.private}\n"
        f"dead ansible_host=127.0.0.1 ansible_port=1 ansible_user=root\n"
        "me ansible_connection=local\n"
    )
    ConsentStore(ws).grant("C-9", ["good", "dead"], Scope.FIX, timedelta(minutes=5), "J", "t")
    code, out = invoke("--json", "run", "-i", str(inventory), "--case", "C-9", "--", "echo", "hi")
    results = {r["target"]: r for r in json.loads(out)}
    assert results["good"]["ok"] and results["good"]["stdout"] == "hi\n"
    assert results["me"]["ok"]
    assert results["dead"]["error"]["type"] == "ConnectError"
    assert code == 11  # the worst host's error decides the exit code
    limited, out = invoke(
        "run", "-i", str(inventory), "--limit", "all:!dead", "--case", "C-9", "--", "true"
    )
    assert limited == 0, out
