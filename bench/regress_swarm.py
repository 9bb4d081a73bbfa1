"""The regression matrix (every shipped case x Debian 11/12/13, --jobs 6), warm, on the local
engine and on the swarm runtime (the daemon must be a swarm manager; one node here), side by
side: medians of --runs runs each, after one untimed run per runtime that fills the lab image
cache and the registry. Prints wall times and whether every verdict was as declared.
Run: .venv/bin/python bench/regress_swarm.py --registry 127.0.0.1:5000 [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _regress(extra: list[str]) -> tuple[float, int, int]:
    home = tempfile.mkdtemp(prefix="remotefix-bench-swarm-")
    env = {**os.environ, "REMOTEFIX_HOME": home}
    argv = [str(BIN / "remotefix"), "--json", "regress", "--jobs", "6", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    rows = json.loads(done.stdout) if done.stdout.strip().startswith("[") else []
    if not rows:
        print(f"  no matrix ({' '.join(extra) or 'local'}): {done.stderr.strip()[-300:]}")
    return elapsed, len(rows), sum(1 for r in rows if r["as_declared"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registry", required=True, help="HOST:PORT of a running registry")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runtimes = {"local": [], "swarm": ["--runtime", "swarm", "--registry", args.registry]}
    print(f"{'runtime':<8} {'median s':>9} {'runs':>24}  cells as declared")
    for name, extra in runtimes.items():
        _regress(extra)  # warm-up: lab images built, registry filled
        runs = [_regress(extra) for _ in range(args.runs)]
        times = " ".join(f"{t:.1f}" for t, _, _ in runs)
        worst = min(runs, key=lambda r: r[2])
        print(f"{name:<8} {statistics.median(t for t, _, _ in runs):>9.1f} {times:>24}"
              f"  {worst[2]}/{worst[1]}")  # fmt: skip


if __name__ == "__main__":
    main()
