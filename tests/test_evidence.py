"""Evidence as a realistic customer gives it: an unprivileged ``support`` login with passwordless
sudo, root-only files, and the application's own files. Root is used only under a ``--sudo``
grant; without it the manifest says what was denied and why, and a lab never copies it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import docker
import pytest

from remotefix.audit import AuditLog
from remotefix.collect.bundle import read_members
from remotefix.consent import ConsentStore, Scope
from remotefix.sandbox import Customer
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, trust
from tests.fixtures.docker import CustomerFactory, KeyPair, support_login

pytestmark = pytest.mark.docker

SECRET = "Hunter2-Evidence-99"
ROOT_ONLY = f"""
mkdir -p /etc/myapp/conf.d && chmod 700 /etc/myapp
printf 'db:\\n  host: db1\\n  password: {SECRET}\\n' > /etc/myapp/app.yml
echo 'workers: 4' > /etc/myapp/conf.d/extra.yml
chmod 600 /etc/ssh/sshd_config
"""


def _support(customer: Customer, docker_api: docker.DockerClient) -> str:
    """The customer's ``support`` login (root-only files planted), its host key trusted."""
    address = support_login(docker_api, customer, ROOT_ONLY)
    trust(customer)
    return address


def _grant(address: str, case: str, *, sudo: bool) -> None:
    with ConsentStore(Workspace.default().ensure()) as store:
        store.grant(case, [address], Scope.DIAGNOSE, timedelta(minutes=10),
                    "Ann (customer IT)", "ticket", sudo=sudo)  # fmt: skip


def _items(bundle: Path) -> dict[str, dict[str, object]]:
    manifest = json.loads(read_members(bundle, ["manifest.json"])["manifest.json"])
    return {f"{c['name']}/{i['name']}": i for c in manifest["collectors"] for i in c["items"]}


def _diagnose_with_include(target: str, case: str, bundle: Path) -> dict[str, dict[str, object]]:
    """``diagnose --include /etc/myapp`` into ``bundle``; its manifest items by collector/name."""
    code, out = cli_json("diagnose", target, "--case", case, "--include", "/etc/myapp",
                         "-o", str(bundle))  # fmt: skip
    assert code == 0, out
    return _items(bundle)


def test_root_evidence_only_under_sudo_consent(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    address = _support(customer_factory(), docker_api)
    target = f"{address}?identity_file={client_key.private}"

    _grant(address, "C-NOSUDO", sudo=False)
    plain = tmp_path / "plain.tar.gz"
    items = _diagnose_with_include(target, "C-NOSUDO", plain)
    assert items["include//etc/myapp"]["status"] == "denied"
    assert items["include//etc/myapp"]["reason"] == "no sudo consent"
    assert items["apt/dpkg-audit"]["reason"] == "no sudo consent"
    assert items["ssh-config//etc/ssh/sshd_config"]["status"] == "denied"
    records = [r for r in AuditLog(Workspace.default()).records("C-NOSUDO")]
    assert not any(r.get("elevated") for r in records)

    code, spec = cli_json("lab", "plan", str(plain))
    assert code == 0, spec
    assert "/etc/ssh/sshd_config" not in (spec.get("files") or {})
    assert "denied on the customer" in spec["source"]["withheld"]["/etc/ssh/sshd_config"]

    _grant(address, "C-SUDO", sudo=True)
    full = tmp_path / "full.tar.gz"
    items = _diagnose_with_include(target, "C-SUDO", full)
    assert items["include//etc/myapp/app.yml"]["status"] == "ok"
    assert items["include//etc/myapp/conf.d/extra.yml"]["status"] == "ok"
    assert items["apt/dpkg-audit"]["status"] == "ok"
    app = read_members(full, ["files/etc/myapp/app.yml"])["files/etc/myapp/app.yml"]
    assert b"host: db1" in app and SECRET.encode() not in app
    code, spec = cli_json("lab", "plan", str(full))  # the included files are the lab's too
    assert code == 0, spec
    assert spec["files"]["/etc/myapp/app.yml"] == "bundle:files/etc/myapp/app.yml"
    assert spec["files"]["/etc/myapp/conf.d/extra.yml"] == "bundle:files/etc/myapp/conf.d/extra.yml"
    diagnose = [r for r in AuditLog(Workspace.default()).records("C-SUDO")
                if r["action"] == "diagnose"]  # fmt: skip
    assert diagnose and all(r["elevated"] for r in diagnose)


@pytest.mark.slow
def test_a_lab_from_a_bundle_never_claims_a_denied_file(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    address = _support(customer_factory(), docker_api)
    _grant(address, "C-LAB", sudo=False)
    bundle = tmp_path / "b.tar.gz"
    code, out = cli_json("diagnose", f"{address}?identity_file={client_key.private}",
                         "--case", "C-LAB", "--profile", "quick", "--only", "ssh-config",
                         "--only", "os", "--only", "packages", "--only", "services",
                         "-o", str(bundle))  # fmt: skip
    assert code == 0, out
    spec = tmp_path / "lab.yaml"
    assert cli_json("lab", "plan", str(bundle), "-o", str(spec))[0] == 0
    code, lab = cli_json("lab", "up", str(spec), "--case", "C-LAB")  # checked by default
    assert code == 0, lab
    try:
        items = {(i["kind"], i["name"]): i for i in lab["fidelity"]["items"]}
        row = items[("file", "/etc/ssh/sshd_config")]
        assert row["status"] == "missing" and "denied on the customer" in row["note"]
    finally:
        assert cli_json("lab", "down", lab["name"])[0] == 0


def test_include_that_reaches_the_whole_disk_is_refused_before_connecting() -> None:
    for glob in ("/", "/*", "/etc", "/proc/1/environ", "relative/path", "/etc/../root"):
        code, out = cli_json("diagnose", "ssh://root@127.0.0.1:1", "--case", "C-INC",
                             "--include", glob)  # fmt: skip
        assert code == 3, (glob, out)
    assert not Workspace.default().audit_log.exists()  # nothing was attempted


def test_a_profile_file_and_a_case_include_come_in_the_same_round_trip(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    address = _support(customer_factory(), docker_api)
    _grant(address, "C-PROF", sudo=True)
    profile = tmp_path / "myapp.yaml"
    profile.write_text("base: quick\ncollectors: [os, packages]\ninclude: [/etc/myapp/*.yml]\n")
    case = tmp_path / "ki-0900.yaml"
    case.write_text(
        "id: KI-0900\ntitle: myapp\nmatrix: [debian:12]\nrepro: [{run: 'true'}]\n"
        "reproduces_on: {debian:12: true}\ninclude: [/etc/myapp/conf.d]\n"
    )
    bundle = tmp_path / "b.tar.gz"
    code, out = cli_json("diagnose", f"{address}?identity_file={client_key.private}",
                         "--case", "C-PROF", "--profile", str(profile), "--known", str(case),
                         "-o", str(bundle))  # fmt: skip
    assert code == 0, out
    items = _items(bundle)
    assert {name.split("/")[0] for name in items} == {"os", "packages", "include"}, items
    assert items["include//etc/myapp/app.yml"]["status"] == "ok"  # the profile's glob
    assert items["include//etc/myapp/conf.d/extra.yml"]["status"] == "ok"  # the case's folder
    app = read_members(bundle, ["files/etc/myapp/app.yml"])["files/etc/myapp/app.yml"]
    assert b"host: db1" in app and SECRET.encode() not in app
    records = AuditLog(Workspace.default()).records("C-PROF")
    assert len([r for r in records if r["action"] == "diagnose"]) == 1


INTERRUPTED = """
dpkg-query -s sed | sed 's/^Status: .*/Status: install ok half-configured/' \\
  > /var/lib/dpkg/updates/0007
chmod 600 /var/lib/dpkg/updates/0007
"""


@pytest.mark.slow
def test_an_interrupted_dpkg_run_is_the_labs_state_only_when_the_customer_gave_it(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    """KI-0004 from the customer's own dpkg journal: copied to the same path, so the lab is as
    interrupted as the customer (``REPRODUCED (customer state)``); withheld when it was denied."""
    customer = customer_factory()
    address = support_login(docker_api, customer, INTERRUPTED)
    trust(customer)
    target = f"{address}?identity_file={client_key.private}"
    journal = "/var/lib/dpkg/updates/0007"
    for case, sudo in (("C-DPKG-NOSUDO", False), ("C-DPKG", True)):
        _grant(address, case, sudo=sudo)
        bundle = tmp_path / f"{case}.tar.gz"
        code, out = cli_json("diagnose", target, "--case", case, "--profile", "quick",
                             "-o", str(bundle))  # fmt: skip
        assert code == 0, out
        item = _items(bundle)[f"dpkg-state/{journal}"]
        code, spec = cli_json("lab", "plan", str(bundle))
        assert code == 0, spec
        if not sudo:
            assert item["status"] == "denied" and item["reason"] == "no sudo consent"
            assert journal not in (spec.get("files") or {})
            assert "denied on the customer" in spec["source"]["withheld"][journal]
    assert item["status"] == "ok"
    assert spec["files"][journal] == f"bundle:files{journal}"
    sed = docker_api.containers.get(customer.name).exec_run(["dpkg-query", "-W", "sed"])[1]
    assert spec["packages"]["sed"] == sed.decode().split()[1]  # half-configured: not "ii"
    code, out = cli_json("repro", "KI-0004", "--bundle", str(bundle), "--case", "C-DPKG")
    assert code == 0 and out["verdict"] == "REPRODUCED", out
    assert out["origin"] == "customer state" and out["for_case"] == "C-DPKG"
    assert "dpkg was interrupted" in out["steps"][0]["output"]
