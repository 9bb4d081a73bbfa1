"""SOAP envelopes of the test endpoint: reading requests, writing answers shaped like Windows'.

The answers copy the framing of responses recorded from real Windows hosts
(../shared/winrm-recordings): namespace prefixes, ``RelatesTo``, ``ResourceCreated``,
``rsp:Stream`` / ``rsp:CommandState``, and HTTP 500 faults with a ``f:WSManFault`` detail.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_SHELL = f"{RSP}/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
OPERATION_TIMEOUT_CODE = 2150858793
INVALID_SELECTORS_CODE = 2150858843
_DURATION = re.compile(r"^P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$")


@dataclass
class Request:
    """The parts of a WS-Man request the endpoint acts on."""

    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float | None
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def parse_request(data: bytes) -> Request:
    """Read a request envelope (sent by the client under test)."""
    root = ET.fromstring(data)  # noqa: S314  (test helper; the client is ours)
    header = root.find(f"{{{S}}}Header")
    if header is None:
        raise ValueError("no SOAP header")
    selector = header.find(f"{{{W}}}SelectorSet/{{{W}}}Selector[@Name='ShellId']")
    options = {o.get("Name", ""): (o.text or "") for o in header.iter(f"{{{W}}}Option")}
    return Request(
        action=(header.findtext(f"{{{A}}}Action") or "").rsplit("/", 1)[-1],
        message_id=header.findtext(f"{{{A}}}MessageID") or "",
        resource_uri=header.findtext(f"{{{W}}}ResourceURI") or "",
        shell_id=selector.text if selector is not None else None,
        operation_timeout=parse_duration(header.findtext(f"{{{W}}}OperationTimeout")),
        options=options,
        body=root.find(f"{{{S}}}Body"),
    )


def parse_duration(text: str | None) -> float | None:
    """``PT20S``, ``PT0.500S``, ``PT1M30S`` -> seconds."""
    found = _DURATION.match((text or "").strip())
    if not text or not found:
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def envelope(action_uri: str, relates_to: str, body: str) -> bytes:
    """A response envelope the way Windows writes one."""
    return (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{S}" xmlns:a="{A}" xmlns:x="{TRANSFER}" '
        f'xmlns:w="{W}" xmlns:rsp="{RSP}" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        f"<s:Header><a:Action>{action_uri}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{A}/role/anonymous</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(
    relates_to: str,
    *,
    code: str,
    subcode: str,
    reason: str,
    wsman_code: int,
    message: str | None = None,
) -> bytes:
    """An HTTP 500 SOAP fault with Windows' ``f:WSManFault`` detail."""
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text>'
        "</s:Reason><s:Detail><f:WSManFault "
        'xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{wsman_code}" Machine="127.0.0.1"><f:Message>{escape(message or reason)}'
        "</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def operation_timeout_fault(relates_to: str) -> bytes:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return fault(
        relates_to,
        code="s:Receiver",
        subcode="w:TimedOut",
        reason=text,
        wsman_code=OPERATION_TIMEOUT_CODE,
    )


def unknown_shell_fault(relates_to: str, shell_id: str | None) -> bytes:
    return fault(
        relates_to,
        code="s:Sender",
        subcode="w:InvalidSelectors",
        reason="The WS-Management service cannot process the request because the request "
        "contained invalid selectors for the resource. ",
        wsman_code=INVALID_SELECTORS_CODE,
        message=f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
        "because the shell was not found on the server. Possible causes are: the specified "
        "ShellId is incorrect or the shell no longer exists on the server. Provide the correct "
        "ShellId or create a new shell and retry the operation. ",
    )


def internal_error_fault(message: str) -> bytes:
    return fault(
        "",
        code="s:Receiver",
        subcode="w:InternalError",
        reason=message,
        wsman_code=2147943515,
    )


def unknown_command_fault(relates_to: str) -> bytes:
    return fault(
        relates_to,
        code="s:Sender",
        subcode="w:InvalidSelectors",
        reason="The WS-Management service cannot process the request because the request "
        "contained invalid selectors for the resource. ",
        wsman_code=INVALID_SELECTORS_CODE,
        message="The Windows Remote Shell received a request to perform an operation on a "
        "command identifier that does not exist. Either the command has completed execution "
        "or the client specified an invalid command identifier. ",
    )


def stream(name: str, command_id: str, b64: str = "", *, end: bool = False) -> str:
    end_attr = ' End="true"' if end else ""
    return f"<rsp:Stream Name={quoteattr(name)} CommandId={quoteattr(command_id)}{end_attr}>{b64}</rsp:Stream>"
