"""systemd labs: how the container is started, what the image adds, how boot is awaited.

Start options follow the Docker host's cgroup version (``docker info``: ``CgroupVersion``):

* cgroup v1 (verified on these machines): ``--tmpfs /run --tmpfs /run/lock`` and
  ``/sys/fs/cgroup`` bound read-only; Docker's default (host) cgroup namespace.
* cgroup v2: systemd >= 248 must create its own cgroups (``init.scope``), and Docker mounts a
  private cgroup namespace read-only for any unprivileged container (moby#42275, moby#46763:
  a read-write cgroupfs needs ``--privileged``). What boots unprivileged is the host cgroup
  namespace with ``/sys/fs/cgroup`` bound read-write (the recipe those reports settle on). The
  lab's root can then write cgroup files of the host (still no extra capability).

Never ``--privileged``. The image is marked ``remotefix.init=systemd``, so a snapshot of a
systemd lab starts the same way.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from remotefix import dockerapi
from remotefix.errors import LabError
from remotefix.lab.runtime import Bind, LabRuntime, StartOptions

INIT_LABEL = "remotefix.init"
STATE_DIR = "/etc/remotefix-lab"
"""In a systemd image: ``units`` (what to enable/disable), ``start``, ``relaxed``, ``absent``."""
BOOT_SCRIPT = Path(__file__).with_name("lab-boot.sh")
UNITS_SCRIPT = Path(__file__).with_name("lab-units.sh")
BOOT_PATH = "/usr/local/sbin/remotefix-lab-boot"
UNITS_PATH = "/usr/local/sbin/remotefix-lab-units"
PACKAGES = ("systemd", "systemd-sysv")
BOOT_TIMEOUT = 90
CGROUPFS = "/sys/fs/cgroup"
RELAXED = "sandboxing relaxed in a container"
BOOT_UNIT = f"""[Unit]
Description=remotefix lab: authorised key, sshd for lab ssh, readiness
After=ssh.service network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={BOOT_PATH}

[Install]
WantedBy=multi-user.target
"""


def options_for(cgroup_version: str) -> StartOptions:
    """The start options of a systemd lab on a host of this cgroup version ("1" or "2")."""
    tmpfs = {"/run": "", "/run/lock": ""}
    if cgroup_version == "1":
        return StartOptions(tmpfs=tmpfs, binds=(Bind(CGROUPFS, CGROUPFS, read_only=True),))
    if cgroup_version == "2":
        binds = (Bind(CGROUPFS, CGROUPFS, read_only=False),)
        return StartOptions(tmpfs=tmpfs, binds=binds, cgroupns="host")
    raise LabError(
        f"the Docker host reports cgroup version {cgroup_version!r}: no systemd lab recipe for it",
        hint="use init: script in the lab spec",
    )


def start_options(runtime: LabRuntime, image: str) -> StartOptions | None:
    """How to start ``image``: systemd options when the image says so, else None."""
    found = runtime.image(image)
    if found is None or found.labels.get(INIT_LABEL) != "systemd":
        return None
    with dockerapi.docker_errors("reading the Docker host's cgroup version"):
        return options_for(str(dockerapi.client().info().get("CgroupVersion") or "1"))


def wait_booted(runtime: LabRuntime, name: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait (bounded) for ``systemctl is-system-running --wait``; ``running`` or ``degraded``
    (some unit failed, as it may on the customer) is booted; anything else is an error. Until
    systemd has made its socket and /run/systemd/system, systemctl cannot connect or says
    ``offline``: that is retried, not an answer."""
    deadline = time.monotonic() + timeout
    state = "no answer"
    while time.monotonic() < deadline:
        left = max(1, int(deadline - time.monotonic()))
        argv = ["systemctl", "is-system-running", "--wait"]
        with contextlib.suppress(LabError):  # the container may have just stopped
            text = runtime.exec(name, argv, timeout=left).text.strip()
            state = (text.splitlines() or ["no answer"])[-1]
            if state in ("running", "degraded"):
                return state
            if state != "offline" and "Failed to connect to bus" not in text:
                break
        found = runtime.get(name)
        if found is None or found.status == "exited":
            logs = runtime.logs(name, tail=5).strip() if found else ""
            raise LabError(f"lab {name}: systemd stopped while booting: {logs}")
        time.sleep(0.05)
    raise LabError(
        f"lab {name}: systemd did not finish booting in {timeout:.0f}s ({state})",
        hint=f"see: remotefix lab exec {name} -- systemctl list-jobs",
    )


def build_files(units: dict[str, str], start: list[str]) -> dict[str, bytes]:
    """Build-context files of a systemd lab (paths relative to the context's ``systemd/``)."""
    unit_lines = "".join(f"{name}\t{state}\n" for name, state in sorted(units.items()))
    return {
        "systemd/remotefix-lab.service": BOOT_UNIT.encode(),
        "systemd/boot.sh": BOOT_SCRIPT.read_bytes(),
        "systemd/units.sh": UNITS_SCRIPT.read_bytes(),
        "systemd/units": unit_lines.encode(),
        "systemd/start": "".join(f"{name}\n" for name in start).encode(),
    }


def dockerfile_lines() -> list[str]:
    """What a systemd lab's Dockerfile adds after the files and setup steps."""
    return [
        "COPY systemd/remotefix-lab.service /etc/systemd/system/remotefix-lab.service",
        f"COPY systemd/boot.sh {BOOT_PATH}",
        f"COPY systemd/units.sh {UNITS_PATH}",
        f"COPY systemd/units systemd/start {STATE_DIR}/",
        f'RUN ["{UNITS_PATH}"]',
        "STOPSIGNAL SIGRTMIN+3",
        f"LABEL {INIT_LABEL}=systemd",
        'CMD ["/lib/systemd/systemd"]',
    ]


def parse_relaxed(text: str) -> dict[str, list[str]]:
    """``relaxed``/``unworkable`` lines (``UNIT<TAB>DIRECTIVE``) → unit → directives."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        unit, _, directive = line.partition("\t")
        if unit and directive:
            out.setdefault(unit, []).append(directive)
    return out
