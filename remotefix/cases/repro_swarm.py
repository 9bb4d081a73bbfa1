"""Reproduce a matrix cell as a swarm job: the same lab image, the same steps, the same verdict.

The cell's lab image is built (or found) by the manager's daemon and published to the registry
under its spec hash; one swarm job runs the case's steps in a task of it, wherever Swarm puts it.
Its record is replayed through a ``Session`` into ``run_steps``, the code a local lab uses, so the
verdict, the audit records of every step and the evidence file are made exactly as locally. The
job's intent is audited before the service is created.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from types import MappingProxyType

from remotefix.cases.model import KnownIssue
from remotefix.cases.repro import ReproResult, case_spec, run_steps, save_evidence
from remotefix.consent import Scope
from remotefix.dockerapi import RUN_ENV, RUN_LABEL
from remotefix.errors import DependencyError, RemotefixError
from remotefix.lab import labs
from remotefix.lab.build import build_lab_image
from remotefix.lab.catalog import Catalog
from remotefix.lab.runtime_swarm import JobRequest, SwarmRuntime, job_name
from remotefix.lab.swarm_job import JobRecord, JobStep, RecordedTransport
from remotefix.progress import Progress, quiet
from remotefix.session import Session
from remotefix.targets import Target
from remotefix.workspace import Workspace

OS_LABEL = "remotefix.os"


def swarm_target(service: str) -> Target:
    """The job as a target: engineer-owned like a lab (audited, no consent)."""
    options = MappingProxyType({"lab": "1", "runtime": "swarm"})
    return Target(name=service, connection="docker", host=service, options=options)


def swarm_reproducer(
    workspace: Workspace, runtime: SwarmRuntime, *, progress: Progress = quiet
) -> Callable[[KnownIssue, str], ReproResult]:
    """``(case, os) -> ReproResult`` on ``runtime``; every job of it shares one run id."""
    runtime.registry  # noqa: B018 (no registry: one ConfigError now, not one per cell)
    run_id = os.environ.get(RUN_ENV) or f"regress-{uuid.uuid4().hex[:12]}"
    catalog = Catalog.load()

    def reproduce(case: KnownIssue, on: str) -> ReproResult:
        started = time.monotonic()
        label, spec = case_spec(case, on, None)
        result = ReproResult(case.id, label, "ERROR", case.reproduces_on.get(label))
        try:
            owner = {labs.CASE_LABEL: case.id, labs.WORKSPACE_LABEL: labs.workspace_id(workspace)}
            image = build_lab_image(runtime, spec, labs.spec_files(spec), catalog, owner=owner,
                                    progress=progress).tag  # fmt: skip
            tags = {**owner, OS_LABEL: label, RUN_LABEL: run_id}
            name = job_name(f"repro-{case.id}-{label.split(':')[-1]}")
            record = _job(runtime, workspace, case, image, name, tags)
            if record.error:
                result.error = record.error
            else:
                target = swarm_target(name)
                replay = RecordedTransport(target, record)
                with Session(target, case=case.id, workspace=workspace, transport=replay) as s:
                    result.verdict, result.steps = run_steps(s, case)
        except DependencyError:
            raise  # no daemon, no manager, no registry: every cell would say so; say it once
        except RemotefixError as exc:
            result.error = str(exc).splitlines()[0]
        if result.verdict == "REPRODUCED":
            result.origin = "case setup"
        result.duration_s = round(time.monotonic() - started, 2)
        result.evidence = str(save_evidence(workspace, result))
        return result

    return reproduce


def _job(
    runtime: SwarmRuntime, workspace: Workspace, case: KnownIssue, image: str, name: str,
    labels: dict[str, str],
) -> JobRecord:  # fmt: skip
    """Audit the intent, then run the case's steps as one swarm job called ``name``."""
    steps = tuple(JobStep(run=s.run, file=s.file, timeout=s.timeout) for s in case.repro)
    shown = "; ".join(s.run or f"read {s.file}" for s in steps)
    with Session(swarm_target(name), case=case.id, workspace=workspace) as session:
        session.check_consent(Scope.FIX, attempted=shown)
        session.record_intent("swarm.job", shown, scope=Scope.FIX,
                              extra={"image": image, "service": name})  # fmt: skip
    return runtime.run_job(JobRequest(image, name, labels, steps, hostname=name[:63]))
