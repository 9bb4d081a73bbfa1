"""How close a lab is to the customer's machine: verified inside the running lab, not assumed.

After ``lab up`` the quick collectors run in the lab (through the audited session) and the lab's
fingerprint is compared with the customer's (or, for a hand-written spec, with what the spec
asks for): the OS release, every customer package (a pinned one ``exact`` or ``approximated``,
any other ``exact``, ``newer``, ``older`` or ``missing``), the copied files, and the services
(a systemd lab: every unit's active and enabled state). Each item is ``exact``, ``approximated``
(customer X, lab Y), ``newer``/``older``, ``missing`` (why) or ``not reproducible`` in a container
(kernel, hardware, clock); what the lab adds for access is ``added``. The score is the share of
exact items among all those a container can reproduce.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from debian.debian_support import Version

from remotefix.collect.runner import run_collectors
from remotefix.collect.specs import load_collectors, select_collectors
from remotefix.consent import Scope
from remotefix.fingerprint import build_fingerprint
from remotefix.lab import systemd
from remotefix.lab.versions import Choice
from remotefix.services import ServiceSource, ServiceState, services_of
from remotefix.session import Session

NOT_REPRODUCIBLE = "not reproducible"
SCORED = ("exact", "approximated", "newer", "older", "missing")
LAB_UNITS = ("remotefix-lab", "remotefix-lab-sshd")


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    name: str
    status: str
    customer: str | None = None
    lab: str | None = None
    note: str = ""
    asked: bool = True
    """False for what the spec did not ask for (an unpinned package): never a shortfall."""


@dataclass(frozen=True, slots=True)
class FileCheck:
    """What a copied file's check needs: its sha256 and whether secrets were redacted in it."""

    digest: str
    redacted: bool


def file_checks(files: dict[str, bytes]) -> dict[str, FileCheck]:
    """Each copied file's check (``path -> content`` in, ``path -> FileCheck`` out)."""
    return {
        path: FileCheck(hashlib.sha256(data).hexdigest(), b"[redacted-" in data)
        for path, data in files.items()
    }


@dataclass
class FidelityReport:
    items: list[Item] = field(default_factory=list)
    lab_fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        scored = [i for i in self.items if i.status in SCORED]
        return sum(i.status == "exact" for i in scored) / len(scored) if scored else 1.0

    @property
    def shortfalls(self) -> int:
        """What the spec asked for and the lab lacks (``lab up --keep on-failure``)."""
        return sum(i.status == "missing" and i.asked for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.status] = counts.get(item.status, 0) + 1
        return {
            "score": round(self.score, 3),
            "counts": counts,
            "shortfalls": self.shortfalls,
            "items": [asdict(i) for i in self.items],
        }


def quick_fingerprint(session: Session) -> dict[str, Any]:
    """The quick collectors, run through ``session`` (a lab or a customer), as a fingerprint."""
    collectors = select_collectors(load_collectors("linux"), profile="quick")
    collected = run_collectors(session, collectors, profile="quick")
    return build_fingerprint(collected.items)


def verify(
    session: Session,
    *,
    customer: dict[str, Any] | None,
    base_version: str,
    choices: dict[str, Choice],
    tooling: tuple[str, ...],
    files: dict[str, FileCheck],
    services: tuple[str, ...],
    withheld: dict[str, str] | None = None,
    init: str = "script",
) -> FidelityReport:
    """Measure the running lab behind ``session`` against the customer (or the spec)."""
    lab = quick_fingerprint(session)
    report = FidelityReport(lab_fingerprint=lab)
    report.items += _platform(customer, lab, base_version)
    report.items += _packages(customer, lab, choices)
    report.items += _unpinned(customer, lab, choices)
    report.items += [
        Item(
            "package", t, "added", None, lab.get("packages", {}).get(t), "installed for lab access"
        )
        for t in tooling
        if t not in (customer or {}).get("packages", {})
    ]
    report.items += _files(session, files)
    report.items += [
        Item("file", path, "missing", None, None, why)
        for path, why in sorted((withheld or {}).items())
    ]
    if init == "systemd":
        report.items += _boot(session, customer)
        report.items += _units(session, customer, lab)
    else:
        report.items += _services(session, services)
    return report


def _platform(customer: dict[str, Any] | None, lab: dict[str, Any], base: str) -> list[Item]:
    los = lab.get("os", {})
    if customer is None:
        status = "exact" if los.get("major") == base.split(":")[-1] else "missing"
        return [Item("os", "release", status, base, los.get("pretty_name"), "from the spec")]
    cos = customer.get("os", {})
    same = (cos.get("id"), cos.get("major")) == (los.get("id"), los.get("major"))
    point = cos.get("version") == los.get("version")
    status = "exact" if same and point else "approximated" if same else "missing"
    note = "" if status == "exact" else "point release differs" if same else "other OS release"
    items = [Item("os", "release", status, cos.get("version"), los.get("version"), note)]
    items.append(
        Item(
            "kernel",
            "kernel",
            NOT_REPRODUCIBLE,
            customer.get("kernel"),
            lab.get("kernel"),
            "a container shares the Docker host's kernel",
        )
    )
    arch_ok = customer.get("arch") == lab.get("arch")
    items.append(
        Item(
            "platform",
            "arch",
            "exact" if arch_ok else NOT_REPRODUCIBLE,
            customer.get("arch"),
            lab.get("arch"),
        )
    )
    if customer.get("init") != lab.get("init"):
        items.append(
            Item(
                "platform",
                "init",
                NOT_REPRODUCIBLE,
                customer.get("init"),
                lab.get("init"),
                "no systemd in the lab: services use init scripts",
            )
        )
    else:
        items.append(Item("platform", "init", "exact", customer.get("init"), lab.get("init")))
    items.append(
        Item("platform", "clock", NOT_REPRODUCIBLE, None, None, "the time is the Docker host's")
    )
    items.append(
        Item(
            "platform",
            "hardware",
            NOT_REPRODUCIBLE,
            customer.get("container"),
            lab.get("container"),
            "CPU, memory, disks and devices are the host's",
        )
    )
    return items


def _packages(
    customer: dict[str, Any] | None, lab: dict[str, Any], choices: dict[str, Choice]
) -> list[Item]:
    theirs = (customer or {}).get("packages", {})
    ours = lab.get("packages", {})
    items = []
    for name, choice in choices.items():
        wanted = theirs.get(name, choice.wanted)
        got = ours.get(name)
        if got is None and customer is not None and name not in theirs:
            items.append(
                Item(
                    "package",
                    name,
                    "exact",
                    None,
                    None,
                    "not fully installed on the customer nor in the lab",
                )
            )
        elif got is None:
            items.append(Item("package", name, "missing", wanted, None, "not installed in the lab"))
        elif wanted in ("*", got):
            items.append(Item("package", name, "exact", wanted, got))
        else:
            items.append(Item("package", name, "approximated", wanted, got, choice.note))
    return items


def _files(session: Session, files: dict[str, FileCheck]) -> list[Item]:
    if not files:
        return []
    paths = " ".join(shlex.quote(p) for p in sorted(files))
    result = session.run(
        f"sha256sum -- {paths} 2>/dev/null; true", scope=Scope.DIAGNOSE, action="lab-verify"
    )
    found = {}
    for line in result.stdout_text.splitlines():
        digest, _, path = line.partition("  ")
        found[path] = digest
    items = []
    for path, check in sorted(files.items()):
        want = check.digest
        if found.get(path) != want:
            items.append(
                Item(
                    "file",
                    path,
                    "missing",
                    want[:12],
                    (found.get(path) or "")[:12] or None,
                    "not in the lab" if path not in found else "content differs",
                )
            )
        elif check.redacted:
            items.append(
                Item(
                    "file",
                    path,
                    "approximated",
                    want[:12],
                    want[:12],
                    "copied from the bundle with secret values redacted",
                )
            )
        else:
            items.append(Item("file", path, "exact", want[:12], want[:12]))
    return items


def _services(session: Session, services: tuple[str, ...]) -> list[Item]:
    if not services:
        return []
    result = session.run(
        "cat /run/remotefix-lab/services", scope=Scope.DIAGNOSE, action="lab-verify"
    )
    states = {}
    for line in result.stdout_text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            states[parts[0]] = (parts[1], parts[2])
    items = []
    for name in services:
        state, detail = states.get(name, ("missing", "not started"))
        if state == "started":
            items.append(
                Item(
                    "service",
                    name,
                    "exact",
                    "running",
                    "running",
                    "started by its init script (no systemd)",
                )
            )
        else:
            items.append(Item("service", name, "missing", "running", state, detail))
    return items


def _unpinned(
    customer: dict[str, Any] | None, lab: dict[str, Any], choices: dict[str, Choice]
) -> list[Item]:
    """Every customer package the spec does not pin: exact, newer, older or missing."""
    ours = lab.get("packages", {})
    items = []
    for name, want in sorted((customer or {}).get("packages", {}).items()):
        got = ours.get(name)
        if name in choices:
            continue
        if got is None:
            note = "not installed in the lab (not pinned: lab plan --package NAME pins it)"
            items.append(Item("package", name, "missing", want, None, note, asked=False))
        elif got == want:
            items.append(Item("package", name, "exact", want, got, asked=False))
        else:
            newer = Version(got) > Version(want)
            items.append(Item("package", name, "newer" if newer else "older", want, got,
                              "not pinned: the base image's version", asked=False))  # fmt: skip
    return items


def _boot(session: Session, customer: dict[str, Any] | None) -> list[Item]:
    """systemd's overall state: ``degraded`` when a unit failed, on the customer as here."""
    got = _read(session, "systemctl is-system-running").strip() or "unknown"
    failed = [s for s in services_of(customer or {}) if s.state is ServiceState.FAILED]
    want = "degraded" if failed else "running"
    status = "exact" if got == want else "approximated"
    note = "" if status == "exact" else "systemd's state differs"
    return [Item("platform", "system state", status, want if customer else None, got, note)]


def _units(session: Session, customer: dict[str, Any] | None, lab: dict[str, Any]) -> list[Item]:
    """Every customer service unit, with what the lab's build relaxed or could not give."""
    relaxed = systemd.parse_relaxed(_read(session, f"cat {systemd.STATE_DIR}/relaxed"))
    unworkable = systemd.parse_relaxed(_read(session, f"cat {systemd.STATE_DIR}/unworkable"))
    return unit_items(customer, lab, relaxed, unworkable)


def unit_items(
    customer: dict[str, Any] | None,
    lab: dict[str, Any],
    relaxed: dict[str, list[str]],
    unworkable: dict[str, list[str]],
) -> list[Item]:
    """Every customer service unit: active and enabled state, as ``systemctl`` says in both."""
    here = {s.name: s for s in services_of(lab)}
    items = []
    for unit in services_of(customer or {}):
        if unit.source is not ServiceSource.SYSTEMD:
            continue
        got = here.get(unit.name)
        if got is None:
            note = "no such unit in the lab (its package or unit file is not there)"
            items.append(Item("unit", unit.name, "missing", unit.summary, None, note))
            continue
        same = (got.state, got.enabled) == (unit.state, unit.enabled)
        notes = []
        if unit.name in relaxed:
            notes.append(f"{systemd.RELAXED} ({', '.join(relaxed[unit.name])}=no)")
        if unit.name in unworkable:
            notes.append(f"{', '.join(unworkable[unit.name])} cannot work unprivileged")
        if not same:
            notes.append("state differs")
        status = "exact" if same and not notes else "approximated"
        items.append(Item("unit", unit.name, status, unit.summary, got.summary, "; ".join(notes)))
    for name in LAB_UNITS:
        if name in here:
            items.append(Item("unit", name, "added", None, here[name].summary, "lab access"))
    return items


def _read(session: Session, command: str) -> str:
    result = session.run(f"{command} 2>/dev/null; true", scope=Scope.DIAGNOSE, action="lab-verify")
    return result.stdout_text
