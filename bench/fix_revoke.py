"""How long a `consent revoke` takes to stop a running fix.

A real sshd on 127.0.0.1 (tests/fixtures/sshd.py, throw-away keys and workspace), a playbook of
TASKS shell tasks that each sleep SLEEP seconds, run through `remotefix fix` (the CLI, a fresh
process). Each run revokes the grant with `remotefix consent revoke` (also a fresh process) at a
random moment inside one of the apply tasks, then reports:
  * revoke -> stop:        from the revoke command's start to `remotefix fix` exiting
  * task end -> stop:      from the end of the task that was running to `remotefix fix` exiting
                           (the guard's own cost: the current task is let finish, the next one
                           never starts)
Run: .venv/bin/python bench/fix_revoke.py [--runs 5] [--tasks 6] [--sleep 2]

Measured (2 CPUs shared with other jobs, load ~8; 7 runs, tasks of 2 s): revoke -> stop median
2.85 s (min 1.32, max 4.05), task end -> stop median 1.22 s (min 0.85, max 3.83); in every run
the next task never started. Under load ~20 the same was 6.8 s / 5.1 s (median of 5).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix.consent import ConsentStore, Scope
from remotefix.workspace import HOME_ENV, Workspace
from tests.fixtures.sshd import start_sshd

CLI = [sys.executable, "-m", "remotefix"]


def one_run(tmp: Path, tasks: int, sleep: float, run: int) -> tuple[float, float]:
    home = tmp / f"home{run}"
    env = {**os.environ, HOME_ENV: str(home)}
    with start_sshd(tmp / f"sshd{run}") as sshd:
        ws = Workspace(home).ensure()
        ws.known_hosts.write_text(sshd.known_hosts_line + "\n")
        grant = ConsentStore(ws).grant(
            "C-BENCH", [sshd.address], Scope.FIX, timedelta(minutes=10), "bench", "bench"
        )
        marks = tmp / f"marks{run}"
        marks.mkdir()
        body = "".join(
            f"    - name: task {i}\n      ansible.builtin.shell: "
            f"touch {marks}/start{i} && sleep {sleep} && touch {marks}/end{i}\n"
            "      changed_when: false\n"
            for i in range(tasks)
        )
        playbook = tmp / f"slow{run}.yml"
        playbook.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{body}")
        address = f"{sshd.address}?identity_file={sshd.client_key.private}"
        fix = subprocess.Popen(
            [*CLI, "fix", str(playbook), address, "--case", "C-BENCH", "--yes",
             "-e", "ansible_python_interpreter=/usr/bin/python3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        victim = random.randrange(1, tasks - 1)  # apply phase; check mode skips shell tasks
        while not (marks / f"start{victim}").exists():
            time.sleep(0.01)
        time.sleep(random.uniform(0.1, sleep - 0.1))
        revoked_at = time.monotonic()
        subprocess.run([*CLI, "consent", "revoke", grant.id], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        _, err = fix.communicate(timeout=600)
        stopped_at = time.monotonic()
        ended = (marks / f"end{victim}").stat().st_mtime
        task_end_to_stop = time.time() - ended - (time.monotonic() - stopped_at)
        assert fix.returncode == 5, err
        assert not (marks / f"start{victim + 1}").exists(), "the next task started"
        return stopped_at - revoked_at, task_end_to_stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--sleep", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rf-bench-revoke-") as tmp:
        results = [one_run(Path(tmp), args.tasks, args.sleep, i) for i in range(args.runs)]
    for name, values in zip(("revoke -> stop", "task end -> stop"), zip(*results, strict=True),
                            strict=True):  # fmt: skip
        print(f"{name:18} median {statistics.median(values):.2f}s  "
              f"min {min(values):.2f}s  max {max(values):.2f}s  (n={len(values)})")  # fmt: skip
    print(f"(tasks sleep {args.sleep}s each; the running task is let finish, none after it starts)")


if __name__ == "__main__":
    main()
