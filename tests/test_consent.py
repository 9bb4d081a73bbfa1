"""Consent grants: recording, checking before every command, expiry, revocation, scopes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from remotefix.consent import (
    ConsentStore,
    GrantStatus,
    Scope,
    needs_consent,
    parse_duration,
)
from remotefix.errors import ConfigError, ConsentError
from remotefix.targets import Target, parse_address
from remotefix.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
HOURS_4 = timedelta(hours=4)
WEB1 = parse_address("ssh://root@web1:22", name="web1")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def store(workspace: Workspace) -> Iterator[ConsentStore]:
    with ConsentStore(workspace) as consent_store:
        yield consent_store


def _grant(store: ConsentStore, scope: str = "diagnose", **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "case": "C-1",
        "targets": ["web*"],
        "scope": scope,
        "expires_in": HOURS_4,
        "granted_by": "Alice Customer",
        "evidence": "TCK-42",
    }
    args.update(kw)
    return store.grant(**args)  # type: ignore[arg-type]


def _python(code: str, *args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", code, *args], cwd=REPO, text=True, **popen
    )


def test_grant_then_check_returns_the_grant(store: ConsentStore) -> None:
    grant = _grant(store)
    assert grant.id.startswith("c-") and len(grant.id) == 10
    assert grant.granted_at.tzinfo is not None
    assert grant.expires_at - grant.granted_at == HOURS_4
    assert grant.status() is GrantStatus.ACTIVE
    assert store.check("C-1", WEB1, "diagnose") == grant
    assert store.get(grant.id) == grant


def _ssh(name: str, host: str, **kw: object) -> Target:
    return Target(name=name, connection="ssh", host=host, **kw)  # type: ignore[arg-type]


COVERED = [
    ("web*", WEB1),
    ("*", parse_address("ssh://10.9.9.9")),
    ("ssh://root@10.0.0.5", parse_address("root@10.0.0.5:2222", name="db")),
    ("ssh://root@10.0.0.5:2222", parse_address("root@10.0.0.5:2222")),
    ("ssh://root@web1:22", parse_address("ssh://root@web1")),  # 22 is ssh's default
    ("10.0.0.*", parse_address("ssh://10.0.0.7")),
    ("10.0.0.*", parse_address("ssh://10.0.0.55")),
    ("10.0.0.0/24", parse_address("ssh://10.0.0.55")),
    ("fd00::/64", parse_address("ssh://root@[fd00::5]:22")),
    ("*.customer.example", parse_address("ssh://root@web1.customer.example")),
    ("*.customer.example", parse_address("ssh://root@WEB1.Customer.Example.")),
    ("customer-1", Target(name="customer-1", connection="ssh", host="192.0.2.1")),  # alias
    ("docker://app*", parse_address("docker://app-7")),
    ("winrm://u@127.0.0.1:5985?transport=ntlm", parse_address("winrm://u@127.0.0.1:5985")),
]
NOT_COVERED = [
    ("*.customer.example", parse_address("ssh://root@127.0.0.1:22?x=.customer.example")),
    ("*.customer.example", _ssh("db1.customer.example", "127.0.0.1")),  # inventory alias
    ("*.customer.example", parse_address("ssh://customer.example")),
    ("*.customer.example", parse_address("ssh://a.b.customer.example")),
    ("*.customer.example", parse_address("ssh://web1.customer.example.evil.net")),
    ("web*", parse_address("ssh://web1.evil.net")),
    ("web1", _ssh("ssh://web1?x=1", "10.6.6.6")),  # only a plain alias counts
    ("10.0.0.5", parse_address("ssh://10.0.0.55")),
    ("10.0.0.*", parse_address("ssh://10.0.0.5.evil.net")),
    ("10.0.0.0/24", parse_address("ssh://10.0.1.1")),
    ("ssh://root@web1:22", parse_address("ssh://admin@web1")),
    ("ssh://root@web1:22", parse_address("ssh://root@web1:2222")),
    ("ssh://root@web1", parse_address("ssh://web1")),  # user unknown: not assumed
    ("docker://app*", parse_address("ssh://app-7")),
    ("docker://app*", parse_address("docker://App-7")),  # container names are case-sensitive
]


@pytest.mark.parametrize(("pattern", "target"), COVERED)
def test_patterns_cover_the_connected_host(
    store: ConsentStore, pattern: str, target: Target
) -> None:
    _grant(store, targets=[pattern])
    assert store.check("C-1", target, "diagnose").targets == (pattern,)


@pytest.mark.parametrize(("pattern", "target"), NOT_COVERED)
def test_patterns_never_match_typed_text_or_partial_labels(
    store: ConsentStore, pattern: str, target: Target
) -> None:
    _grant(store, targets=[pattern])
    with pytest.raises(ConsentError, match="no consent"):
        store.check("C-1", target, "diagnose")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("10.0.0.5*", "whole octets"),
        ("ssh://root@10.0.0.5*", "whole octets"),
        ("10.0.*", "whole octets"),
        ("10.0.0.256", "whole octets"),
        ("web1:port", "port"),
        ("web1:0", "port"),
        ("local://", "scheme"),
        ("ftp://web1", "scheme"),
        ("a..b", "labels"),
        ("web/1", "labels"),
        ("us er@web1", "user"),
    ],
)
def test_ambiguous_patterns_are_refused_at_grant_time(
    store: ConsentStore, pattern: str, why: str
) -> None:
    with pytest.raises(ConsentError, match=f"bad consent target pattern .*{why}"):
        _grant(store, targets=[pattern])
    assert store.list(include_inactive=True) == []


def test_sudo_needs_a_sudo_grant(store: ConsentStore) -> None:
    plain = _grant(store, scope="fix")
    assert plain.sudo is False and plain.to_dict()["sudo"] is False
    assert store.check("C-1", WEB1, "fix") == plain
    with pytest.raises(ConsentError) as info:
        store.check("C-1", WEB1, "fix", sudo=True)
    message = str(info.value)
    assert f"consent {plain.id} does not allow sudo (granted without --sudo)" in message
    assert "--scope fix --sudo" in message and "\n" not in message
    elevated = _grant(store, scope="fix", sudo=True)
    assert elevated.sudo and store.get(elevated.id).sudo
    assert store.check("C-1", WEB1, "diagnose", sudo=True) == elevated
    assert store.check("C-1", WEB1, "diagnose") == plain  # no sudo asked: either grant will do


def test_a_database_from_before_sudo_is_migrated(workspace: Workspace) -> None:
    workspace.ensure()
    with sqlite3.connect(workspace.consent_db) as conn:
        conn.execute(
            "CREATE TABLE grants (id TEXT PRIMARY KEY, case_id TEXT NOT NULL, targets TEXT NOT "
            "NULL, scope TEXT NOT NULL, granted_by TEXT NOT NULL, evidence TEXT NOT NULL, "
            "granted_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT)"
        )
        conn.execute(
            "INSERT INTO grants VALUES ('c-00000001', 'C-1', '[\"web*\"]', 'fix', 'A', 'T', "
            "'2020-01-01T00:00:00.000000+00:00', '2999-01-01T00:00:00.000000+00:00', NULL)"
        )
    with ConsentStore(workspace) as store:
        old = store.check("C-1", WEB1, "fix")
        assert (old.id, old.sudo) == ("c-00000001", False)
        with pytest.raises(ConsentError, match="does not allow sudo"):
            store.check("C-1", WEB1, "fix", sudo=True)
        assert _grant(store, scope="fix", sudo=True).sudo


def test_missing_grant_names_case_target_scope_and_the_command(store: ConsentStore) -> None:
    _grant(store, targets=["db*"])
    with pytest.raises(ConsentError) as info:
        store.check("C-1", WEB1, "fix")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("no consent for case 'C-1' on target 'web1' (scope fix needed)")
    assert "remotefix consent grant --case C-1 --target web1 --scope fix --expires 4h" in message
    assert "--by " in message and "--evidence " in message
    assert info.value.exit_code == 5


def test_grant_for_another_case_does_not_count(store: ConsentStore) -> None:
    _grant(store, case="C-2")
    with pytest.raises(ConsentError, match="no consent for case 'C-1'"):
        store.check("C-1", WEB1, "diagnose")


def test_expired_grant_is_refused_and_says_when(store: ConsentStore) -> None:
    grant = _grant(store)
    later = grant.expires_at + timedelta(minutes=3)
    with pytest.raises(ConsentError) as info:
        store.check("C-1", WEB1, "diagnose", now=later)
    assert f"consent {grant.id} expired at {grant.expires_at:%Y-%m-%d %H:%M:%S} UTC" in str(
        info.value
    )
    assert "(0:03:00 ago)" in str(info.value)
    assert "--scope diagnose" in str(info.value)


def test_a_grant_expires_in_real_time(store: ConsentStore) -> None:
    _grant(store, expires_in=timedelta(milliseconds=300))
    store.check("C-1", WEB1, "diagnose")
    time.sleep(0.4)
    with pytest.raises(ConsentError, match="expired at"):
        store.check("C-1", WEB1, "diagnose")
    assert store.list("C-1") == []
    assert [g.status() for g in store.list("C-1", include_inactive=True)] == ["expired"]


def test_revoked_grant_is_refused(store: ConsentStore) -> None:
    grant = _grant(store)
    revoked = store.revoke(grant.id)
    assert revoked.status() is GrantStatus.REVOKED and revoked.revoked_at is not None
    with pytest.raises(ConsentError, match=f"consent {grant.id} was revoked at .* UTC"):
        store.check("C-1", WEB1, "diagnose")


def test_revoking_twice_keeps_the_first_time(store: ConsentStore) -> None:
    grant = _grant(store)
    first = store.revoke(grant.id).revoked_at
    assert store.revoke(grant.id).revoked_at == first


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [
        ("diagnose", "diagnose", True),
        ("diagnose", "fix", False),
        ("diagnose", "shell", False),
        ("fix", "diagnose", True),
        ("fix", "fix", True),
        ("fix", "shell", False),
        ("shell", "diagnose", True),
        ("shell", "fix", True),
        ("shell", "shell", True),
    ],
)
def test_scope_ladder(store: ConsentStore, granted: str, needed: str, allowed: bool) -> None:
    grant = _grant(store, scope=granted)
    if allowed:
        assert store.check("C-1", WEB1, needed) == grant
    else:
        with pytest.raises(ConsentError) as info:
            store.check("C-1", WEB1, needed)
        assert f"consent {grant.id} allows only {granted} for case 'C-1'" in str(info.value)
        assert f"(scope {needed} needed)" in str(info.value)
        assert f"--scope {needed}" in str(info.value)


def test_narrowest_sufficient_grant_is_used(store: ConsentStore) -> None:
    _grant(store, scope="shell")
    fix = _grant(store, scope="fix")
    assert store.check("C-1", WEB1, Scope.DIAGNOSE) == fix


def test_active_grant_wins_over_revoked_one(store: ConsentStore) -> None:
    store.revoke(_grant(store).id)
    active = _grant(store)
    assert store.check("C-1", WEB1, "diagnose") == active


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"case": "  "}, "case"),
        ({"targets": []}, "at least one --target"),
        ({"targets": ["web*", ""]}, "target"),
        ({"granted_by": ""}, "granted_by"),
        ({"evidence": ""}, "evidence"),
        ({"evidence": "two\nlines"}, "single line"),
        ({"expires_in": timedelta(0)}, "expiry"),
        ({"expires_in": timedelta(days=30, seconds=1)}, "30 days"),
        ({"scope": "admin"}, "unknown consent scope"),
    ],
)
def test_grant_is_validated(store: ConsentStore, change: dict[str, object], message: str) -> None:
    with pytest.raises(ConsentError, match=message):
        _grant(store, **change)
    assert store.list(include_inactive=True) == []


def test_thirty_days_is_the_longest_grant(store: ConsentStore) -> None:
    assert _grant(store, expires_in=timedelta(days=30)).status() is GrantStatus.ACTIVE


def test_get_unknown_id_names_it_and_the_listing_command(store: ConsentStore) -> None:
    with pytest.raises(ConsentError, match=r"c-deadbeef.*remotefix consent ls"):
        store.get("c-deadbeef")


def test_list_filters_by_case_and_hides_inactive(store: ConsentStore) -> None:
    a = _grant(store, case="A")
    b = _grant(store, case="B")
    store.revoke(_grant(store, case="A").id)
    assert store.list() == [a, b]
    assert store.list("A") == [a]
    assert [g.case for g in store.list(include_inactive=True)] == ["A", "B", "A"]


def test_grants_survive_a_new_store(workspace: Workspace) -> None:
    with ConsentStore(workspace) as first:
        grant = _grant(first)
    with ConsentStore(workspace) as second:
        assert second.get(grant.id) == grant


def test_database_uses_wal(store: ConsentStore, workspace: Workspace) -> None:
    _grant(store)
    with sqlite3.connect(workspace.consent_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(grants)")]
    assert "grants_case" in indexes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1d12H ", timedelta(days=1, hours=12)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "1.5h", "-4h", "30m1h", "4 hours", "9" * 30 + "d"])
def test_parse_duration_rejects_bad_input(text: str) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("target", "needed"),
    [
        (parse_address("local://"), False),
        (Target("lab1", "docker", "rf-lab-1", options=MappingProxyType({"lab": "1"})), False),
        (parse_address("docker://customer-app"), True),
        (Target("x", "docker", "x", options=MappingProxyType({"lab": "yes"})), True),
        (Target("x", "ssh", "x", options=MappingProxyType({"lab": "1"})), True),
        (parse_address("ssh://root@web1"), True),
        (parse_address("winrm://admin@win1"), True),
    ],
)
def test_needs_consent(target: Target, needed: bool) -> None:
    assert needs_consent(target) is needed


_REVOKER = """
import sys
from pathlib import Path
from remotefix.consent import ConsentStore
from remotefix.workspace import Workspace
store = ConsentStore(Workspace(Path(sys.argv[1])))
store.list()  # connection open before the go signal
assert sys.stdin.readline().strip() == "go"
store.revoke(sys.argv[2])
print("revoked", flush=True)
sys.stdin.readline()  # stay alive, connection open, until told to exit
"""


def test_revoke_from_another_process_stops_the_next_check(
    store: ConsentStore, workspace: Workspace
) -> None:
    grant = _grant(store)
    other = _python(
        _REVOKER,
        str(workspace.root),
        grant.id,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert other.stdin is not None and other.stdout is not None
        for _ in range(200):  # this process keeps checking while the other one starts
            assert store.check("C-1", WEB1, "diagnose") == grant
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "revoked"
        assert other.poll() is None  # the revoker is still running
        with pytest.raises(ConsentError, match="was revoked"):
            store.check("C-1", WEB1, "diagnose")
        other.stdin.write("exit\n")
        other.stdin.flush()
        assert other.wait(timeout=30) == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


_GRANTER = """
import sys, time
from datetime import timedelta
from pathlib import Path
from remotefix.consent import ConsentStore
from remotefix.workspace import Workspace
root, case, start = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
store = ConsentStore(Workspace(root))
while not start.exists():
    time.sleep(0.001)
for i in range(100):
    store.grant(case, [f"host-{i}"], "diagnose", timedelta(hours=1), "Bob", f"T-{i}")
"""


def test_concurrent_grants_from_two_processes_are_all_kept(
    workspace: Workspace, tmp_path: Path
) -> None:
    start = tmp_path / "start"
    procs = [_python(_GRANTER, str(workspace.root), case, str(start)) for case in ("A", "B")]
    start.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with ConsentStore(workspace) as store:
        grants = store.list(include_inactive=True)
    assert len(grants) == 200
    assert len({g.id for g in grants}) == 200
    assert sorted(g.case for g in grants) == ["A"] * 100 + ["B"] * 100


def test_naive_now_is_taken_as_utc(store: ConsentStore) -> None:
    grant = _grant(store)
    naive = (grant.expires_at + timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=None)
    assert grant.status(naive) is GrantStatus.EXPIRED
    assert grant.status(datetime.now(UTC)) is GrantStatus.ACTIVE
