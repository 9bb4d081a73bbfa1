"""The fingerprint agrees with the machine's own tools: ``ansible -m setup`` for the OS fields and
``dpkg-query -W`` for every package and version, on Debian 11, 12 and 13; it matches its schema."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import docker
import jsonschema
import pytest

from remotefix.collect.script import parse_output, render_script
from remotefix.collect.specs import load_collectors, select_collectors
from remotefix.fingerprint import SCHEMA_PATH, build_fingerprint, diff_fingerprints
from remotefix.sandbox import Customer
from remotefix.targets import parse_address
from remotefix.transports.ssh import SSHTransport
from tests.fixtures.docker import CustomerFactory, KeyPair

ANSIBLE = str(Path(sys.executable).with_name("ansible"))


def _fingerprint_over_ssh(customer: Customer, key: KeyPair, tmp_path: Path) -> dict[str, Any]:
    known = tmp_path / "known_hosts"
    known.write_text(customer.known_hosts_line + "\n")
    target = parse_address(f"{customer.address}?identity_file={key.private}")
    quick = select_collectors(load_collectors(), profile="quick")
    with SSHTransport(target, known_hosts_files=[known], use_agent=False) as ssh:
        result = ssh.run(render_script(quick), timeout=120)
        items, complete = parse_output(result.stdout)
        dpkg = ssh.run("dpkg-query -W", timeout=60).check().stdout_text
    assert complete
    fp = build_fingerprint(items)
    fp["_dpkg_query_W"] = dict(line.split("\t", 1) for line in dpkg.splitlines())
    return fp


def _ansible_facts(customer: Customer, key: KeyPair, tmp_path: Path) -> dict[str, Any]:
    inventory = tmp_path / "inv.ini"
    inventory.write_text(
        f"c ansible_host={customer.host} ansible_port={customer.port} ansible_user=root "
        f"ansible_ssh_private_key_file={key.private} "
        f"ansible_ssh_common_args='-o UserKnownHostsFile={tmp_path}/known_hosts "
        "-o StrictHostKeyChecking=yes' ansible_python_interpreter=/usr/bin/python3\n"
    )
    with tempfile.TemporaryDirectory(prefix="rfx-") as home:  # ssh's control socket path is short
        done = subprocess.run(
            [ANSIBLE, "c", "-i", str(inventory), "-m", "setup", "-a", "gather_subset=min"],
            capture_output=True, text=True, timeout=180, check=False,
            env={"ANSIBLE_STDOUT_CALLBACK": "minimal", "PATH": "/usr/bin:/bin", "HOME": home},
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    payload = json.loads(done.stdout.split(" => ", 1)[1])  # "c | SUCCESS => {...}"
    return dict(payload["ansible_facts"])


@pytest.mark.docker
@pytest.mark.parametrize("version", ["debian:11", "debian:12", "debian:13"])
def test_fingerprint_agrees_with_ansible_and_dpkg(
    version: str, customer_factory: CustomerFactory, client_key: KeyPair, catalog: Any,
    docker_api: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from tests.fixtures.docker import require_base

    customer = customer_factory(require_base(docker_api, catalog.resolve(version)))
    fp = _fingerprint_over_ssh(customer, client_key, tmp_path)
    facts = _ansible_facts(customer, client_key, tmp_path)
    assert fp["os"]["id"] == facts["ansible_distribution"].lower()
    assert fp["os"]["version"] == facts["ansible_distribution_version"]
    assert fp["os"]["major"] == facts["ansible_distribution_major_version"]
    assert fp["os"]["codename"] == facts["ansible_distribution_release"]
    assert fp["kernel"] == facts["ansible_kernel"]
    assert fp["arch"] == facts["ansible_architecture"]
    assert fp["packages"] == fp.pop("_dpkg_query_W")  # every package, every version
    jsonschema.validate(fp, json.loads(SCHEMA_PATH.read_text()))


def test_diff_names_added_removed_and_changed() -> None:
    a = {
        "os": {"id": "debian", "version_id": "12"},
        "kernel": "6.1",
        "packages": {"a": "1", "b": "1"},
        "services": [{"name": "ssh", "state": "running"}],
    }
    b = {
        "os": {"id": "debian", "version_id": "13"},
        "kernel": "6.1",
        "packages": {"b": "2", "c": "1"},
        "services": [{"name": "ssh", "state": "dead"}],
    }
    delta = diff_fingerprints(a, b)
    assert delta["os"] == {"version_id": ["12", "13"]}
    assert delta["packages"] == {
        "added": {"c": "1"},
        "removed": {"a": "1"},
        "changed": {"b": ["1", "2"]},
    }
    assert delta["services"]["changed"] == {"ssh": ["running", "stopped"]}
    assert delta["fields"] == {}


def _services(fp: dict[str, Any]) -> dict[str, tuple[str, bool | None, str]]:
    return {s["name"]: (s["state"], s["enabled"], s["source"]) for s in fp["services"]}


def _install_stopped_nginx(docker_api: Any, name: str) -> None:
    script = (
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends nginx >/dev/null && (service nginx stop || true) && "
        "! pgrep -x nginx"
    )
    code, out = docker_api.containers.get(name).exec_run(["sh", "-c", script])
    assert code == 0, out.decode(errors="replace")[-2000:]


def _unprivileged_fingerprint(docker_api: Any, name: str) -> dict[str, Any]:
    quick = select_collectors(load_collectors(), profile="quick")
    code, out = docker_api.containers.get(name).exec_run(
        ["sh", "-c", render_script(quick)], user="nobody"
    )
    assert code == 0
    items, complete = parse_output(out)
    assert complete
    return build_fingerprint(items)


@pytest.mark.docker
@pytest.mark.slow
def test_services_without_systemd_by_unit_name_with_stopped_and_disabled(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: Any, tmp_path: Path
) -> None:
    """A systemd-less customer (sshd is PID 1) with nginx installed, enabled, but stopped."""
    from remotefix.lab.catalog import Catalog
    from remotefix.lab.plan import plan_lab

    customer = customer_factory()
    _install_stopped_nginx(docker_api, customer.name)
    fp = _fingerprint_over_ssh(customer, client_key, tmp_path)
    jsonschema.validate(fp, json.loads(SCHEMA_PATH.read_text()))
    seen = _services(fp)
    assert seen["nginx"] == ("stopped", True, "sysvinit")
    assert seen["ssh"] == ("running", True, "sysvinit")  # the process sshd, named as its service
    assert "sshd" not in seen and "sleep" not in seen
    assert _services(_unprivileged_fingerprint(docker_api, customer.name)) == seen

    spec = plan_lab(fp, Catalog.load(), bundle=tmp_path / "b.tar.gz",
                    bundle_members=["files/etc/nginx/nginx.conf"])  # fmt: skip
    assert {"nginx", "nginx-common"} <= set(spec.packages)  # kept although stopped
    assert spec.files == {"/etc/nginx/nginx.conf": "bundle:files/etc/nginx/nginx.conf"}
    assert "nginx" not in spec.services and "ssh" in spec.services

    code, _ = docker_api.containers.get(customer.name).exec_run(["update-rc.d", "nginx", "disable"])
    assert code == 0
    after = _fingerprint_over_ssh(customer, client_key, tmp_path)
    assert _services(after)["nginx"] == ("stopped", False, "sysvinit")
    delta = diff_fingerprints(fp, after)["services"]
    assert delta["changed"] == {"nginx": ["stopped, enabled", "stopped, disabled"]}

    remove = "apt-get remove -y -qq nginx nginx-common >/dev/null && test -f /etc/init.d/nginx"
    code, out = docker_api.containers.get(customer.name).exec_run(["sh", "-c", remove])
    assert code == 0, out  # removed, not purged: the init script (a conffile) stays behind
    gone = _fingerprint_over_ssh(customer, client_key, tmp_path)
    assert "nginx" not in _services(gone)


_SYSTEMD_RECIPE = (
    "FROM {base}\n"
    "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
    "--no-install-recommends systemd systemd-sysv nginx >/dev/null && rm -rf /var/lib/apt/lists/*\n"
    "RUN printf '[Service]\\nExecStart=/bin/false\\n[Install]\\nWantedBy=multi-user.target\\n' "
    "> /etc/systemd/system/rfx-broken.service && systemctl enable rfx-broken.service && "
    "printf '[Service]\\nType=oneshot\\nRemainAfterExit=yes\\nExecStart=/bin/true\\n"
    "[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/rfx-once.service && "
    "systemctl enable rfx-once.service && systemctl disable nginx.service\n"
)


@pytest.fixture
def systemd_host(docker_api: Any, base12: Any) -> Any:
    """A Debian 12 container that boots systemd (unprivileged: tmpfs /run, cgroup fs read-only)."""
    import hashlib
    import io
    import time
    import uuid

    from remotefix import dockerapi
    from remotefix.sandbox import ROLE_LABEL

    recipe = _SYSTEMD_RECIPE.format(base=base12.tag)
    tag = f"remotefix/customer:systemd-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    try:
        docker_api.images.get(tag)
    except docker.errors.ImageNotFound:
        docker_api.images.build(fileobj=io.BytesIO(recipe.encode()), tag=tag, rm=True,
                                labels=dockerapi.labels(**{ROLE_LABEL: "customer-image"}))  # fmt: skip
    container = docker_api.containers.run(
        tag, ["/lib/systemd/systemd"], name=f"remotefix-test-systemd-{uuid.uuid4().hex[:8]}",
        detach=True, labels=dockerapi.labels(), tmpfs={"/run": "", "/run/lock": ""},
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
    )  # fmt: skip
    try:
        for _ in range(100):
            _, out = container.exec_run(["systemctl", "is-system-running"])
            if out.strip() in (b"running", b"degraded"):
                break
            time.sleep(0.2)
        yield container
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_services_on_a_systemd_host_come_from_systemctl(systemd_host: Any) -> None:
    quick = select_collectors(load_collectors(), profile="quick")
    code, out = systemd_host.exec_run(["sh", "-c", render_script(quick)])
    items, complete = parse_output(out)
    assert code == 0 and complete
    fp = build_fingerprint(items)
    jsonschema.validate(fp, json.loads(SCHEMA_PATH.read_text()))
    seen = _services(fp)
    assert fp["init"].startswith("systemd")
    assert seen["nginx"] == ("stopped", False, "systemd")  # installed, disabled, not running
    assert seen["rfx-broken"] == ("failed", True, "systemd")
    assert seen["rfx-once"] == ("exited", True, "systemd")
    assert seen["getty@tty1"][1] is True  # an instance: enabled through its template
    assert seen["apt-daily"][1] is None  # static: nothing to enable
    assert not [n for n in seen if n.endswith("@") or n in ("sshd", "procps")]  # templates, aliases


def test_windows_services_share_the_schema_states_and_enabled() -> None:
    """The SCM's start types map to ``enabled``; paused / pending are not one of the shared states."""
    from remotefix.fingerprint_windows import build_windows_fingerprint
    from tests.fixtures import windows

    seen = {}
    for shape in ("server2022-admin", "win10-22h2", "server2019-single"):
        items, _ = parse_output(windows.framed(shape))
        seen.update(_services(build_windows_fingerprint(items)))
    assert seen["Spooler"] == ("running", True, "windows")  # Automatic
    assert seen["wuauserv"] == ("stopped", None, "windows")  # Manual: starts on demand
    assert seen["ContosoAgent"] == ("unknown", True, "windows")  # Paused
    assert seen["MSSQLSERVER"] == ("running", True, "windows")  # numeric Status 4, StartType 2
