"""Lab build and start-up vs plain Docker, on the same run and the same base image.

  * cold build of a lab pinning 3 packages (fresh apt index, no cache)  vs  a hand-written
    Dockerfile (apt-get update + install of the same pinned versions) built with --no-cache
  * warm `lab up` (cached image, includes sshd start and the fidelity check) + first exec
    vs  `docker run -d` + `docker exec`
  * unchanged-spec rebuild (the cache lookup)
  * through the CLI, warm, non-systemd: `remotefix lab up SPEC` + `remotefix lab exec NAME -- true`
    as fresh processes (default: fidelity pending; and `lab up --fidelity`) vs `docker run -d` +
    `docker exec` of the same lab image, taking turns, medians of --runs (`--baseline DIR` adds
    another checkout's CLI, e.g. main, in the same run); `-v lab up` phases of the last run too
  * `--systemd`: the same for a warm systemd lab vs `docker run -d` with a systemd lab's options
    + `docker exec … systemctl is-system-running --wait`
Everything it creates is labelled `remotefix` and removed at the end.
Run: .venv/bin/python bench/lab.py [--runs 5] [--cli-only] [--systemd] [--baseline /other/checkout]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix import dockerapi
from remotefix.lab import labs
from remotefix.lab.build import build_lab_image, index_image, resolve_versions
from remotefix.lab.catalog import Catalog
from remotefix.lab.runtime_local import LocalRuntime
from remotefix.lab.spec import LabSpec
from remotefix.workspace import Workspace

PACKAGES = ("nginx", "curl", "jq")


def _clock(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


RAW_SYSTEMD = ("--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
               "--stop-signal", "SIGRTMIN+3")  # fmt: skip
"""What a systemd lab is started with on a cgroup v1 host (remotefix/lab/systemd.py)."""


def _cli(tree: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    rf = str(Path(sys.executable).parent / "remotefix")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([rf, *args], env=env, capture_output=True, check=check)


def _raw(image: str, systemd: bool) -> float:
    """``docker run -d`` + the first ``docker exec`` (systemd: ``is-system-running --wait``)."""
    t0 = time.perf_counter()
    run = ["docker", "run", "-d", "--name", "bench-raw-cli", "--label", "remotefix=1"]
    if systemd:
        subprocess.run([*run, *RAW_SYSTEMD, image], check=True, capture_output=True)
        wait = ["docker", "exec", "bench-raw-cli", "systemctl", "is-system-running", "--wait"]
        for _ in range(900):  # until systemd answers (before its bus is up it says "offline")
            state = subprocess.run(wait, capture_output=True, text=True).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.1)
    else:
        subprocess.run([*run, image, "sleep", "infinity"], check=True, capture_output=True)
        subprocess.run(["docker", "exec", "bench-raw-cli", "true"], check=True)
    seconds = time.perf_counter() - t0
    subprocess.run(["docker", "rm", "-f", "bench-raw-cli"], capture_output=True, check=True)
    return seconds


def _cli_warm(
    spec_file: Path, runs: int, variants: list[tuple[str, Path, tuple[str, ...]]], systemd: bool
) -> tuple[list[float], float, str, list[str]]:
    """Medians of CLI up + exec per variant (label, tree, extra `lab up` options) and of raw
    docker run + exec, the last -v phases of the first variant, and the images (to remove)."""
    samples: list[list[float]] = [[] for _ in variants]
    raw: list[float] = []
    phases = ""
    images: set[str] = set()
    for tree in {tree for _, tree, _ in variants}:  # bytecode, as an installed package has
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "remotefix")],
                       check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})  # fmt: skip
    for _label, tree, extra in variants:  # warm-up: each tree's image (its init) is built once
        done = _cli(tree, "--json", "lab", "up", str(spec_file), "--name", "bench-warm", *extra)
        images.add(json.loads(done.stdout)["image"])
        _cli(tree, "lab", "down", "bench-warm", "--keep-image")
    for i in range(runs):
        for (label, tree, extra), mine in zip(variants, samples, strict=True):
            name = f"bench-cli-{i}"
            t0 = time.perf_counter()
            done = _cli(tree, "-v", "lab", "up", str(spec_file), "--name", name, *extra)
            _cli(tree, "lab", "exec", name, "--", "true")
            mine.append(time.perf_counter() - t0)
            if label == variants[0][0]:  # ours: the baseline may not print phases
                phases = done.stderr.decode(errors="replace")
            _cli(tree, "lab", "down", name, "--keep-image")
        raw.append(_raw(sorted(images)[0], systemd))
    timed = "\n".join(line for line in phases.splitlines() if "s  " in line)
    return [statistics.median(m) for m in samples], statistics.median(raw), timed, sorted(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-only", action="store_true", help="only the warm CLI rows")
    parser.add_argument("--baseline", type=Path, help="another checkout, timed alongside")
    parser.add_argument("--systemd", action="store_true", help="also the warm systemd lab rows")
    args = parser.parse_args()
    api = dockerapi.client()
    runtime = LocalRuntime(client=api)
    catalog = Catalog.load()
    base = catalog.resolve("debian:12")
    home = Path(tempfile.mkdtemp(prefix="remotefix-bench-lab-"))
    os.environ["REMOTEFIX_HOME"] = str(home)
    ws = Workspace(home).ensure()
    index = index_image(runtime, base, catalog)
    versions = resolve_versions(runtime, index, dict.fromkeys(PACKAGES, "*"))
    pins = {n: str(c.version) for n, c in versions.items() if n in PACKAGES}
    sources = [
        s.format(mirror=catalog.default_mirror, suite=base.suite) for s in catalog.lab_sources
    ]
    spec = LabSpec(base=base.key, packages=pins)
    hand_tag = "remotefix-bench/hand:latest"
    made: list[str] = []
    trees = [Path(__file__).resolve().parents[1]] + ([args.baseline] if args.baseline else [])
    if args.cli_only:
        _cli_rows(spec, home, args.runs, trees, args.systemd)
        return
    try:
        cold = _clock(
            lambda: made.append(build_lab_image(runtime, spec, {}, catalog, refresh_index=True).tag)
        )
        pinned = " ".join(f"{n}={c.version}" for n, c in versions.items())
        listed = " ".join(f"'{line}'" for line in sources)
        tooling = " ".join(catalog.lab_tooling)  # the same tooling a lab gets
        dockerfile = (
            f"FROM {base.tag}\nRUN printf '%s\\n' {listed} > /etc/apt/sources.list.d/x.list && "
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
            f"apt-get install -y -q --no-install-recommends {pinned} {tooling}\n"
        )
        hand = _clock(
            lambda: api.images.build(
                fileobj=io.BytesIO(dockerfile.encode()),
                tag=hand_tag,
                nocache=True,
                rm=True,
                forcerm=True,
                labels=dockerapi.labels(),
            )
        )
        rebuild = _clock(lambda: build_lab_image(runtime, spec, {}, catalog))

        def lab_up_and_exec() -> None:
            lab = labs.up(spec, workspace=ws, name="bench-lab")
            subprocess.run(["docker", "exec", lab.name, "true"], check=True)

        warm = _clock(lab_up_and_exec)
        labs.down("bench-lab", workspace=ws)

        def raw() -> None:
            subprocess.run(
                [
                    "docker",
                    "run",
                    "-d",
                    "--name",
                    "bench-raw",
                    "--label",
                    "remotefix=1",
                    hand_tag,
                    "sleep",
                    "infinity",
                ],
                check=True,
                capture_output=True,
            )
            subprocess.run(["docker", "exec", "bench-raw", "true"], check=True)

        raw_s = _clock(raw)
    finally:
        subprocess.run(["docker", "rm", "-f", "bench-raw"], capture_output=True, check=False)
        labs.down("bench-lab", workspace=ws)
        for tag in [*made, hand_tag]:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
    print(f"{'measure':<44} {'remotefix':>10} {'docker':>10}  ratio/diff")
    print(f"{'cold build, 3 pinned packages':<44} {cold:>9.2f}s {hand:>9.2f}s  {cold / hand:.2f}x")
    print(
        f"{'warm up + first exec (incl. fidelity check)':<44} {warm:>9.2f}s {raw_s:>9.2f}s  "
        f"+{warm - raw_s:.2f}s"
    )
    print(f"{'unchanged-spec rebuild':<44} {rebuild:>9.2f}s {'':>10}")
    _cli_rows(spec, home, args.runs, trees, args.systemd)


def _cli_rows(spec: LabSpec, home: Path, runs: int, trees: list[Path], systemd: bool) -> None:
    spec_file = home / "spec.yaml"
    spec_file.write_text(
        f"base: {spec.base}\npackages:\n"
        + "".join(f"  {n}: '{v}'\n" for n, v in spec.packages.items())
    )
    ours, *others = trees
    variants = [("default", ours, ()), ("--fidelity", ours, ("--fidelity",))]
    variants += [(f"{tree.name} (baseline)", tree, ()) for tree in others]
    kinds = [("non-systemd", spec_file, False)]
    if systemd:
        systemd_file = home / "systemd.yaml"
        systemd_file.write_text("base: debian:12\ninit: systemd\nsetup: ['echo bench']\n")
        kinds.append(("systemd", systemd_file, True))
    for kind, path, boots in kinds:
        images: list[str] = []
        try:
            cli, raw, phases, images = _cli_warm(path, runs, variants, boots)
        finally:
            for image in images:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
        load = os.getloadavg()[0]
        first = "is-system-running --wait" if boots else "true"
        print(f"CLI, warm, {kind}: lab up + lab exec -- true vs docker run -d + docker exec "
              f"{first} (medians of {runs}; load {load:.1f})")  # fmt: skip
        for (label, _, _), seconds in zip(variants, cli, strict=True):
            print(f"  remotefix {label:<24} {seconds:>6.2f}s  raw docker {raw:.2f}s  "
                  f"+{seconds - raw:.2f}s")  # fmt: skip
        print(f"  phases of the last `-v lab up` ({variants[0][0]}):\n" + phases)


if __name__ == "__main__":
    main()
