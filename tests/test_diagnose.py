"""``remotefix diagnose`` end to end on a real customer container over SSH and over docker://:
consent, one bundle per target, redaction of planted secrets, fleet failures, offline import."""

from __future__ import annotations

import json
import shlex
import tarfile
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.sandbox import Customer
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import ContainerFactory, CustomerFactory, KeyPair

pytestmark = pytest.mark.docker

PLANTED = {
    "/etc/cron.d/backup": "0 3 * * * root PGPASSWORD=Plant-PG-0001 pg_dump shop\n",
    "/etc/apt/sources.list.d/private.list": "deb https://alice:Plant-URL-0002@repo.invalid/debian bookworm main\n",
    "/etc/crontab": "AWS_SECRET_ACCESS_KEY=Plant0003abcdefghijklmnopqrstuvwxyzABCD\n",
    "/etc/ssh/sshd_config.d/50-support.conf": "PasswordAuthentication no\nPermitRootLogin prohibit-password\n",
}  # fmt: skip
SECRETS = ["Plant-PG-0001", "Plant-URL-0002", "Plant0003abcdefghijklmnopqrstuvwxyzABCD"]


def _plant(docker_api: docker.DockerClient, container: str) -> None:
    """Write the planted secrets (and one harmless config) into the customer machine."""
    c = docker_api.containers.get(container)
    for path, text in PLANTED.items():
        q = shlex.quote
        code, out = c.exec_run(
            ["sh", "-c", f"mkdir -p $(dirname {q(path)}) && printf %s {q(text)} >> {q(path)}"]
        )
        assert code == 0, out


def _address(customer: Customer, key: KeyPair) -> str:
    return f"{customer.address}?identity_file={key.private}"


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_diagnose_over_ssh_writes_a_redacted_verifiable_bundle(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    customer = customer_factory()
    _plant(docker_api, customer.name)
    trust(customer)
    grant_id = grant([customer.address], "C-100")
    out = tmp_path / "cust.tar.gz"
    code, report = cli_json(
        "diagnose", _address(customer, client_key), "--case", "C-100", "-o", str(out)
    )
    assert code == 0, report
    (row,) = report
    assert row["ok"] and not row["incomplete"], row
    assert row["redactions"] >= 3
    members = _members(out)
    blob = b"\n".join(members.values())
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    assert b"PasswordAuthentication no" in members["files/etc/ssh/sshd_config.d/50-support.conf"]
    manifest = json.loads(members["manifest.json"])
    assert manifest["case"] == "C-100" and manifest["consent_id"] == grant_id
    assert manifest["target"]["connection"] == "ssh"
    fingerprint = json.loads(members["fingerprint.json"])
    assert fingerprint["os"]["version_id"] == "12" and len(fingerprint["packages"]) > 100
    verify = CliRunner().invoke(cli, ["bundle", "verify", str(out)])
    assert verify.exit_code == 0, verify.output


def test_diagnose_needs_consent_and_writes_nothing_without_it(
    container_factory: ContainerFactory, tmp_path: Path
) -> None:
    name = container_factory("diag")
    outdir = tmp_path / "out"
    outdir.mkdir()
    code, report = cli_json("diagnose", f"docker://{name}", "--case", "C-1", "-o", str(outdir / "b.tar.gz"),
                             "--profile", "quick")  # fmt: skip
    assert code == 5, report
    assert list(outdir.iterdir()) == []
    assert not list(Workspace.default().bundles.rglob("*.tar.gz"))


def test_quick_profile_over_docker(container_factory: ContainerFactory, tmp_path: Path) -> None:
    name = container_factory("diag")
    grant([name], "C-2")
    out = tmp_path / "q.tar.gz"
    code, report = cli_json(
        "diagnose", f"docker://{name}", "--case", "C-2", "-o", str(out), "--profile", "quick"
    )
    assert code == 0, report
    quick = {"os", "platform", "packages", "dpkg-state", "services", "versions"}
    assert set(report[0]["collectors"]) == quick


def test_fleet_keeps_going_past_a_dead_host(
    customer: Customer, client_key: KeyPair, tmp_path: Path
) -> None:
    trust(customer)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"good ansible_host=127.0.0.1 ansible_port={customer.port} ansible_user=root "
        f"ansible_ssh_private_key_file={client_key.private}\n"
        "dead ansible_host=127.0.0.1 ansible_port=1 ansible_user=root\n"
    )
    grant(["good", "dead"], "C-3")
    outdir = tmp_path / "bundles"
    outdir.mkdir()
    code, report = cli_json("diagnose", "-i", str(inventory), "--case", "C-3", "-o", str(outdir),
                             "--profile", "quick", "--forks", "4")  # fmt: skip
    rows = {r["target"]: r for r in report}
    assert rows["good"]["ok"] and Path(rows["good"]["bundle"]).is_file()
    assert rows["dead"]["error"]["type"] == "ConnectError"
    assert code == 11
    listed = CliRunner().invoke(cli, ["--json", "bundle", "ls", "--case", "C-3"])
    assert len(json.loads(listed.stdout)) == 1


def test_offline_script_imports_to_the_same_fingerprint(
    customer: Customer, client_key: KeyPair, docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    trust(customer)
    grant([customer.address], "C-4")
    remote = tmp_path / "remote.tar.gz"
    code, report = cli_json(
        "diagnose", _address(customer, client_key), "--case", "C-4", "-o", str(remote)
    )
    assert code == 0, report
    script = CliRunner().invoke(cli, ["collector-script", "--os", "linux"]).output
    container = docker_api.containers.get(customer.name)
    run = container.exec_run(["sh", "-c", script], demux=True)
    output = tmp_path / "output.txt"
    output.write_bytes(run.output[0])
    imported = tmp_path / "imported.tar.gz"
    done = CliRunner().invoke(cli, ["bundle", "import", str(output), "--case", "C-4",
                                    "--target-name", "customer", "-o", str(imported)])  # fmt: skip
    assert done.exit_code == 0, done.output
    a = json.loads(_members(remote)["fingerprint.json"])
    b = json.loads(_members(imported)["fingerprint.json"])
    assert a == b
    manifest = json.loads(_members(imported)["manifest.json"])
    assert manifest["source"] == "import" and manifest["incomplete"] is False


def test_fingerprint_diff_cli(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"os": {}, "packages": {"nginx": "1.22.1-9"}, "services": []}))
    b.write_text(json.dumps({"os": {}, "packages": {"nginx": "1.22.1-9+deb12u1"}, "services": []}))
    result = CliRunner().invoke(cli, ["--json", "fingerprint", "diff", str(a), str(b)])
    assert json.loads(result.stdout)["packages"]["changed"] == {
        "nginx": ["1.22.1-9", "1.22.1-9+deb12u1"]
    }


def test_obfuscate_hides_host_names_and_keeps_the_map_outside(
    container_factory: ContainerFactory, docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    name = container_factory("diag")
    hostname = docker_api.containers.get(name).attrs["Config"]["Hostname"]
    grant([name], "C-5")
    out = tmp_path / "o.tar.gz"
    code, report = cli_json("diagnose", f"docker://{name}", "--case", "C-5", "-o", str(out), "--obfuscate",
                             "--only", "os", "--only", "network", "--only", "packages")  # fmt: skip
    assert code == 0, report
    members = _members(out)
    assert hostname.encode() not in b"\n".join(members.values())
    placeholder = json.loads(members["fingerprint.json"])["hostname"]
    assert placeholder.startswith("host-")
    (mapping,) = (Workspace.default().cases / "C-5" / "obfuscation").glob("*.json")
    assert mapping.stat().st_mode & 0o077 == 0
    assert json.loads(mapping.read_text())[placeholder] == hostname


def test_user_redaction_rules_apply(container_factory: ContainerFactory, tmp_path: Path) -> None:
    name = container_factory("diag")
    grant([name], "C-6")
    rules = tmp_path / "rules.yaml"
    rules.write_text("- name: debian_codename\n  pattern: '(?P<secret>bookworm)'\n")
    out = tmp_path / "r.tar.gz"
    code, report = cli_json("diagnose", f"docker://{name}", "--case", "C-6", "-o", str(out),
                             "--only", "os", "--redact-rules", str(rules))  # fmt: skip
    assert code == 0, report
    manifest = json.loads(_members(out)["manifest.json"])
    assert manifest["redaction"]["counts"]["files/etc/os-release"]["debian_codename"] >= 1
    assert b"bookworm" not in _members(out)["files/etc/os-release"]
