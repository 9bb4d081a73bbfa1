"""``local://``: commands on this machine through ``/bin/sh -c`` (the engineer's own machine).

Each command runs in its own session (process group); a timeout stops the whole group (TERM,
then KILL after a short grace), so nothing it started lingers. Ctrl-C (``remotefix.interrupt``)
stops it the same way and raises ``Interrupted``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from typing import IO

from remotefix import interrupt
from remotefix.result import CommandResult
from remotefix.transports._killable import raise_if_interrupted, should_stop
from remotefix.transports._shells import LocalPty
from remotefix.transports.base import BaseTransport, CappedBuffer, collected_result

KILL_GRACE_S = 1.0
_CHUNK = 65536


def pump(stream: IO[bytes], sink: CappedBuffer) -> threading.Thread:
    """Drain ``stream`` into ``sink`` on a daemon thread (keeps draining past the cap)."""

    def drain() -> None:
        with stream:
            while chunk := stream.read1(_CHUNK):  # type: ignore[attr-defined]
                sink.write(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def feed(stream: IO[bytes], data: bytes) -> threading.Thread:
    """Write ``data`` then close ``stream``, on a thread so big stdin and stdout never deadlock."""

    def write() -> None:
        try:
            with stream:
                stream.write(data)
        except BrokenPipeError:
            pass  # the command did not read all of its input: that is its business

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def shell_exit_code(returncode: int) -> int:
    """Exit code as a shell reports it: 128+N for a command killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class LocalTransport(BaseTransport):
    """Runs commands locally; no connection to open."""

    def _connect(self) -> None:
        """Nothing to connect."""

    def _disconnect(self) -> None:
        """Nothing to close."""

    def open_shell(self, cols: int = 80, rows: int = 24) -> LocalPty:
        """An interactive login shell behind a pty (``remotefix shell``)."""
        self._ensure_open()
        return LocalPty(cols, rows)

    def _run(self, command: str, *, timeout: float, stdin: bytes | None, cap: int) -> CommandResult:
        interrupt.check("command")
        started = time.monotonic()
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        out, err = CappedBuffer(cap), CappedBuffer(self.output_cap)
        assert proc.stdout is not None and proc.stderr is not None
        threads = [pump(proc.stdout, out), pump(proc.stderr, err)]
        if stdin is not None and proc.stdin is not None:
            threads.append(feed(proc.stdin, stdin))
        timed_out = not _wait_all(proc, threads, started + timeout)
        if timed_out:
            _stop_group(proc)
            for thread in threads:
                thread.join(KILL_GRACE_S)
            raise_if_interrupted(command)
        code = None if timed_out else shell_exit_code(proc.returncode)
        return collected_result(command, code, out, err, started, timed_out=timed_out)


def _wait_all(
    proc: subprocess.Popen[bytes], threads: list[threading.Thread], deadline: float
) -> bool:
    """Wait for the process and for its output streams to close; False at the deadline."""
    while proc.poll() is None or any(t.is_alive() for t in threads):
        if should_stop(deadline):
            return False  # still running, or a background child holds the output open
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=min(max(deadline - time.monotonic(), 0), 0.2))
        for thread in threads:
            thread.join(min(max(deadline - time.monotonic(), 0), 0.05))
    return True


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the command's process group, then KILL whatever is left of it after a grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children that ignored TERM
    proc.wait()
