"""The HTTP(S) side of the test endpoint: one ``POST /wsman`` handler, keep-alive connections.

HTTP/1.1 with Content-Length on every answer, so a client keeps one connection (NTLM
authenticates connections). TLS, when on, is set up per connection in the handler thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import ssl
import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from tests.winrm_endpoint.auth import ENCRYPTED_TYPE, ConnectionAuth, open_sealed, seal
from tests.winrm_endpoint.certs import ServerCertificate, make_certificates
from tests.winrm_endpoint.soap import internal_error_fault
from tests.winrm_endpoint.wsman import WSManService

log = logging.getLogger(__name__)
USER_FILE_ENV = "NTLM_USER_FILE"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: WinRMEndpoint

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    def setup(self) -> None:
        endpoint = self.server.endpoint
        if endpoint.tls is not None:
            self.request = endpoint.tls.wrap_socket(self.request, server_side=True)
        endpoint.track(self.request)
        super().setup()
        self.auth = ConnectionAuth(
            endpoint.user,
            endpoint.password,
            basic=endpoint.tls is not None,
            bindings=endpoint.bindings,
        )

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if isinstance(self.request, ssl.SSLSocket):  # socketserver only closes the raw one
                self.request.close()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/wsman":
            return self._answer(404, b"")
        verdict = self.auth.check(self.headers.get("Authorization"))
        if not verdict.ok:
            self.server.endpoint.service.count("401")
            return self._answer(401, b"", verdict.headers)
        if not body:  # pywinrm's empty POST that sets up NTLM before encrypting
            return self._answer(200, b"")
        encrypted = self.headers.get("Content-Type", "").startswith("multipart/encrypted")
        if encrypted and self.auth.sealed:
            return self._encrypted(body)
        if self.server.endpoint.tls is None:
            return self._answer(400, b"unencrypted messages are refused (AllowUnencrypted=false)")
        return self._answer(*self._service(body))

    def _encrypted(self, body: bytes) -> None:
        context = self.auth.ntlm
        assert context is not None
        try:
            message = open_sealed(context, body)
        except (ValueError, SpnegoError):
            return self._answer(400, b"cannot unseal the message")
        self.server.endpoint.service.count("sealed")
        status, answer = self._service(message)
        return self._answer(status, seal(context, answer), content_type=ENCRYPTED_TYPE)

    def _service(self, message: bytes) -> tuple[int, bytes]:
        try:
            return self.server.endpoint.service.handle(message)
        except Exception as exc:
            log.exception("the endpoint failed on a request")
            return 500, internal_error_fault(f"test endpoint error: {exc}")

    def _answer(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/soap+xml;charset=UTF-8",
    ) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WinRMEndpoint:
    """A WS-Management endpoint on 127.0.0.1 (ephemeral port) for one throw-away user."""

    _running: WinRMEndpoint | None = None

    def __init__(self, workdir: Path, *, https: bool, user: str = "rfuser") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.user = user
        self.password = secrets.token_urlsafe(12)
        self.host = "127.0.0.1"
        self.scheme = "https" if https else "http"
        self.certificate: ServerCertificate | None = None
        self.tls: ssl.SSLContext | None = None
        self.bindings: GssChannelBindings | None = None
        self.service = WSManService(workdir)
        self._lock = threading.Lock()
        if https:
            self._setup_tls()
        self._httpd = _Server((self.host, 0), _Handler)
        self._httpd.endpoint = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._saved_user_file: str | None = None
        self._connections: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    @property
    def ca_path(self) -> Path | None:
        return self.certificate.ca if self.certificate else None

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.service.counts)

    def address(self, **options: str) -> str:
        """A ``winrm://`` address for this endpoint; ``options`` become the query."""
        query = {"scheme": self.scheme, **options}
        if self.certificate and "ca" not in options and options.get("cert") != "ignore":
            query["ca"] = str(self.certificate.ca)
        text = "&".join(f"{k}={v}" for k, v in query.items() if v)
        return f"winrm://{self.user}@{self.host}:{self.port}?{text}"

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def start(self) -> WinRMEndpoint:
        """Serve in a thread. pyspnego reads NTLM users from a process-wide environment
        variable, so only one endpoint may run at a time."""
        if WinRMEndpoint._running is not None:
            raise RuntimeError("another WinRMEndpoint is running (NTLM_USER_FILE is global)")
        WinRMEndpoint._running = self
        user_file = self.workdir / "ntlm-users"
        user_file.write_text(f":{self.user}:{self.password}\n")
        self._saved_user_file = os.environ.get(USER_FILE_ENV)
        os.environ[USER_FILE_ENV] = str(user_file)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.service.close()
        WinRMEndpoint._running = None
        if self._saved_user_file is None:
            os.environ.pop(USER_FILE_ENV, None)
        else:
            os.environ[USER_FILE_ENV] = self._saved_user_file

    def _setup_tls(self) -> None:
        self.certificate = make_certificates(self.workdir / "tls")
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.certificate.cert, self.certificate.key)
        self.bindings = GssChannelBindings(
            application_data=b"tls-server-end-point:" + self.certificate.end_point_hash
        )
