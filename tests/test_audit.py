"""The hash-chained audit log: records, tamper detection, concurrent writers, secret scrub."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from remotefix.audit import GENESIS, AuditLog, record_hash, result_fields
from remotefix.errors import AuditError
from remotefix.redact_command import scrub_command
from remotefix.result import CommandResult
from remotefix.targets import parse_address
from remotefix.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(Workspace(tmp_path / "ws"))


def _fill(log: AuditLog, count: int, case: str = "C-1") -> list[dict[str, Any]]:
    return [
        log.append(action="run", case=case, target="web1", command=f"echo {i}", exit_code=0)
        for i in range(count)
    ]


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines), encoding="utf-8")


def test_records_are_chained(log: AuditLog) -> None:
    records = _fill(log, 3)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    assert [r["prev"] for r in records[1:]] == [r["hash"] for r in records[:2]]
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert record["hash"] == record_hash(record)
        assert len(record["hash"]) == 64 and record["hash"] == _sha(canonical)
    assert [json.loads(line) for line in _lines(log)] == records


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_record_fields(log: AuditLog) -> None:
    target = parse_address("ssh://root@web1:22", name="web1")
    result = CommandResult(
        "cat /etc/os-release", 0, b"very private output", b"", 0.25, truncated=True
    )
    record = log.append(
        action="run",
        case="C-1",
        target=target,
        consent_id="c-0123abcd",
        scope="diagnose",
        command="cat /etc/os-release",
        extra={"collector": "os"},
        **result_fields(result),
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["time"])
    assert re.fullmatch(r".+@.+", record["actor"])
    assert (record["target"], record["address"]) == ("web1", "ssh://root@web1:22")
    assert (record["consent_id"], record["scope"], record["action"]) == (
        "c-0123abcd",
        "diagnose",
        "run",
    )
    assert (record["exit_code"], record["duration_s"], record["timed_out"]) == (0, 0.25, False)
    assert record["truncated"] is True
    assert record["stdout_sha256"] == _sha("very private output")
    assert record["extra"] == {"collector": "os"}
    assert "very private output" not in log.path.read_text()


def test_commands_and_extra_are_scrubbed_before_writing(log: AuditLog) -> None:
    record = log.append(
        action="run",
        command="mysql -uroot -pHunter2 -e 'select 1'",
        extra={"note": "PGPASSWORD=pg-secret psql"},
    )
    assert record["command"] == "mysql -uroot -p*** -e 'select 1'"
    text = log.path.read_text()
    assert "Hunter2" not in text and "pg-secret" not in text


def test_log_file_is_private(log: AuditLog) -> None:
    _fill(log, 1)
    assert log.path.stat().st_mode & 0o077 == 0


def test_verify_intact_and_empty(log: AuditLog) -> None:
    assert log.verify().ok and log.verify().records == 0
    _fill(log, 5)
    report = log.verify()
    assert (report.ok, report.records, report.first_bad_seq, report.reason) == (True, 5, None, None)


def test_records_filter_by_case(log: AuditLog) -> None:
    _fill(log, 2, case="A")
    _fill(log, 1, case="B")
    _fill(log, 1, case="A")
    assert [r["seq"] for r in log.records("A")] == [1, 2, 4]
    assert [r["seq"] for r in log.records()] == [1, 2, 3, 4]


def test_long_records_are_found_from_the_end(log: AuditLog) -> None:
    log.append(action="run", command="x" * 50_000)
    log.append(action="run", command="y" * 20_000)
    assert log.append(action="run")["seq"] == 3
    assert log.verify().ok


def _edit(lines: list[str], index: int, **changes: Any) -> None:
    record = json.loads(lines[index])
    record.update(changes)
    lines[index] = json.dumps(record) + "\n"


def test_verify_detects_an_edited_record(log: AuditLog) -> None:
    _fill(log, 5)
    lines = _lines(log)
    _edit(lines, 2, command="echo harmless")
    _write(log, lines)
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.records) == (False, 3, 2)
    assert "hash mismatch" in str(report.reason)


def test_verify_detects_an_edit_with_a_recomputed_hash_at_the_next_record(log: AuditLog) -> None:
    _fill(log, 5)
    lines = _lines(log)
    record = json.loads(lines[2])
    record["exit_code"] = 1
    record["hash"] = record_hash(record)
    lines[2] = json.dumps(record) + "\n"
    _write(log, lines)
    report = log.verify()
    assert report.first_bad_seq == 4 and "prev does not match" in str(report.reason)


def test_verify_detects_a_deleted_record(log: AuditLog) -> None:
    _fill(log, 5)
    lines = _lines(log)
    del lines[2]
    _write(log, lines)
    report = log.verify()
    assert report.first_bad_seq == 3 and "found seq 4 where 3 was expected" in str(report.reason)


def test_verify_detects_reordered_records(log: AuditLog) -> None:
    _fill(log, 5)
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log, lines)
    report = log.verify()
    assert report.first_bad_seq == 3 and "reordered" in str(report.reason)


def test_verify_detects_a_truncated_last_line(log: AuditLog) -> None:
    _fill(log, 5)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-40])
    report = log.verify()
    assert report.first_bad_seq == 5 and "incomplete" in str(report.reason)
    assert report.records == 4


def test_verify_detects_invalid_json_in_the_middle(log: AuditLog) -> None:
    _fill(log, 5)
    lines = _lines(log)
    lines[1] = lines[1][:30] + "\n"
    _write(log, lines)
    report = log.verify()
    assert report.first_bad_seq == 2 and "not valid JSON" in str(report.reason)


def test_verify_detects_a_removed_tail(log: AuditLog) -> None:
    _fill(log, 5)
    _write(log, _lines(log)[:3])
    report = log.verify()
    assert report.first_bad_seq == 4 and "head records seq 5" in str(report.reason)


def test_verify_detects_an_emptied_log(log: AuditLog) -> None:
    _fill(log, 5)
    log.path.write_bytes(b"")
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 1)


def test_verify_detects_an_emptied_then_rewritten_log(log: AuditLog, tmp_path: Path) -> None:
    _fill(log, 5)
    forged = AuditLog(Workspace(tmp_path / "forger"))
    _fill(forged, 7)  # a perfectly valid chain, longer than the original
    shutil.copy(forged.path, log.path)
    report = log.verify()
    assert report.first_bad_seq == 1 and "rewritten" in str(report.reason)


def test_append_refuses_a_log_that_lost_records(log: AuditLog) -> None:
    _fill(log, 3)
    log.path.write_bytes(b"")
    with pytest.raises(AuditError, match="ends at seq 0 but its head records seq 3"):
        log.append(action="run")


def test_append_refuses_after_a_torn_last_line(log: AuditLog) -> None:
    _fill(log, 3)
    log.path.write_bytes(log.path.read_bytes()[:-10])
    with pytest.raises(AuditError, match=r"last record .* is damaged"):
        log.append(action="run")


def test_records_skip_a_line_still_being_written(log: AuditLog) -> None:
    _fill(log, 2)
    with log.path.open("a") as fh:
        fh.write('{"seq":3,')
    assert [r["seq"] for r in log.records()] == [1, 2]


_APPENDER = """
import sys, time
from pathlib import Path
from remotefix.audit import AuditLog
from remotefix.workspace import Workspace
log = AuditLog(Workspace(Path(sys.argv[1])))
start, name = Path(sys.argv[2]), sys.argv[3]
while not start.exists():
    time.sleep(0.001)
for i in range(200):
    log.append(action="run", case=name, target=name, command=f"echo {name} {i}", exit_code=0)
"""


def test_two_processes_appending_at_once_keep_one_valid_chain(
    log: AuditLog, tmp_path: Path
) -> None:
    start = tmp_path / "start"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(log.workspace.root), str(start), name], cwd=REPO
        )
        for name in ("alpha", "beta")
    ]
    start.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    report = log.verify()
    assert (report.ok, report.records) == (True, 400), report
    records = list(log.records())
    assert [r["seq"] for r in records] == list(range(1, 401))
    for name in ("alpha", "beta"):
        mine = [r["command"] for r in records if r["case"] == name]
        assert mine == [f"echo {name} {i}" for i in range(200)]
    cases = [r["case"] for r in records]
    switches = sum(a != b for a, b in itertools.pairwise(cases))
    assert switches > 0  # the writers really interleaved


SECRETS = {
    "mysql -h db -u root -pS3cretMy dbname": "S3cretMy",
    "mysqldump --password=DumpPw1 shop": "DumpPw1",
    "app --password 'Quoted Pw' --verbose": "Quoted Pw",
    "curl 'https://api.example/v1?api_key=AK123456&x=1'": "AK123456",
    "curl -H 'Authorization: Bearer eyJhbGciOi.abc.def' https://x": "eyJhbGciOi.abc.def",
    'curl -H "Authorization: Basic dXNlcjpwYXNz" https://x': "dXNlcjpwYXNz",
    "PGPASSWORD=PgPw99 psql -h db -c 'select 1'": "PgPw99",
    "sshpass -p SshPw77 ssh admin@host uptime": "SshPw77",
    "sshpass -pGlued88 ssh admin@host": "Glued88",
    "git clone https://bob:ghp_TokenValue@github.com/acme/app.git": "ghp_TokenValue",
    "echo token=tok-111 secret=sec-222 passwd=pw-333": "tok-111",
    "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI": "wJalrXUtnFEMI",
    "curl -u admin:CurlPw5 http://x/": "CurlPw5",
    "redis-cli -a RedisPw6 ping": "RedisPw6",
    "ConvertTo-SecureString 'WinPw7' -AsPlainText -Force": "WinPw7",
    "echo '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----'"
    "> id": "b3BlbnNzaC1rZXk",
}


@pytest.mark.parametrize(("command", "secret"), SECRETS.items())
def test_scrub_masks_planted_secrets(command: str, secret: str) -> None:
    scrubbed = scrub_command(command)
    assert secret not in scrubbed
    assert "***" in scrubbed


def test_scrub_masks_every_value_in_one_line() -> None:
    scrubbed = scrub_command("echo token=tok-111 secret=sec-222 passwd=pw-333 password=pw-444")
    assert scrubbed == "echo token=*** secret=*** passwd=*** password=***"


@pytest.mark.parametrize(
    "harmless",
    [
        "grep -i PasswordAuthentication /etc/ssh/sshd_config",
        "sed -i 's/^PasswordAuthentication yes/PasswordAuthentication no/' /etc/ssh/sshd_config",
        "sshd -T -o PasswordAuthentication=no",
        "apt-get install passwd",
        "passwd --status root",
        "cat /etc/passwd",
        "ssh -p2222 admin@host",
        "cp -pr /etc/nginx /tmp/",
        "docker login --password-stdin -u me registry.example",
        "docker run -u 1000:1000 img",
        "mysql -p shop",
        "curl https://example.com/path",
    ],
)
def test_scrub_leaves_harmless_text_alone(harmless: str) -> None:
    assert scrub_command(harmless) == harmless


def test_scrub_masks_an_unterminated_private_key_to_the_end() -> None:
    scrubbed = scrub_command("cat > k <<EOF\n-----BEGIN PRIVATE KEY-----\nMIIEsecret\n")
    assert "MIIEsecret" not in scrubbed


def test_records_say_whether_they_were_elevated(log: AuditLog) -> None:
    assert log.append(action="run")["elevated"] is False
    assert log.append(action="run", elevated=True)["elevated"] is True
    assert log.verify().ok


def test_a_record_that_is_not_utf8_is_refused_before_writing(log: AuditLog) -> None:
    _fill(log, 2)
    before = log.path.read_bytes()
    name = b"web\xff1".decode("utf-8", "surrogateescape")  # how Python hands over such argv
    with pytest.raises(AuditError, match=r"its target 'web\\udcff1' is not valid UTF-8"):
        log.append(action="run", target=name, command="true")
    assert log.path.read_bytes() == before
    assert log.append(action="run")["seq"] == 3 and log.verify().ok


_LIMITED = """
import resource, sys
from pathlib import Path
from remotefix.audit import AuditLog
from remotefix.errors import AuditError
from remotefix.workspace import Workspace
log = AuditLog(Workspace(Path(sys.argv[1])))
size = log.path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))
try:
    log.append(action="run", command="x" * 2000)
except AuditError as exc:
    print(exc)
"""


def test_a_write_cut_short_by_the_file_size_limit_leaves_no_half_record(log: AuditLog) -> None:
    _fill(log, 3)
    before = log.path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(log.workspace.root)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "audit log" in done.stdout and "ulimit -f" in done.stdout
    assert log.path.read_bytes() == before  # the 100 bytes that fit were cut back off
    assert log.verify().ok and log.append(action="run")["seq"] == 4
