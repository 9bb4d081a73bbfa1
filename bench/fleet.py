"""`remotefix diagnose -i INVENTORY --forks N` over hundreds of hosts: wall time and peak RSS.

Starts a few real OpenSSH sshd on 127.0.0.1 (throw-away host and client keys, as the tests do)
and writes an inventory of many host aliases spread over them, then runs the CLI as a fresh
process per fleet size and reads that process's peak RSS from wait4(). Each run prints one row:
hosts, forks, wall time, peak RSS, RSS per host above a 1-host run, ok / failed / retried.
Everything it makes lives in one temporary folder, removed at the end.
`--baseline DIR` runs another checkout's code (e.g. main) on the same sshds right before ours.
Run: .venv/bin/python bench/fleet.py [--hosts 1,100,500] [--sshd 4] [--forks 32] [--only os]
     [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix.consent import ConsentStore, Scope
from remotefix.workspace import Workspace
from tests.fixtures.sshd import Sshd, start_sshd

ROOT = Path(__file__).resolve().parents[1]


def _inventory(path: Path, sshds: list[Sshd], hosts: int) -> None:
    lines = ["[fleet]"]
    for i in range(hosts):
        s = sshds[i % len(sshds)]
        lines.append(f"h{i:04d} ansible_host=127.0.0.1 ansible_port={s.port} ansible_user=root "
                     f"ansible_ssh_private_key_file={s.client_key.private}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, int, list[dict[str, object]]]:
    """Wall seconds, peak RSS (KiB) and the parsed --json rows of one CLI process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped by wait4
        wall = time.perf_counter() - t0
        out.seek(0)
        rows = json.loads(out.read() or b"[]")
    return wall, usage.ru_maxrss, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", default="1,100,500", help="fleet sizes, comma-separated")
    parser.add_argument("--sshd", type=int, default=4, help="sshd processes the hosts share")
    parser.add_argument("--forks", type=int, default=32)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", action="append", default=[], help="collector (repeatable)")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured alongside")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="remotefix-bench-fleet-"))
    env = {**os.environ, "REMOTEFIX_HOME": str(tmp / "home")}
    print(f"load average {os.getloadavg()[0]:.1f}; {args.sshd} sshd", file=sys.stderr)
    try:
        with contextlib.ExitStack() as stack:
            sshds = [stack.enter_context(start_sshd(tmp / f"sshd{i}", log_level="ERROR"))
                     for i in range(args.sshd)]  # fmt: skip
            ws = Workspace(tmp / "home").ensure()
            ws.known_hosts.write_text("".join(s.known_hosts_line + "\n" for s in sshds))
            ConsentStore(ws).grant("BENCH", ["127.0.0.1"], Scope.DIAGNOSE, timedelta(hours=2),
                                   "bench", "bench")  # fmt: skip
            trees = ([args.baseline] if args.baseline else []) + [ROOT]
            rows = [_fleet(args, {**env, "PYTHONPATH": str(tree)}, tmp, sshds, int(n), tree)
                    for n in args.hosts.split(",") for tree in trees]  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print(rows)


Row = tuple[str, int, int, float, int, int, int, int]


def _fleet(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, sshds: list[Sshd], hosts: int,
    tree: Path,
) -> Row:  # fmt: skip
    inventory = tmp / f"hosts-{hosts}.ini"
    _inventory(inventory, sshds, hosts)
    out = tmp / f"bundles-{hosts}"
    only = [w for name in args.only for w in ("--only", name)]
    argv = [sys.executable, "-m", "remotefix", "--json", "diagnose", "-i", str(inventory),
            "--case", "BENCH", "--profile", args.profile, *only, "--forks", str(args.forks),
            "-o", str(out)]  # fmt: skip
    print(f"{hosts} hosts ({tree}) …", file=sys.stderr)
    wall, rss, result = _run(argv, env)
    ok = sum(1 for r in result if r.get("ok"))
    retried = sum(1 for r in result if r.get("retries") or "attempts" in str(r.get("error")))
    if out.is_dir():
        shutil.rmtree(out, ignore_errors=True)
    out.unlink(missing_ok=True)  # one host: -o is the bundle file
    return tree.name, hosts, args.forks, wall, rss, ok, len(result) - ok, retried


def _print(rows: list[Row]) -> None:
    base = {tree: rss for tree, hosts, _, _, rss, *_ in rows if hosts == 1}
    print(f"{'code':<10} {'hosts':>6} {'forks':>6} {'wall':>8} {'peak RSS':>10} {'per host':>9}"
          f" {'ok':>5} {'failed':>7} {'retried':>8}")  # fmt: skip
    for tree, hosts, forks, wall, rss, ok, failed, retried in rows:
        per = f"{(rss - base[tree]) / (hosts - 1):.0f} KiB" if hosts > 1 and tree in base else "-"
        print(f"{tree:<10} {hosts:>6} {forks:>6} {wall:>7.1f}s {rss / 1024:>7.1f} MiB {per:>9}"
              f" {ok:>5} {failed:>7} {retried:>8}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
