"""Reproduce a known issue: a lab for one matrix entry (or from a customer bundle), the case's
steps through the audited session, a verdict with evidence saved under the case.

REPRODUCED: every expectation held. NOT_REPRODUCED: the steps ran and some expectation did not
hold. ERROR: the lab could not be made, a step without expectations failed, or a step timed out;
an ERROR is never counted as either of the others.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from remotefix.cases.model import KnownIssue, Step
from remotefix.collect.bundle import open_bundle, safe_name
from remotefix.consent import Scope
from remotefix.errors import DependencyError, RemotefixError
from remotefix.lab import labs
from remotefix.lab.catalog import Catalog
from remotefix.lab.plan import plan_lab
from remotefix.lab.spec import LabSpec
from remotefix.progress import quiet
from remotefix.session import Session
from remotefix.transports.base import RemotePathError
from remotefix.workspace import Workspace

Verdict = Literal["REPRODUCED", "NOT_REPRODUCED", "ERROR"]
CUSTOMER_STATE = "customer state"
CASE_SETUP = "case setup"
Keep = Literal["always", "never", "on-failure"]
EXCERPT = 2000


@dataclass
class StepResult:
    name: str
    command: str
    exit_code: int | None
    duration_s: float
    output: str
    met: bool | None
    problems: list[str] = field(default_factory=list)
    timed_out: bool = False


@dataclass
class ReproResult:
    case: str
    on: str
    verdict: Verdict
    expected: bool | None
    steps: list[StepResult] = field(default_factory=list)
    lab: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    evidence: str | None = None
    origin: str | None = None
    """Where the symptom came from: the customer's collected state, or the case's own setup."""
    for_case: str | None = None
    """The support case this reproduction was made for (its audit timeline shows it)."""

    @property
    def as_declared(self) -> bool:
        """The verdict matches the case's ``reproduces_on`` (no declaration: not an ERROR)."""
        if self.verdict == "ERROR":
            return False
        return self.expected is None or self.expected == (self.verdict == "REPRODUCED")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "as_declared": self.as_declared}


def run_steps(session: Session, case: KnownIssue) -> tuple[Verdict, list[StepResult]]:
    """Run the case's steps on whatever ``session`` reaches (a lab, or a customer under consent)."""
    results: list[StepResult] = []
    for step in case.repro:
        result = _file_step(session, step) if step.file else _run_step(session, step)
        results.append(result)
        if result.timed_out or (result.met is None and result.problems):
            return "ERROR", results
    met = all(r.met is not False for r in results)
    return ("REPRODUCED" if met else "NOT_REPRODUCED"), results


def _run_step(session: Session, step: Step) -> StepResult:
    assert step.run is not None
    started = time.monotonic()
    result = session.run(step.run, scope=Scope.FIX, timeout=step.timeout, action="repro")
    output = result.stdout_text + result.stderr_text
    out = StepResult(step.name, step.run, result.exit_code, round(time.monotonic() - started, 3),
                     output[-EXCERPT:], None, timed_out=result.timed_out)  # fmt: skip
    if result.timed_out:
        out.problems.append(f"timed out after {step.timeout:.0f}s")
        return out
    if not step.expect:
        if result.exit_code != 0:
            out.problems.append(f"step failed (exit {result.exit_code}) and has no expectation")
        return out
    out.problems = _check_output(step.expect, result.exit_code, output)
    out.met = not out.problems
    return out


def _check_output(expect: dict[str, Any], code: int, output: str) -> list[str]:
    wrong = []
    want = expect.get("exit_code")
    if want is not None and not _exit_ok(want, code):
        wrong.append(f"exit code {code}, expected {want}")
    if "output_contains" in expect and str(expect["output_contains"]) not in output:
        wrong.append(f"output lacks {expect['output_contains']!r}")
    if "output_not_contains" in expect and str(expect["output_not_contains"]) in output:
        wrong.append(f"output contains {expect['output_not_contains']!r}")
    if "output_matches" in expect and not re.search(str(expect["output_matches"]), output, re.M):
        wrong.append(f"output does not match /{expect['output_matches']}/")
    return wrong


def _exit_ok(want: int | str, code: int) -> bool:
    if want == "zero":
        return code == 0
    if want == "nonzero":
        return code != 0
    return code == want


def _file_step(session: Session, step: Step) -> StepResult:
    assert step.file is not None
    started = time.monotonic()
    try:
        data: bytes | None = session.read_file(step.file, scope=Scope.DIAGNOSE).data
    except RemotePathError:  # missing, unreadable, a directory: "not there" for this check
        data = None
    exists = data is not None
    text = (data or b"").decode(errors="replace")
    wrong = []
    if "exists" in step.expect and bool(step.expect["exists"]) != exists:
        wrong.append(f"{step.file} {'exists' if exists else 'is missing'}")
    if "contains" in step.expect and str(step.expect["contains"]) not in text:
        wrong.append(f"{step.file} lacks {step.expect['contains']!r}")
    return StepResult(step.name, f"read {step.file}", None, round(time.monotonic() - started, 3),
                      text[-EXCERPT:], not wrong, wrong)  # fmt: skip


def case_spec(
    case: KnownIssue, on: str | None, bundle: Path | None, *, with_setup: bool = True
) -> tuple[str, LabSpec]:
    """The lab to reproduce on: the case's lab on a matrix OS, or a customer's bundle.

    From a bundle, ``with_setup=False`` is the customer's state alone (the case's packages only
    where the customer has them, at the customer's version); ``True`` adds the case's lab.
    """
    if bundle is None:
        base = on or case.matrix[-1]
        return base, case.lab_spec(base)
    opened = open_bundle(bundle)
    customer = opened.fingerprint.get("packages") or {}
    own = [p for p in (case.lab or {}).get("packages") or {} if p in customer]
    planned = plan_lab(opened.fingerprint, Catalog.load(), bundle=bundle.resolve(),
                       bundle_members=opened.members, packages=own,
                       manifest=opened.manifest)  # fmt: skip
    if not with_setup:
        return f"bundle:{bundle.name}", planned
    extra = case.lab_spec(planned.base)
    spec = LabSpec(
        base=planned.base, packages={**planned.packages, **extra.packages},
        files={**planned.files, **extra.files}, services=planned.services + extra.services,
        setup=planned.setup + extra.setup, bundle=planned.bundle, folder=extra.folder,
        withheld=planned.withheld,
    )  # fmt: skip
    return f"bundle:{bundle.name}", spec


def reproduce(
    case: KnownIssue, *, workspace: Workspace, on: str | None = None, bundle: Path | None = None,
    keep: Keep = "never", progress: Callable[[str], None] | None = None,
    for_case: str | None = None,
) -> ReproResult:  # fmt: skip
    """Bring up the lab, run the steps, decide, save the evidence; tear down per ``keep``.

    From a bundle the customer's state is tried first; the case's own setup is added only when
    that state does not show the symptom, and ``origin`` says which one did.
    """
    started = time.monotonic()
    owner = for_case or case.id
    ssh = keep != "never"  # a lab torn down afterwards is only exec'd into: no sshd wait
    result = _attempt(case, workspace, on, bundle, owner, progress, with_setup=bundle is None,
                      ssh=ssh)  # fmt: skip
    if bundle is not None and result.verdict == "NOT_REPRODUCED" and _adds_something(case):
        _down(result, workspace)
        result = _attempt(case, workspace, on, bundle, owner, progress, with_setup=True, ssh=ssh)
    if result.verdict == "REPRODUCED":
        result.origin = CASE_SETUP if bundle is None or result.origin else CUSTOMER_STATE
    else:
        result.origin = None
    result.for_case = for_case
    result.duration_s = round(time.monotonic() - started, 2)
    failed = not result.as_declared
    if keep == "never" or (keep == "on-failure" and not failed):
        _down(result, workspace)
    result.evidence = str(save_evidence(workspace, result))
    return result


def _adds_something(case: KnownIssue) -> bool:
    lab = case.lab or {}
    return bool(lab.get("setup") or lab.get("files") or lab.get("packages"))


def _attempt(
    case: KnownIssue, workspace: Workspace, on: str | None, bundle: Path | None, owner: str,
    progress: Callable[[str], None] | None, *, with_setup: bool, ssh: bool = True,
) -> ReproResult:  # fmt: skip
    """One lab, the steps, the verdict. The steps decide, not fidelity: it is left pending."""
    label, spec = case_spec(case, on, bundle, with_setup=with_setup)
    expected = case.reproduces_on.get(label) if bundle is None else None
    result = ReproResult(case.id, label, "ERROR", expected)
    where = ("setup" if with_setup else "bundle") if bundle else safe_name(label.split(":")[-1])
    name = f"repro-{case.id.lower()}-{where[:20]}-{uuid.uuid4().hex[:4]}"
    if bundle is not None and with_setup:
        result.origin = CASE_SETUP
    try:
        lab = labs.up(spec, workspace=workspace, name=name, case=owner, progress=progress or quiet,
                      check_fidelity=False, ssh=ssh)  # fmt: skip
        result.lab = lab.name
        with Session(lab.target, case=owner, workspace=workspace) as session:
            result.verdict, result.steps = run_steps(session, case)
    except DependencyError:
        raise  # no Docker: nothing can be reproduced anywhere, say so once (exit 6)
    except RemotefixError as exc:
        result.error = str(exc).splitlines()[0]
    return result


def _down(result: ReproResult, workspace: Workspace) -> None:
    if result.lab:
        labs.down(result.lab, workspace=workspace)
        result.lab = None


def save_evidence(workspace: Workspace, result: ReproResult) -> Path:
    folder = workspace.ensure().cases / safe_name(result.case) / "repro"
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{when}-{safe_name(result.on)}.json"
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    return path
