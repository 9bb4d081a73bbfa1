"""Known-issue cases: file validation, version ranges, triage, sharding, JUnit, and real
reproduction in labs (a case written by someone else, in the documented format, needs no code)."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from remotefix.cases.model import load_case, load_cases
from remotefix.cases.regress import cells, parse_shard
from remotefix.cases.triage import in_range, triage
from remotefix.collect.bundle import BundleWriter
from remotefix.errors import ConfigError
from tests.fixtures.cli import cli_json

GOOD = """\
id: KI-9001
title: a test case
matrix: [debian:12]
repro:
  - run: echo hello
    expect: {output_contains: hello}
reproduces_on: {debian:12: true}
"""


def test_shipped_cases_are_valid_and_each_runs_on_11_12_13() -> None:
    cases = load_cases()
    assert len(cases) >= 5
    for case in cases:
        assert set(case.matrix) >= {"debian:11", "debian:12", "debian:13"}, case.id
        assert case.workaround and case.references and case.match, case.id
        assert case.signatures, f"{case.id}: triage needs a symptom signature"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("title: a test case", "title: a test case\ncolour: red"), "unknown key(s) colour"),
        (("id: KI-9001", "id: nine"), "must look like KI-0001"),
        (
            ("reproduces_on: {debian:12: true}", "reproduces_on: {debian:11: true}"),
            "exactly the matrix",
        ),
        (
            ("    expect: {output_contains: hello}", "    expect: {exit_code: maybe}"),
            "exit_code must be",
        ),
        (("  - run: echo hello", "  - file: /x\n    run: echo"), "exactly one of 'run'"),
        (
            ("    expect: {output_contains: hello}", "    expect: {output_matches: '('}"),
            "bad regular expression",
        ),
        (("repro:", "match: {os: {version: 'twelve'}}\nrepro:"), "is not a range"),
        (("repro:", "lab: {packages: {nginx: latest}}\nrepro:"), "packages.nginx"),
        (("matrix: [debian:12]\n", ""), "missing matrix"),
        (
            ("repro:", "signatures: [{members: [commands/x/y.out], matches: '('}]\nrepro:"),
            "signatures[0]: matches: bad regular expression",
        ),
        (
            ("repro:", "signatures: [{members: [commands/x/y.out], matches: '.*'}]\nrepro:"),
            "matches an empty line",
        ),
        (
            ("repro:", "signatures: [{members: [/var/log/x], matches: 'x'}]\nrepro:"),
            "must start with commands/ or files/",
        ),
        (
            ("repro:", "match: {evidence: [{member: a, contains: b}]}\nrepro:"),
            "match.evidence is now a top-level 'signatures' list",
        ),
    ],
)
def test_bad_case_files_name_file_and_key(
    tmp_path: Path, change: tuple[str, str], problem: str
) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_case(path)
    assert problem in str(caught.value) and str(path) in str(caught.value)


def test_case_new_scaffolds_a_valid_case_and_lint_finds_it(tmp_path: Path) -> None:
    path = tmp_path / "ki-9002.yaml"
    code, out = cli_json("case", "new", "KI-9002", "--title", "Something: broke", "-o", str(path))
    assert code == 0, out
    assert cli_json("case", "lint", str(path)) == (
        0, [{"source": str(path), "id": "KI-9002", "error": None}]
    )  # fmt: skip
    assert cli_json("case", "new", "KI-9002", "--title", "again", "-o", str(path))[0] == 3


def test_case_lint_checks_every_file_and_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("id: KI-1001\n")
    (tmp_path / "b.yaml").write_text("id: nope\ntitle: x\n")
    code, rows = cli_json("case", "lint", str(tmp_path), str(tmp_path / "missing.yaml"))
    assert code == 3
    errors = [r["error"] for r in rows]
    assert len(errors) == 3 and all(errors)
    assert "no such file" in errors[2] and "a.yaml" in errors[0] and "b.yaml" in errors[1]
    code, out = cli_json("regress", "--matrix", "debian:99")
    assert code == 3 and "debian:99" in str(out)


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("1:9.2p1-2+deb12u10", ">=1:8.8", True),
        ("1:8.4p1-5+deb11u7", ">=1:8.8", False),
        ("3.11.2-1+b1", ">=3.12", False),
        ("3.13.5-1", ">=3.12", True),
        ("1.22.1-9+deb12u9", ">=1.22.1-9, <1.22.1-9+deb12u10", True),
        ("1.22.1-9+deb12u10", ">=1.22.1-9, <1.22.1-9+deb12u10", False),
        ("23.0.1+dfsg-1", "*", True),
        ("1.0~rc1-1", "<1.0-1", True),  # ~ sorts before: string order would say otherwise
    ],
)
def test_version_ranges_use_dpkg_ordering(version: str, spec: str, ok: bool) -> None:
    assert in_range(version, spec) is ok


def _bundle(tmp_path: Path, fingerprint: dict[str, Any], members: dict[str, bytes]) -> Path:
    with BundleWriter(tmp_path / "b.tar.gz") as writer:
        for name, data in members.items():
            writer.add(name, data)
        return writer.commit({"format": "remotefix-bundle"}, fingerprint)


BOOKWORM = {
    "os": {"id": "debian", "version_id": "12", "major": "12"},
    "packages": {"python3-pip": "23.0.1+dfsg-1", "openssh-client": "1:9.2p1-2+deb12u10",
                 "openssl": "3.0.17-1~deb12u2", "python3": "3.11.2-1+b1"},
}  # fmt: skip
QUICK = {"format": "remotefix-bundle", "collectors": [
    {"name": n, "status": "ok", "items": []} for n in ("os", "packages", "services", "logs")]}  # fmt: skip


def _triage(tmp_path: Path, members: dict[str, bytes], manifest: Any = None, **kw: Any) -> Any:
    with BundleWriter(tmp_path / f"b{len(list(tmp_path.iterdir()))}.tar.gz") as writer:
        for name, data in members.items():
            writer.add(name, data)
        bundle = writer.commit(manifest or QUICK, kw.pop("fingerprint", BOOKWORM))
    return {e.case: e for e in triage(bundle, load_cases(), **kw)}


def test_triage_names_the_case_whose_signature_matched_with_its_evidence(tmp_path: Path) -> None:
    journal = b"0000\n"
    dpkg = b"ii \tbash\t5.2.15-2+b7\tamd64\niF \thello\t2.10-3\tamd64\n"
    found = _triage(tmp_path, {"commands/packages/dpkg-journal.out": journal,
                               "commands/packages/dpkg.out": dpkg})  # fmt: skip
    ki4 = found["KI-0004"]
    assert ki4.state.value == "affected" and ki4.score >= 0.9
    assert [(e.member, e.line) for e in ki4.evidence] == [
        ("commands/packages/dpkg-journal.out", 1),
        ("commands/packages/dpkg.out", 2),
    ]
    assert (
        ki4.decision.action.value == "workaround" and "dpkg --configure -a" in ki4.decision.detail
    )
    assert {c: e.state.value for c, e in found.items() if c != "KI-0004"} == {
        "KI-0001": "susceptible", "KI-0002": "not_affected", "KI-0003": "susceptible",
        "KI-0005": "susceptible", "KI-0006": "not_affected"}  # fmt: skip
    assert all(not e.evidence and e.score < 0.6 for c, e in found.items() if c != "KI-0004")


def test_triage_says_unknown_and_names_what_was_missing(tmp_path: Path) -> None:
    denied = {"format": "remotefix-bundle", "collectors": [
        {"name": "packages", "status": "ok", "items": []},
        {"name": "logs", "status": "failed", "items": [
            {"kind": "cmd", "name": "auth-tail", "status": "denied",
             "members": ["commands/logs/auth-tail.out", "commands/logs/auth-tail.err"]}]}]}  # fmt: skip
    found = _triage(tmp_path, {}, denied)
    assert found["KI-0003"].state.value == "unknown"
    assert found["KI-0003"].missing == ("logs: auth-tail (denied)",)
    assert found["KI-0003"].decision.action.value == "escalate"
    quick_without_logs = {"format": "remotefix-bundle", "collectors": [
        {"name": "packages", "status": "ok", "items": []}]}  # fmt: skip
    found = _triage(tmp_path, {}, quick_without_logs)
    assert "collector logs did not run" in found["KI-0001"].missing[0]
    no_packages = {"os": BOOKWORM["os"]}
    found = _triage(tmp_path, {}, fingerprint=no_packages)
    assert found["KI-0005"].state.value == "unknown"
    assert found["KI-0005"].missing == ("package openssl >=3: not in the fingerprint",)


def test_triage_symptom_ranks_the_case_the_ticket_describes(tmp_path: Path) -> None:
    ticket = "deploy fails: error: externally-managed-environment  This environment is ..."
    ranked = list(_triage(tmp_path, {}, symptom=ticket).values())
    assert ranked[0].case == "KI-0001" and ranked[0].symptom == "signature"
    assert ranked[0].state.value == "susceptible" and ranked[0].decision.action.value == "escalate"
    trixie = {**BOOKWORM, "os": {"id": "debian", "version_id": "13", "major": "13"}}
    words = "apt-key command not found in our script"
    by_title = list(_triage(tmp_path, {}, symptom=words, fingerprint=trixie).values())
    assert by_title[0].case == "KI-0006" and by_title[0].symptom == "title"
    on_bookworm = _triage(tmp_path, {}, symptom=words)["KI-0006"]  # ruled out by the OS
    assert on_bookworm.state.value == "not_affected" and on_bookworm.score < 0.25


def test_triage_upgrade_decision_and_escalation(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(
        GOOD + "match: {packages: {nginx: '<1.22.1-9+deb12u2'}}\n"
        "signatures: [{members: ['commands/logs/*.out'], matches: 'worker process \\d+ exited on signal 11'}]\n"
        "fixed_in: {nginx: 1.22.1-9+deb12u2}\n"
    )
    fp = {"os": {"id": "debian", "version_id": "12"}, "packages": {"nginx": "1.22.1-9+deb12u1"}}
    crash = b"2026/12/01 [alert] 12#12: worker process 4242 exited on signal 11\n"
    (tmp_path / "b").mkdir()
    bundle = _bundle(tmp_path / "b", fp, {"commands/logs/app-logs.out": crash})
    code, out = cli_json("triage", str(bundle), "--cases", str(case))
    assert code == 0 and out[0]["state"] == "affected"
    assert out[0]["decision"] == {
        "action": "upgrade",
        "detail": "upgrade nginx to >= 1.22.1-9+deb12u2",
    }
    assert out[0]["evidence"][0]["excerpt"].endswith("exited on signal 11")
    fp["packages"]["nginx"] = "1.22.1-9+deb12u2"
    code, out = cli_json("triage", str(_bundle(tmp_path, fp, {})), "--cases", str(case))
    assert [e["state"] for e in out] == ["not_affected"]


def test_shards_cover_every_cell_exactly_once() -> None:
    cases = load_cases()
    every = [c.key for c in cells(cases)]
    shards = [[c.key for c in cells(cases, shard=(i, 4))] for i in range(1, 5)]
    assert sorted(k for s in shards for k in s) == sorted(every) and all(shards)
    assert [c.on for c in cells(cases, ["debian:12"])] == ["debian:12"] * len(cases)
    for bad in ("0/2", "3/2", "a/b", "1"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


@pytest.mark.docker
def test_a_case_from_someone_else_runs_without_code_changes(tmp_path: Path) -> None:
    """Two cells: one as declared, one not (so the JUnit failure path is real too)."""
    case = tmp_path / "theirs.yaml"
    case.write_text(f"""\
id: KI-{uuid.uuid4().int % 9000 + 1000}
title: jq is missing unless installed
matrix: [debian:11, debian:12]
lab:
  files: {{/etc/theirs.conf: "inline:answer=42\\n"}}
  setup: ["echo set-up > /etc/theirs-setup"]
repro:
  - run: cat /etc/theirs-setup
  - file: /etc/theirs.conf
    expect: {{exists: true, contains: "answer=42"}}
  - run: jq --version
    expect: {{exit_code: 127}}
reproduces_on: {{debian:11: true, debian:12: false}}
""")
    junit = tmp_path / "junit.xml"
    code, rows = cli_json("regress", str(case), "--junit", str(junit), "--jobs", "2")
    assert code == 40, rows
    verdicts = {r["on"]: (r["verdict"], r["as_declared"]) for r in rows}
    assert verdicts == {"debian:11": ("REPRODUCED", True), "debian:12": ("REPRODUCED", False)}
    suite = ET.parse(junit).getroot()  # noqa: S314 (our own file)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    evidence = json.loads(Path(rows[0]["evidence"]).read_text())
    assert evidence["steps"][2]["exit_code"] == 127
    assert cli_json("lab", "ls")[1] == []


@pytest.mark.docker
def test_repro_error_is_never_a_verdict(tmp_path: Path) -> None:
    case = tmp_path / "slow.yaml"
    case.write_text(GOOD.replace("run: echo hello", "run: sleep 30\n    timeout: 1"))
    code, out = cli_json("repro", str(case), "--keep", "on-failure")
    assert (
        code == 40 and out["verdict"] == "ERROR" and "timed out" in out["steps"][0]["problems"][0]
    )
    assert out["lab"]  # kept for inspection
    assert cli_json("lab", "down", out["lab"])[0] == 0


@pytest.mark.docker
def test_shipped_case_reproduces_as_declared() -> None:
    code, out = cli_json("repro", "KI-0005", "--on", "debian:12")
    assert code == 0 and out["verdict"] == "REPRODUCED" and out["as_declared"], out
    code, out = cli_json("repro", "KI-0005", "--on", "debian:11")
    assert code == 0 and out["verdict"] == "NOT_REPRODUCED" and out["as_declared"], out


@pytest.mark.docker
def test_shipped_cases_regress_green_with_junit(tmp_path: Path) -> None:
    """The CI regression suite itself: every shipped case x Debian 11/12/13, as declared."""
    junit = tmp_path / "regress.xml"
    code, rows = cli_json("regress", "--junit", str(junit))
    assert code == 0, [(r["case"], r["on"], r["verdict"], r["error"]) for r in rows]
    assert len(rows) == len(load_cases()) * 3
    suite = ET.parse(junit).getroot()  # noqa: S314 (our own file)
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert cli_json("lab", "ls")[1] == []
