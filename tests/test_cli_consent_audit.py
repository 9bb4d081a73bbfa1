"""``remotefix consent …`` and ``remotefix audit …`` through click, with real files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from remotefix.audit import AuditLog
from remotefix.cli._app import App, RemotefixGroup
from remotefix.cli.audit import audit
from remotefix.cli.consent import consent
from remotefix.consent import ConsentStore
from remotefix.targets import parse_address
from remotefix.workspace import Workspace

GRANT = [
    "consent",
    "grant",
    "--case",
    "C-7",
    "--target",
    "web*",
    "--target",
    "ssh://root@10.0.0.0/24",
    "--scope",
    "fix",
    "--by",
    "Dana (ACME ops)",
    "--evidence",
    "TCK-7",
]


@click.group(cls=RemotefixGroup)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cli(ctx: click.Context, as_json: bool) -> None:
    """Throwaway root group mapping errors to exit codes like the real one.

    The ``App`` is made here, inside the runner, so its consoles write to the captured output.
    """
    ctx.obj = App(json=as_json, workspace=ctx.obj)


cli.add_command(consent)
cli.add_command(audit)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def _run(workspace: Workspace, args: list[str], *, as_json: bool = False) -> Result:
    flags = ["--json"] if as_json else []
    return CliRunner().invoke(cli, [*flags, *args], obj=workspace)


def _json(workspace: Workspace, args: list[str]) -> Any:
    result = _run(workspace, args, as_json=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_grant_records_consent_and_an_audit_record(workspace: Workspace) -> None:
    grant = _json(workspace, GRANT)
    assert set(grant) == {
        "id",
        "case",
        "targets",
        "scope",
        "granted_by",
        "evidence",
        "granted_at",
        "expires_at",
        "revoked_at",
        "sudo",
        "status",
    }
    assert grant["targets"] == ["web*", "ssh://root@10.0.0.0/24"]
    assert (grant["scope"], grant["status"], grant["revoked_at"]) == ("fix", "active", None)
    assert grant["sudo"] is False
    with ConsentStore(workspace) as store:
        target = parse_address("root@10.0.0.5")
        assert store.check("C-7", target, "diagnose").id == grant["id"]
    (record,) = AuditLog(workspace).records("C-7")
    assert (record["action"], record["consent_id"], record["scope"]) == (
        "consent.grant",
        grant["id"],
        "fix",
    )
    assert record["extra"]["granted_by"] == "Dana (ACME ops)"


def test_grant_human_output(workspace: Workspace) -> None:
    result = _run(workspace, GRANT)
    assert result.exit_code == 0
    assert result.output.startswith("granted c-")
    assert "Dana (ACME ops)" in result.output and "TCK-7" in result.output


def test_grant_default_expiry_is_four_hours(workspace: Workspace) -> None:
    grant = _json(workspace, GRANT)
    granted = datetime.fromisoformat(grant["granted_at"])
    assert (datetime.fromisoformat(grant["expires_at"]) - granted).total_seconds() == 4 * 3600


@pytest.mark.parametrize(
    ("extra", "exit_code", "message"),
    [
        (["--expires", "4x"], 3, "bad duration"),
        (["--expires", "31d"], 5, "30 days"),
        (["--scope", "root"], 2, "Invalid value for '--scope'"),
    ],
)
def test_grant_rejects_bad_options(
    workspace: Workspace, extra: list[str], exit_code: int, message: str
) -> None:
    result = _run(workspace, GRANT + extra)
    assert result.exit_code == exit_code
    assert message in result.output
    assert not AuditLog(workspace).path.exists()


@pytest.mark.parametrize("missing", ["--case", "--target", "--scope", "--by", "--evidence"])
def test_grant_requires_its_options(workspace: Workspace, missing: str) -> None:
    index = GRANT.index(missing)
    args = GRANT[:index] + GRANT[index + 2 :]
    if missing == "--target":
        args = [a for i, a in enumerate(args) if a != "--target" and args[i - 1] != "--target"]
    result = _run(workspace, args)
    assert result.exit_code == 2
    assert "Missing option" in result.output


def test_ls_show_and_revoke(workspace: Workspace) -> None:
    first = _json(workspace, GRANT)
    other = _json(workspace, [*GRANT[:3], "C-8", *GRANT[4:]])
    assert [g["id"] for g in _json(workspace, ["consent", "ls"])] == [first["id"], other["id"]]
    assert [g["id"] for g in _json(workspace, ["consent", "ls", "--case", "C-8"])] == [other["id"]]

    revoked = _json(workspace, ["consent", "revoke", first["id"]])
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    assert [g["id"] for g in _json(workspace, ["consent", "ls"])] == [other["id"]]
    listed = _json(workspace, ["consent", "ls", "--all"])
    assert [g["status"] for g in listed] == ["revoked", "active"]
    assert _json(workspace, ["consent", "show", first["id"]])["status"] == "revoked"

    actions = [r["action"] for r in AuditLog(workspace).records("C-7")]
    assert actions == ["consent.grant", "consent.revoke"]
    again = _run(workspace, ["consent", "revoke", first["id"]])
    assert again.exit_code == 0 and "already revoked" in again.output
    assert len(list(AuditLog(workspace).records("C-7"))) == 2


def test_ls_human_table(workspace: Workspace) -> None:
    assert "no consent grants active" in _run(workspace, ["consent", "ls"]).output
    grant = _json(workspace, GRANT)
    output = _run(workspace, ["consent", "ls"]).output
    assert grant["id"] in output and "web*" in output and "active" in output


def test_show_unknown_grant_exits_with_consent_error(workspace: Workspace) -> None:
    result = _run(workspace, ["consent", "show", "c-00000000"])
    assert result.exit_code == 5
    assert "c-00000000" in result.output and "remotefix consent ls" in result.output
    as_json = _run(workspace, ["consent", "show", "c-00000000"], as_json=True)
    payload = json.loads(as_json.stdout.splitlines()[0])["error"]
    assert (payload["error"], payload["exit_code"]) == ("ConsentError", 5)


def test_audit_verify_intact(workspace: Workspace) -> None:
    assert _json(workspace, ["audit", "verify"])["ok"] is True
    _json(workspace, GRANT)
    report = _json(workspace, ["audit", "verify"])
    assert report == {
        "ok": True,
        "records": 1,
        "first_bad_seq": None,
        "reason": None,
        "torn_tail": False,
        "path": str(workspace.audit_log),
    }
    human = _run(workspace, ["audit", "verify"])
    assert human.exit_code == 0 and "intact: 1 record(s)" in human.output


def test_audit_verify_broken_names_the_first_bad_seq(workspace: Workspace) -> None:
    log = AuditLog(workspace)
    for i in range(4):
        log.append(action="run", case="C-7", target="web1", command=f"echo {i}")
    lines = workspace.audit_log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("echo 1", "echo X")
    workspace.audit_log.write_text("".join(lines))
    result = _run(workspace, ["audit", "verify"])
    assert result.exit_code == 7
    assert "broken at seq 2: hash mismatch" in result.output
    as_json = _run(workspace, ["audit", "verify"], as_json=True)
    payload = json.loads(as_json.stdout.splitlines()[0])["error"]
    assert payload["error"] == "AuditError" and "seq 2" in payload["message"]


def test_audit_log_is_the_case_timeline(workspace: Workspace) -> None:
    _json(workspace, GRANT)
    log = AuditLog(workspace)
    log.append(
        action="run",
        case="C-7",
        target=parse_address("ssh://root@web1", name="web1"),
        command="systemctl status nginx",
        exit_code=3,
        duration_s=0.42,
    )
    log.append(action="run", case="C-9", target="db1", command="uptime", exit_code=0)
    records = _json(workspace, ["audit", "log", "--case", "C-7"])
    assert [r["action"] for r in records] == ["consent.grant", "run"]
    assert records[1]["command"] == "systemctl status nginx"
    output = _run(workspace, ["audit", "log", "--case", "C-7"]).output
    for text in ("consent.grant", "systemctl status nginx", "web1", "0.42s", "3"):
        assert text in output
    assert "uptime" not in output
    assert (
        "no audit records for case C-404"
        in _run(workspace, ["audit", "log", "--case", "C-404"]).output
    )


def test_no_grant_stays_active_without_its_audit_record(workspace: Workspace) -> None:
    AuditLog(workspace).append(action="run", case="C-7")
    with workspace.audit_log.open("ab") as fh:
        fh.write(b'{"seq":2,"torn')  # the log cannot be extended
    result = _run(workspace, GRANT)
    assert result.exit_code == 7
    with ConsentStore(workspace) as store:
        assert store.list("C-7") == []
        assert [g.status() for g in store.list("C-7", include_inactive=True)] == ["revoked"]


def test_grant_sudo_is_stored_listed_and_audited(workspace: Workspace) -> None:
    grant = _json(workspace, [*GRANT, "--sudo"])
    assert grant["sudo"] is True
    assert [g["sudo"] for g in _json(workspace, ["consent", "ls"])] == [True]
    assert _json(workspace, ["consent", "show", grant["id"]])["sudo"] is True
    table = _run(workspace, ["consent", "ls"]).output
    assert " yes " in table
    (record,) = AuditLog(workspace).records("C-7")
    assert record["extra"]["sudo"] is True and record["elevated"] is False
    with ConsentStore(workspace) as store:
        target = parse_address("ssh://root@10.0.0.9")
        assert store.check("C-7", target, "fix", sudo=True).id == grant["id"]


def test_grant_refuses_an_ambiguous_pattern(workspace: Workspace) -> None:
    args = [a if a != "ssh://root@10.0.0.0/24" else "10.0.0.5*" for a in GRANT]
    result = _run(workspace, args)
    assert result.exit_code == 5
    assert "bad consent target pattern '10.0.0.5*'" in result.output
    assert "Traceback" not in result.output
    with ConsentStore(workspace) as store:
        assert store.list(include_inactive=True) == []


def _torn(workspace: Workspace, records: int = 3) -> bytes:
    log = AuditLog(workspace)
    for i in range(records):
        log.append(action="run", case="C-7", target="web1", command=f"echo {i}")
    torn = b'{"seq":%d,"time":"2024-' % (records + 1)
    with workspace.audit_log.open("ab") as fh:
        fh.write(torn)
    return torn


def test_verify_names_a_torn_tail_and_how_to_repair_it(workspace: Workspace) -> None:
    _torn(workspace)
    result = _run(workspace, ["audit", "verify"])
    assert result.exit_code == 7
    assert "broken at seq 4: last line is incomplete" in result.output
    assert "remotefix audit repair" in result.output


def test_repair_moves_the_torn_tail_aside_and_records_it(workspace: Workspace) -> None:
    torn = _torn(workspace)
    done = _json(workspace, ["audit", "repair"])
    assert (done["repaired"], done["bytes"], done["seq"]) == (True, len(torn), 4)
    aside = Path(done["moved_to"])
    assert aside.parent == workspace.audit_log.parent and aside.read_bytes() == torn
    assert aside.stat().st_mode & 0o077 == 0
    assert _json(workspace, ["audit", "verify"])["records"] == 4
    repair = list(AuditLog(workspace).records())[-1]
    assert repair["action"] == "audit.repair" and repair["extra"]["moved_to"] == str(aside)
    AuditLog(workspace).append(action="run", case="C-7")  # the log is usable again
    again = _run(workspace, ["audit", "repair"])
    assert again.exit_code == 0 and "nothing to repair" in again.output


def test_repair_refuses_an_edited_log(workspace: Workspace) -> None:
    _torn(workspace)
    lines = workspace.audit_log.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b"echo 0", b"echo X")
    workspace.audit_log.write_bytes(b"\n".join(lines))
    before = workspace.audit_log.read_bytes()
    result = _run(workspace, ["audit", "repair"])
    assert result.exit_code == 7
    assert "broken at seq 1" in result.output and "only a torn last record" in result.output
    assert workspace.audit_log.read_bytes() == before
    assert not list(workspace.root.glob("audit.torn-*"))


def test_audit_log_table_folds_finished_intents(workspace: Workspace) -> None:
    log = AuditLog(workspace)
    done = log.append(action="run.intent", case="C-7", target="web1", command="uptime")
    log.append(action="run", case="C-7", target="web1", command="uptime", exit_code=0,
               elevated=True, extra={"intent_seq": done["seq"]})  # fmt: skip
    log.append(action="run.intent", case="C-7", target="web1", command="reboot-never-answered")
    output = _run(workspace, ["audit", "log", "--case", "C-7"]).output
    assert "run.intent" in output and "reboot-never-answered" in output  # no outcome: shown
    assert output.count("uptime") == 1 and "run (sudo)" in output
    assert len(_json(workspace, ["audit", "log", "--case", "C-7"])) == 3  # JSON keeps every record


def test_revoke_reads_the_ids_that_consent_ls_prints(workspace: Workspace) -> None:
    first, second = _json(workspace, GRANT), _json(workspace, GRANT)
    listing = _run(workspace, ["consent", "ls", "--case", "C-7"], as_json=True).output
    result = CliRunner().invoke(cli, ["--json", "consent", "revoke", "-"], input=listing,
                                obj=workspace)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {g["id"] for g in json.loads(result.output)} == {first["id"], second["id"]}
    assert _json(workspace, ["consent", "ls", "--case", "C-7"]) == []
    actions = [r["action"] for r in AuditLog(workspace).records("C-7")]
    assert actions.count("consent.revoke") == 2
    empty = CliRunner().invoke(cli, ["consent", "revoke", "-"], input="nothing here\n",
                               obj=workspace)  # fmt: skip
    assert empty.exit_code == 5 and "no grant id" in empty.output
