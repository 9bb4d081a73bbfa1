"""Redaction corpus: every planted secret is gone, every harmless line survives byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.collect.redact import DEFAULT_RULES, Redactor, Rule, load_rules
from remotefix.errors import ConfigError, WorkspaceError
from remotefix.redact_command import scrub_command
from tests.fixtures.redaction_corpus import Family, Sample, load_corpus, score

# (source the line came from, text, the secret that must disappear)
SECRETS = [
    ("/etc/app.env", "DB_PASSWORD=Sx-kv-0001\n", "Sx-kv-0001"),
    ("/etc/app.env", "export API_KEY='Sx-sh-0002'\n", "Sx-sh-0002"),
    ("/etc/app.env", 'export GITHUB_TOKEN="Sx-sh 0003 with space"\n', "Sx-sh 0003 with space"),
    ("/etc/app.yaml", "database:\n  password: Sx yaml 0004\n", "Sx yaml 0004"),
    ("/etc/app.yaml", "  client_secret: 'Sx-yaml-0005'\n", "Sx-yaml-0005"),
    ("/etc/app.ini", "[db]\npassword = Sx ini 0006\n", "Sx ini 0006"),
    ("/etc/app.ini", "secret_key=Sx-ini-0007\n", "Sx-ini-0007"),
    ("/etc/app.json", '{"user": "a", "password": "Sx-json-0008", "x": 1}\n', "Sx-json-0008"),
    ("/etc/app.json", '{"apiKey":"Sx-json-0009"}\n', "Sx-json-0009"),
    ("/etc/redis/redis.conf", "requirepass Sx-redis-0010\n", "Sx-redis-0010"),
    ("/etc/redis/redis.conf", "masterauth Sx-redis-0011\n", "Sx-redis-0011"),
    (
        "/etc/apt/sources.list",
        "deb https://bob:Sx-url-0012@repo.invalid/ stable main\n",
        "Sx-url-0012",
    ),
    ("ps", "curl -H 'Authorization: Bearer Sx-bearer-0013' https://x\n", "Sx-bearer-0013"),
    ("log", "Authorization: Basic U3gtYmFzaWMtMDAxNA==\n", "U3gtYmFzaWMtMDAxNA=="),
    (
        "/root/.aws/credentials",
        "aws_access_key_id = AKIAQWERTYUIOPASDFGH\n",
        "AKIAQWERTYUIOPASDFGH",
    ),
    (
        "/root/.aws/credentials",
        "aws_secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01\n",
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01",
    ),
    (
        "env",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY02\n",
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY02",
    ),
    (
        "log",
        "pushed with ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok\n",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "log",
        "slack xoxb-123456789012-abcdefghijklmnop done\n",
        "xoxb-123456789012-abcdefghijklmnop",
    ),
    (
        "/etc/shadow",
        "alice:$6$saltsalt$Sxhashhashhashhashhash0017:19000:0:99999:7:::\n",
        "Sxhashhashhashhashhash0017",
    ),
    ("/etc/shadow", "bob:$y$j9T$Sxyescrypt0018$abcdefghijk:19000:0:99999:7:::\n", "Sxyescrypt0018"),
    ("/etc/shadow", "carol:plaintextSx0019:19000:0:99999:7:::\n", "plaintextSx0019"),
    ("/root/.pgpass", "db.internal:5432:shop:app:Sx-pgpass-0020\n", "Sx-pgpass-0020"),
    ("/root/.netrc", "machine repo.invalid login bob password Sx-netrc-0021\n", "Sx-netrc-0021"),
    ("ps", "mysqldump --password Sx-cli-0022 shop\n", "Sx-cli-0022"),
    ("/etc/cron.d/x", "0 3 * * * root PGPASSWORD=Sx-cron-0023 pg_dump shop\n", "Sx-cron-0023"),
    (
        "/etc/ssl/private/k.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEASxPem0024\nabc==\n-----END RSA PRIVATE KEY-----\n",
        "MIIEowIBAAKCAQEASxPem0024",
    ),
    (
        "/etc/k.pem",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktSx0025\n",
        "b3BlbnNzaC1rZXktSx0025",
    ),
    (
        "log",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTeDAwMjYifQ.c2lnbmF0dXJlU3gwMDI2 used\n",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTeDAwMjYifQ.c2lnbmF0dXJlU3gwMDI2",
    ),
    ("/etc/wpa_supplicant.conf", '  psk="Sx-wifi-0027"\n', "Sx-wifi-0027"),
    ("env", "MYSQL_PWD=Sx-pwd-0028\n", "Sx-pwd-0028"),
]

HARMLESS = [
    ("/etc/ssh/sshd_config", "PasswordAuthentication no\nPermitEmptyPasswords no\n"),
    ("/etc/nsswitch.conf", "passwd:         files systemd\nshadow:         files\n"),
    ("cmd:packages/dpkg", "ii \tpasswd:amd64\t1:4.13+dfsg1-1+b1\tamd64\n"),
    ("cmd:apt/dpkg-log-tail", "2025-01-01 10:00:00 status installed passwd:amd64 1:4.13+dfsg1-1\n"),
    (
        "/etc/pam.d/common-password",
        "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n",
    ),
    ("/etc/shadow", "root:*:19000:0:99999:7:::\ndaemon:!:19000::::::\nnobody:!*:19000::::::\n"),
    ("sha256sum", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  file\n"),
    ("blkid", 'UUID="0b4f7a4e-6c1e-4f6f-9a5e-2b7e3b0a9c11" TYPE="ext4"\n'),
    ("units", "systemd-ask-password-wall.path loaded active waiting Forward Password Requests\n"),
    ("env", "PWD=/root\nOLDPWD=/home\n"),
    ("/etc/login.defs", "PASS_MAX_DAYS\t99999\nENCRYPT_METHOD YESCRYPT\n"),
    (
        "/etc/ssh/sshd_config",
        "AuthorizedKeysFile .ssh/authorized_keys\nHostKey /etc/ssh/ssh_host_rsa_key\n",
    ),
    ("docker", "docker login --password-stdin -u bob\n"),
    ("/etc/group", "shadow:x:42:\n"),
    ("os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n'),
    ("journal", "sshd[812]: Accepted publickey for root from 127.0.0.1 port 51234 ssh2\n"),
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(DEFAULT_RULES)


@pytest.mark.parametrize(("source", "text", "secret"), SECRETS, ids=[s[2][:18] for s in SECRETS])
def test_every_secret_is_masked(redactor: Redactor, source: str, text: str, secret: str) -> None:
    out, counts = redactor.redact(text.encode(), source=source)
    assert secret.encode() not in out, out
    assert b"[redacted-" in out and sum(counts.values()) >= 1


@pytest.mark.parametrize(("source", "text"), HARMLESS, ids=[h[0] for h in HARMLESS])
def test_harmless_lines_are_untouched(redactor: Redactor, source: str, text: str) -> None:
    out, counts = redactor.redact(text.encode(), source=source)
    assert out == text.encode() and counts == {}


def test_counts_say_which_rule_and_how_often_never_the_value(redactor: Redactor) -> None:
    text = b"a_password=one\nb_password=two\nrequirepass three\n"
    out, counts = redactor.redact(text, source="x")
    assert counts == {"assignment": 2, "directive_password": 1}
    assert all(v not in repr(counts).encode() for v in (b"one", b"two", b"three"))
    assert out.count(b"[redacted-") == 3


def test_path_scoped_rules_only_apply_to_their_files(redactor: Redactor) -> None:
    line = b"host:5432:db:user:not-a-pgpass-elsewhere\n"
    assert redactor.redact(line, source="/etc/some.conf")[0] == line
    assert b"not-a-pgpass" not in redactor.redact(line, source="/home/a/.pgpass")[0]


def test_non_utf8_bytes_pass_through(redactor: Redactor) -> None:
    data = b"\xff\xfe binary \x00 token=abc\n"
    out, _ = redactor.redact(data)
    assert out.startswith(b"\xff\xfe binary \x00 ") and b"abc" not in out


def test_obfuscation_is_consistent_and_keeps_its_map() -> None:
    r = Redactor(DEFAULT_RULES, obfuscate=True)
    r.add_hostname("shop-db-01")
    r.add_username("alice")
    one, _ = r.redact(b"shop-db-01 10.1.2.3 alice 127.0.0.1\n")
    two, _ = r.redact(b"alice@shop-db-01 from 10.1.2.3 and 10.9.9.9\n")
    assert one == b"host-1 ip-1 user-1 127.0.0.1\n"
    assert two == b"user-1@host-1 from ip-1 and ip-2\n"
    assert r.obfuscation_map == {
        "host-1": "shop-db-01", "user-1": "alice", "ip-1": "10.1.2.3", "ip-2": "10.9.9.9"
    }  # fmt: skip


def test_obfuscation_is_off_by_default(redactor: Redactor) -> None:
    redactor.add_hostname("shop-db-01")
    assert redactor.redact(b"shop-db-01 10.1.2.3")[0] == b"shop-db-01 10.1.2.3"


def test_user_rules_extend_the_defaults(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- name: ticket\n  pattern: 'TICKET-(?P<secret>\\d{6})'\n")
    r = Redactor([*DEFAULT_RULES, *load_rules(rules)])
    out, counts = r.redact(b"see TICKET-123456 and password=x\n")
    assert b"123456" not in out and counts == {"ticket": 1, "assignment": 1}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- name: x\n  pattern: '('\n", "bad regular expression"),
        ("- name: x\n", "needs 'name' and 'pattern'"),
        ("- name: x\n  pattern: a\n  colour: red\n", "unknown key"),
        ("name: x\n", "expected a list"),
        ("- name: x\n  pattern: 'a\n", "malformed YAML"),
    ],
)
def test_bad_rule_files_are_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_rules(rules)
    assert "\n" not in str(caught.value)


# --- the corpus (tests/data/secrets/): recall and over-redaction goals per format family -------

FAMILIES = load_corpus()
RECALL_GOAL, OVER_REDACTION_LIMIT = 1.0, 0.10


def _bundle_redact(path: str, text: str) -> str:
    return Redactor(DEFAULT_RULES).redact(text.encode(), source=path)[0].decode(errors="replace")


@pytest.mark.parametrize("family", FAMILIES, ids=[f.key for f in FAMILIES])
def test_corpus_family_meets_the_recall_and_over_redaction_goals(family: Family) -> None:
    result = score(family, _bundle_redact)
    assert result.recall >= RECALL_GOAL, result.missed
    assert result.over_redaction <= OVER_REDACTION_LIMIT, result.over
    assert result.broken == (), "redaction broke the file's syntax"


def test_the_corpus_covers_every_family_with_secrets_and_lookalikes() -> None:
    assert len(FAMILIES) >= 9
    for family in FAMILIES:
        assert family.secrets and family.lookalikes, family.key
        assert all(s.values and all(v in s.text for v in s.values) for s in family.secrets)


def test_yaml_block_scalar_secret_keeps_the_document_valid(redactor: Redactor) -> None:
    text = b"db:\n  password: |\n    first-Sx-line\n    second-Sx-line\n  host: db\n"
    out, _ = redactor.redact(text, source="/etc/app.yaml")
    assert b"Sx-line" not in out
    assert yaml.safe_load(out)["db"]["host"] == "db"


def test_quoted_json_values_stay_strings(redactor: Redactor) -> None:
    out, _ = redactor.redact(b'{"password": "Sx-json-1", "n": 1}', source="/etc/a.json")
    assert json.loads(out) == {"password": "[redacted-assignment_quoted]", "n": 1}


# --- the audit scrubber is the same engine -------------------------------------------------------

COMMAND_FAMILIES = [
    f for f in FAMILIES if f.key in ("cli_options", "http_headers", "vendor_tokens")
]


@pytest.mark.parametrize(
    "sample",
    [s for f in COMMAND_FAMILIES for s in f.secrets],
    ids=[s.text[:30] for f in COMMAND_FAMILIES for s in f.secrets],
)
def test_audit_scrubber_masks_what_the_bundle_redactor_masks(sample: Sample) -> None:
    scrubbed = scrub_command(sample.text)
    assert all(value not in scrubbed for value in sample.values), scrubbed
    assert "***" in scrubbed


def test_audit_scrubber_keeps_the_bundle_lookalikes() -> None:
    for family in COMMAND_FAMILIES:
        for sample in family.lookalikes:
            assert scrub_command(sample.text) == sample.text


# --- the engine's rule fields ------------------------------------------------------------------


def _rules(tmp_path: Path, text: str) -> list[Rule]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def test_earlier_rules_win_overlaps_and_counts_say_so(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "- name: a\n  pattern: 'k=(?P<secret>\\w+)'\n"
                             "- name: b\n  pattern: '(?P<secret>k=\\w+)'\n")  # fmt: skip
    out, counts = Redactor(rules).redact(b"k=abc k=def")
    assert out == b"k=[redacted-a] k=[redacted-a]" and counts == {"a": 2}


def test_min_entropy_within_and_keywords_narrow_a_rule(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        "- name: e\n  min_entropy: 3.0\n  pattern: 'v=(?P<secret>\\w+)'\n"
        "- name: w\n  within: 'tool [^\\n]*'\n  pattern: '-s (?P<secret>\\S+)'\n"
        "- name: k\n  keywords: [MAGIC]\n  pattern: 'id (?P<secret>\\d+)'\n",
    )
    r = Redactor(rules)
    assert r.redact(b"v=aaaaaaaaaa v=q8Zr2Lk0Xw")[0] == b"v=aaaaaaaaaa v=[redacted-e]"
    assert r.redact(b"tool -s one\nother -s two")[0] == b"tool -s [redacted-w]\nother -s two"
    assert r.redact(b"id 4242")[0] == b"id 4242"
    assert r.redact(b"magic id 4242")[0] == b"magic id [redacted-k]"


def test_line_keywords_only_look_at_lines_holding_them(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "- name: l\n  line_keywords: [pw]\n  pattern: '=(?P<secret>\\w+)'\n")
    assert Redactor(rules).redact(b"a=1x\npw=2y\n")[0] == b"a=1x\npw=[redacted-l]\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- name: x\n  pattern: a\n  min_entropy: lots\n", "min_entropy"),
        ("- name: x\n  pattern: a\n  keywords: pw\n", "'keywords' must be a list"),
        ("- name: x\n  pattern: a\n  within: '('\n", "bad regular expression"),
    ],
)
def test_bad_rule_fields_are_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        _rules(tmp_path, text)
    assert "\n" not in str(caught.value)


# --- remotefix redact FILE… ------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_redact_writes_to_stdout_and_reports_counts_on_stderr(tmp_path: Path) -> None:
    src = tmp_path / "app.env"
    src.write_text("DB_PASSWORD=Sx-cli-0001\nHOME=/root\n")
    code, out, err = _run("--json", "redact", str(src))
    assert code == 0
    assert out == "DB_PASSWORD=[redacted-assignment]\nHOME=/root\n"
    report = json.loads(err)
    assert report["total"] == 1 and report["files"][0]["counts"] == {"assignment": 1}
    assert "Sx-cli-0001" not in err
    assert src.read_text() == "DB_PASSWORD=Sx-cli-0001\nHOME=/root\n"


def test_as_path_applies_path_scoped_rules(tmp_path: Path) -> None:
    src = tmp_path / "from-customer.txt"
    src.write_text("db:5432:shop:app:Sx-pgpass-0002\n")
    assert "Sx-pgpass-0002" in _run("redact", str(src))[1]
    code, out, _ = _run("redact", str(src), "--as-path", "/root/.pgpass")
    assert code == 0 and out == "db:5432:shop:app:[redacted-pgpass]\n"


def test_redact_into_a_dir_and_to_one_output(tmp_path: Path) -> None:
    one, two = tmp_path / "a.conf", tmp_path / "b.conf"
    one.write_text("token: Sx-dir-0003\n")
    two.write_text("nothing secret\n")
    code, out, _ = _run("--json", "redact", str(one), str(two), "-d", str(tmp_path / "out"))
    assert code == 0 and json.loads(out)["total"] == 1
    assert (tmp_path / "out" / "a.conf").read_text() == "token: [redacted-assignment_spaced]\n"
    assert (tmp_path / "out" / "b.conf").read_text() == "nothing secret\n"
    code, _, _ = _run("redact", str(one), "-o", str(tmp_path / "single.conf"))
    assert code == 0 and "Sx-dir-0003" not in (tmp_path / "single.conf").read_text()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["{missing}"], "no such file"),
        (["{a}", "-o", "{a}"], "is an input file"),
        (["{a}", "-d", "{dir}"], "is an input file"),
        (["{a}", "{b}"], "several files need -d"),
        (["{a}", "{b}", "-o", "{dir}/x"], "-o takes one input file"),
        (["{a}", "-o", "{dir}/x", "-d", "{dir}"], "exclude each other"),
        (["{a}", "{sub}/a", "-d", "{dir}/out"], "same file name"),
        (["{dir}"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_exit_3_and_writes_nothing(
    tmp_path: Path, args: list[str], problem: str
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a", "b", "sub/a"):
        (tmp_path / name).write_text("password=Sx-bad-0004\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    paths = {"a": tmp_path / "a", "b": tmp_path / "b", "sub": tmp_path / "sub",
             "dir": tmp_path, "missing": tmp_path / "missing"}  # fmt: skip
    code, _, err = _run("redact", *[a.format(**paths) for a in args])
    assert code == ConfigError.exit_code, err
    assert problem in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "a").read_text() == "password=Sx-bad-0004\n"


def test_an_unwritable_destination_leaves_nothing_half_written(tmp_path: Path) -> None:
    src = tmp_path / "a.conf"
    src.write_text("password=Sx-write-0005\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, _, err = _run("redact", str(src), "-o", str(blocker / "out.conf"))
    assert code == WorkspaceError.exit_code and "cannot write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "not-a-dir"]
