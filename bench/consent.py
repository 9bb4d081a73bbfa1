"""How long the door takes per command: one consent check, one audit append (intent record), and
the audit's command scrubber on 200 KB adversarial commands (it must stay linear).

Uses a throw-away workspace with 55 grants (50 for other cases). Prints medians; the unit tests no
longer assert timings. Run: .venv/bin/python bench/consent.py [--rounds 500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix.audit import AuditLog
from remotefix.consent import ConsentStore, Scope
from remotefix.redact_command import scrub_command
from remotefix.targets import parse_address
from remotefix.workspace import Workspace


def _median_ms(call: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


_HUGE_UNITS = [
    "x",
    "password",
    "a.",
    "--password ",
    "a ",
    "mysql -p",
    "http://",
    "-----BEGIN PRIVATE KEY-----",
]


def _scrub_worst_ms() -> tuple[str, float]:
    """The slowest of the adversarial 200 KB commands (each scrubbed 3 times, median)."""
    worst = ("", 0.0)
    for unit in _HUGE_UNITS:
        text = unit * (200_000 // len(unit))
        took = _median_ms(lambda text=text: scrub_command(text), 3)  # type: ignore[misc]
        worst = max(worst, (unit, took), key=lambda pair: pair[1])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp)).ensure()
        target = parse_address("ssh://root@web1.customer.example:22")
        with ConsentStore(workspace) as store:
            for i in range(50):
                store.grant(f"other-{i}", ["*"], Scope.DIAGNOSE, timedelta(hours=1), "B", "T")
            for _ in range(5):
                store.grant("C-1", ["db*", "*.customer.example"], Scope.FIX, timedelta(hours=1),
                            "Alice", "TCK-1", sudo=True)  # fmt: skip
            check = _median_ms(lambda: store.check("C-1", target, Scope.FIX, sudo=True), rounds)
        log = AuditLog(workspace)
        append = _median_ms(lambda: log.append(action="run.intent", case="C-1", target=target,
                                               command="uname -a"), rounds)  # fmt: skip
    print(f"consent check (55 grants): median {check:.3f} ms over {rounds} rounds")
    print(f"audit append (fsync'd):    median {append:.3f} ms over {rounds} rounds")
    unit, took = _scrub_worst_ms()
    print(f"scrub 200 KB command:      worst median {took:.1f} ms (unit {unit!r})")


if __name__ == "__main__":
    main()
