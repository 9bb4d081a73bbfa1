"""How long the door takes per command: one consent check, and one audit append (intent record).

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
from remotefix.targets import parse_address
from remotefix.workspace import Workspace


def _median_ms(call: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


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


if __name__ == "__main__":
    main()
