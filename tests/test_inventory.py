"""Inventories agree with the real ``ansible-inventory --list`` on every host: name, address,
port, user, connection and groups; and ``--limit`` selects what Ansible selects."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from remotefix.errors import ConfigError, TargetError
from remotefix.inventory import load_inventory, resolve_targets
from remotefix.patterns import select

DATA = Path(__file__).parent / "data" / "inventories"
INVENTORIES = sorted(DATA.iterdir())
ANSIBLE_INVENTORY = str(Path(sys.executable).with_name("ansible-inventory"))
CONNECTIONS = {"ssh": "ssh", "local": "local", "docker": "docker", "winrm": "winrm"}


@cache
def ansible_list(path: Path, limit: str | None = None) -> dict[str, Any]:
    argv = [ANSIBLE_INVENTORY, "-i", str(path), "--list"]
    if limit:
        argv += ["--limit", limit]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def ansible_groups(listing: dict[str, Any], host: str) -> set[str]:
    """Groups containing ``host`` directly or through children, as ansible-inventory lists them."""

    def members(group: str) -> set[str]:
        body = listing.get(group, {})
        found = set(body.get("hosts", []))
        for child in body.get("children", []):
            found |= members(child)
        return found

    return {g for g in listing if g not in ("_meta", "all") and host in members(g)}


@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_every_host_agrees_with_ansible_inventory(path: Path) -> None:
    listing = ansible_list(path)
    hostvars = listing["_meta"]["hostvars"]
    ours = {t.name: t for t in load_inventory(path)}
    assert set(ours) == set(hostvars)
    for name, target in ours.items():
        hv = hostvars[name]
        connection = CONNECTIONS.get(hv.get("ansible_connection", "ssh"), "?")
        assert target.connection == connection, name
        if connection != "local":
            assert target.host == hv.get("ansible_host", name), name
        port = hv.get("ansible_port", hv.get("ansible_ssh_port"))
        assert target.port == (int(port) if port is not None else None), name
        assert target.user == hv.get("ansible_user", hv.get("ansible_ssh_user")), name
        assert set(target.groups) == ansible_groups(listing, name), name


def test_password_variables_never_reach_a_target() -> None:
    for path in INVENTORIES:
        for target in load_inventory(path):
            flat = json.dumps(target.to_dict())
            assert "never-in-a-target" not in flat and "secret-not-here" not in flat


def test_connection_specific_options() -> None:
    targets = {t.name: t for t in load_inventory(DATA / "datacenter.ini")}
    assert dict(targets["win1"].options) == {
        "transport": "ntlm",
        "scheme": "https",
        "cert": "ignore",
    }
    assert targets["web01"].options["proxy_jump"] == "ops@127.0.0.10:22"
    assert targets["web01"].options["identity_file"] == "/keys/front"
    assert targets["lab-One"].connection == "docker" and targets["lab-One"].host == "lab-One"
    mixed = {t.name: t for t in load_inventory(DATA / "mixed.ini")}
    assert mixed["app2"].options["proxy_jump"] == "bastion@127.0.2.9"


LIMITS = [
    ("datacenter.ini", "web"),
    ("datacenter.ini", "web01"),
    ("datacenter.ini", "web:db"),
    ("datacenter.ini", "prod:!db"),
    ("datacenter.ini", "prod:&frontend"),
    ("datacenter.ini", "web0*"),
    ("datacenter.ini", "~db-[ab]"),
    ("datacenter.ini", "frontend:!web-canary:&prod"),
    ("regions.yml", "europe:&blue"),
    ("regions.yml", "all:!paris"),
    ("regions.yml", "ungrouped"),
    ("mixed.ini", "deep,app"),
]


@pytest.mark.parametrize(("name", "pattern"), LIMITS)
def test_limit_selects_what_ansible_selects(name: str, pattern: str) -> None:
    path = DATA / name
    listing = ansible_list(path, pattern)
    expected = set(listing["_meta"]["hostvars"])
    assert {t.name for t in select(load_inventory(path), pattern)} == expected


def test_limit_matching_nothing_is_an_error() -> None:
    with pytest.raises(TargetError, match="'nosuchgroup' matches no host"):
        select(load_inventory(DATA / "datacenter.ini"), "nosuchgroup")


def test_resolve_targets_unions_addresses_and_inventory() -> None:
    targets = resolve_targets(["docker://Lab1"], DATA / "mixed.ini", None)
    assert targets[0].name == "Lab1" and "app1" in {t.name for t in targets}


def test_missing_and_malformed_inventories(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="not found"):
        load_inventory(tmp_path / "nope.ini")
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("all:\n  hosts: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yml line \d+: malformed YAML"):
        load_inventory(bad_yaml)
    bad_ini = tmp_path / "bad.ini"
    bad_ini.write_text("[web\nhost1\n")
    with pytest.raises(ConfigError, match=r"bad\.ini line 1"):
        load_inventory(bad_ini)
