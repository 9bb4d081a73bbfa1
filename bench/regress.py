"""The regression matrix over every shipped case x Debian 11/12/13: cold and warm, --jobs 1 and
the default. Cold = no lab images (the apt-index images and base images stay, as after setup);
warm = everything cached. Prints wall times and whether every verdict was as declared.
`--warm-only` removes no image (safe while others use the daemon): one run to warm the cache,
then the median of --runs warm runs.
Run: .venv/bin/python bench/regress.py [--skip-serial] [--warm-only [--runs 3]]
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


def _lab_images() -> list[str]:
    out = subprocess.run(
        ["docker", "images", "-q", "--filter", "label=remotefix.kind=lab-image"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(set(out.split()))


def _regress(jobs: int) -> tuple[float, int, int]:
    home = tempfile.mkdtemp(prefix="remotefix-bench-regress-")
    env = {**os.environ, "REMOTEFIX_HOME": home}
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "remotefix"), "--json", "regress", "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    rows = json.loads(done.stdout) if done.stdout.strip().startswith("[") else []
    return elapsed, len(rows), sum(1 for r in rows if r["as_declared"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-serial", action="store_true", help="Only the default --jobs.")
    parser.add_argument("--warm-only", action="store_true", help="Remove no image; warm runs.")
    parser.add_argument("--runs", type=int, default=3, help="Warm runs (with --warm-only).")
    args = parser.parse_args()
    print(f"{'run':<28} {'seconds':>8}  cells as declared")
    if args.warm_only:
        _regress(6)
        samples = [_regress(6) for _ in range(args.runs)]
        seconds = statistics.median(s for s, _, _ in samples)
        cells, good = samples[-1][1:]
        print(f"{f'warm, --jobs 6 (median of {args.runs})':<28} {seconds:>8.1f}  {good}/{cells}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        return
    for jobs in [6] if args.skip_serial else [1, 6]:
        images = _lab_images()
        if images:
            subprocess.run(["docker", "rmi", "-f", *images], capture_output=True, check=False)
        for label in ("cold", "warm"):
            seconds, cells, good = _regress(jobs)
            print(f"{label + f', --jobs {jobs}':<28} {seconds:>8.1f}  {good}/{cells}")


if __name__ == "__main__":
    main()
