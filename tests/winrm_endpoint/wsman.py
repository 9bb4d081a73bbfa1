"""The WS-Management shell service: Create / Command / Send / Receive / Signal / Delete.

State is shells (by ShellId) holding running commands (by CommandId). ``counts`` records every
action (and ``OperationTimeout`` faults) so tests can check, e.g., that one shell served N
commands. A Receive long-polls for the request's OperationTimeout and answers the recorded
Windows ``w:TimedOut`` fault (2150858793) when no output came.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter
from pathlib import Path

from tests.winrm_endpoint import soap
from tests.winrm_endpoint.commands import RunningCommand, stand_in_argv

MAX_RECEIVE = 64 * 1024
"""Raw output bytes per Receive answer (base64 keeps it under the client's MaxEnvelopeSize)."""
MAX_STREAM = 16 * 1024
"""Raw bytes per ``rsp:Stream`` element: an answer carries several, as Windows' do."""
DEFAULT_WAIT = 60.0
TERMINATE_CODES = ("/signal/terminate", "/signal/ctrl_c", "/signal/ctrl_break")

Reply = tuple[int, bytes]


class WSManService:
    """Shells and commands of one endpoint, driven by parsed SOAP requests."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.run_as: str | None = None
        """A local user the commands run as (e.g. ``nobody``), for errors root never meets."""
        self.counts: Counter[str] = Counter()
        self.commands: list[RunningCommand] = []
        self._shells: dict[str, dict[str, RunningCommand]] = {}
        self._lock = threading.Lock()

    def handle(self, data: bytes) -> Reply:
        """Answer one decrypted request body: (HTTP status, SOAP envelope)."""
        req = soap.parse_request(data)
        self.count(req.action)
        if req.resource_uri != soap.CMD_SHELL:
            return 500, soap.fault(
                req.message_id,
                code="s:Sender",
                subcode="w:DestinationUnreachable",
                reason="The WS-Management service does not support the specified resource URI.",
                wsman_code=2150858770,
            )
        action = getattr(self, f"_{req.action.lower()}", None)
        if action is None:
            return 500, soap.fault(
                req.message_id,
                code="s:Sender",
                subcode="a:ActionNotSupported",
                reason=f"The action {req.action} is not supported by the service.",
                wsman_code=2150858771,
            )
        return action(req)  # type: ignore[no-any-return]

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def forget_shells(self) -> None:
        """Drop every shell (as a restarted WinRM service would); kills their processes."""
        with self._lock:
            shells, self._shells = self._shells, {}
        for commands in shells.values():
            for command in commands.values():
                command.terminate()

    def close(self) -> None:
        self.forget_shells()

    def _create(self, req: soap.Request) -> Reply:
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = {}
        body = (
            "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address>"
            f"<a:ReferenceParameters><w:ResourceURI>{soap.CMD_SHELL}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            f"</a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}"
            f"</rsp:ShellId><rsp:ResourceUri>{soap.CMD_SHELL}</rsp:ResourceUri>"
            "<rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        )
        return 200, soap.envelope(f"{soap.TRANSFER}/CreateResponse", req.message_id, body)

    def _delete(self, req: soap.Request) -> Reply:
        with self._lock:
            commands = self._shells.pop(req.shell_id or "", None)
        if commands is None:
            return 500, soap.unknown_shell_fault(req.message_id, req.shell_id)
        for command in commands.values():
            command.terminate()
        return 200, soap.envelope(f"{soap.TRANSFER}/DeleteResponse", req.message_id, "")

    def _command(self, req: soap.Request) -> Reply:
        shell = self._shell(req)
        if shell is None:
            return 500, soap.unknown_shell_fault(req.message_id, req.shell_id)
        line = req.body.find(f"{{{soap.RSP}}}CommandLine") if req.body is not None else None
        if line is None:
            raise ValueError("Command without rsp:CommandLine")
        executable = line.findtext(f"{{{soap.RSP}}}Command") or ""
        arguments = " ".join(a.text or "" for a in line.iter(f"{{{soap.RSP}}}Arguments"))
        console = req.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() == "TRUE"
        command = RunningCommand(
            stand_in_argv(executable, arguments), pipe_stdin=not console,
            cwd=self.workdir if self.run_as is None else Path("/"), user=self.run_as,
        )  # fmt: skip
        with self._lock:
            shell[command.id] = command
            self.commands.append(command)
        body = f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"
        return 200, soap.envelope(f"{soap.RSP}/CommandResponse", req.message_id, body)

    def _send(self, req: soap.Request) -> Reply:
        node = req.body.find(f"{{{soap.RSP}}}Send/{{{soap.RSP}}}Stream")  # type: ignore[union-attr]
        command, error = self._command_for(req, node.get("CommandId") if node is not None else None)
        if command is None or node is None:
            return 500, error
        command.send(base64.b64decode(node.text or ""), end=node.get("End") == "true")
        body = "<rsp:SendResponse/>"
        return 200, soap.envelope(f"{soap.RSP}/SendResponse", req.message_id, body)

    def _receive(self, req: soap.Request) -> Reply:
        node = req.body.find(f"{{{soap.RSP}}}Receive/{{{soap.RSP}}}DesiredStream")  # type: ignore[union-attr]
        command, error = self._command_for(req, node.get("CommandId") if node is not None else None)
        if command is None:
            return 500, error
        got = command.output.take(req.operation_timeout or DEFAULT_WAIT, MAX_RECEIVE)
        if got is None:
            self.count("OperationTimeout")
            return 500, soap.operation_timeout_fault(req.message_id)
        pieces, finished = got
        body = "".join(_streams(command.id, pieces)) + _state(command, finished)
        return 200, soap.envelope(
            f"{soap.RSP}/ReceiveResponse",
            req.message_id,
            f"<rsp:ReceiveResponse>{body}</rsp:ReceiveResponse>",
        )

    def _signal(self, req: soap.Request) -> Reply:
        node = req.body.find(f"{{{soap.RSP}}}Signal")  # type: ignore[union-attr]
        command, error = self._command_for(req, node.get("CommandId") if node is not None else None)
        if command is None or node is None:
            return 500, error
        code = node.findtext(f"{{{soap.RSP}}}Code") or ""
        if code.endswith(TERMINATE_CODES):
            command.terminate()
            with self._lock:
                self._shells.get(req.shell_id or "", {}).pop(command.id, None)
        body = "<rsp:SignalResponse/>"
        return 200, soap.envelope(f"{soap.RSP}/SignalResponse", req.message_id, body)

    def _shell(self, req: soap.Request) -> dict[str, RunningCommand] | None:
        with self._lock:
            return self._shells.get(req.shell_id or "")

    def _command_for(
        self, req: soap.Request, command_id: str | None
    ) -> tuple[RunningCommand | None, bytes]:
        shell = self._shell(req)
        if shell is None:
            return None, soap.unknown_shell_fault(req.message_id, req.shell_id)
        command = shell.get(command_id or "")
        if command is None:
            return None, soap.unknown_command_fault(req.message_id)
        return command, b""


def _streams(command_id: str, pieces: list[tuple[str, bytes]]) -> list[str]:
    out = []
    for name, data in pieces:
        for i in range(0, len(data), MAX_STREAM):
            encoded = base64.b64encode(data[i : i + MAX_STREAM]).decode("ascii")
            out.append(soap.stream(name, command_id, encoded))
    return out


def _state(command: RunningCommand, finished: bool) -> str:
    if not finished:
        return (
            f'<rsp:CommandState CommandId="{command.id}" '
            f'State="{soap.RSP}/CommandState/Running"></rsp:CommandState>'
        )
    ends = soap.stream("stdout", command.id, end=True) + soap.stream("stderr", command.id, end=True)
    return (
        f'{ends}<rsp:CommandState CommandId="{command.id}" State="{soap.RSP}/CommandState/Done">'
        f"<rsp:ExitCode>{command.exit_code}</rsp:ExitCode></rsp:CommandState>"
    )
