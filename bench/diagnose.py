"""`remotefix diagnose` vs `ansible -m setup` (1 and N hosts) and vs `sos report`, same containers.

Starts N customer containers (Debian 12, sshd on 127.0.0.1, throw-away keys), then times, as
fresh processes over fresh SSH connections (OpenSSH multiplexing off for Ansible, as remotefix
has none across runs):
  * quick fingerprint of 1 host:   remotefix diagnose --profile quick  vs  ansible -m setup
  * quick fingerprint of N hosts:  ... -i inventory --forks N          vs  ansible --forks N
  * quick fingerprint of a fleet:  --fleet M inventory names spread over the N containers,
                                   --forks F (default 100 names, 32 forks) vs  ansible --forks F
  * full bundle of 1 host:         remotefix diagnose --profile full   vs  sos report --batch
    (sos installed from Debian into one container first; that install is not timed)
`--baseline DIR` also times another checkout's remotefix (e.g. main) in the same run, on the same
containers, interleaved with ours. Times are medians of --runs (the fleet row: --fleet-runs).
Everything it starts is labelled `remotefix` and removed at the end.
Run: .venv/bin/python bench/diagnose.py [--hosts 16] [--runs 3] [--fleet 100] [--fleet-forks 32]
     [--fleet-runs 1] [--skip-sos] [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix import dockerapi
from remotefix.consent import ConsentStore, Scope
from remotefix.lab.catalog import Catalog
from remotefix.sandbox import Customer, start_customer, stop_customer
from remotefix.workspace import Workspace

BIN = Path(sys.executable).parent


def _timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _side_by_side(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median of each function, the functions taking turns so load changes hit them alike."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, mine in zip(fns, samples, strict=True):
            t0 = time.perf_counter()
            fn()
            mine.append(time.perf_counter() - t0)
    return [statistics.median(mine) for mine in samples]


def _run(argv: list[str], env: dict[str, str], timeout: float = 900) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-800:]}")


def _inventory(
    path: Path, customers: list[Customer], key: Path, known: Path, names: int = 0
) -> None:
    """One inventory name per container, or ``names`` names spread over the containers."""
    lines = ["[customers]"]
    for i in range(names or len(customers)):
        c = customers[i % len(customers)]
        name = f"{c.name}-{i:03d}" if names else c.name
        lines.append(f"{name} ansible_host=127.0.0.1 ansible_port={c.port} ansible_user=root "
                     f"ansible_ssh_private_key_file={key}")  # fmt: skip
    lines += ["[customers:vars]", f"ansible_ssh_common_args='-o UserKnownHostsFile={known}'",
              "ansible_python_interpreter=/usr/bin/python3"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fleet", type=int, default=100, help="names in the fleet row (0: none)")
    parser.add_argument("--fleet-forks", type=int, default=32)
    parser.add_argument("--fleet-runs", type=int, default=1)
    parser.add_argument("--skip-sos", action="store_true")
    parser.add_argument("--baseline", type=Path, help="another checkout, timed alongside")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="remotefix-bench-"))
    env = {
        **os.environ,
        "REMOTEFIX_HOME": str(tmp / "home"),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible"),
    }
    key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    api = dockerapi.client()
    base = Catalog.load().resolve("debian:12")
    names = [f"remotefix-bench-{uuid.uuid4().hex[:6]}-{i:02d}" for i in range(args.hosts)]
    customers: list[Customer] = []
    try:
        print(f"starting {args.hosts} customer containers …", file=sys.stderr)
        pub = key.with_suffix(".pub").read_text()
        customers = [start_customer(api, base, name=n, public_key=pub) for n in names]
        ws = Workspace(tmp / "home").ensure()
        known = ws.known_hosts
        known.write_text("".join(c.known_hosts_line + "\n" for c in customers))
        targets = [f"{c.name}*" for c in customers] + [c.address for c in customers]
        ConsentStore(ws).grant("BENCH", targets, Scope.DIAGNOSE, timedelta(hours=1), "bench", "b")
        inventory = tmp / "hosts.ini"
        _inventory(inventory, customers, key, known)
        _inventory(tmp / "fleet.ini", customers, key, known, names=args.fleet)
        load = os.getloadavg()[0]
        rows = _measure(args, env, tmp, customers, inventory, key)
    finally:
        for n in names:
            stop_customer(api, n)
        shutil.rmtree(tmp, ignore_errors=True)
    _print(rows, baseline=args.baseline)
    print(f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
          f"medians of {args.runs} runs (fleet row: {args.fleet_runs})")  # fmt: skip


Row = tuple[str, float, float | None, float, str]  # measure, ours, baseline, other tool, tool


def _measure(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, customers: list[Customer],
    inventory: Path, key: Path,
) -> list[Row]:  # fmt: skip
    rf, first = str(BIN / "remotefix"), customers[0]
    one = f"{first.address}?identity_file={key}"
    out = tmp / "out"
    out.mkdir()
    n, fleet, forks = len(customers), tmp / "fleet.ini", args.fleet_forks
    trees = [Path(__file__).resolve().parents[1]] + ([args.baseline] if args.baseline else [])
    envs = [{**env, "PYTHONPATH": str(tree)} for tree in trees]

    def ours(*argv: str) -> list[Callable[[], None]]:
        return [lambda e=e: _run([rf, *argv], e) for e in envs]  # type: ignore[misc]

    def ansible(*argv: str) -> Callable[[], None]:
        return lambda: _run([str(BIN / "ansible"), *argv, "-m", "setup"], env)

    def row(name: str, mine: list[Callable[[], None]], other: Callable[[], None], tool: str,
            runs: int, other_runs: int | None = None) -> Row:  # fmt: skip
        print(f"timing {name} …", file=sys.stderr)
        times = _side_by_side(mine, runs)
        base = times[1] if len(times) > 1 else None
        return name, times[0], base, _timed(other, other_runs or runs), tool

    quick = ("--case", "BENCH", "--profile", "quick")
    rows = [
        row("quick fingerprint, 1 host", ours("diagnose", one, *quick, "-o", str(out / "q.tar.gz")),
            ansible(first.name, "-i", str(inventory)), "ansible -m setup", args.runs),
        row(f"quick fingerprint, {n} hosts (forks {n})",
            ours("diagnose", "-i", str(inventory), *quick, "--forks", str(n), "-o", str(out)),
            ansible("all", "-i", str(inventory), "--forks", str(n)), "ansible -m setup", args.runs),
    ]  # fmt: skip
    if args.fleet:
        rows.append(row(
            f"quick, {args.fleet} hosts on {n} (forks {forks})",
            ours("diagnose", "-i", str(fleet), *quick, "--forks", str(forks), "-o", str(out)),
            ansible("all", "-i", str(fleet), "--forks", str(forks)), "ansible -m setup",
            args.fleet_runs,
        ))  # fmt: skip
    if not args.skip_sos:
        print("installing sosreport in one container (not timed) …", file=sys.stderr)
        _run(["docker", "exec", first.name, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND="
              "noninteractive apt-get install -y -qq sosreport >/dev/null"], env)  # fmt: skip

        def sos() -> None:
            _run(["docker", "exec", first.name, "sos", "report", "--batch", "--tmp-dir", "/var/tmp",  # noqa: S108 (inside the container)
                  "--quiet"], env)  # fmt: skip

        full = ours("diagnose", one, "--case", "BENCH", "--profile", "full",
                    "-o", str(out / "f.tar.gz"))  # fmt: skip
        rows.append(row("full bundle, 1 host", full, sos, "sos report --batch", args.runs, 1))
    return rows


def _print(rows: list[Row], *, baseline: Path | None) -> None:
    label = (baseline.name if baseline else "baseline")[:10]
    print(f"{'measure':<38} {'remotefix':>10} {label:>10} {'other':>10} {'ratio':>7}  other tool")
    for name, mine, base, theirs, tool in rows:
        shown = f"{base:>9.2f}s" if base is not None else f"{'-':>10}"
        print(f"{name:<38} {mine:>9.2f}s {shown} {theirs:>9.2f}s {theirs / mine:>6.1f}x  {tool}")


if __name__ == "__main__":
    main()
