"""Reading what a WinRM (WS-Management) server answers: Receive output, faults, PowerShell CLIXML.

Pure functions over bytes, tested against responses recorded from real Windows hosts.

    parse_receive(xml) -> ReceiveChunk(stdout, stderr, done, exit_code)
    parse_fault(xml)   -> WSManFault | None      (its ``text`` is the one-line message)
    clixml_to_text(stderr) -> bytes              (PowerShell's serialized error stream as text)
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
FAULT_NS = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
PS_NS = "http://schemas.microsoft.com/powershell/2004/04"
COMMAND_DONE = f"{SHELL_NS}/CommandState/Done"
OPERATION_TIMEOUT_CODE = 2150858793
"""WSManFault code of a Receive that found no new output within its OperationTimeout."""

_CLIXML_HEADER = b"#< CLIXML"
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def xml_root(data: bytes | str) -> ET.Element:
    """Parse a server answer. Expat >= 2.4 (Python's) refuses entity expansion bombs and
    ElementTree never fetches external entities, so a hostile server cannot use those."""
    return ET.fromstring(data)  # noqa: S314


@dataclass(frozen=True, slots=True)
class ReceiveChunk:
    """One Receive answer: the stream pieces in order, and the exit code once ``done``."""

    stdout: tuple[bytes, ...]
    stderr: tuple[bytes, ...]
    done: bool
    exit_code: int | None


def parse_receive(data: bytes | str) -> ReceiveChunk:
    """Split a ``ReceiveResponse`` into decoded stdout/stderr pieces, done flag and exit code."""
    root = xml_root(data)
    streams: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    for node in root.iter(f"{{{SHELL_NS}}}Stream"):
        name = node.get("Name", "")
        if node.text and name in streams:
            streams[name].append(base64.b64decode(node.text))
    done, exit_code = False, None
    for state in root.iter(f"{{{SHELL_NS}}}CommandState"):
        if state.get("State") == COMMAND_DONE:
            done = True
            code = state.findtext(f"{{{SHELL_NS}}}ExitCode")
            exit_code = int(code) if code and code.strip() else None
    return ReceiveChunk(tuple(streams["stdout"]), tuple(streams["stderr"]), done, exit_code)


@dataclass(frozen=True, slots=True)
class WSManFault:
    """A SOAP fault as Windows sends it (HTTP 500)."""

    code: str | None
    subcode: str | None
    reason: str
    wsman_code: int | None
    message: str | None

    @property
    def text(self) -> str:
        """One line for humans: the WSManFault message, else the SOAP reason."""
        return _one_line(self.message or self.reason or self.subcode or "unknown fault")


def parse_fault(data: bytes | str) -> WSManFault | None:
    """The fault in a SOAP envelope, or None when ``data`` is not XML or holds no fault."""
    try:
        root = xml_root(data)
    except ET.ParseError:
        return None
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    if fault is None:
        return None
    s = f"{{{SOAP_NS}}}"
    detail = fault.find(f"{s}Detail/{{{FAULT_NS}}}WSManFault")
    message = None
    wsman_code = None
    if detail is not None:
        node = detail.find(f"{{{FAULT_NS}}}Message")
        message = "".join(node.itertext()) if node is not None else None
        wsman_code = int(detail.get("Code", "0")) or None
    return WSManFault(
        code=fault.findtext(f"{s}Code/{s}Value"),
        subcode=fault.findtext(f"{s}Code/{s}Subcode/{s}Value"),
        reason=fault.findtext(f"{s}Reason/{s}Text") or "",
        wsman_code=wsman_code,
        message=message,
    )


def fault_text(data: bytes | str) -> str | None:
    """Just the one-line text of the fault in ``data``, if there is one."""
    fault = parse_fault(data)
    return fault.text if fault else None


def clixml_to_text(data: bytes) -> bytes:
    """Turn PowerShell's ``#< CLIXML`` error stream into the plain text it stands for.

    powershell.exe serializes its error/warning/verbose streams as CLIXML when stderr is not a
    console. Progress records are dropped. Anything that does not parse is returned unchanged.
    """
    if not data.startswith(_CLIXML_HEADER):
        return data
    body = data[len(_CLIXML_HEADER) :].replace(_CLIXML_HEADER, b"")
    try:
        root = xml_root(b"<clixml>" + body + b"</clixml>")
    except ET.ParseError:
        return data
    parts = [
        _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), node.text or "")
        for objs in root.iter(f"{{{PS_NS}}}Objs")
        for node in objs.findall(f"{{{PS_NS}}}S")
        if node.get("S")
    ]
    return "".join(parts).encode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())
