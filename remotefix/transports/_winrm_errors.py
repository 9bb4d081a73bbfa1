"""The one place where pywinrm / requests / pyspnego exceptions become remotefix errors.

with translate_errors(peer):
    protocol.open_shell()

winrm AuthenticationError (HTTP 401), spnego errors  -> AuthError   (never the password)
requests SSLError: certificate not trusted            -> ConnectError naming ca= / cert=ignore
requests ConnectionError / ConnectTimeout             -> ConnectError naming host:port
requests ReadTimeout                                  -> TransportError
winrm WSManFaultError (HTTP 500 + SOAP fault)         -> TransportError with the fault text
winrm WinRMTransportError (other HTTP status)         -> TransportError with status (+ fault)
other winrm errors, unparsable answers                -> TransportError
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

import requests
from spnego.exceptions import SpnegoError
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

from remotefix.errors import AuthError, ConnectError, RemotefixError, TransportError
from remotefix.transports._winrm_parse import parse_fault

_REACH_HINT = "is WinRM enabled there ('winrm quickconfig') and the port open in the firewall?"
_REASONS = (
    ("refused", "connection refused"),
    ("NameResolution", "host name not found"),
    ("Name or service not known", "host name not found"),
    ("No route to host", "no route to host"),
    ("unreachable", "network unreachable"),
    ("RemoteDisconnected", "the server closed the connection"),
    ("reset by peer", "connection reset by the server"),
    ("timed out", "timed out"),
)


@dataclass(frozen=True, slots=True)
class Peer:
    """What error messages name: the endpoint URL, host and port, and the timeouts in force."""

    endpoint: str
    host: str
    port: int
    user: str
    connect_timeout: float
    read_timeout: float

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@contextmanager
def translate_errors(peer: Peer) -> Iterator[None]:
    """Re-raise third-party exceptions from the block as remotefix ``TransportError``s."""
    try:
        yield
    except RemotefixError:
        raise
    except Exception as exc:
        ours = translate(exc, peer)
        if ours is None:
            raise
        raise ours from exc


def translate(exc: BaseException, peer: Peer) -> TransportError | None:
    """The remotefix error for ``exc``, or None when it is not a third-party error we know."""
    for kinds, make in _TABLE:
        if isinstance(exc, kinds):
            return make(exc, peer)
    # requests_ntlm raises PermissionError when the server offers no NTLM challenge; pywinrm
    # asserts RelatesTo and calls next() to find ids in answers.
    if isinstance(exc, PermissionError) and _raised_in(exc.__traceback__, "requests_ntlm"):
        return _negotiation(exc, peer)
    if isinstance(exc, StopIteration | AssertionError | KeyError) and _raised_in(
        exc.__traceback__, "winrm"
    ):
        return TransportError(f"unexpected WS-Management answer from {peer.endpoint}")
    return None


def _auth(exc: BaseException, peer: Peer) -> TransportError:
    return AuthError(
        f"{peer.endpoint} rejected the credentials of {peer.user!r}",
        hint="check the user, the password (REMOTEFIX_WINRM_PASSWORD) and ?transport=",
    )


def _negotiation(exc: BaseException, peer: Peer) -> TransportError:
    return AuthError(f"authentication with {peer.endpoint} failed: {_short(exc)}")


def _tls(exc: BaseException, peer: Peer) -> TransportError:
    text = str(exc)
    found = re.search(r"certificate verify failed: ([^(']*)", text)
    if found or "CERTIFICATE_VERIFY_FAILED" in text:
        why = found.group(1).strip() if found else "not trusted"
        return ConnectError(
            f"TLS certificate validation failed for {peer.address}: {why}",
            hint="pass the issuing CA with ?ca=/path/ca.pem, "
            "or turn validation off explicitly with ?cert=ignore (unsafe)",
        )
    return ConnectError(
        f"TLS handshake with {peer.address} failed: {_short(exc)}",
        hint="is this the HTTPS listener (5986)? for HTTP (5985) use ?scheme=http",
    )


def _connect_timeout(exc: BaseException, peer: Peer) -> TransportError:
    return ConnectError(
        f"connecting to {peer.address} timed out after {peer.connect_timeout:g}s",
        hint=_REACH_HINT,
    )


def _read_timeout(exc: BaseException, peer: Peer) -> TransportError:
    return TransportError(
        f"{peer.endpoint} sent no answer within {peer.read_timeout:g}s",
        hint="the host may be overloaded; read_timeout must exceed operation_timeout",
    )


def _connection(exc: BaseException, peer: Peer) -> TransportError:
    text = str(exc)
    why = next((label for key, label in _REASONS if key in text), _short(exc))
    return ConnectError(f"cannot connect to {peer.address}: {why}", hint=_REACH_HINT)


def _http(exc: BaseException, peer: Peer) -> TransportError:
    return TransportError(f"HTTP request to {peer.endpoint} failed: {_short(exc)}")


def _fault(exc: BaseException, peer: Peer) -> TransportError:
    assert isinstance(exc, WSManFaultError)
    fault = parse_fault(exc.response)
    text = fault.text if fault else _one_line(exc.reason)
    code = f" (WSManFault {exc.wsman_fault_code})" if exc.wsman_fault_code else ""
    return TransportError(f"WinRM fault from {peer.address}: {text}{code}")


def _status(exc: BaseException, peer: Peer) -> TransportError:
    assert isinstance(exc, WinRMTransportError)
    fault = parse_fault(exc.response_text) if exc.response_text else None
    detail = f": {fault.text}" if fault else ""
    return TransportError(f"HTTP {exc.code} from {peer.endpoint}{detail}")


def _operation_timeout(exc: BaseException, peer: Peer) -> TransportError:
    return TransportError(f"{peer.endpoint} did not complete an operation in time")


def _winrm(exc: BaseException, peer: Peer) -> TransportError:
    return TransportError(f"WinRM error with {peer.endpoint}: {_short(exc)}")


def _not_xml(exc: BaseException, peer: Peer) -> TransportError:
    return TransportError(f"{peer.endpoint} answered something that is not WS-Management XML")


# Order matters: most specific first (SSLError and ConnectTimeout are ConnectionErrors,
# AuthenticationError and WSManFaultError are WinRMErrors).
_Maker = Callable[[BaseException, Peer], TransportError]
_TABLE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], _Maker], ...] = (
    (AuthenticationError, _auth),
    (SpnegoError, _negotiation),
    (requests.exceptions.SSLError, _tls),
    (requests.exceptions.ConnectTimeout, _connect_timeout),
    (requests.exceptions.ReadTimeout, _read_timeout),
    (requests.exceptions.ConnectionError, _connection),
    (requests.exceptions.RequestException, _http),
    (WSManFaultError, _fault),
    (WinRMTransportError, _status),
    (WinRMOperationTimeoutError, _operation_timeout),
    (WinRMError, _winrm),
    (ET.ParseError, _not_xml),
)


def _raised_in(tb: TracebackType | None, package: str) -> bool:
    """True when the innermost frame of ``tb`` belongs to ``package``."""
    module = ""
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        tb = tb.tb_next
    return module == package or module.startswith(f"{package}.")


def _short(exc: BaseException, limit: int = 200) -> str:
    text = _one_line(str(exc)) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
