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
    assert cli_json("case", "lint", str(path)) == (0, ["KI-9002"])
    assert cli_json("case", "new", "KI-9002", "--title", "again", "-o", str(path))[0] == 3


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


def test_triage_decides_and_says_where_it_was_blind(tmp_path: Path) -> None:
    fp = {
        "os": {"id": "debian", "version_id": "12", "major": "12"},
        "packages": {"python3-pip": "23.0.1+dfsg-1", "openssh-client": "1:9.2p1-2+deb12u10"},
    }
    audit = b"The following packages are only half configured, probably due to problems\n hello\n"
    bundle = _bundle(tmp_path, fp, {"commands/apt/dpkg-audit.out": audit})
    results = {r.case: r for r in triage(bundle, load_cases())}
    assert results["KI-0001"].matched and "virtual environment" in results["KI-0001"].decision
    assert results["KI-0003"].matched and results["KI-0004"].matched
    assert "ki-0004-dpkg-configure" in results["KI-0004"].decision
    assert not results["KI-0002"].matched and not results["KI-0006"].matched
    (tmp_path / "x").mkdir()
    blind_bundle = _bundle(tmp_path / "x", fp, {})
    blind = {r.case: r for r in triage(blind_bundle, load_cases())}["KI-0004"]
    assert not blind.matched and blind.possible
    assert blind.blind == ["evidence commands/apt/dpkg-audit.out"]


def test_triage_upgrade_decision_and_escalation(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(
        GOOD + "match: {packages: {nginx: '<1.22.1-9+deb12u2'}}\n"
        "fixed_in: {nginx: 1.22.1-9+deb12u2}\n"
    )
    fp = {"os": {"id": "debian", "version_id": "12"}, "packages": {"nginx": "1.22.1-9+deb12u1"}}
    code, out = cli_json("triage", str(_bundle(tmp_path, fp, {})), "--cases", str(case))
    assert code == 0 and out["matches"][0]["decision"] == "upgrade nginx to >= 1.22.1-9+deb12u2"
    fp["packages"]["nginx"] = "1.22.1-9+deb12u2"
    (tmp_path / "b.tar.gz").unlink()
    code, out = cli_json("triage", str(_bundle(tmp_path, fp, {})), "--cases", str(case))
    assert out["matches"] == [] and "remotefix lab plan" in out["escalate"]


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
