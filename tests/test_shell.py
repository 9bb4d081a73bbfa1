"""``remotefix shell``: a real pty in a container, refused without a shell grant, audited."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from remotefix.audit import AuditLog
from remotefix.cli.shell import exit_with
from remotefix.consent import ConsentStore, Scope
from remotefix.errors import TransportError
from remotefix.session import Session
from remotefix.workspace import Workspace
from tests.fixtures.docker import ContainerFactory
from tests.fixtures.sshd import Sshd


@pytest.fixture
def container(container_factory: ContainerFactory) -> str:
    return container_factory("shell")


def _shell(container: str, keys: bytes, *extra: str) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "remotefix", "shell", f"docker://{container}", "--case", "C-7"]
    return subprocess.run(
        [*argv, *extra], input=keys, capture_output=True, timeout=60, env=os.environ.copy()
    )


def _grant(scope: Scope, container: str) -> None:
    ConsentStore(Workspace.default().ensure()).grant(
        "C-7", [container], scope, timedelta(minutes=5), "Jane (customer)", "ticket 7"
    )


@pytest.mark.docker
def test_shell_needs_the_shell_scope(container: str) -> None:
    _grant(Scope.FIX, container)
    done = _shell(container, b"exit\n")
    assert done.returncode == 5  # ConsentError
    assert b"scope shell needed" in done.stderr


@pytest.mark.docker
def test_shell_runs_in_a_pty_and_is_audited(container: str, tmp_path: Path) -> None:
    _grant(Scope.SHELL, container)
    transcript = tmp_path / "t.log"
    done = _shell(
        container, b"tty; echo answer-$((6*7)); exit 3\n", "--transcript", str(transcript)
    )
    assert b"answer-42" in done.stdout and b"/dev/pts/" in done.stdout
    assert done.returncode == 3
    assert b"answer-42" in transcript.read_bytes()
    assert transcript.stat().st_mode & 0o777 == 0o600
    records = list(AuditLog(Workspace.default()).records(case="C-7"))
    assert [r["action"] for r in records] == ["shell.start", "shell.end"]
    assert records[1]["exit_code"] == 3 and records[1]["consent_id"]


def _ssh_shell(sshd: Sshd, keys: bytes) -> tuple[int | None, bytes]:
    """An SSH shell through the session door, fed ``keys``; returns (status, what it printed)."""
    ws = Workspace.default().ensure()
    ws.known_hosts.write_text(sshd.known_hosts_line + "\n")
    ConsentStore(ws).grant(
        "C-8", [sshd.host], Scope.SHELL, timedelta(minutes=5), "Jane (customer)", "ticket 8"
    )
    read, write = os.pipe()
    os.write(write, keys)
    os.close(write)
    with (
        os.fdopen(read, "rb") as stdin,
        tempfile.TemporaryFile() as stdout,
        Session(sshd.target(), case="C-8") as session,
    ):
        status = session.shell(stdin=stdin, stdout=stdout)  # type: ignore[arg-type]
        stdout.seek(0)
        return status, stdout.read()


def test_ssh_shell_returns_the_remote_exit_status_and_audits_the_end(sshd: Sshd) -> None:
    """paramiko overwrote the status method with an int: TypeError at every session end."""
    status, printed = _ssh_shell(sshd, b"echo answer-$((6*7)); exit 3\n")
    assert status == 3 and b"answer-42" in printed
    records = list(AuditLog(Workspace.default()).records(case="C-8"))
    assert [(r["action"], r["exit_code"]) for r in records] == [
        ("shell.start", None),
        ("shell.end", 3),
    ]


def test_ssh_shell_killed_by_a_signal_has_no_status_and_the_cli_says_so(sshd: Sshd) -> None:
    status, _ = _ssh_shell(sshd, b"kill -9 $$\n")
    assert status is None
    assert [r["action"] for r in AuditLog(Workspace.default()).records(case="C-8")][-1] == (
        "shell.end"
    )
    with pytest.raises(TransportError, match="ended without an exit status") as info:
        exit_with(status, "web1")
    assert info.value.exit_code == 10
