"""A swarm job's wire format, and the transport that answers from its record.

A job is a list of steps (a shell command with a timeout, or a file to read) that the task runs
itself (``swarm-job.py``): on a multi-node swarm the controller cannot exec into a task on
another node, so the task reports JSON lines on stdout and the controller reads them from the
service's logs. ``RecordedTransport`` then hands those results to the same ``Session`` and
verdict code a local lab uses, in order, so both give the same verdicts and audit records.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from remotefix.errors import LabError
from remotefix.result import DEFAULT_OUTPUT_CAP, CommandResult
from remotefix.targets import Target
from remotefix.transports.base import RemoteFile, RemotePathError

RUNNER = Path(__file__).with_name("swarm-job.py")
JOB_ENV = "REMOTEFIX_JOB"


@dataclass(frozen=True, slots=True)
class JobStep:
    """``run`` a shell command (killed at ``timeout``) or read ``file``; exactly one is set."""

    run: str | None = None
    file: str | None = None
    timeout: float = 60.0

    def wire(self) -> dict[str, object]:
        return {"file": self.file} if self.file else {"run": self.run, "timeout": self.timeout}


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What one step gave: ``missing`` is why a file could not be read (None: it was)."""

    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    duration_s: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """The steps that ran, in order (a timed-out step is the last); ``error``: why it stopped."""

    steps: tuple[StepRecord, ...] = ()
    error: str | None = None


def job_env(steps: Iterable[JobStep], *, init_wait: float = 60) -> str:
    """The ``$REMOTEFIX_JOB`` value the runner reads."""
    return json.dumps({"steps": [s.wire() for s in steps], "init_wait": init_wait})


def runner_argv() -> list[str]:
    """The task's command: the runner's source through the lab image's own Python."""
    return ["python3", "-c", RUNNER.read_text()]


def parse_record(lines: Iterable[str]) -> JobRecord:
    """The runner's JSON lines → a ``JobRecord``; no ``done`` line means the task was cut off."""
    streams: dict[tuple[int, str], list[bytes]] = {}
    steps: list[StepRecord] = []
    error: str | None = None
    done = False
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue  # not the runner's (a log driver's notice, a stray print)
        if not isinstance(item, dict):
            continue
        if "b64" in item:
            streams.setdefault((item["step"], item["stream"]), []).append(
                base64.b64decode(item["b64"])
            )
        elif "step" in item:
            steps.append(_step(item, streams))
        elif "error" in item:
            error = str(item["error"])
        done = done or bool(item.get("done"))
    if not done:
        error = error or "the task ended before reporting every step (killed, or its node failed)"
    return JobRecord(tuple(steps), error)


def _step(item: dict[str, object], streams: dict[tuple[int, str], list[bytes]]) -> StepRecord:
    number = item["step"]

    def joined(stream: str) -> bytes:
        return b"".join(streams.pop((number, stream), []))  # type: ignore[arg-type]

    if "missing" in item:
        return StepRecord(None, missing=str(item["missing"]))
    out = joined("file") if (number, "file") in streams else joined("out")
    code = item.get("exit")
    return StepRecord(
        exit_code=code if isinstance(code, int) else None,
        stdout=out,
        stderr=joined("err"),
        duration_s=float(item.get("duration_s") or 0.0),  # type: ignore[arg-type]
        timed_out=bool(item.get("timed_out")),
        truncated=bool(item.get("truncated")),
    )


@dataclass
class RecordedTransport:
    """Answers ``run``/``read_file`` from a finished job, step by step, in order."""

    target: Target
    record: JobRecord
    shell: Literal["posix", "powershell"] = "posix"
    _next: int = field(default=0)

    def _take(self, what: str) -> StepRecord:
        if self._next >= len(self.record.steps):
            raise LabError(f"swarm job has no result for {what}: {self.record.error or 'none'}")
        step = self.record.steps[self._next]
        self._next += 1
        return step

    def run(
        self, command: str, *, timeout: float = 60.0, stdin: bytes | None = None
    ) -> CommandResult:
        step = self._take(command)
        return CommandResult(command, step.exit_code, step.stdout, step.stderr, step.duration_s,
                             step.timed_out, step.truncated)  # fmt: skip

    def read_file(self, path: str, *, max_bytes: int = DEFAULT_OUTPUT_CAP) -> RemoteFile:
        step = self._take(f"read {path}")
        if step.missing is not None:
            raise RemotePathError(f"{path}: {step.missing}")
        return RemoteFile(
            path, step.stdout[:max_bytes], step.truncated or len(step.stdout) > max_bytes
        )

    def close(self) -> None:
        """Nothing to release: the task is gone."""
