"""The WinRM transport against the WS-Management test endpoint (tests/winrm_endpoint).

The endpoint runs scripts with /bin/sh where Windows would run PowerShell, so the commands
below are POSIX: what is tested is the transport (protocol, auth, TLS, streams, exit codes,
timeouts, caps, stdin, file reads), not PowerShell. See tests/winrm_endpoint/__init__.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import winrm.transport

from remotefix import interrupt
from remotefix.errors import (
    AuthError,
    ClosedError,
    ConnectError,
    DependencyError,
    Interrupted,
    TargetError,
    TransportError,
)
from remotefix.targets import parse_address
from remotefix.transports import open_transport, transport_class
from remotefix.transports._winrm_errors import Peer, translate
from remotefix.transports.base import RemotePathError
from remotefix.transports.winrm import (
    CertificateValidationDisabled,
    WinRMTransport,
    encode_powershell,
    password_from_env,
)
from tests.winrm_endpoint import WinRMEndpoint


def connect(
    endpoint: WinRMEndpoint,
    *,
    password: str | None = None,
    query: dict[str, str] | None = None,
    **settings: Any,
) -> WinRMTransport:
    target = parse_address(endpoint.address(**(query or {})))
    return WinRMTransport(target, password=password or endpoint.password, **settings)


# --- NTLM with message encryption (HTTP) -----------------------------------------------------


def test_ntlm_encrypted_streams_and_exit_codes(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint) as t:
        failed = t.run("echo out; echo err >&2; exit 3")
        ok = t.run("echo fine")
    assert (failed.exit_code, failed.stdout, failed.stderr) == (3, b"out\n", b"err\n")
    assert not failed.ok and not failed.timed_out and not failed.truncated
    assert (ok.exit_code, ok.stdout, ok.stderr, ok.ok) == (0, b"fine\n", b"", True)
    assert winrm_endpoint.counts["sealed"] >= 8  # every SOAP message was encrypted
    assert t.shell == "powershell"


def test_unicode_survives_encoded_command(winrm_endpoint: WinRMEndpoint) -> None:
    text = "héllo ✓ こんにちは 🙂 'quotes' \"double\" $dollar"
    with connect(winrm_endpoint) as t:
        result = t.run(f"cat <<'EOF'\n{text}\nEOF")
    assert result.stdout.decode("utf-8") == text + "\n"


def test_binary_output_is_byte_exact(winrm_endpoint: WinRMEndpoint) -> None:
    every_byte = "".join(f"\\{i:03o}" for i in range(256))
    with connect(winrm_endpoint) as t:
        result = t.run(f"printf '{every_byte}'")
    assert result.stdout == bytes(range(256))


def test_output_past_the_cap_is_truncated_but_drained(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint, output_cap=1000) as t:
        result = t.run("head -c 300000 /dev/zero | tr '\\000' a; echo end >&2; exit 4")
    assert result.stdout == b"a" * 1000
    assert result.truncated
    assert (result.exit_code, result.stderr) == (4, b"end\n")  # kept receiving to the end
    assert winrm_endpoint.counts["Receive"] >= 5  # 300 kB came in several chunked answers


def test_timeout_keeps_partial_output_and_kills_the_command(
    winrm_endpoint: WinRMEndpoint,
) -> None:
    with connect(winrm_endpoint, operation_timeout=1, read_timeout=5) as t:
        result = t.run("echo started; sleep 30; echo never", timeout=3)
        after = t.run("echo next")
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.stdout == b"started\n"
    assert 2.5 < result.duration_s < 6
    assert winrm_endpoint.counts["OperationTimeout"] >= 1
    stopped = winrm_endpoint.service.commands[0]
    assert stopped.terminated and stopped.process.returncode is not None
    assert after.stdout == b"next\n"


def test_ctrl_c_terminates_the_running_command_and_starts_no_other(
    winrm_endpoint: WinRMEndpoint,
) -> None:
    """A stop request ends a long command (Signal terminate) without waiting for its timeout."""
    with interrupt.on_sigint(), connect(winrm_endpoint, operation_timeout=10, read_timeout=15) as t:
        worker = ThreadPoolExecutor(1).submit(t.run, "echo started; sleep 4141", timeout=120)
        deadline = time.monotonic() + 20
        while not winrm_endpoint.service.commands and time.monotonic() < deadline:
            time.sleep(0.1)
        assert winrm_endpoint.service.commands, "the command never started"
        interrupt.request()
        with pytest.raises(Interrupted, match="stopped by Ctrl-C"):
            worker.result(timeout=30)
        with pytest.raises(Interrupted, match="not started"):
            t.run("true")
    stopped = winrm_endpoint.service.commands[0]
    assert stopped.terminated and stopped.process.returncode is not None


def test_long_command_outlives_operation_timeouts(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint, operation_timeout=1, read_timeout=5) as t:
        result = t.run("sleep 2.5; echo done", timeout=30)
    assert (result.exit_code, result.stdout, result.timed_out) == (0, b"done\n", False)
    assert winrm_endpoint.counts["OperationTimeout"] >= 2


def test_stdin_is_sent(winrm_endpoint: WinRMEndpoint) -> None:
    big = os.urandom(200 * 1024)
    with connect(winrm_endpoint) as t:
        small = t.run("cat", stdin=b"abc\x00\xff")
        large = t.run("cat", stdin=big)
        empty = t.run("cat; echo eof", stdin=b"")
    assert small.stdout == b"abc\x00\xff"
    assert large.stdout == big
    assert empty.stdout == b"eof\n"
    assert winrm_endpoint.counts["Send"] >= 1 + 4 + 1  # 200 KiB went in several Send messages


def test_no_stdin_means_end_of_file(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint) as t:
        assert t.run("cat; echo eof", timeout=10).stdout == b"eof\n"


def test_run_cmd(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint) as t:
        result = t.run_cmd("echo from-cmd && exit 2")
    assert (result.exit_code, result.stdout) == (2, b"from-cmd\n")


def test_one_shell_serves_every_command(winrm_endpoint: WinRMEndpoint, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with connect(winrm_endpoint) as t:
        for i in range(5):
            assert t.run(f"echo {i}").stdout == f"{i}\n".encode()
        t.run_cmd("echo cmd")
        t.read_file(str(tmp_path / "f"))
    counts = winrm_endpoint.counts
    assert (counts["Create"], counts["Command"], counts["Delete"]) == (1, 7, 1)


# --- read_file --------------------------------------------------------------------------------


def test_read_file_large_binary_is_capped(winrm_endpoint: WinRMEndpoint, tmp_path: Path) -> None:
    data = os.urandom(1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    with connect(winrm_endpoint) as t:
        capped = t.read_file(str(path), max_bytes=300_000)
        whole = t.read_file(str(path), max_bytes=len(data))
    assert capped.data == data[:300_000] and capped.truncated
    assert whole.data == data and not whole.truncated


def test_read_file_odd_names_and_empty(winrm_endpoint: WinRMEndpoint, tmp_path: Path) -> None:
    odd = tmp_path / "it's a ✓ file; $(x).txt"
    odd.write_bytes(b"\x00odd\r\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with connect(winrm_endpoint) as t:
        assert t.read_file(str(odd)).data == b"\x00odd\r\n"
        assert t.read_file(str(empty)).data == b""


def test_read_file_missing_and_directory(winrm_endpoint: WinRMEndpoint, tmp_path: Path) -> None:
    with connect(winrm_endpoint) as t:
        with pytest.raises(RemotePathError, match="no such file"):
            t.read_file(str(tmp_path / "nope"))
        with pytest.raises(RemotePathError, match="is a directory"):
            t.read_file(str(tmp_path))


def test_read_file_access_denied(winrm_endpoint: WinRMEndpoint) -> None:
    """A file the endpoint's user cannot read: commands run as nobody (tests run as root, and
    root reads everything). Outside the pytest folder, which only root may enter."""
    folder = Path(tempfile.mkdtemp(prefix="rfx-winrm-denied-"))
    try:
        folder.chmod(0o755)
        (folder / "open").write_bytes(b"readable\n")
        (folder / "secret").write_bytes(b"not for nobody\n")
        (folder / "secret").chmod(0o000)
        winrm_endpoint.service.run_as = "nobody"
        with connect(winrm_endpoint) as t:
            assert t.run("id -un").stdout == b"nobody\n"
            assert t.read_file(str(folder / "open")).data == b"readable\n"
            with pytest.raises(RemotePathError, match="access denied"):
                t.read_file(str(folder / "secret"))
    finally:
        shutil.rmtree(folder)


# --- lifecycle --------------------------------------------------------------------------------


def test_close_twice_and_use_after_close(winrm_endpoint: WinRMEndpoint) -> None:
    t = connect(winrm_endpoint)
    t.run("true")
    t.close()
    t.close()
    with pytest.raises(ClosedError):
        t.run("true")
    with pytest.raises(ClosedError):
        t.read_file("/etc/hostname")
    with pytest.raises(ClosedError):
        t.run_cmd("echo")
    assert winrm_endpoint.counts["Delete"] == 1


def test_lazy_connection(winrm_endpoint: WinRMEndpoint) -> None:
    connect(winrm_endpoint).close()
    assert winrm_endpoint.counts == {}


def test_registry_and_password_from_env(
    winrm_endpoint: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMOTEFIX_WINRM_PASSWORD", raising=False)
    monkeypatch.setenv("REMOTEFIX_PASSWORD", winrm_endpoint.password)
    assert password_from_env() == winrm_endpoint.password
    assert transport_class("winrm") is WinRMTransport
    with open_transport(parse_address(winrm_endpoint.address())) as t:  # type: ignore[attr-defined]
        assert t.run("echo env").stdout == b"env\n"


# --- errors -----------------------------------------------------------------------------------


def test_wrong_password_is_auth_error_without_the_secret(winrm_endpoint: WinRMEndpoint) -> None:
    secret = "Wrong-S3cret-value"
    t = connect(winrm_endpoint, password=secret)
    with pytest.raises(AuthError) as caught:
        t.run("true")
    assert "rejected the credentials of 'rfuser'" in str(caught.value)
    assert secret not in "".join(traceback.format_exception(caught.value))
    assert winrm_endpoint.counts.get("Create", 0) == 0


def test_no_password_is_auth_error(
    winrm_endpoint: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REMOTEFIX_WINRM_PASSWORD", "REMOTEFIX_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    t = WinRMTransport(parse_address(winrm_endpoint.address()))
    with pytest.raises(AuthError, match="REMOTEFIX_WINRM_PASSWORD"):
        t.run("true")


def test_connection_refused_names_host_and_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = parse_address(f"winrm://u@127.0.0.1:{port}?scheme=http")
    with pytest.raises(ConnectError) as caught:
        WinRMTransport(target, password="x", connect_timeout=2).run("true")
    message = str(caught.value)
    assert f"127.0.0.1:{port}: connection refused" in message
    assert "WinRM enabled" in message and "firewall" in message


def test_silent_server_is_a_read_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # accepts TCP, never answers HTTP
        target = parse_address(f"winrm://u@127.0.0.1:{server.getsockname()[1]}?scheme=http")
        t = WinRMTransport(target, password="x", operation_timeout=1, read_timeout=2)
        with pytest.raises(TransportError, match="sent no answer within 2s"):
            t.run("true")


def test_unanswered_connect_is_a_connect_timeout() -> None:
    # Linux drops SYNs to a listener whose accept queue is full: a real connect timeout.
    with socket.socket() as server, contextlib.ExitStack() as stack:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(3):
            client = stack.enter_context(socket.socket())
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
        target = parse_address(f"winrm://u@127.0.0.1:{port}?scheme=http")
        t = WinRMTransport(target, password="x", connect_timeout=1)
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port} timed out after 1s"):
            t.run("true")


def test_fault_is_transport_error_with_fault_text(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint) as t:
        t.run("true")
        winrm_endpoint.service.forget_shells()  # as if the WinRM service restarted
        with pytest.raises(TransportError) as caught:
            t.run("true")
    assert type(caught.value) is TransportError
    message = str(caught.value)
    assert "shell was not found on the server" in message
    assert "WSManFault 2150858843" in message and "\n" not in message


# --- HTTPS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_https_with_the_ca_validates(winrm_https_endpoint: WinRMEndpoint, auth: str) -> None:
    with connect(winrm_https_endpoint, query={"transport": auth}) as t:
        assert t.run("echo tls").stdout == b"tls\n"
    assert winrm_https_endpoint.counts.get("sealed", 0) == 0  # TLS protects it instead


def test_https_untrusted_certificate_is_one_line_connect_error(
    winrm_https_endpoint: WinRMEndpoint,
) -> None:
    t = connect(winrm_https_endpoint, query={"ca": "", "transport": "basic"})
    with pytest.raises(ConnectError) as caught:
        t.run("true")
    message = str(caught.value)
    assert message.startswith("TLS certificate validation failed for 127.0.0.1:")
    assert "?ca=" in message and "cert=ignore" in message and "\n" not in message
    assert winrm_https_endpoint.counts == {}  # no credentials were sent


def test_cert_ignore_is_warned_and_connects(winrm_https_endpoint: WinRMEndpoint) -> None:
    with pytest.warns(CertificateValidationDisabled, match="validation is OFF"):
        t = connect(winrm_https_endpoint, query={"cert": "ignore", "transport": "basic"})
    with t:
        assert t.run("echo unsafe").stdout == b"unsafe\n"


def test_https_basic_wrong_password(winrm_https_endpoint: WinRMEndpoint) -> None:
    t = connect(winrm_https_endpoint, password="nope", query={"transport": "basic"})
    with pytest.raises(AuthError):
        t.run("true")


# --- settings, encoding, translation ----------------------------------------------------------


def test_defaults_and_options(tmp_path: Path) -> None:
    t = WinRMTransport(parse_address("winrm://u@win1"), password="x")
    s = t.settings
    assert (s.endpoint, s.auth, s.validate_cert, s.ca_path) == (
        "https://win1:5986/wsman",
        "ntlm",
        True,
        None,
    )
    plain = WinRMTransport(parse_address("winrm://u@win1?scheme=http"), password="x").settings
    assert plain.endpoint == "http://win1:5985/wsman"
    ca = tmp_path / "ca.pem"
    ca.write_text("not read before connecting")
    aliased = parse_address(f"winrm://u@[::1]:1234?winrm_transport=basic&ca_trust_path={ca}")
    s = WinRMTransport(aliased, password="x").settings
    assert (s.endpoint, s.auth, s.ca_path) == ("https://[::1]:1234/wsman", "basic", str(ca))


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("winrm://u@h?scheme=http&transport=basic", "clear text"),
        ("winrm://u@h?scheme=ftp", "bad scheme"),
        ("winrm://u@h?transport=digest", "bad transport"),
        ("winrm://u@h?cert=maybe", "bad cert"),
        ("winrm://h", "has no user"),
    ],
)
def test_bad_settings_are_target_errors(address: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        WinRMTransport(parse_address(address), password="x")


def test_missing_ca_file_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"CA file .* not found"):
        WinRMTransport(parse_address(f"winrm://u@h?ca={tmp_path}/none.pem"), password="x")


def test_missing_auth_library_is_a_dependency_error() -> None:
    # The real absence: requests-credssp is not among remotefix's dependencies.
    if winrm.transport.HAVE_CREDSSP:
        pytest.skip("requests-credssp is installed here; its absence cannot be shown")
    with pytest.raises(DependencyError, match=r"pywinrm\[credssp\]"):
        WinRMTransport(parse_address("winrm://u@h?transport=credssp"), password="x")


def test_encode_powershell() -> None:
    script = "Write-Output 'hé 🙂'"
    encoded = encode_powershell(script)
    assert base64.b64decode(encoded).decode("utf-16-le") == script
    assert encode_powershell("dir") == "ZABpAHIA"


def test_a_script_too_long_for_a_command_line_goes_through_stdin(
    winrm_endpoint: WinRMEndpoint,
) -> None:
    with connect(winrm_endpoint) as t:
        result = t.run("echo " + "x" * 6000)
    assert result.exit_code == 0 and result.stdout.strip() == b"x" * 6000


def test_too_long_with_its_own_stdin_is_refused(winrm_endpoint: WinRMEndpoint) -> None:
    with connect(winrm_endpoint) as t, pytest.raises(TransportError, match="too long"):
        t.run("cat; echo " + "x" * 4000, stdin=b"hi")
    assert winrm_endpoint.counts.get("Command", 0) == 0


def test_https_to_an_http_listener_is_a_tls_handshake_error(winrm_endpoint: WinRMEndpoint) -> None:
    with pytest.warns(CertificateValidationDisabled):
        t = connect(winrm_endpoint, query={"scheme": "https", "cert": "ignore"}, connect_timeout=5)
    with pytest.raises(ConnectError) as caught:
        t.run("true")
    message = str(caught.value)
    assert message.startswith(f"TLS handshake with 127.0.0.1:{winrm_endpoint.port} failed")
    assert "?scheme=http" in message and "\n" not in message


class _BadGateway(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_other_http_status_is_a_transport_error_naming_it() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        target = parse_address(f"winrm://u@127.0.0.1:{port}?scheme=http&transport=ntlm")
        with pytest.raises(TransportError) as caught:
            WinRMTransport(target, password="x", connect_timeout=5).run("true")
    finally:
        server.shutdown()
        server.server_close()
    assert type(caught.value) is TransportError
    assert f"HTTP 502 from http://127.0.0.1:{port}/wsman" in str(caught.value)


PEER = Peer("https://h:5986/wsman", "h", 5986, "u", connect_timeout=10, read_timeout=30)


def test_unknown_host_name_translation() -> None:
    # Only this row is synthetic: resolving a name would leave 127.0.0.0/8, which we never do.
    # Timeouts, credentials, TLS and HTTP statuses are exercised for real above.
    exc = requests.exceptions.ConnectionError("NameResolutionError: Failed to resolve 'h'")
    ours = translate(exc, PEER)
    assert type(ours) is ConnectError
    assert "cannot connect to h:5986: host name not found" in str(ours)


def test_foreign_exceptions_are_not_translated() -> None:
    assert translate(ValueError("ours"), PEER) is None
    assert translate(KeyError("ours"), PEER) is None
