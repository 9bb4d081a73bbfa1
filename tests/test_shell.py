"""``remotefix shell``: a real pty in a container, refused without a shell grant, audited."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Scope
from remotefix.workspace import Workspace
from tests.fixtures.docker import ContainerFactory

pytestmark = pytest.mark.docker


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


def test_shell_needs_the_shell_scope(container: str) -> None:
    _grant(Scope.FIX, container)
    done = _shell(container, b"exit\n")
    assert done.returncode == 5  # ConsentError
    assert b"scope shell needed" in done.stderr


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
