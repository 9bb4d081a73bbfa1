"""Lab build and start-up vs plain Docker, on the same run and the same base image.

  * cold build of a lab pinning 3 packages (fresh apt index, no cache)  vs  a hand-written
    Dockerfile (apt-get update + install of the same pinned versions) built with --no-cache
  * warm `lab up` (cached image, includes sshd start and the fidelity check) + first exec
    vs  `docker run -d` + `docker exec`
  * unchanged-spec rebuild (the cache lookup)
  * through the CLI, warm, non-systemd: `remotefix lab up SPEC` + `remotefix lab exec NAME -- true`
    as fresh processes vs `docker run -d` + `docker exec` of the same lab image, taking turns,
    medians of --runs (`--baseline DIR` adds another checkout's CLI, e.g. main, in the same run);
    `-v lab up` phase timings of the last run are printed too
Everything it creates is labelled `remotefix` and removed at the end.
Run: .venv/bin/python bench/lab.py [--runs 5] [--cli-only] [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import io
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
from remotefix.lab.spec import LabSpec
from remotefix.workspace import Workspace

PACKAGES = ("nginx", "curl", "jq")


def _clock(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def _cli_warm(
    spec_file: Path, image: str, runs: int, trees: list[Path]
) -> tuple[list[float], float, str]:
    """Medians of CLI up + exec per tree and of raw docker run + exec, and the last -v phases."""
    rf = str(Path(sys.executable).parent / "remotefix")
    samples: list[list[float]] = [[] for _ in trees]
    raw: list[float] = []
    phases = ""
    for i in range(runs):
        for tree, mine in zip(trees, samples, strict=True):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            name = f"bench-cli-{i}"
            t0 = time.perf_counter()
            done = subprocess.run([rf, "-v", "lab", "up", str(spec_file), "--name", name],
                                  env=env, capture_output=True, check=True)  # fmt: skip
            subprocess.run([rf, "lab", "exec", name, "--", "true"], env=env, check=True)
            mine.append(time.perf_counter() - t0)
            if tree == trees[0]:  # ours: the baseline may not print phases
                phases = done.stderr.decode(errors="replace")
            subprocess.run([rf, "lab", "down", name], env=env, capture_output=True, check=True)
        t0 = time.perf_counter()
        subprocess.run(["docker", "run", "-d", "--name", "bench-raw-cli", "--label", "remotefix=1",
                        image, "sleep", "infinity"], check=True, capture_output=True)  # fmt: skip
        subprocess.run(["docker", "exec", "bench-raw-cli", "true"], check=True)
        raw.append(time.perf_counter() - t0)
        subprocess.run(["docker", "rm", "-f", "bench-raw-cli"], capture_output=True, check=True)
    timed = "\n".join(line for line in phases.splitlines() if "s  " in line)
    return [statistics.median(m) for m in samples], statistics.median(raw), timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-only", action="store_true", help="only the warm CLI rows")
    parser.add_argument("--baseline", type=Path, help="another checkout, timed alongside")
    args = parser.parse_args()
    api = dockerapi.client()
    catalog = Catalog.load()
    base = catalog.resolve("debian:12")
    home = Path(tempfile.mkdtemp(prefix="remotefix-bench-lab-"))
    os.environ["REMOTEFIX_HOME"] = str(home)
    ws = Workspace(home).ensure()
    index = index_image(api, base, catalog)
    versions = resolve_versions(api, index, dict.fromkeys(PACKAGES, "*"))
    pins = {n: str(c.version) for n, c in versions.items() if n in PACKAGES}
    sources = [
        s.format(mirror=catalog.default_mirror, suite=base.suite) for s in catalog.lab_sources
    ]
    spec = LabSpec(base=base.key, packages=pins)
    hand_tag = "remotefix-bench/hand:latest"
    made: list[str] = []
    trees = [Path(__file__).resolve().parents[1]] + ([args.baseline] if args.baseline else [])
    if args.cli_only:
        _cli_rows(api, spec, catalog, home, args.runs, trees)
        return
    try:
        cold = _clock(
            lambda: made.append(build_lab_image(api, spec, {}, catalog, refresh_index=True).tag)
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
        rebuild = _clock(lambda: build_lab_image(api, spec, {}, catalog))

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
    _cli_rows(api, spec, catalog, home, args.runs, trees)


def _cli_rows(
    api: object, spec: LabSpec, catalog: Catalog, home: Path, runs: int, trees: list[Path]
) -> None:
    image = build_lab_image(api, spec, {}, catalog)  # type: ignore[arg-type]
    spec_file = home / "spec.yaml"
    spec_file.write_text(
        f"base: {spec.base}\npackages:\n"
        + "".join(f"  {n}: '{v}'\n" for n, v in spec.packages.items())
    )
    try:
        cli, raw, phases = _cli_warm(spec_file, image.tag, runs, trees)
    finally:
        subprocess.run(["docker", "rmi", "-f", image.tag], capture_output=True, check=False)
    load = os.getloadavg()[0]
    print(f"CLI, warm, non-systemd: lab up + lab exec -- true (medians of {runs}; load {load:.1f})")
    for tree, seconds in zip(trees, cli, strict=True):
        print(f"  remotefix ({tree.name:<10}) {seconds:>6.2f}s  raw docker {raw:.2f}s  "
              f"+{seconds - raw:.2f}s")  # fmt: skip
    print("  phases of the last `-v lab up`:\n" + phases)


if __name__ == "__main__":
    main()
