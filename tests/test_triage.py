"""Triage on evidence, end to end: real customer containers, each with one planted problem made
by the real tools (dpkg killed mid-configure, sshd refusing ssh-rsa, pip refusing a system-wide
install, openssl refusing MD4), plus a healthy machine with everyday log noise and a machine with
a problem no case describes. Each is diagnosed over SSH and triaged; the planted case, and only
it, is ``affected`` and ranked first; the other two have no affected case."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair

pytestmark = [pytest.mark.docker, pytest.mark.slow]

_APT = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
    "--no-install-recommends {} >/dev/null && mkdir -p /var/log/myapp && "
)
_NOISE = r"""
mkdir -p /var/log/myapp
cat >> /var/log/syslog <<'EOF'
Dec  1 06:25:01 web1 CRON[2211]: (root) CMD (test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily)
Dec  1 06:25:02 web1 systemd[1]: logrotate.service: Deactivated successfully.
Dec  1 07:00:01 web1 CRON[2301]: (www-data) CMD (php /srv/app/cron.php)
Dec  1 07:13:44 web1 kernel: [12345.678] TCP: request_sock_TCP: Possible SYN flooding on port 443.
EOF
cat >> /var/log/auth.log <<'EOF'
Dec  1 07:01:10 web1 sshd[2400]: Accepted publickey for deploy from 198.51.100.23 port 50122 ssh2: RSA SHA256:Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0
Dec  1 07:01:10 web1 sshd[2400]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)
Dec  1 07:02:31 web1 sshd[2405]: Invalid user admin from 203.0.113.9 port 41022
Dec  1 07:02:31 web1 sshd[2405]: Connection closed by invalid user admin 203.0.113.9 port 41022 [preauth]
Dec  1 07:05:00 web1 sudo:   deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; COMMAND=/usr/bin/systemctl restart app
EOF
cat >> /var/log/myapp/app.log <<'EOF'
2026-12-01 07:10:00 WARNING config: option 'workers' is deprecated, use 'processes'
2026-12-01 07:10:01 WARNING /srv/app/legacy.py:3: DeprecationWarning: the imp module is deprecated in favour of importlib
2026-12-01 07:10:02 INFO tls: OpenSSL 3.0.17 loaded, digest sha256
2026-12-01 07:10:03 INFO deploy: pip install -r requirements.txt into /srv/app/venv: done
EOF
"""
_OTHER_PROBLEM = r"""
mkdir -p /var/log/myapp
cat >> /var/log/myapp/app.log <<'EOF'
2026-12-01 08:00:00 ERROR worker: OSError: [Errno 28] No space left on device: '/srv/app/cache/x'
2026-12-01 08:00:01 ERROR Traceback (most recent call last):
ModuleNotFoundError: No module named 'requests'
2026-12-01 08:00:02 ERROR nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
EOF
"""

PLANTS = {
    "dpkg-interrupted": (
        "KI-0004",
        # the state dpkg leaves when it is killed while configuring a package
        "dpkg-query -s sudo | sed 's/^Status: .*/Status: install ok half-configured/' "
        "> /var/lib/dpkg/updates/0000",
    ),
    "ssh-rsa": (
        "KI-0003",
        # a real sshd refusing a real client that offers only ssh-rsa; sshd logs to auth.log
        "/usr/sbin/sshd -p 2222 -E /var/log/auth.log && "
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o HostKeyAlgorithms=ssh-rsa "
        "-p 2222 127.0.0.1 true; sleep 1; grep -q 'Their offer: ssh-rsa' /var/log/auth.log",
    ),
    "pip": (
        "KI-0001",
        _APT.format("python3-pip")
        + "cd /tmp && echo 'deploy: pip3 install requests' > /var/log/myapp/deploy.log && "
        "! pip3 install --no-index requests >> /var/log/myapp/deploy.log 2>&1",
    ),
    "md4": (
        "KI-0005",
        _APT.format("openssl")
        + "echo 'ntlm-helper: hashing challenge' > /var/log/myapp/app.log && "
        "! (echo probe | openssl dgst -md4) >> /var/log/myapp/app.log 2>&1",
    ),
    "healthy-noise": (None, _NOISE),
    "other-problem": (None, _OTHER_PROBLEM),
}


def _plant(api: docker.DockerClient, name: str, script: str) -> None:
    code, out = api.containers.get(name).exec_run(["sh", "-c", script])
    assert code == 0, out.decode(errors="replace")[-2000:]


def _diagnose(customer_factory: CustomerFactory, key: KeyPair, api: docker.DockerClient,
              script: str, out: Path) -> Path:  # fmt: skip
    customer = customer_factory()
    _plant(api, customer.name, _NOISE)  # every machine has everyday noise
    _plant(api, customer.name, script)
    trust(customer)
    grant([customer.address], "C-1042")
    address = f"{customer.address}?identity_file={key.private}"
    code, report = cli_json("diagnose", address, "--case", "C-1042", "-o", str(out))
    assert code == 0, report
    return out


def test_triage_names_only_the_planted_case_and_nothing_on_healthy_machines(
    customer_factory: CustomerFactory, client_key: KeyPair, docker_api: docker.DockerClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    tp = fp = fn = 0
    for label, (planted, script) in PLANTS.items():
        bundle = _diagnose(customer_factory, client_key, docker_api, script,
                           tmp_path / f"{label}.tar.gz")  # fmt: skip
        code, entries = cli_json("triage", str(bundle))
        assert code == 0, entries
        affected = [e["case"] for e in entries if e["state"] == "affected"]
        expected = [planted] if planted else []
        tp += len(set(affected) & set(expected))
        fp += len(set(affected) - set(expected))
        fn += len(set(expected) - set(affected))
        assert affected == expected, (label, [(e["case"], e["evidence"]) for e in entries])
        for entry in entries:
            assert (entry["state"] == "affected") == bool(entry["evidence"]), entry
            assert all(len(x["excerpt"]) <= 200 for x in entry["evidence"])
        if planted:
            top = entries[0]
            assert top["case"] == planted and top["decision"]["action"] in ("upgrade", "workaround")
            assert top["score"] > max(e["score"] for e in entries[1:])
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    print(f"\ntriage on {len(PLANTS)} machines: precision {precision:.2f}, recall {recall:.2f}")
    assert (precision, recall) == (1.0, 1.0)


def test_without_root_the_log_cases_are_unknown_and_say_what_was_denied(
    customer_factory: CustomerFactory, docker_api: docker.DockerClient, tmp_path: Path
) -> None:
    """The customer runs the standalone script as an unprivileged user (no sudo rights): dpkg's
    journal is still readable, the logs are not; triage says so instead of "susceptible"."""
    customer = customer_factory()
    _plant(docker_api, customer.name, PLANTS["dpkg-interrupted"][1])
    _plant(docker_api, customer.name, PLANTS["ssh-rsa"][1])
    code, script = cli_json("collector-script", "--os", "linux")
    assert code == 0
    code, output = docker_api.containers.get(customer.name).exec_run(
        ["sh", "-c", script], user="nobody"
    )
    assert code == 0
    (tmp_path / "out.txt").write_bytes(output)
    bundle = tmp_path / "nobody.tar.gz"
    code, _ = cli_json("bundle", "import", str(tmp_path / "out.txt"), "--case", "C-1042",
                       "--target-name", "web1", "-o", str(bundle))  # fmt: skip
    assert code == 0
    code, entries = cli_json("triage", str(bundle))
    states = {e["case"]: e for e in entries}
    assert [e["case"] for e in entries if e["state"] == "affected"] == ["KI-0004"]
    assert entries[0]["case"] == "KI-0004"
    ssh_rsa = states["KI-0003"]
    assert ssh_rsa["state"] == "unknown" and ssh_rsa["decision"]["action"] == "escalate"
    assert any(m.startswith("logs: ") and "auth-tail" in m and "denied" in m
               for m in ssh_rsa["missing"]), ssh_rsa["missing"]  # fmt: skip
