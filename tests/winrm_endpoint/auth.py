"""HTTP authentication of the test endpoint, and WinRM message encryption.

* NTLM, offered as ``WWW-Authenticate: Negotiate`` like Windows does, accepted by pyspnego's
  server side (``spnego.server(protocol="ntlm")``). pyspnego's NTLM acceptor looks users up in
  the file named by ``NTLM_USER_FILE`` (lines ``DOMAIN:USER:PASSWORD``); the endpoint writes one
  for its throw-away user. NTLM authenticates a *connection*: later requests on it carry no
  header. Over TLS the acceptor checks the client's channel binding (tls-server-end-point).
* Basic, over TLS only (Windows refuses Basic on an unencrypted listener by default).
* Over plain HTTP, bodies are ``multipart/encrypted`` with
  ``protocol="application/HTTP-SPNEGO-session-encrypted"`` ([MS-WSMV] 2.2.9.1.1): the SOAP text
  is sealed with the NTLM session keys; ``open_sealed`` / ``seal`` undo and redo that.
"""

from __future__ import annotations

import base64
import hmac
import re
import struct
from dataclasses import dataclass, field

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_TYPE = (
    f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
)
BOUNDARY = b"--Encrypted Boundary"
_OCTETS = b"\tContent-Type: application/octet-stream\r\n"


@dataclass
class Verdict:
    """Outcome of checking one request's credentials."""

    ok: bool
    headers: list[tuple[str, str]] = field(default_factory=list)


class ConnectionAuth:
    """Authentication state of one HTTP connection."""

    def __init__(
        self, user: str, password: str, *, basic: bool, bindings: GssChannelBindings | None
    ) -> None:
        self._user, self._password = user, password
        self._basic = basic
        self._bindings = bindings
        self.ntlm: spnego.ContextProxy | None = None

    @property
    def sealed(self) -> bool:
        """True once NTLM completed: message encryption keys exist."""
        return self.ntlm is not None and self.ntlm.complete

    def check(self, authorization: str | None) -> Verdict:
        if not authorization:
            return Verdict(True) if self.sealed else self._challenge()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "basic" and self._basic:
            return Verdict(True) if self._basic_ok(token) else self._challenge()
        if scheme.lower() in ("negotiate", "ntlm"):
            return self._ntlm_step(token)
        return self._challenge()

    def _challenge(self, token: bytes | None = None) -> Verdict:
        if token is not None:
            return Verdict(
                False, [("WWW-Authenticate", f"Negotiate {base64.b64encode(token).decode()}")]
            )
        headers = [("WWW-Authenticate", "Negotiate")]
        if self._basic:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return Verdict(False, headers)

    def _basic_ok(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        same_user = hmac.compare_digest(user.lower(), self._user.lower())
        return same_user and hmac.compare_digest(password, self._password)

    def _ntlm_step(self, token: str) -> Verdict:
        if self.ntlm is None or self.ntlm.complete:
            self.ntlm = spnego.server(protocol="ntlm", channel_bindings=self._bindings)
        try:
            answer = self.ntlm.step(base64.b64decode(token))
        except (SpnegoError, ValueError):
            self.ntlm = None  # wrong password, unknown user, bad binding: 401
            return self._challenge()
        if not self.ntlm.complete:
            return self._challenge(answer or b"")
        return Verdict(True)


def open_sealed(context: spnego.ContextProxy, body: bytes) -> bytes:
    """The SOAP text inside a ``multipart/encrypted`` body."""
    header, _, rest = body.partition(_OCTETS)
    length = re.search(rb"Length=(\d+)", header)
    end = rest.rfind(BOUNDARY + b"--")
    if length is None or end < 4:
        raise ValueError("not an HTTP-SPNEGO-session-encrypted body")
    payload = rest[:end]
    (signature_length,) = struct.unpack("<I", payload[:4])
    signature = payload[4 : 4 + signature_length]
    message = context.unwrap(signature + payload[4 + signature_length :]).data
    if len(message) != int(length.group(1)):
        raise ValueError("sealed message length does not match OriginalContent")
    return message


def seal(context: spnego.ContextProxy, message: bytes) -> bytes:
    """``message`` sealed for the client, framed the way Windows frames it."""
    wrapped = context.wrap(message, encrypt=True).data
    signature, sealed = wrapped[:16], wrapped[16:]
    return (
        BOUNDARY
        + b"\r\n\tContent-Type: "
        + ENCRYPTED_PROTOCOL.encode()
        + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode()
        + b"\r\n"
        + BOUNDARY
        + b"\r\n"
        + _OCTETS
        + struct.pack("<I", len(signature))
        + signature
        + sealed
        + BOUNDARY
        + b"--\r\n"
    )
