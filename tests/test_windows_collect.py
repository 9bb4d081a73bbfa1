"""Windows collectors: specs, the PowerShell script, fingerprints from realistic outputs of four
machine shapes (incl. a non-admin user), offline import, and diagnose over WinRM end to end
against the WS-Management test endpoint (which replays the collection script's output: no
PowerShell runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.collect.script import item_status, parse_header, parse_output, render_script
from remotefix.collect.specs import load_collectors, select_collectors
from remotefix.fingerprint import SCHEMA_PATH
from remotefix.fingerprint_windows import build_windows_fingerprint
from tests.fixtures import windows
from tests.fixtures.cli import grant
from tests.winrm_endpoint import commands
from tests.winrm_endpoint.server import WinRMEndpoint


def test_windows_specs_render_one_powershell_script() -> None:
    collectors = load_collectors("windows")
    assert {
        "os",
        "hotfixes",
        "programs",
        "services",
        "processes",
        "storage",
        "network",
        "eventlog",
        "firewall",
        "reboot",
        "windows-update",
        "time",
    } <= {c.name for c in collectors}
    script = render_script(collectors, profile="full")
    assert script.startswith("# remotefix collection script")
    assert "#!/bin/sh" not in script and "rfx_run 'os/os' 30 262144 'Get-CimInstance" in script
    for c in collectors:
        for command in c.commands:
            quoted = "'" + command.run.replace("'", "''") + "'"
            assert quoted in script, f"{c.name}/{command.name} not quoted as a PowerShell literal"
    assert '" windows"' in script or '+ " windows"' in script
    quick = select_collectors(collectors, profile="quick")
    assert {c.name for c in quick} == {"os", "programs", "services", "time"}


@pytest.mark.parametrize("shape", windows.SHAPES)
def test_fixture_outputs_give_correct_fingerprints(shape: str) -> None:
    fixture = windows.load(shape)
    expect = fixture["expect"]
    data = windows.framed(shape)
    assert parse_header(data).os == "windows"  # type: ignore[union-attr]
    items, whole = parse_output(data)
    assert whole
    fp = build_windows_fingerprint(items)
    jsonschema.validate(fp, json.loads(SCHEMA_PATH.read_text()))
    for key in ("os", "arch", "hostname", "container", "packages", "locale", "timezone"):
        assert fp[key] == expect[key], key
    assert {s["name"]: s["state"] for s in fp["services"]} == expect["services"]
    denied = sorted(f"{i.collector}/{i.name}" for i in items if item_status(i) == "denied")
    assert denied == sorted(expect.get("denied", []))


def _import(shape: str, tmp_path: Path) -> tuple[int, Any]:
    output = tmp_path / f"{shape}.txt"
    output.write_bytes(windows.framed(shape, profile="full"))
    bundle = tmp_path / f"{shape}.tar.gz"
    result = CliRunner().invoke(
        cli,
        [
            "--json",
            "bundle",
            "import",
            str(output),
            "--case",
            "C-W",
            "--target-name",
            shape,
            "-o",
            str(bundle),
        ],
    )
    return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else result.output


def test_offline_import_of_a_non_admin_run_records_what_was_denied(tmp_path: Path) -> None:
    code, out = _import("win11-user", tmp_path)
    assert code == 0, out
    shown = json.loads(CliRunner().invoke(cli, ["--json", "bundle", "show", out["bundle"]]).stdout)
    statuses = {c["name"]: c["status"] for c in shown["manifest"]["collectors"]}
    assert statuses["processes"] == "failed" and statuses["time"] == "partial"
    assert statuses["os"] == "ok" and shown["manifest"]["incomplete"] is True
    assert shown["fingerprint"]["os"]["pretty_name"] == "Microsoft Windows 11 Pro"


def test_windows_bundle_lab_plan_says_not_reproducible(tmp_path: Path) -> None:
    code, out = _import("server2022-admin", tmp_path)
    assert code == 0, out
    result = CliRunner().invoke(cli, ["lab", "plan", out["bundle"]])
    assert result.exit_code == 30
    assert "not reproducible on a Linux Docker host" in result.output and "windows" in result.output


def test_collector_script_for_windows_from_the_cli() -> None:
    result = CliRunner().invoke(cli, ["collector-script", "--os", "windows", "--profile", "quick"])
    assert result.exit_code == 0 and "rfx_run 'services/services'" in result.output


def _diagnose_winrm(
    endpoint: WinRMEndpoint, address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = tmp_path / "replay.txt"
    replay.write_bytes(windows.framed("server2022-admin"))
    monkeypatch.setitem(commands.COLLECTION_REPLAY, "output", replay)
    monkeypatch.setenv("REMOTEFIX_WINRM_PASSWORD", endpoint.password)
    grant([address], "C-WIN")
    bundle = tmp_path / "win.tar.gz"
    result = CliRunner().invoke(
        cli,
        ["--json", "diagnose", address, "--case", "C-WIN", "--profile", "quick", "-o", str(bundle)],
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["ok"] and row["os"] == "Microsoft Windows Server 2022 Datacenter"
    fp = json.loads(CliRunner().invoke(cli, ["--json", "fingerprint", "show", str(bundle)]).stdout)
    assert fp["os"]["family"] == "windows" and fp["packages"]["VMware Tools"] == "12.3.5.22544099"
    shown = CliRunner().invoke(cli, ["--json", "bundle", "show", str(bundle)])
    manifest = json.loads(shown.stdout)["manifest"]
    assert manifest["target"]["connection"] == "winrm" and manifest["consent_id"]


def test_diagnose_over_winrm_ntlm_encrypted(
    winrm_endpoint: WinRMEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = winrm_endpoint.address(transport="ntlm")
    _diagnose_winrm(winrm_endpoint, address, tmp_path, monkeypatch)


def test_diagnose_over_winrm_https_basic(
    winrm_https_endpoint: WinRMEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = winrm_https_endpoint.address(transport="basic")
    _diagnose_winrm(winrm_https_endpoint, address, tmp_path, monkeypatch)
