"""Latency of one command over remotefix's reused SSH connection vs a fresh OpenSSH `ssh host true`.

Starts its own sshd on 127.0.0.1 (throw-away keys) and prints medians; no network beyond loopback.
Run: .venv/bin/python bench/ssh_latency.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix.transports.ssh import SSHTransport
from tests.fixtures.sshd import start_sshd


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _openssh_multiplexed(argv: list[str], control: Path, runs: int) -> list[float]:
    """The fair comparison: OpenSSH also reusing one connection (ControlMaster)."""
    base = [*argv[:-1], "-o", f"ControlPath={control}"]
    subprocess.run([base[0], "-MNf", *base[1:]], check=True)
    try:
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([*base, "true"], check=True, capture_output=True)
            samples.append(time.perf_counter() - t0)
        return samples
    finally:
        subprocess.run([base[0], "-O", "exit", *base[1:]], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_sshd(Path(tmp) / "sshd") as server:
        known = Path(tmp) / "known_hosts"
        known.write_text(server.known_hosts_line + "\n")
        started = time.perf_counter()
        transport = SSHTransport(server.target(), known_hosts_files=[known], use_agent=False)
        transport.run("true")
        first = time.perf_counter() - started
        reused = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            transport.run("true").check()
            reused.append(time.perf_counter() - t0)
        transport.close()
        fresh = []
        argv = [
            "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known}", "-i", str(server.client_key.private),
            "-p", str(server.port), "root@127.0.0.1", "true",
        ]  # fmt: skip
        for _ in range(max(args.runs // 2, 5)):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            fresh.append(time.perf_counter() - t0)
        muxed = _openssh_multiplexed(argv, Path(tmp) / "cm", max(args.runs // 2, 5))
    print(f"remotefix first command (connect + auth + run): {first * 1000:7.1f} ms")
    print(f"remotefix reused connection, median of {len(reused)}:  {_median_ms(reused):7.1f} ms")
    print(f"OpenSSH fresh `ssh host true`, median of {len(fresh)}: {_median_ms(fresh):7.1f} ms")
    print(f"OpenSSH ControlMaster (reused), median of {len(muxed)}: {_median_ms(muxed):7.1f} ms")
    print(f"speed-up vs fresh ssh per command: {_median_ms(fresh) / _median_ms(reused):.1f}x")


if __name__ == "__main__":
    main()
