"""The lab's Dockerfile and build context, rendered from a validated ``LabSpec``.

Nothing from a spec is pasted into Dockerfile text except values that matched a full pattern
(package pins, service names); setup steps travel as script files in the context
(``setup/NN.sh``), each copied in and run on its own layer, then removed. A line break in an
instruction is refused, whatever its origin.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path, PurePosixPath

from remotefix.errors import LabError
from remotefix.lab import systemd
from remotefix.lab.spec import LabSpec
from remotefix.lab.versions import Choice

INIT_PATH = "/usr/local/sbin/remotefix-lab-init"
INIT_SCRIPT = Path(__file__).with_name("lab-init.sh")
SETUP_DIR = "/tmp/remotefix-setup"  # noqa: S108 (inside the image being built)


def render_dockerfile(
    index: str, spec: LabSpec, choices: dict[str, Choice], tooling: tuple[str, ...]
) -> str:
    """The lab's Dockerfile: packages, then files, then setup scripts, then the init.

    Setup steps never become Dockerfile text: each is a script in the context
    (``setup/NN.sh``, see ``setup_scripts``), copied in and run on its own layer. A systemd
    lab installs systemd (unless the spec pins it) and boots ``/lib/systemd/systemd``.
    """
    pins = [c.pin for c in choices.values()] + list(tooling)
    if spec.init == "systemd":
        pins += [p for p in systemd.PACKAGES if p not in choices]
    lines = [f"FROM {index}"]
    if pins:
        lines.append(
            "RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && "
            "chmod +x /usr/sbin/policy-rc.d && DEBIAN_FRONTEND=noninteractive apt-get install "
            f"-y -q --no-install-recommends --allow-downgrades {sh_words(pins)} && "
            "rm -f /usr/sbin/policy-rc.d"
        )
    if spec.files:
        lines.append("COPY files/ /")
    for name in setup_scripts(spec):
        script = f"{SETUP_DIR}/{PurePosixPath(name).name}"
        lines.append(f"COPY {name} {script}")
        lines.append(f'RUN ["/bin/sh", "-c", "{script} && rm -rf {SETUP_DIR}"]')
    if spec.init == "systemd":
        lines += systemd.dockerfile_lines()
    else:
        lines.append(f"COPY lab-init.sh {INIT_PATH}")
        lines.append(f"ENV REMOTEFIX_LAB_SERVICES={json.dumps(' '.join(spec.services))}")
        lines.append(f'CMD ["{INIT_PATH}"]')
    return "".join(_instruction(line) for line in lines)


def setup_scripts(spec: LabSpec) -> dict[str, bytes]:
    """Each setup step as an executable script for the build context, in order.

    A step with its own ``#!`` line runs with that interpreter; any other runs with ``sh -e``,
    so a failing line of a multi-line step fails the build at that step.
    """
    scripts = {}
    for number, step in enumerate(spec.setup, start=1):
        body = step if step.startswith("#!") else f"#!/bin/sh -e\n{step}"
        scripts[f"setup/{number:02d}.sh"] = (body.rstrip("\n") + "\n").encode()
    return scripts


def setup_notes(spec: LabSpec) -> dict[str, str]:
    """Text of a build step's line -> which setup step it runs (for build error messages)."""
    return {
        f"/{PurePosixPath(name).name} ": f"setup step {n}: {step.strip().splitlines()[0][:100]}"
        for n, (name, step) in enumerate(zip(setup_scripts(spec), spec.setup, strict=True), 1)
    }


def _instruction(line: str) -> str:
    """One Dockerfile instruction; a line break inside would start an instruction of its own."""
    if "\n" in line or "\r" in line:
        raise LabError(f"refusing a Dockerfile line with a line break: {line[:80]!r}")
    return line + "\n"


def build_context(
    index: str,
    spec: LabSpec,
    files: dict[str, bytes],
    choices: dict[str, Choice],
    tooling: tuple[str, ...],
) -> dict[str, bytes]:
    context = {
        "Dockerfile": render_dockerfile(index, spec, choices, tooling).encode(),
        "lab-init.sh": INIT_SCRIPT.read_bytes(),
        **setup_scripts(spec),
    }
    if spec.init == "systemd":
        context |= systemd.build_files(spec.units, started_units(spec))
    for dest, data in files.items():
        context["files" + str(PurePosixPath(dest))] = data
    return context


def init_digest(spec: LabSpec) -> str:
    """Hash of the init assets the image gets (part of the build recipe, so of the tag)."""
    if spec.init != "systemd":
        return hashlib.sha256(INIT_SCRIPT.read_bytes()).hexdigest()[:12]
    digest = hashlib.sha256("\n".join(systemd.dockerfile_lines()).encode())
    for _, data in sorted(systemd.build_files({}, []).items()):
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def started_units(spec: LabSpec) -> list[str]:
    """Units a systemd lab starts after boot: those the customer ran without enabling them."""
    return [name for name in spec.services if spec.units.get(name) != "enabled"]


def sh_words(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)
