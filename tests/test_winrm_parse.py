"""WinRM answers recorded from real Windows hosts, read by our parser and replayed through the
transport (pywinrm's Protocol, our Receive loop, our error translation).

The recordings live next to the repository in ``../shared/winrm-recordings`` (MIT, see their
SOURCES.md) and are read in place; without them these tests fail, they never skip.
Replays rewrite only ``RelatesTo`` to the new request's MessageID: ids are random per run and
pywinrm checks them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from winrm.exceptions import WinRMTransportError
from winrm.protocol import Protocol

from remotefix.errors import TransportError
from remotefix.result import CommandResult
from remotefix.targets import parse_address
from remotefix.transports._winrm_parse import (
    OPERATION_TIMEOUT_CODE,
    clixml_to_text,
    parse_fault,
    parse_receive,
)
from remotefix.transports.winrm import WinRMTransport
from tests.winrm_endpoint.recordings import recordings_dir


def messages(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((recordings_dir() / "pypsrp" / f"{name}.yml").read_text(encoding="utf-8"))
    return list(data["messages"])


def action(xml: str) -> str:
    found = re.search(r"Action[^>]*>([^<]+)<", xml)
    assert found, xml[:200]
    return found.group(1).rsplit("/", 1)[-1]


def receive_answers(name: str) -> list[dict[str, Any]]:
    return [m for m in messages(name) if action(m["request"]) == "Receive"]


def test_standard_stdout_and_exit_code() -> None:
    (answer,) = receive_answers("test_winrs_standard")
    chunk = parse_receive(answer["response"])
    assert b"".join(chunk.stdout) == b"hi\r\n"
    assert chunk.stderr == ()
    assert (chunk.done, chunk.exit_code) == (True, 0)


def test_stderr_is_separate_and_exit_code_one() -> None:
    (answer,) = receive_answers("test_winrs_stderr_rc")
    chunk = parse_receive(answer["response"])
    assert b"".join(chunk.stdout) == b"out \r\n"
    assert b"".join(chunk.stderr) == b"err \r\n"
    assert (chunk.done, chunk.exit_code) == (True, 1)


def test_unicode_output_in_code_page_65001() -> None:
    (answer,) = receive_answers("test_winrs_unicode")
    assert b"".join(parse_receive(answer["response"]).stdout).decode("utf-8") == "こんにちは\n"


def test_output_in_several_stream_pieces() -> None:
    first = receive_answers("test_client_execute_cmd")[0]
    chunk = parse_receive(first["response"])
    assert len(chunk.stdout) > 1
    assert b"".join(chunk.stdout).startswith(b" Volume in drive C is Windows 2016\r\n")
    assert (chunk.done, chunk.exit_code) == (True, 0)


def test_operation_timeout_sequence() -> None:
    running, timeout1, timeout2, done = receive_answers("test_winrs_operation_timeout")
    first = parse_receive(running["response"])
    assert (b"".join(first.stdout), first.done, first.exit_code) == (b"hi\n", False, None)
    for answer in (timeout1, timeout2):
        assert answer["transport_error"]["code"] == 500
        fault = parse_fault(answer["response"])
        assert fault is not None
        assert fault.wsman_code == OPERATION_TIMEOUT_CODE
        assert fault.subcode == "w:TimedOut"
        assert fault.text == (
            "The WS-Management service cannot complete the operation within the time "
            "specified in OperationTimeout."
        )
    last = parse_receive(done["response"])
    assert (b"".join(last.stdout), last.done, last.exit_code) == (b"hi again\n", True, 0)


@pytest.mark.parametrize(
    ("name", "subcode", "code", "text"),
    [
        (
            "test_winrs_bad_cmd_id",
            "w:InvalidSelectors",
            2150858843,
            "The Windows Remote Shell received a request to perform an operation on a command "
            "identifier that does not exist.",
        ),
        ("test_winrs_no_cmd_shell", "w:InternalError", 2147942402, "The system cannot find"),
        ("test_winrs_fail_poll_process", "w:InvalidParameter", 87, "The parameter is incorrect."),
    ],
)
def test_fault_text(name: str, subcode: str, code: int, text: str) -> None:
    (answer,) = [m for m in messages(name) if "transport_error" in m]
    fault = parse_fault(answer["response"])
    assert fault is not None
    assert (fault.subcode, fault.wsman_code) == (subcode, code)
    assert fault.text.startswith(text)
    assert "\n" not in fault.text


def test_not_a_fault() -> None:
    (answer,) = receive_answers("test_winrs_standard")
    assert parse_fault(answer["response"]) is None
    assert parse_fault(b"<html>proxy error</html") is None


def test_powershell_clixml_error_stream_becomes_text() -> None:
    xml = (recordings_dir() / "pywinrm" / "get_ps_output_response.xml").read_bytes()
    chunk = parse_receive(xml)
    assert (chunk.done, chunk.exit_code) == (True, 1)
    raw = b"".join(chunk.stderr)
    assert raw.startswith(b"#< CLIXML")
    text = clixml_to_text(raw).decode("utf-8")
    assert text.startswith('Write-Error "Error" : Error\r\n')
    assert "+ CategoryInfo          : NotSpecified: (:) [Write-Error]" in text
    assert "<" not in text


def test_plain_stderr_is_left_alone() -> None:
    assert clixml_to_text(b"err \r\n") == b"err \r\n"
    assert clixml_to_text(b"#< CLIXML\r\n<Objs broken") == b"#< CLIXML\r\n<Objs broken"


# --- replays: recorded Windows answers through the real transport ---------------------------


class Replay:
    """Stands in for pywinrm's HTTP ``Transport``: answers each request from a recording."""

    def __init__(self, recorded: list[dict[str, Any]]) -> None:
        self.recorded = list(recorded)
        self.actions: list[str] = []

    def send_message(self, message: str | bytes) -> bytes:
        text = message.decode() if isinstance(message, bytes) else message
        entry = self.recorded.pop(0)
        assert action(text) == action(entry["request"]), "the transport sent another action"
        self.actions.append(action(text))
        message_id = re.search(r"MessageID>([^<]+)<", text)
        assert message_id
        response = re.sub(
            r"RelatesTo>[^<]+<", f"RelatesTo>{message_id.group(1)}<", entry["response"]
        )
        if "transport_error" in entry:
            raise WinRMTransportError("http", entry["transport_error"]["code"], response)
        return response.encode("utf-8")

    def close_session(self) -> None:
        pass


def replaying(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[WinRMTransport, Replay]:
    replay = Replay(messages(name))
    real = WinRMTransport._protocol

    def protocol(self: WinRMTransport) -> Protocol:
        p = real(self)
        p.transport = replay  # type: ignore[assignment]
        return p

    monkeypatch.setattr(WinRMTransport, "_protocol", protocol)
    target = parse_address("winrm://vagrant@192.0.2.1?scheme=http")
    return WinRMTransport(target, password="unused-replay"), replay


def test_replay_long_poll_retries_operation_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, replay = replaying(monkeypatch, "test_winrs_operation_timeout")
    with transport:
        result = transport.run_cmd("powershell.exe Write-Host hi; Start-Sleep 30", timeout=60)
    assert result == CommandResult(
        command="powershell.exe Write-Host hi; Start-Sleep 30",
        exit_code=0,
        stdout=b"hi\nhi again\n",
        duration_s=result.duration_s,
    )
    assert replay.actions == ["Create", "Command"] + ["Receive"] * 4 + ["Signal", "Delete"]
    assert replay.recorded == []


def test_replay_stderr_and_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, replay = replaying(monkeypatch, "test_winrs_stderr_rc")
    with transport:
        result = transport.run_cmd("echo out && echo err>&2 && exit 1")
    assert (result.exit_code, result.stdout, result.stderr) == (1, b"out \r\n", b"err \r\n")
    assert replay.recorded == []


def test_replay_fault_becomes_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, replay = replaying(monkeypatch, "test_winrs_bad_cmd_id")
    with transport, pytest.raises(TransportError) as caught:
        transport.run_cmd("cmd.exe /c echo hi")
    message = str(caught.value)
    assert "The Windows Remote Shell received a request to perform an operation on a command" in (
        message
    )
    assert "WSManFault 2150858843" in message
    assert "\n" not in message
    assert replay.actions == ["Create", "Command", "Receive", "Signal", "Delete"]


def test_replay_answer_without_shell_id_is_transport_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport, replay = replaying(monkeypatch, "test_winrs_standard")
    create = replay.recorded[0]
    create["response"] = create["response"].replace("ShellId", "NotTheShellId")
    with pytest.raises(TransportError, match="unexpected WS-Management answer"):
        transport.run_cmd("echo hi")  # pywinrm's next() finds no ShellId: StopIteration


def test_missing_recordings_fail_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.winrm_endpoint import recordings

    assert (recordings.REPOSITORY / "pyproject.toml").is_file()  # the root, wherever cloned
    monkeypatch.setattr(recordings, "RECORDINGS", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="not found at"):
        recordings.recordings_dir()
