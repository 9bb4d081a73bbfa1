"""One remote shell over pywinrm's low-level ``Protocol``, reused for every command.

``RemoteShell.execute`` is pywinrm's ``run_command`` + our own Receive loop + ``cleanup_command``:

* each Receive long-polls for at most ``min(operation_timeout, time left)``; a WS-Man
  OperationTimeout fault (pywinrm's ``WinRMOperationTimeoutError``) only means "no new output
  yet" and we poll again;
* output goes into ``CappedBuffer``s, and we keep draining past the cap until the command ends;
* at the caller's deadline, or on a Ctrl-C (``remotefix.interrupt``), the command is stopped
  (Signal terminate) and the partial output kept; a Receive waits at most ``STOP_POLL`` seconds
  so a Ctrl-C is noticed within that;
* stdin goes out in Send messages small enough for the default MaxEnvelopeSize, before any
  output is read (so a command that echoes megabytes of stdin could stall; keep stdin small).

Every method must be called inside ``translate_errors``: this module lets pywinrm raise.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import requests
import xmltodict
from spnego.exceptions import SpnegoError
from winrm.exceptions import WinRMError, WinRMOperationTimeoutError, WinRMTransportError
from winrm.protocol import Protocol

from remotefix.transports._killable import should_stop
from remotefix.transports._winrm_parse import parse_receive
from remotefix.transports.base import CappedBuffer

CMD_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
UTF8_CODEPAGE = 65001
STDIN_CHUNK = 64 * 1024
"""Raw stdin bytes per Send: base64 makes ~87 KB, well under the 150 KiB MaxEnvelopeSize."""
MIN_POLL = 0.5
"""Shortest OperationTimeout we ask for, in seconds."""
STOP_POLL = 2.0
"""Longest OperationTimeout we ask for: how long a Ctrl-C may wait for the Receive to return."""

# Whatever pywinrm raises for a failed request or an odd answer (it asserts RelatesTo and uses
# next() to find ids); only ever caught around cleanup_command, never around our own code.
_CLEANUP_ERRORS = (
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    requests.exceptions.RequestException,
    SpnegoError,
    ET.ParseError,
    AssertionError,
    StopIteration,
)


class RemoteShell:
    """A cmd shell (``rsp:Shell``) opened once with ``open()`` and deleted by ``close()``."""

    def __init__(self, protocol: Protocol, shell_id: str, operation_timeout: float) -> None:
        self.protocol = protocol
        self.shell_id = shell_id
        self.operation_timeout = operation_timeout

    @classmethod
    def open(cls, protocol: Protocol, operation_timeout: float) -> RemoteShell:
        """Create the remote shell (UTF-8 code page) or close the HTTP session and re-raise."""
        try:
            shell_id = protocol.open_shell(codepage=UTF8_CODEPAGE)
        except BaseException:
            protocol.transport.close_session()
            raise
        return cls(protocol, shell_id, operation_timeout)

    def execute(
        self,
        executable: str,
        arguments: Sequence[str],
        *,
        stdin: bytes | None,
        deadline: float,
        stdout: CappedBuffer,
        stderr: CappedBuffer,
    ) -> int | None:
        """Run one command to its end, its deadline or a Ctrl-C; the exit code (None: stopped)."""
        command_id = self.protocol.run_command(
            self.shell_id, executable, list(arguments), console_mode_stdin=stdin is None
        )
        must_stop = False
        try:
            if stdin is not None:
                self._send_stdin(command_id, stdin)
            code = self._receive(command_id, deadline, stdout, stderr)
            must_stop = code is None
        finally:
            # Only a failure to stop a timed-out command is worth an error of its own: after
            # Done the result stands, and after an error that error is the one to report.
            self._terminate(command_id, quiet=not must_stop)
        return code

    def close(self) -> None:
        """Delete the remote shell and close the HTTP session (its connections)."""
        self.protocol.close_shell(self.shell_id, close_session=True)

    def _send_stdin(self, command_id: str, data: bytes) -> None:
        chunks = [data[i : i + STDIN_CHUNK] for i in range(0, len(data), STDIN_CHUNK)] or [b""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self.protocol.send_command_input(self.shell_id, command_id, chunk, end=last)

    def _receive(
        self, command_id: str, deadline: float, stdout: CappedBuffer, stderr: CappedBuffer
    ) -> int | None:
        while True:
            if should_stop(deadline):
                return None
            left = deadline - time.monotonic()
            wait = min(self.operation_timeout, STOP_POLL, max(left, MIN_POLL))
            try:
                answer = self.protocol.send_message(self._receive_message(command_id, wait))
            except WinRMOperationTimeoutError:
                continue  # the normal long-poll answer: nothing new yet
            chunk = parse_receive(answer)
            for data in chunk.stdout:
                stdout.write(data)
            for data in chunk.stderr:
                stderr.write(data)
            if chunk.done:
                # Windows always sends ExitCode with Done; -1 marks a server that did not.
                return chunk.exit_code if chunk.exit_code is not None else -1

    def _receive_message(self, command_id: str, wait: float) -> str:
        envelope = self.protocol.build_wsman_header(
            action=RECEIVE, resource_uri=CMD_SHELL, shell_id=self.shell_id
        )
        envelope["env:Header"]["w:OperationTimeout"] = f"PT{wait:.3f}S"
        envelope["env:Body"] = {
            "rsp:Receive": {
                "rsp:DesiredStream": {"@CommandId": command_id, "#text": "stdout stderr"}
            }
        }
        return xmltodict.unparse({"env:Envelope": envelope})

    def _terminate(self, command_id: str, *, quiet: bool) -> None:
        """Signal terminate: ends a running command, releases a finished one's resources."""
        try:
            self.protocol.cleanup_command(self.shell_id, command_id)
        except _CLEANUP_ERRORS:
            if not quiet:
                raise
