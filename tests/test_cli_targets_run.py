"""``targets ls`` and ``run`` from the CLI: JSON shapes, exit codes, parallel hosts, failures."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.audit import AuditLog
from remotefix.cli import cli
from remotefix.cli.diagnose import _destination
from remotefix.cli.run import write_outcome
from remotefix.consent import ConsentStore, Scope
from remotefix.filenames import safe_name
from remotefix.fleet import Outcome
from remotefix.result import CommandResult
from remotefix.sandbox import Customer
from remotefix.targets import Target
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant
from tests.fixtures.docker import KeyPair
from tests.fixtures.sshd import Sshd

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
    ran = CliRunner().invoke(
        cli, ["--json", "run", "-i", str(inventory), "--case", "C-9", "--", "echo", "hi"]
    )
    code, results = ran.exit_code, {r["target"]: r for r in json.loads(ran.stdout)}
    assert results["good"]["ok"] and results["good"]["stdout"] == "hi\n"
    assert "me" not in results and "skipping me: ansible_connection=local" in ran.stderr
    assert results["dead"]["error"]["type"] == "ConnectError"
    assert code == 11  # the worst host's error decides the exit code
    limited, out = invoke(
        "run", "-i", str(inventory), "--limit", "all:!dead", "--case", "C-9", "--", "true"
    )
    assert limited == 0, out


def _known(sshd: Sshd) -> Workspace:
    ws = Workspace.default().ensure()
    ws.known_hosts.write_text(sshd.known_hosts_line + "\n")
    return ws


def _address(sshd: Sshd) -> str:
    return f"{sshd.address}?identity_file={sshd.client_key.private}"


def _inventory(tmp_path: Path, sshd: Sshd, names: list[str]) -> Path:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "".join(
            f"{n} ansible_host={sshd.host} ansible_port={sshd.port} ansible_user={sshd.user} "
            f"ansible_ssh_private_key_file={sshd.client_key.private}\n"
            for n in names
        )
    )
    return inventory


def test_run_needs_a_fix_grant_whatever_the_command(sshd: Sshd, tmp_path: Path) -> None:
    """A diagnose grant covers remotefix's own collectors, never an arbitrary command."""
    ws = _known(sshd)
    grant([sshd.host], "C-SC", Scope.DIAGNOSE)
    victim = tmp_path / "touched"
    for extra in ([], ["--scope", "diagnose"]):
        code, out = invoke(
            "run", _address(sshd), "--case", "C-SC", *extra, "--", "touch", str(victim)
        )
        assert code == 5 and "fix" in out, out
        assert not victim.exists()
    assert [r["action"] for r in AuditLog(ws).records("C-SC")] == ["refused"]
    grant([sshd.host], "C-SC", Scope.FIX)
    code, out = invoke("run", _address(sshd), "--case", "C-SC", "--", "touch", str(victim))
    assert code == 0 and victim.exists(), out


def test_run_passes_several_words_as_words_and_one_word_as_a_shell_line(sshd: Sshd) -> None:
    _known(sshd)
    grant([sshd.host], "C-AV", Scope.FIX)
    code, rows = cli_json("run", _address(sshd), "--case", "C-AV", "--",
                          "printf", "%s|", "a  b", "$HOME", "", "it's")  # fmt: skip
    assert code == 0 and rows[0]["stdout"] == "a  b|$HOME||it's|", rows
    code, rows = cli_json("run", _address(sshd), "--case", "C-AV", "--", "echo $((6*7)) | tr 4 X")
    assert code == 0 and rows[0]["stdout"] == "X2\n", rows


def _sleepers(seconds: str) -> list[int]:
    """Local pids running exactly ``sleep SECONDS`` (the sshd under test runs on this machine)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", seconds.encode()]:
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def _ctrl_c(argv: list[str], started: Callable[[], object], what: str) -> bytes:
    """Run the CLI, press Ctrl-C once ``started()`` sees the remote work; it must end with 130,
    one line and no traceback. Returns its stdout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not started() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started(), f"{what} never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"INTERRUPTED" in out
    return out


@pytest.mark.slow
def test_ctrl_c_stops_the_fleet_kills_the_remote_command_and_contacts_no_queued_host(
    sshd: Sshd, tmp_path: Path
) -> None:
    ws = _known(sshd)
    grant([sshd.host], "C-INT", Scope.FIX)
    seconds = str(random.randint(100_000, 999_999))
    inventory = _inventory(tmp_path, sshd, ["h1", "h2", "h3"])
    argv = [sys.executable, "-m", "remotefix", "run", "-i", str(inventory), "--forks", "1",
            "--timeout", "600", "--case", "C-INT", "--", "sleep", seconds]  # fmt: skip
    _ctrl_c(argv, lambda: _sleepers(seconds), "the remote command")
    assert _sleepers(seconds) == []
    records = [r for r in AuditLog(ws).records("C-INT") if not r["action"].endswith(".intent")]
    assert [(r["target"], r["extra"]["error"]) for r in records] == [("h1", "Interrupted")]


def test_run_output_folder_gives_every_target_its_own_files(tmp_path: Path) -> None:
    """``web 1`` and ``web_1`` (and look-alikes) never share a file."""
    names = ["web 1", "web_1", "web/1", "web\\1", "..", ".web_1", "", "wéb_1"]
    for name in names:
        result = CommandResult(f"echo {name}", 0, name.encode())
        write_outcome(tmp_path, Outcome(Target(name=name, connection="local"), value=result))
    assert len({safe_name(n) for n in names}) == len(names)
    written = {p.name for p in tmp_path.iterdir()}
    assert len(written) == 3 * len(names) and not any(n.startswith(".") for n in written)
    contents = {p.read_bytes() for p in tmp_path.glob("*.stdout")}
    assert contents == {n.encode() for n in names}
    bundles = {
        _destination(tmp_path, Target(name=n, connection="local"), many=True, obfuscate=False)
        for n in names
    }
    assert len(bundles) == len(names)  # diagnose -o DIR names bundles the same way


def test_run_output_folder_from_the_cli(tmp_path: Path) -> None:
    code, _ = invoke("run", "local://", "--case", "C-O", "-o", str(tmp_path / "out"), "--",
                     "printf '\\001bin\\377'; echo oops >&2; exit 3")  # fmt: skip
    assert code == 3  # one target: the command's own exit status
    out = tmp_path / "out"
    assert (out / "local.stdout").read_bytes() == b"\x01bin\xff"
    assert (out / "local.stderr").read_bytes() == b"oops\n"
    result = json.loads((out / "local.json").read_text())
    assert result["exit_code"] == 3 and "stdout" not in result
    code, message = invoke("run", "local://", "--case", "C-O", "-o", "/proc/no-such", "--", "true")
    assert code == 8 and "cannot write results into /proc/no-such" in message
    assert len(message.strip().splitlines()) == 1


def test_remote_output_cannot_drive_the_terminal_or_inject_markup() -> None:
    hostile = "printf '\\033]0;owned\\007\\033[2J[bold red]fake[/] \\342\\200\\256txt\\r\\n'"
    grant(["127.0.0.1"], "C-E", Scope.FIX)  # a second (unreachable) host: the per-host view
    code, out = invoke("run", "local://", "ssh://root@127.0.0.1:1", "--case", "C-E", "--", hostile)
    assert code == 11
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J[bold red]fake[/] \\u202etxt" in out


def test_a_timed_out_command_is_killed_with_its_whole_tree_and_exits_21(sshd: Sshd) -> None:
    _known(sshd)
    grant([sshd.host], "C-TO", Scope.FIX)
    child, grandchild = (str(random.randint(100_000, 999_999)) for _ in range(2))
    tree = f"sleep {child} & sh -c 'sleep {grandchild}; true' & wait"
    code, rows = cli_json("run", _address(sshd), "--case", "C-TO", "--timeout", "1", "--", tree)
    assert code == 21 and rows[0]["timed_out"] and rows[0]["exit_code"] is None, rows
    assert _sleepers(child) == [] and _sleepers(grandchild) == []


def _descendants(root: int) -> list[str]:
    """Command lines of every live descendant of ``root`` (from /proc/N/stat)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    family, grown = {root}, True
    while grown:
        kids = {pid for pid, parent in parents.items() if parent in family} - family
        family, grown = family | kids, bool(kids)
    lines = []
    for pid in family - {root}:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return [line for line in lines if line]


def _pid_running(word: bytes) -> int:
    """The pid whose command line holds ``word`` (processes may end while /proc is read)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if word in cmdline.read_bytes():
                return int(cmdline.parent.name)
    raise AssertionError(f"no process runs {word!r}")


def _commands_under(master: int) -> list[str]:
    """What the sshd under test runs for its clients (its own session processes left out)."""
    return [c for c in _descendants(master) if not c.startswith("sshd")]


@pytest.mark.slow
def test_ctrl_c_during_diagnose_keeps_queued_hosts_untouched_and_leaves_nothing_running(
    sshd: Sshd, tmp_path: Path
) -> None:
    ws = _known(sshd)
    grant([sshd.host], "C-DI", Scope.DIAGNOSE)
    inventory = _inventory(tmp_path, sshd, ["d1", "d2", "d3"])
    bundles = tmp_path / "bundles"
    argv = [sys.executable, "-m", "remotefix", "diagnose", "-i", str(inventory), "--forks", "1",
            "--case", "C-DI", "-o", str(bundles)]  # fmt: skip
    master = _pid_running(str(sshd.log.parent / "sshd_config").encode())
    _ctrl_c(argv, lambda: _commands_under(master), "the collection")
    assert sshd.log.read_text().count("Accepted publickey") == 1  # d2, d3 never contacted
    records = list(AuditLog(ws).records("C-DI"))
    assert [(r["target"], r["action"]) for r in records] == [
        ("d1", "diagnose.intent"),  # written before the collection was sent
        ("d1", "diagnose"),
    ]
    assert records[1]["extra"]["error"] == "Interrupted"
    assert not bundles.exists() or list(bundles.iterdir()) == []
    assert _commands_under(master) == []


def test_one_target_passes_its_output_and_exit_code_through() -> None:
    result = CliRunner().invoke(cli, ["run", "local://", "--case", "C-P", "--",
                                      "printf 'a\\001b\\377'; echo err >&2; exit 7"])  # fmt: skip
    assert result.exit_code == 7
    assert result.stdout_bytes == b"a\x01b\xff"  # untouched: `run web1 -- cat f > f` works
    assert b"err\n" in result.stderr_bytes and b"exit 7" in result.stderr_bytes


def test_a_failed_command_on_a_fleet_exits_20() -> None:
    grant(["127.0.0.1"], "C-P", Scope.FIX)
    result = CliRunner().invoke(cli, ["run", "local://", "ssh://root@127.0.0.1:1", "--case", "C-P",
                                      "--", "exit 3"])  # fmt: skip
    assert result.exit_code == 20, result.output  # worst of: failed command (20), unreachable (11)
