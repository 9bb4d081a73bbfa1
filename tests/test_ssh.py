"""SSH specifics on a real sshd: strict host keys, trust, changed keys, ProxyJump, auth errors,
one reused connection, ssh_config aliases, sudo -n, and passwords that never leak."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.consent import ConsentStore, Scope
from remotefix.errors import AuthError, HostKeyError
from remotefix.session import Session
from remotefix.transports.ssh import SSHTransport
from remotefix.workspace import Workspace
from tests.fixtures.docker import make_keypair
from tests.fixtures.sshd import Sshd, SshdFactory, start_sshd


def _trusting(server: Sshd, tmp_path: Path) -> list[Path]:
    known = tmp_path / f"known-{server.port}"
    known.write_text(server.known_hosts_line + "\n")
    return [known]


def _ssh(server: Sshd, known: list[Path] | None = None, **kw: object) -> SSHTransport:
    return SSHTransport(server.target(), known_hosts_files=known, use_agent=False, **kw)  # type: ignore[arg-type]


def _keygen_fingerprint(server: Sshd) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(server.host_key.with_suffix(".pub"))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()[1]


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd: Sshd) -> None:
    with pytest.raises(HostKeyError) as info, _ssh(sshd) as transport:
        transport.run("true")
    message = str(info.value)
    assert "unknown" in message and _keygen_fingerprint(sshd) in message
    assert "remotefix hosts trust" in message


def test_hosts_trust_records_the_key_then_connections_work(sshd: Sshd) -> None:
    fp = _keygen_fingerprint(sshd)
    wrong = CliRunner().invoke(cli, ["hosts", "trust", sshd.address, "--fingerprint", "SHA256:x"])
    assert wrong.exit_code == 13
    done = CliRunner().invoke(cli, ["--json", "hosts", "trust", sshd.address, "--fingerprint", fp])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["fingerprint"] == fp
    with _ssh(sshd) as transport:  # uses the workspace known_hosts that trust wrote
        assert transport.run("echo ok").stdout == b"ok\n"


def test_changed_host_key_is_refused_loudly(tmp_path: Path) -> None:
    with start_sshd(tmp_path / "a") as first:
        known = _trusting(first, tmp_path)
        port, key = first.port, first.client_key
    with (
        start_sshd(tmp_path / "b", port=port, client_key=key) as second,
        _ssh(second, known) as t,
        pytest.raises(HostKeyError, match="HAS CHANGED: possible man-in-the-middle"),
    ):
        t.run("true")


def test_twenty_commands_share_one_connection(sshd: Sshd, tmp_path: Path) -> None:
    with _ssh(sshd, _trusting(sshd, tmp_path)) as transport:
        first = transport.client.get_transport()
        for n in range(20):
            assert transport.run(f"echo {n}").stdout == f"{n}\n".encode()
        assert transport.client.get_transport() is first
    time.sleep(0.2)
    assert sshd.log.read_text().count("Accepted publickey") == 1


def test_proxyjump_through_a_bastion(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    bastion = sshd_factory(log_level="DEBUG1")
    inner = sshd_factory(client_key=bastion.client_key)
    known = _trusting(bastion, tmp_path) + _trusting(inner, tmp_path)
    target = inner.target(proxy_jump=f"root@127.0.0.1:{bastion.port}")
    with SSHTransport(target, known_hosts_files=known, use_agent=False) as transport:
        assert transport.run("echo through").stdout == b"through\n"
    assert f"target 127.0.0.1 port {inner.port}" in bastion.log.read_text()


def test_bastion_host_key_is_checked_too(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    bastion = sshd_factory()
    inner = sshd_factory(client_key=bastion.client_key)
    target = inner.target(proxy_jump=f"root@127.0.0.1:{bastion.port}")
    with pytest.raises(HostKeyError, match=f"127.0.0.1.:{bastion.port}"):
        SSHTransport(target, known_hosts_files=_trusting(inner, tmp_path), use_agent=False).run(
            "true"
        )


def test_wrong_key_is_an_auth_error(sshd: Sshd, tmp_path: Path) -> None:
    other = make_keypair(tmp_path, "other")
    target = sshd.target(identity_file=str(other.private))
    with pytest.raises(AuthError, match=r"authentication to 127\.0\.0\.1"):
        SSHTransport(target, known_hosts_files=_trusting(sshd, tmp_path), use_agent=False).run(
            "true"
        )


def test_ssh_config_alias(sshd: Sshd, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host customer-box\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {sshd.client_key.private}\n"
    )
    from remotefix.targets import parse_address

    transport = SSHTransport(
        parse_address("customer-box"), ssh_config=config,
        known_hosts_files=_trusting(sshd, tmp_path), use_agent=False,
    )  # fmt: skip
    with transport:
        assert transport.run("whoami").stdout == b"root\n"


def test_unreachable_host_from_the_cli_is_one_line_exit_11() -> None:
    ConsentStore(Workspace.default().ensure()).grant(
        "C-1", ["*"], Scope.FIX, timedelta(minutes=5), "Jane", "ticket"
    )
    result = CliRunner().invoke(
        cli, ["run", "ssh://root@127.0.0.1:1", "--case", "C-1", "--", "true"]
    )
    assert result.exit_code == 11
    assert "connection refused" in result.output


@pytest.fixture
def throwaway_user() -> Iterator[tuple[str, str]]:
    """A real local account with a password (removed again); needed for password auth tests."""
    name = f"rfx{uuid.uuid4().hex[:8]}"
    password = "Pw-" + uuid.uuid4().hex
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
        yield name, password
    finally:
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


def test_password_auth_and_the_password_never_leaks(
    sshd_factory: SshdFactory, throwaway_user: tuple[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    name, password = throwaway_user
    server = sshd_factory(extra_config="PasswordAuthentication yes")
    known = _trusting(server, tmp_path)
    from remotefix.targets import parse_address

    target = parse_address(f"ssh://{name}@127.0.0.1:{server.port}")
    monkeypatch.setenv("REMOTEFIX_PASSWORD", password + "-wrong")
    with pytest.raises(AuthError) as info:
        SSHTransport(target, known_hosts_files=known, use_agent=False).run("true")
    assert password not in repr(info.value) and password not in caplog.text
    monkeypatch.setenv("REMOTEFIX_PASSWORD", password)
    with SSHTransport(target, known_hosts_files=known, use_agent=False) as transport:
        assert transport.run("whoami").stdout == f"{name}\n".encode()
    # through the CLI: the password travels in the environment; no process on this machine
    # (remotefix, anything it starts, the remote command under sshd) has it in its argv
    ws = Workspace.default().ensure()
    (ws.known_hosts).write_text(server.known_hosts_line + "\n")
    ConsentStore(ws).grant("C-2", ["*"], Scope.FIX, timedelta(minutes=5), "Jane", "t")
    proc = subprocess.Popen(
        [sys.executable, "-m", "remotefix", "run", target.address, "--case", "C-2",
         "--", "sleep", "2"],
        env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    leaks, remote = _scan_argvs(proc, password.encode(), pwd.getpwnam(name).pw_uid)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert remote, "the scan never saw the remote sleep running as the user"
    assert leaks == []
    assert password.encode() not in out + err
    assert password not in ws.audit_log.read_text()


def _scan_argvs(proc: subprocess.Popen[bytes], secret: bytes, uid: int) -> tuple[list[bytes], bool]:
    """Read every process's argv until ``proc`` ends: argvs holding ``secret``, and whether a
    ``sleep`` owned by ``uid`` (the remote command) was seen."""
    leaks, remote = [], False
    while proc.poll() is None:
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                argv, owner = (entry / "cmdline").read_bytes(), entry.stat().st_uid
            except OSError:  # the process ended meanwhile
                continue
            if secret in argv:
                leaks.append(argv)
            remote = remote or (owner == uid and argv.startswith(b"sleep\x00"))
        time.sleep(0.05)
    return leaks, remote


def test_sudo_wanting_a_password_is_a_clear_auth_error(
    sshd_factory: SshdFactory, throwaway_user: tuple[str, str], tmp_path: Path
) -> None:
    name, password = throwaway_user  # no sudoers entry: sudo -n must refuse, not prompt
    server = sshd_factory(extra_config="PasswordAuthentication yes")
    from remotefix.targets import parse_address

    target = parse_address(f"ssh://{name}@127.0.0.1:{server.port}")
    transport = SSHTransport(
        target, known_hosts_files=_trusting(server, tmp_path), use_agent=False, password=password
    )
    session = Session(target, case="C-3", transport=transport)
    ConsentStore(session.workspace).grant(
        "C-3", ["*"], Scope.FIX, timedelta(minutes=5), "J", "t", sudo=True
    )
    with session, pytest.raises(AuthError, match=r"sudo on .* wants a password"):
        session.run("true", sudo=True, scope=Scope.FIX)


# --- known_hosts markers and `hosts trust` (a real sshd, HOME pointing at a fresh ~/.ssh) ----


@pytest.fixture
def user_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home / ".ssh" / "known_hosts"


def _other_key(tmp_path: Path, keytype: str = "ed25519") -> str:
    path = tmp_path / f"other-{keytype}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ssh-keygen", "-q", "-t", keytype, "-N", "", "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _trust(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--json", "hosts", "trust", *args, "--yes"])
    return result.exit_code, result.output


def test_revoked_and_cert_authority_lines_do_not_crash_and_revoked_is_refused(
    sshd: Sshd, tmp_path: Path, user_known_hosts: Path
) -> None:
    user_known_hosts.write_text(
        f"@cert-authority *.customer.example {_other_key(tmp_path)}\n"
        f"@revoked * {sshd.host_public_key}\n"
        "this line is garbage\n"
    )
    with pytest.raises(HostKeyError, match=r"IS REVOKED .* listed @revoked in .*known_hosts:2"):
        _ssh(sshd, _trusting(sshd, tmp_path)).run("true")  # trusted elsewhere: still refused
    code, out = _trust(sshd.address)
    assert code == 13 and "IS REVOKED" in out
    listed = CliRunner().invoke(cli, ["--json", "hosts", "ls"])
    assert listed.exit_code == 0, listed.output
    statuses = {r["status"] for r in json.loads(listed.stdout)}
    assert {"revoked", "ignored: @cert-authority"} <= statuses


def test_cert_authority_for_the_host_is_named_in_the_unknown_key_error(
    sshd: Sshd, tmp_path: Path, user_known_hosts: Path
) -> None:
    user_known_hosts.write_text(f"@cert-authority [127.0.0.1]:* {_other_key(tmp_path)}\n")
    with pytest.raises(HostKeyError, match=r"@cert-authority line .*:1 is not used"):
        _ssh(sshd).run("true")


def test_replace_overrides_a_stale_key_in_the_users_known_hosts(
    sshd: Sshd, tmp_path: Path, user_known_hosts: Path
) -> None:
    stale = f"[127.0.0.1]:{sshd.port} {_other_key(tmp_path)}"
    user_known_hosts.write_text(stale + "\n")
    code, out = _trust(sshd.address)
    assert code == 13 and "different ssh-ed25519 key" in out
    code, out = _trust(sshd.address, "--replace")
    assert code == 0, out
    assert json.loads(out)["overrides"][0].startswith(f"{user_known_hosts}:1 ssh-ed25519")
    with _ssh(sshd) as transport:
        assert transport.run("echo ok").stdout == b"ok\n"
    assert user_known_hosts.read_text() == stale + "\n"  # the user's file is never rewritten


def test_trust_refuses_a_second_key_type_next_to_a_trusted_one(
    sshd: Sshd, tmp_path: Path, user_known_hosts: Path
) -> None:
    user_known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {_other_key(tmp_path, 'rsa')}\n")
    code, out = _trust(sshd.address)
    assert code == 13 and "key of another type (ssh-rsa SHA256:" in out
    assert not Workspace.default().known_hosts.exists()
    assert _trust(sshd.address, "--replace")[0] == 0
    with _ssh(sshd) as transport:
        assert transport.run("echo ok").stdout == b"ok\n"


def test_trust_fetches_the_key_through_proxyjump(
    sshd_factory: SshdFactory, user_known_hosts: Path
) -> None:
    bastion = sshd_factory(log_level="DEBUG1")
    inner = sshd_factory(client_key=bastion.client_key)
    Workspace.default().ensure().known_hosts.write_text(bastion.known_hosts_line + "\n")
    address = (
        f"{inner.address}?identity_file={inner.client_key.private}"
        f"&proxy_jump=root@127.0.0.1:{bastion.port}"
    )
    code, out = _trust(address, "--fingerprint", _keygen_fingerprint(inner))
    assert code == 0, out
    assert f"target 127.0.0.1 port {inner.port}" in bastion.log.read_text()
    with SSHTransport(
        inner.target(proxy_jump=f"root@127.0.0.1:{bastion.port}"), use_agent=False
    ) as t:
        assert t.run("echo through").stdout == b"through\n"
