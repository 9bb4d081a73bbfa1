"""``--obfuscate``: every identity of the machine leaves the bundle (content, member names,
manifest, file name); the map back stays in the workspace. End to end over a real sshd."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import docker
import pytest

from remotefix.collect.bundle import verify_bundle
from remotefix.collect.bundle_extract import extract_bundle
from remotefix.collect.obfuscate import Obfuscator, learn_identities
from remotefix.collect.script import Item
from remotefix.workspace import Workspace
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair


def _item(kind: str, name: str, text: str) -> Item:
    data = text.encode()
    return Item(kind, "c", name, 0, 1, data, b"", len(data), 0)


PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "git:x:1002:1002:git:/home/git:/bin/sh\n"
    "alice:x:1001:1001:Alice Liddell,Room 7,,:/home/alice:/bin/bash\n"
)


def test_addresses_are_replaced_and_harmless_ones_kept() -> None:
    o = Obfuscator()
    text = (
        b"inet6 2001:db8:42::17/64 fe80::42:acff:fe11:2%eth0 ::1 ff02::1 fe80::/64\n"
        b"link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff at 12:34:56 std::move\n"
        b"[::ffff:10.1.2.3]:22 [::ffff:127.0.0.1]:22 10.1.2.3 127.0.0.1 2001:DB8:42::17\n"
    )
    assert o.apply(text) == (
        b"inet6 ip6-1/64 ip6-2 ::1 ff02::1 fe80::/64\n"
        b"link/ether mac-1 brd ff:ff:ff:ff:ff:ff at 12:34:56 std::move\n"
        b"[ip6-3]:22 [::ffff:127.0.0.1]:22 ip-1 127.0.0.1 ip6-1\n"
    )
    assert o.mapping["ip6-1"] == "2001:db8:42::17" and o.mapping["mac-1"] == "02:42:ac:11:00:02"


def test_host_names_users_and_people_are_learned_from_what_was_collected() -> None:
    o = Obfuscator()
    o.learn_host("web1.customer.example")
    items = [
        _item("cmd", "hostname", "web1\n"),
        _item("file", "/etc/hosts", "127.0.0.1 localhost\n10.0.0.9 db1.corp.example db1 # x\n"),
        _item("file", "/etc/passwd", PASSWD),
        _item("file", "/etc/resolv.conf", "nameserver 10.0.0.2\nsearch office.acme.test lan\n"),
        _item("cmd", "dpkg", "ii \tgit\t1:2.39.2-1\tamd64\nii \tdebianutils\t5.7\tamd64\n"),
        _item("file", "/etc/os-release", 'ID=debian\nVERSION_CODENAME="bookworm"\n'),
    ]
    learn_identities(o, items)
    out = o.apply(
        b"WEB1.customer.example web1 mail.customer.example db1 DB1.corp.example localhost\n"
        b"alice /home/alice Alice Liddell wrote to Liddell; root git debian bookworm\n"
        b"/etc/cron.d/alice-backup web1-old printer.office.acme.test\n"
    )
    assert out == (
        b"host-1 host-2 mail.domain-1 host-4 host-3 localhost\n"
        b"user-1 /home/user-1 person-1 wrote to person-2; root git debian bookworm\n"
        b"/etc/cron.d/user-1-backup host-2-old printer.domain-3\n"
    )
    assert o.mapping["person-1"] == "Alice Liddell" and o.mapping["domain-1"] == "customer.example"


def test_manifest_values_are_obfuscated_keys_included() -> None:
    o = Obfuscator()
    o.learn_host("web1")
    meta = {"target": {"name": "web1", "address": "ssh://root@10.1.2.3:22"}, "web1": [1, "web1"]}
    assert o.value(meta) == {
        "target": {"name": "host-1", "address": "ssh://root@ip-1:22"},
        "host-1": [1, "host-1"],
    }


def _exec(api: docker.DockerClient, container: str, script: str) -> None:
    code, out = api.containers.get(container).exec_run(["sh", "-c", script])
    assert code == 0, out


@pytest.mark.docker
def test_diagnose_obfuscate_leaves_no_identity_in_the_bundle(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    customer = customer_factory()
    hostname = customer.name[:63]
    fqdn = f"{hostname}.customer.example"
    attrs = docker_api.containers.get(customer.name).attrs["NetworkSettings"]
    own_ip, mac = attrs["IPAddress"], attrs["MacAddress"]
    q = shlex.quote
    _exec(docker_api, customer.name, f"""
        useradd -m -u 1001 -c 'Alice Liddell,Room 7,,' alice
        printf '127.0.1.1 %s %s\\n2001:db8:42::17 files.customer.example\\n' {q(fqdn)} {q(hostname)} >> /etc/hosts
        printf '0 3 * * * alice rsync /home/alice/ [2001:db8:42::17]:/srv # Alice Liddell, 10.20.30.40\\n' > /etc/cron.d/alice-backup
    """)  # fmt: skip
    trust(customer)
    grant([customer.address], "C-OBF")
    address = f"{customer.address}?identity_file={client_key.private}"
    code, report = cli_json("diagnose", address, "--case", "C-OBF", "--obfuscate",
                            *[a for c in ("os", "network", "accounts", "packages")
                              for a in ("--only", c)])  # fmt: skip
    assert code == 0, report
    bundle = Path(report[0]["bundle"])
    assert bundle.name.startswith("obfuscated-") and verify_bundle(bundle).ok
    names = extract_bundle(bundle, tmp_path / "x")
    assert "files/etc/cron.d/user-1-backup" in names, " ".join(names)
    everything = "\n".join(names).encode() + bundle.name.encode()
    for path in (tmp_path / "x").rglob("*"):
        everything += b"\n" + (path.read_bytes() if path.is_file() else b"")
    identities = [hostname, fqdn, "customer.example", "alice", "Alice Liddell", "Liddell",
                  "10.20.30.40", "2001:db8:42::17", own_ip, mac]  # fmt: skip
    for identity in filter(None, identities):
        assert identity.lower().encode() not in everything.lower(), identity
    manifest = json.loads((tmp_path / "x/manifest.json").read_text())
    assert manifest["target"]["name"].startswith("host-")
    fingerprint = json.loads((tmp_path / "x/fingerprint.json").read_text())
    assert fingerprint["os"]["id"] == "debian" and fingerprint["hostname"].startswith("host-")
    (mapping_file,) = (Workspace.default().cases / "C-OBF" / "obfuscation").glob("*.json")
    mapping = json.loads(mapping_file.read_text())
    assert mapping[fingerprint["hostname"]] == hostname and "Alice Liddell" in mapping.values()
