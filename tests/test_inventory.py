"""Inventories are read by ansible-core itself: ``targets ls --json`` shows, for every host, what the
real ``ansible-inventory --list`` shows (address, port, user, connection, groups) over inventories
collected from public projects (see tests/data/inventories/SOURCES.md), and ``--limit`` selects
what Ansible selects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remotefix.audit import AuditLog
from remotefix.cli import cli
from remotefix.inventory import InventorySource, load_inventory, resolve_targets
from remotefix.workspace import Workspace

DATA = Path(__file__).parent / "data" / "inventories"
UNPARSEABLE = DATA / "kubespray-local.ini"
"""Names an undefined child group: Ansible warns and lists half of it; we refuse it in one line."""
INVENTORIES = sorted(p for p in DATA.iterdir() if p.name != "SOURCES.md" and p != UNPARSEABLE)
BIN = Path(sys.executable).parent
FAMILIES = {
    "ssh": "ssh", "paramiko": "ssh", "community.docker.docker": "docker",
    "docker": "docker", "winrm": "winrm", "psrp": "winrm",
}  # fmt: skip


@cache
def ansible_list(path: Path, limit: str | None = None) -> dict[str, Any]:
    argv = [str(BIN / "ansible-inventory"), "-i", str(path), "--list"]
    argv += ["--limit", limit] if limit else []
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def ours(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["--json", "targets", "ls", *args])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result.output


def ansible_groups(listing: dict[str, Any], host: str) -> set[str]:
    """Groups holding ``host`` directly or through children, as ansible-inventory lists them."""

    def members(group: str) -> set[str]:
        body = listing.get(group, {})
        found = set(body.get("hosts", []))
        for child in body.get("children", []):
            found |= members(child)
        return found

    return {g for g in listing if g not in ("_meta", "all") and host in members(g)}


def expected_row(listing: dict[str, Any], name: str) -> dict[str, Any]:
    """What Ansible would connect to (its ``MAGIC_VARIABLE_MAPPING``: ssh-prefixed names first)."""
    hv = listing["_meta"]["hostvars"].get(name, {})
    port = hv.get("ansible_ssh_port", hv.get("ansible_port"))
    return {
        "host": hv.get("ansible_ssh_host", hv.get("ansible_host", name)),
        "port": port,
        "user": hv.get("ansible_ssh_user", hv.get("ansible_user")),
        "connection": hv.get("ansible_connection", "ssh"),
        "groups": ansible_groups(listing, name),
    }


def our_row(row: dict[str, Any]) -> dict[str, Any]:
    port = row["port"]
    return {
        "host": row["host"],
        "port": int(port) if port is not None else None,
        "user": row["user"],
        "connection": row["connection"],
        "groups": set(row["groups"]),
    }


@pytest.mark.slow
@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_every_host_agrees_with_ansible_inventory(path: Path) -> None:
    listing = ansible_list(path)
    rows = {r["name"]: r for r in ours("-i", str(path))}
    assert set(rows) == set(listing["_meta"]["hostvars"]) | hosts_without_vars(listing)
    for name, row in rows.items():
        want = expected_row(listing, name)
        if row["skipped"] is None:  # a target: its connection family, never something else
            want["connection"] = FAMILIES.get(want["connection"], want["connection"])
        assert our_row(row) == want, name


def hosts_without_vars(listing: dict[str, Any]) -> set[str]:
    return {h for body in listing.values() if isinstance(body, dict) for h in body.get("hosts", [])}


LIMITS = [
    ("datacenter.ini", "web"),
    ("datacenter.ini", "web:db"),
    ("datacenter.ini", "prod:!db"),
    ("datacenter.ini", "prod:&frontend"),
    ("datacenter.ini", "web0*"),
    ("datacenter.ini", "~db-[ab]"),
    ("datacenter.ini", "frontend:!web-canary:&prod"),
    ("regions.yml", "europe:&blue"),
    ("regions.yml", "all:!paris"),
    ("mixed.ini", "deep,app"),
    ("kolla-multinode.ini", "iscsid:!storage"),
    ("kubespray-inventory-example.ini", "k8s-cluster:&paris"),
    ("kubespray-inventory-example.ini", "kube-node[1:2]"),
    ("ansible-docs-intro.ini", "webservers[0:4]:&www*"),
    ("script-inventory.py", "db"),
    ("constructed", "role_web"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "pattern"), LIMITS)
def test_limit_selects_what_ansible_selects(name: str, pattern: str) -> None:
    listing = ansible_list(DATA / name, pattern)
    rows = ours("-i", str(DATA / name), "--limit", pattern)
    expected = set(listing["_meta"]["hostvars"]) | hosts_without_vars(listing)
    assert {r["name"] for r in rows} == expected and len(rows) == len(expected)


def test_limit_matching_nothing_is_one_line() -> None:
    out = ours("-i", str(DATA / "datacenter.ini"), "--limit", "nosuchgroup", code=4)
    assert "'nosuchgroup' matches no host" in out
    assert "Could not match" not in out  # Ansible's warning is not printed before an error
    assert "--limit selects from an inventory" in ours("web1", "--limit", "web", code=4)


def test_unsupported_connections_are_listed_with_a_reason_never_fatal() -> None:
    rows = {r["name"]: r for r in ours("-i", str(DATA / "debops-lxc-ssh.ini"))}
    assert rows["lxc-host"]["skipped"] is None
    assert "'lxc_ssh' is not one remotefix can drive" in rows["webserver"]["skipped"]
    assert rows["webserver"]["host"] == "lxc-host.example.org"


def test_limit_applies_before_skipping() -> None:
    warnings: list[str] = []
    source = InventorySource(paths=(str(DATA / "debops-lxc-ssh.ini"),), warn=warnings.append)
    assert [t.name for t in resolve_targets([], source, "lxc_hosts")] == ["lxc-host"]
    assert warnings == []
    resolve_targets([], source, None)
    assert warnings == ["skipping webserver: connection 'lxc_ssh' is not one remotefix can drive "
                        "(ssh, winrm, docker)"]  # fmt: skip


def test_password_variables_never_reach_a_target() -> None:
    for path in INVENTORIES:
        found = load_inventory(str(path))
        flat = json.dumps(
            [t.to_dict() for t in found.targets] + [s.to_dict() for s in found.skipped]
        )
        for secret in ("never-in-a-target", "secret-not-here", "SomeADMINpassword", "03#pa33w0rd"):
            assert secret not in flat, path


def test_connection_specific_options() -> None:
    targets = {t.name: t for t in load_inventory(str(DATA / "datacenter.ini")).targets}
    assert dict(targets["win1"].options) == {
        "transport": "ntlm",
        "scheme": "https",
        "cert": "ignore",
    }
    assert targets["web01"].options["proxy_jump"] == "ops@127.0.0.10:22"
    assert targets["web01"].options["identity_file"] == "/keys/front"
    assert targets["lab-One"].connection == "docker" and targets["lab-One"].host == "lab-One"
    sample = {t.name: t for t in load_inventory(str(DATA / "kubespray-sample")).targets}
    assert sample["node3"].port == 2203 and sample["node3"].user == "kube"  # host_vars, group_vars
    assert sample["node1"].options["proxy_jump"] == "some_user@192.0.2.7"


def test_templates_are_rendered_as_ansible_would(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  vars: {subnet: 10.9.0}\n  hosts:\n"
        "    app: {ansible_host: '{{ subnet }}.5', ansible_user: '{{ inventory_hostname }}-ops'}\n"
    )
    (target,) = load_inventory(str(inventory)).targets
    assert (target.host, target.user) == ("10.9.0.5", "app-ops")


def test_several_sources_and_host_lists() -> None:
    rows = ours("-i", str(DATA / "ceph-ansible-sample.ini"), "-i", "extra1,extra2:2200,")
    ports = {r["name"]: r["port"] for r in rows}
    assert set(ports) == {"mon1", "mon2", "mon3", "osd1", "osd2", "osd3", "extra1", "extra2"}
    assert ports["extra2"] == 2200 and ports["mon1"] is None


def test_missing_and_malformed_inventories(tmp_path: Path) -> None:
    assert "not found" in ours("-i", str(tmp_path / "nope.ini"), code=4)
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("all:\n  hosts: [unclosed\n")
    out = ours("-i", str(bad_yaml), code=3)
    assert "Ansible cannot parse it" in out and "YAML" in out
    bad_ini = tmp_path / "bad.ini"
    bad_ini.write_text("[web\nhost1\n")
    assert "Ansible cannot parse it" in ours("-i", str(bad_ini), code=3)
    # Ansible warns "no inventory was parsed" yet lists a half-read node1 without its groups.
    assert ansible_list(UNPARSEABLE)["ungrouped"]["hosts"] == ["node1"]
    assert "includes undefined group 'calico-rr'" in ours("-i", str(UNPARSEABLE), code=3)


def test_importing_the_cli_does_not_load_ansible() -> None:
    probe = (
        "import sys, remotefix.cli, remotefix.inventory, remotefix.cli.run;"
        "print(','.join(m for m in sys.modules if m == 'ansible' or m.startswith('ansible.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


REMOTEFIX = str(BIN / "remotefix")


def test_a_local_inventory_host_never_runs_here_without_consent(tmp_path: Path) -> None:
    """``db1.customer.example ansible_connection=local`` must not run on this machine."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[db]\ndb1.customer.example ansible_connection=local\n")
    marker = tmp_path / "ran-here"
    result = CliRunner().invoke(
        cli, ["run", "-i", str(inventory), "--case", "C-9", "--", "touch", str(marker)]
    )
    assert result.exit_code == 4 and not marker.exists()
    assert "skipping db1.customer.example: ansible_connection=local would run on this machine" in (
        result.stderr
    )
    assert list(AuditLog(Workspace.default()).records()) == []


def test_a_port_that_is_not_a_number_is_one_line_and_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ini"
    bad.write_text("[g]\nh1 ansible_port=x\n")
    done = subprocess.run(
        [REMOTEFIX, "targets", "ls", "-i", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "remotefix: error: inventory host h1: ansible_port 'x' is not a port number "
        "(use a number from 1 to 65535)"
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ranges.ini", "[g]\nh[1:1000][1:1000][1:1000]\n"),
        ("ranges.yml", "all:\n  hosts:\n    'h[1:1000][1:1000][1:1000]':\n"),
        ("letters.ini", "h[a:z][a:z][a:z]x[0:9]\n"),
        ("generator.yml", "plugin: ansible.builtin.generator\nhosts: {name: '{{ a }}{{ b }}'}\n"
         "layers:\n  a: [" + ",".join(map(str, range(200))) + "]\n"
         "  b: [" + ",".join(map(str, range(200))) + "]\n"),
    ],
)  # fmt: skip
def test_huge_ranges_are_refused_before_ansible_expands_them(
    tmp_path: Path, name: str, text: str
) -> None:
    inventory = tmp_path / name
    inventory.write_text(text)
    out = ours("-i", str(inventory), code=3)
    assert "expand to more than 10000 hosts" in out and "Traceback" not in out


def test_ranges_in_a_host_list_are_bounded_too() -> None:
    """``advanced_host_list`` (when enabled) expands ranges in ``-i 'h[1:9],'`` as well."""
    assert "more than 10000 hosts" in ours("-i", "h[1:1000][1:1000][1:1000],", code=3)


def test_generated_hosts_past_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A script's hosts cannot be counted beforehand: Ansible's count is checked after parsing."""
    monkeypatch.setattr("remotefix._ansible_inventory.MAX_HOSTS", 3)
    out = ours("-i", str(DATA / "script-inventory.py"), code=3)
    assert "inventory holds 4 hosts, more than remotefix handles (3)" in out


@pytest.fixture
def vaulted(tmp_path: Path) -> tuple[Path, Path]:
    """An inventory whose host_vars hold a vault-encrypted ansible_user, and the password file."""
    password = tmp_path / "vault-pass"
    password.write_text("correct horse\n")
    inventory = tmp_path / "inv"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "hosts.ini").write_text("[web]\nv1 ansible_host=10.0.0.9\n")
    encrypted = subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file", str(password),
         "--name", "ansible_user", "vaultuser"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (inventory / "host_vars" / "v1.yml").write_text(encrypted)
    return inventory, password


def test_vaulted_variables_need_the_vault_password(vaulted: tuple[Path, Path]) -> None:
    inventory, password = vaulted
    out = ours("-i", str(inventory), code=3)
    assert "cannot read ansible_user" in out and "--vault-password-file" in out
    assert len(out.strip().splitlines()) == 2  # the JSON error and the one stderr line
    (row,) = ours("-i", str(inventory), "--vault-password-file", str(password))
    assert (row["host"], row["user"]) == ("10.0.0.9", "vaultuser")
    prompted = CliRunner().invoke(
        cli, ["--json", "targets", "ls", "-i", str(inventory), "--ask-vault-pass"],
        input="correct horse\n",
    )  # fmt: skip
    assert prompted.exit_code == 0 and json.loads(prompted.stdout)[0]["user"] == "vaultuser"
    wrong = CliRunner().invoke(
        cli, ["targets", "ls", "-i", str(inventory), "--ask-vault-pass"], input="nope\n"
    )
    assert wrong.exit_code == 3 and "Traceback" not in wrong.output


def test_a_wholly_encrypted_inventory_file(vaulted: tuple[Path, Path], tmp_path: Path) -> None:
    _, password = vaulted
    inventory = tmp_path / "secret.yml"
    inventory.write_text("all:\n  hosts:\n    s1: {ansible_host: 10.0.0.10, ansible_port: 2201}\n")
    subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(inventory)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert "Ansible cannot parse it" in ours("-i", str(inventory), code=3)
    (row,) = ours("-i", str(inventory), "--vault-password-file", str(password))
    assert (row["name"], row["host"], row["port"]) == ("s1", "10.0.0.10", 2201)


def test_ansible_settings_apply(tmp_path: Path) -> None:
    """ANSIBLE_INVENTORY_ENABLED (or ansible.cfg) decides which plugins read a source, as in Ansible."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[g]\nh1\n")
    env = {**os.environ, "ANSIBLE_INVENTORY_ENABLED": "yaml"}
    argv = [REMOTEFIX, "targets", "ls", "-i", str(inventory)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 3 and len(done.stderr.splitlines()) == 1
    assert "cannot parse it" in done.stderr


@pytest.mark.parametrize("command", ["run", "diagnose", "fix", "targets ls"])
def test_every_command_takes_the_same_inventory_options(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    for option in ("--inventory", "--limit", "--vault-password-file", "--ask-vault-pass"):
        assert option in result.output, (command, option)
