"""Ctrl-C as a stop request: the local transport kills a running command and starts no other;
the request ends with the ``on_sigint`` block that installed it."""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from remotefix import interrupt
from remotefix.errors import Interrupted
from remotefix.targets import parse_address
from remotefix.transports.local import LocalTransport


def _sleepers(seconds: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", seconds.encode()]:
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


def test_a_real_sigint_stops_a_local_command_and_the_next_one_never_starts() -> None:
    seconds = str(random.randint(100_000, 999_999))
    transport = LocalTransport(parse_address("local://"))
    with interrupt.on_sigint():
        running = ThreadPoolExecutor(1).submit(transport.run, f"sleep {seconds}", timeout=600)
        deadline = time.monotonic() + 20
        while not _sleepers(seconds) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # delivered to the main thread: a request, no raise
        with pytest.raises(Interrupted, match="killed"):
            running.result(timeout=30)
        with pytest.raises(Interrupted, match="not started"):
            transport.run("true")
    assert _sleepers(seconds) == []
    assert not interrupt.requested()  # the next piece of work starts afresh
    assert transport.run("echo again").stdout == b"again\n"
