"""`remotefix diagnose` vs `ansible -m setup` (1 and N hosts) and vs `sos report`, same containers.

Starts N customer containers (Debian 12, sshd on 127.0.0.1, throw-away keys), then times, as
fresh processes over fresh SSH connections (OpenSSH multiplexing off for Ansible, as remotefix
has none across runs):
  * quick fingerprint of 1 host:   remotefix diagnose --profile quick  vs  ansible -m setup
  * quick fingerprint of N hosts:  ... -i inventory --forks N          vs  ansible --forks N
  * full bundle of 1 host:         remotefix diagnose --profile full   vs  sos report --batch
    (sos installed from Debian into one container first; that install is not timed)
Everything it starts is labelled `remotefix` and removed at the end.
Run: .venv/bin/python bench/diagnose.py [--hosts 16] [--runs 3] [--skip-sos]
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


def _run(argv: list[str], env: dict[str, str], timeout: float = 900) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-800:]}")


def _inventory(path: Path, customers: list[Customer], key: Path, known: Path) -> None:
    lines = ["[customers]"]
    for c in customers:
        lines.append(f"{c.name} ansible_host=127.0.0.1 ansible_port={c.port} ansible_user=root "
                     f"ansible_ssh_private_key_file={key}")  # fmt: skip
    lines += ["[customers:vars]", f"ansible_ssh_common_args='-o UserKnownHostsFile={known}'",
              "ansible_python_interpreter=/usr/bin/python3"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-sos", action="store_true")
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
        targets = [c.name for c in customers] + [c.address for c in customers]
        ConsentStore(ws).grant("BENCH", targets, Scope.DIAGNOSE, timedelta(hours=1), "bench", "b")
        inventory = tmp / "hosts.ini"
        _inventory(inventory, customers, key, known)
        rows = _measure(args, env, tmp, customers, inventory, key)
    finally:
        for n in names:
            stop_customer(api, n)
        shutil.rmtree(tmp, ignore_errors=True)
    _print(rows)


def _measure(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, customers: list[Customer],
    inventory: Path, key: Path,
) -> list[tuple[str, float, float, str]]:  # fmt: skip
    rf, first = str(BIN / "remotefix"), customers[0]
    one = f"{first.address}?identity_file={key}"
    out = tmp / "out"
    out.mkdir()
    n = len(customers)

    def rf_quick_one() -> None:
        _run([rf, "diagnose", one, "--case", "BENCH", "--profile", "quick",
              "-o", str(out / "q.tar.gz")], env)  # fmt: skip

    def ansible_one() -> None:
        _run([str(BIN / "ansible"), first.name, "-i", str(inventory), "-m", "setup"], env)

    def rf_quick_all() -> None:
        _run([rf, "diagnose", "-i", str(inventory), "--case", "BENCH", "--profile", "quick",
              "--forks", str(n), "-o", str(out)], env)  # fmt: skip

    def ansible_all() -> None:
        _run(
            [str(BIN / "ansible"), "all", "-i", str(inventory), "-m", "setup", "--forks", str(n)],
            env,
        )

    def rf_full() -> None:
        _run([rf, "diagnose", one, "--case", "BENCH", "--profile", "full",
              "-o", str(out / "f.tar.gz")], env)  # fmt: skip

    rows = [
        ("quick fingerprint, 1 host", _timed(rf_quick_one, args.runs),
         _timed(ansible_one, args.runs), "ansible -m setup"),
        (f"quick fingerprint, {n} hosts (forks {n})", _timed(rf_quick_all, args.runs),
         _timed(ansible_all, args.runs), "ansible -m setup"),
    ]  # fmt: skip
    if not args.skip_sos:
        print("installing sosreport in one container (not timed) …", file=sys.stderr)
        _run(["docker", "exec", first.name, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND="
              "noninteractive apt-get install -y -qq sosreport >/dev/null"], env)  # fmt: skip

        def sos() -> None:
            _run(["docker", "exec", first.name, "sos", "report", "--batch", "--tmp-dir", "/var/tmp",  # noqa: S108 (inside the container)
                  "--quiet"], env)  # fmt: skip

        rows.append(("full bundle, 1 host", _timed(rf_full, args.runs), _timed(sos, 1),
                     "sos report --batch"))  # fmt: skip
    return rows


def _print(rows: list[tuple[str, float, float, str]]) -> None:
    print(f"{'measure':<34} {'remotefix':>10} {'other':>10} {'ratio':>7}  other tool")
    for name, ours, theirs, tool in rows:
        print(f"{name:<34} {ours:>9.2f}s {theirs:>9.2f}s {theirs / ours:>6.1f}x  {tool}")


if __name__ == "__main__":
    main()
