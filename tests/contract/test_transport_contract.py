"""The transport contract (see conftest.py): same behaviour on local, docker, ssh and WinRM."""

from __future__ import annotations

import time
import uuid

import pytest

from remotefix.errors import ClosedError
from remotefix.transports.base import RemotePathError, Transport

from .conftest import Make


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_codes(transport: Transport, code: int) -> None:
    result = transport.run(f"exit {code}", timeout=30)
    assert result.exit_code == code
    assert result.ok is (code == 0) and not result.timed_out


def test_stdout_and_stderr_stay_apart(transport: Transport) -> None:
    result = transport.run("echo out; echo err >&2; echo out2", timeout=30)
    assert result.stdout == b"out\nout2\n"
    assert result.stderr == b"err\n"


def test_stdin_reaches_the_command(transport: Transport) -> None:
    result = transport.run("cat", stdin=b"hello\x00world\n", timeout=30)
    assert result.stdout == b"hello\x00world\n"


def test_big_stdin_with_big_output_does_not_deadlock(transport: Transport) -> None:
    payload = bytes(range(256)) * (5 * 4096)  # 5 MiB
    result = transport.run("cat; echo done >&2", stdin=payload, timeout=120)
    assert result.exit_code == 0 and result.stdout == payload and result.stderr == b"done\n"


def test_unicode_output_round_trips_as_bytes(transport: Transport) -> None:
    text = "héllo ✓ 日本"
    result = transport.run(f"printf '%s' '{text}'", timeout=30)
    assert result.stdout.decode("utf-8") == text


def test_binary_output_is_intact(transport: Transport) -> None:
    octal = "".join(f"\\{n:03o}" for n in range(256))
    result = transport.run(f"printf '{octal}'", timeout=30)
    assert result.stdout == bytes(range(256))


def test_output_past_the_cap_is_cut_and_says_so(make: Make) -> None:
    transport = make(output_cap=64 * 1024)
    result = transport.run("head -c 1048576 /dev/zero; exit 3", timeout=60)
    assert result.truncated is True
    assert len(result.stdout) == 64 * 1024
    assert result.exit_code == 3


def test_timeout_returns_partial_output_and_stops_the_process(transport: Transport) -> None:
    marker = f"31.{uuid.uuid4().int % 100000:05d}"
    started = time.monotonic()
    result = transport.run(f"echo start; sleep {marker}", timeout=1.5)
    assert time.monotonic() - started < 10
    assert result.timed_out is True and result.exit_code is None
    assert b"start" in result.stdout
    time.sleep(0.3)
    # the sleep is gone: no process has the marker in its command line ("[3]1" keeps this
    # scan's own command line from matching itself)
    scan = (
        "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < $f 2>/dev/null; echo; done"
        f" | grep -c 'sleep [{marker[0]}]{marker[1:]}'"
    )
    left = transport.run(scan, timeout=30)
    assert left.stdout.strip() == b"0", left


def test_read_file_missing(transport: Transport) -> None:
    with pytest.raises(RemotePathError, match="no such file"):
        transport.read_file("/nonexistent/remotefix-contract")


def test_read_file_directory(transport: Transport) -> None:
    with pytest.raises(RemotePathError, match="directory"):
        transport.read_file("/etc")


def test_read_file_large_is_capped(transport: Transport) -> None:
    path = f"/tmp/remotefix-contract-{uuid.uuid4().hex}"
    transport.run(f"head -c 300000 /dev/zero | tr '\\000' 'a' > {path}", timeout=30).check()
    try:
        remote = transport.read_file(path, max_bytes=100_000)
        assert remote.truncated is True and remote.data == b"a" * 100_000
        whole = transport.read_file(path, max_bytes=300_000)
        assert whole.truncated is False and len(whole.data) == 300_000
    finally:
        transport.run(f"rm -f {path}", timeout=30)


def test_read_file_binary_exact(transport: Transport) -> None:
    path = f"/tmp/remotefix-contract-{uuid.uuid4().hex}"
    octal = "".join(f"\\{n:03o}" for n in range(256))
    transport.run(f"printf '{octal}' > {path}", timeout=30).check()
    try:
        assert transport.read_file(path).data == bytes(range(256))
    finally:
        transport.run(f"rm -f {path}", timeout=30)


def test_run_after_close_is_refused_and_close_is_idempotent(transport: Transport) -> None:
    assert transport.run("true", timeout=30).ok
    transport.close()
    transport.close()
    with pytest.raises(ClosedError):
        transport.run("true", timeout=30)


def test_context_manager_closes(make: Make) -> None:
    with make() as transport:  # type: ignore[attr-defined]
        assert transport.run("true", timeout=30).ok
    with pytest.raises(ClosedError):
        transport.run("true", timeout=30)
