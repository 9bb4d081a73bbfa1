"""``CommandResult``: what running one command on a target gave back."""

from __future__ import annotations

from dataclasses import dataclass

from remotefix.errors import CommandFailed

DEFAULT_OUTPUT_CAP = 16 * 1024 * 1024
"""Bytes kept per stream (stdout, stderr) before output is cut and ``truncated`` set."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command. ``run()`` returns it; it never raises on a non-zero exit.

    ``exit_code`` is None when the command was stopped (``timed_out``) before it reported one.
    ``truncated`` is True when either stream passed the output cap and was cut.
    """

    command: str
    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    duration_s: float = 0.0
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    def check(self) -> CommandResult:
        """Return self when the command succeeded, else raise ``CommandFailed`` carrying it."""
        if not self.ok:
            raise CommandFailed(self)
        return self
