"""Bundle writing (atomic, reproducible), verification (tamper caught), bounded reading, safe
extraction, and every reader refusing a bundle that does not match its manifest."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.collect.bundle import (
    BundleIndex,
    BundleWriter,
    default_bundle_path,
    open_bundle,
    read_members,
    safe_name,
    verify_bundle,
)
from remotefix.collect.bundle_extract import extract_bundle
from remotefix.collect.bundle_scan import Limits
from remotefix.errors import BundleError
from remotefix.workspace import Workspace

MANIFEST = {"format": "remotefix-bundle", "format_version": 1, "case": "C-9",
            "target": {"name": "web1"}, "incomplete": False}  # fmt: skip


def _write(dest: Path, members: dict[str, bytes] | None = None) -> Path:
    with BundleWriter(dest) as writer:
        for name, data in (members or {"commands/os/uname-r.out": b"6.1.0\n"}).items():
            writer.add(name, data)
        return writer.commit(MANIFEST, {"os": {"id": "debian"}, "packages": {}})


def test_written_bundle_verifies_and_lists_every_digest(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "b.tar.gz", {"commands/a.out": b"x", "files/etc/hosts": b"127.0.0.1\n"}
    )
    result = verify_bundle(path)
    assert result.ok and result.checked == 3  # two members and the fingerprint
    opened = open_bundle(path)
    assert set(opened.manifest["files"]) == {
        "commands/a.out",
        "files/etc/hosts",
        "fingerprint.json",
    }
    assert opened.fingerprint["os"]["id"] == "debian"


def test_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    a, b = _write(tmp_path / "a.tar.gz"), _write(tmp_path / "b.tar.gz")
    assert a.read_bytes() == b.read_bytes()


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "b.tar.gz"
    with pytest.raises(RuntimeError), BundleWriter(dest) as writer:
        writer.add("commands/a.out", b"x" * 100_000)
        raise RuntimeError("connection lost mid-run")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../escape", "a/../../b", "", "./a", "a//b", "a\\..\\b", "a\nb",
             "x" * 300, "a/" * 600]
)  # fmt: skip
def test_writer_refuses_unsafe_member_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(BundleError), BundleWriter(tmp_path / "b.tar.gz") as writer:
        writer.add(name, b"x")
    assert list(tmp_path.iterdir()) == []


def _tamper(src: Path, dest: Path, change: str) -> Path:
    """Copy a bundle with one member changed, added or removed (gz is rewritten)."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w:gz") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "commands/os/uname-r.out":
                if change == "remove":
                    continue
                if change == "edit":
                    data = b"6.6.6\n"
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
        if change == "add":
            extra = tarfile.TarInfo("files/etc/extra")
            tout.addfile(extra, io.BytesIO(b""))
    return dest


@pytest.mark.parametrize(("change", "problem"), [
    ("edit", "does not match"), ("remove", "missing"), ("add", "not listed"),
])  # fmt: skip
def test_verify_catches_tampering(tmp_path: Path, change: str, problem: str) -> None:
    bad = _tamper(_write(tmp_path / "b.tar.gz"), tmp_path / "bad.tar.gz", change)
    result = verify_bundle(bad)
    assert not result.ok and problem in " ".join(result.problems)
    cli_result = CliRunner().invoke(cli, ["bundle", "verify", str(bad)])
    assert cli_result.exit_code == 50 and problem in cli_result.output


def _evil(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("ok.txt")
        tar.addfile(info, io.BytesIO(b""))
        info = tarfile.TarInfo(
            {"traversal": "../../outside", "absolute": "/tmp/abs-rfx"}.get(kind, "x")
        )
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        elif kind == "device":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(info, io.BytesIO(b""))
    return path


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "hardlink", "device"])
def test_extract_refuses_unsafe_members_and_writes_nothing(tmp_path: Path, kind: str) -> None:
    dest = tmp_path / "out"
    with pytest.raises(BundleError, match="refusing member"):
        extract_bundle(_evil(tmp_path, kind), dest)
    assert not dest.exists()
    result = CliRunner().invoke(
        cli, ["bundle", "extract", str(_evil(tmp_path, kind)), "-d", str(dest)]
    )
    assert result.exit_code == 50 and not dest.exists()


def test_extract_a_good_bundle(tmp_path: Path) -> None:
    names = extract_bundle(_write(tmp_path / "b.tar.gz"), tmp_path / "out")
    assert (tmp_path / "out/commands/os/uname-r.out").read_bytes() == b"6.1.0\n"
    assert "manifest.json" in names


def test_not_a_bundle_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip")
    result = CliRunner().invoke(cli, ["bundle", "show", str(junk)])
    assert result.exit_code == 50 and "not a readable bundle" in result.output


def test_index_registers_by_case_and_default_paths_never_collide(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    first = _write(default_bundle_path(ws, "C/1", "web 1", when))
    second = default_bundle_path(ws, "C/1", "web 1", when)
    assert first.parent == ws.bundles / safe_name("C/1") and second != first
    assert safe_name("C/1") != safe_name("C_1")  # look-alike cases never share a folder
    index = BundleIndex(ws)
    index.register("C/1", first, MANIFEST)
    index.register("other", first, MANIFEST)
    (row,) = index.list("C/1")
    assert row["target"] == "web1" and row["exists"]
    first.unlink()
    assert index.list("C/1")[0]["exists"] is False
    assert json.loads(index.path.read_text().splitlines()[0])["case"] == "C/1"


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A tar.gz written by the real tarfile, members exactly as given (names, types, order)."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data))
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def _nested_symlink_bundle(path: Path, dest: Path) -> Path:
    """The CVE-2025-4517 shape: a chain of symlinks whose resolved path exceeds PATH_MAX, so
    ``os.path.realpath`` (and with it tarfile's ``data`` filter) stops following links, then a
    link through that chain to the folder above ``dest`` and a file written through it."""
    steps = "abcdefghijklmnop"
    room = os.pathconf(dest.parent, "PC_PATH_MAX") - len(str(dest)) - 1
    component = "d" * (room // (len(steps) + 1))
    members, prefix = [], ""
    for step in steps:
        members.append((_info(os.path.join(prefix, component), tarfile.DIRTYPE), b""))
        members.append((_info(os.path.join(prefix, step), tarfile.SYMTYPE, component), b""))
        prefix = os.path.join(prefix, component)
    deep = os.path.join(*steps, "l" * 254)
    members.append((_info(deep, tarfile.SYMTYPE, os.path.join(*[".."] * len(steps))), b""))
    members.append((_info("escape", tarfile.SYMTYPE, os.path.join(deep, "..")), b""))
    members.append((_info("escape/planted"), b"written outside -d\n"))
    return _tar_gz(path, members)


def test_nested_symlink_bundle_writes_nothing_outside_dest(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    dest = outer / "dest"
    evil = _nested_symlink_bundle(tmp_path / "evil.tar.gz", dest)
    with pytest.raises(BundleError, match="refusing member 'a': it is a symbolic link"):
        extract_bundle(evil, dest)
    result = CliRunner().invoke(cli, ["bundle", "extract", str(evil), "-d", str(dest)])
    assert result.exit_code == 50 and "symbolic link" in result.output
    assert list(outer.iterdir()) == []  # neither dest nor anything next to it


def _reg(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return _info(name), data


@pytest.mark.parametrize(("name", "problem"), [
    ("a\\..\\..\\b", "backslash"), ("a\x1b[31mb", "control character"), ("./a", "normalised"),
    ("x" * 300, "longer than"), ("d/" * 600 + "f", "longer than"), ("a/../b", "'..'"),
    ("/etc/cron.d/x", "absolute"), ("a\x00b", "control character"),
])  # fmt: skip
def test_reading_refuses_unsafe_names(tmp_path: Path, name: str, problem: str) -> None:
    member = _info("placeholder")
    member.pax_headers = {"path": name}  # a PAX record carries any name, NUL included
    bad = _tar_gz(tmp_path / "n.tar.gz", [(member, b"x"), _reg("manifest.json", b"{}")])
    with pytest.raises(BundleError, match=problem):
        open_bundle(bad)
    with pytest.raises(BundleError, match=problem):
        verify_bundle(bad)


def _rewrite(src: Path, dest: Path, change: Callable[[str, bytes], list[bytes]]) -> Path:
    """Copy a bundle member by member; ``change(name, data)`` gives the copies to write."""
    with tarfile.open(src) as tin:
        members = [(m, tin.extractfile(m).read()) for m in tin.getmembers()]  # type: ignore[union-attr]
    out = []
    for member, data in members:
        for copy in change(member.name, data):
            info = tarfile.TarInfo(member.name)
            out.append((info, copy))
    return _tar_gz(dest, out)


LYING_FP = {"os": {"id": "debian", "version_id": "12", "pretty_name": "Debian 12"},
            "packages": {"python3-pip": "23.0.1+dfsg-1"}, "services": []}  # fmt: skip


def _lying(tmp_path: Path, how: str) -> Path:
    """A bundle whose fingerprint is not what the manifest says: edited, or present twice."""
    good = _write(tmp_path / "good.tar.gz")
    fake = json.dumps(LYING_FP).encode()

    def change(name: str, data: bytes) -> list[bytes]:
        if name != "fingerprint.json":
            return [data]
        return [fake] if how == "edited" else [data, fake]

    return _rewrite(good, tmp_path / f"{how}.tar.gz", change)


@pytest.mark.parametrize("how", ["edited", "twice"])
@pytest.mark.parametrize("command", [
    ["bundle", "show"], ["triage"], ["lab", "plan"], ["fingerprint", "show"],
    ["fingerprint", "diff", "OTHER"], ["repro", "KI-0001", "--bundle"],
])  # fmt: skip
def test_every_reader_refuses_a_bundle_that_lies(
    tmp_path: Path, how: str, command: list[str]
) -> None:
    bad = str(_lying(tmp_path, how))
    other = str(_write(tmp_path / "other.tar.gz"))
    args = [other if a == "OTHER" else a for a in command]
    result = CliRunner().invoke(
        cli, [*args, bad] if "OTHER" not in command else [*args[:2], bad, other]
    )
    assert result.exit_code == 50, result.output
    problem = "appears twice" if how == "twice" else "does not match"
    assert "fingerprint.json" in result.output and problem in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_open_bundle_reads_wanted_members_in_the_verifying_pass(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.tar.gz", {"commands/a.out": b"A", "files/etc/hosts": b"H"})
    opened = open_bundle(path, read=["files/etc/hosts", "not/there"])
    assert opened.contents == {"files/etc/hosts": b"H"}
    assert read_members(path, ["commands/a.out"]) == {"commands/a.out": b"A"}
    with pytest.raises(BundleError, match="has no not/there"):
        read_members(path, ["not/there"])
    with pytest.raises(BundleError, match="does not match its manifest: commands/os"):
        read_members(_lying_member(tmp_path), ["files/etc/hosts"])


def _lying_member(tmp_path: Path) -> Path:
    good = _write(tmp_path / "g.tar.gz", {"commands/os/x.out": b"1", "files/etc/hosts": b"H"})
    return _rewrite(good, tmp_path / "l.tar.gz",
                    lambda n, d: [b"2" if n == "commands/os/x.out" else d])  # fmt: skip


def test_extract_verifies_everything_before_writing_anything(tmp_path: Path) -> None:
    bad = _lying_member(tmp_path)  # the edited member comes first, the manifest last
    dest = tmp_path / "out"
    with pytest.raises(BundleError, match=r"commands/os/x\.out: content does not match"):
        extract_bundle(bad, dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.tar.gz", "l.tar.gz"]


def test_extract_needs_a_new_or_empty_folder(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.tar.gz")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_text("mine")
    with pytest.raises(BundleError, match="not empty"):
        extract_bundle(path, full)
    assert [p.name for p in full.iterdir()] == ["keep"]
    empty = tmp_path / "empty"
    empty.mkdir()
    extract_bundle(path, empty)
    assert (empty / "commands/os/uname-r.out").read_bytes() == b"6.1.0\n"


def test_duplicate_member_is_refused_even_with_equal_content(tmp_path: Path) -> None:
    twice = _rewrite(_write(tmp_path / "b.tar.gz"), tmp_path / "t.tar.gz",
                     lambda n, d: [d, d] if n == "commands/os/uname-r.out" else [d])  # fmt: skip
    for read in (open_bundle, verify_bundle):
        with pytest.raises(BundleError, match=r"'commands/os/uname-r\.out': it appears twice"):
            read(twice)


def test_member_count_and_unpacked_size_are_capped(tmp_path: Path) -> None:
    many = _write(tmp_path / "m.tar.gz", {f"commands/c/{i}.out": b"x" for i in range(10)})
    with pytest.raises(BundleError, match="more than 5 members"):
        verify_bundle(many, limits=Limits(members=5))
    with pytest.raises(BundleError, match="unpacks to more than 8 bytes"):
        open_bundle(many, limits=Limits(unpacked_bytes=8))
    assert verify_bundle(many).ok


def test_a_header_claiming_gigabytes_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tarfile.TarInfo("commands/x/huge.out")
    huge.size = 5 << 30
    path = tmp_path / "claims.tar.gz"
    path.write_bytes(gzip.compress(huge.tobuf(tarfile.PAX_FORMAT) + b"\0" * 4096))
    with pytest.raises(BundleError, match="unpacks to more than"):
        verify_bundle(path)


def test_an_oversized_pax_header_is_refused(tmp_path: Path) -> None:
    info = _info("commands/x.out")
    info.pax_headers = {"comment": "x" * (2 << 20)}
    path = _tar_gz(tmp_path / "pax.tar.gz", [(info, b"x")])
    with pytest.raises(BundleError, match="tar header larger than 1 MiB"):
        verify_bundle(path)


@pytest.mark.parametrize("cut", ["truncated", "junk", "missing", "empty"])
def test_broken_files_are_one_line_errors(tmp_path: Path, cut: str) -> None:
    data = _write(tmp_path / "b.tar.gz", {"commands/a.out": os.urandom(20_000)}).read_bytes()
    path = tmp_path / "x.tar.gz"
    contents = {"truncated": data[: len(data) // 2], "junk": os.urandom(3000), "empty": b""}
    if cut in contents:
        path.write_bytes(contents[cut])
    for command in (["bundle", "verify"], ["bundle", "show"], ["bundle", "extract", "-d", "o"],
                    ["fingerprint", "show"], ["triage"], ["lab", "plan"]):  # fmt: skip
        if cut == "missing" and command[0] in ("triage", "lab"):
            continue  # those commands' own argument check names the missing file
        result = CliRunner().invoke(cli, [*command, str(path)])
        assert result.exit_code == 50, (command, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert not (tmp_path / "o").exists()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _zero_bomb(path: Path, size: int) -> Path:
    """A valid bundle of ``size`` zero bytes in one member: under 1 MB of gzip per GiB."""
    digest, chunk = hashlib.sha256(), bytes(1 << 20)
    for _ in range(size >> 20):
        digest.update(chunk)
    fingerprint = b"{}"
    files = {
        "commands/x/zeros.out": {"sha256": digest.hexdigest(), "size": size},
        "fingerprint.json": {"sha256": hashlib.sha256(fingerprint).hexdigest(), "size": 2},
    }
    manifest = json.dumps({**MANIFEST, "files": files}).encode()  # fmt: skip
    with (
        gzip.GzipFile(path, "wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("commands/x/zeros.out")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros(size)))
        for name, data in (("fingerprint.json", fingerprint), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.slow
def test_verify_streams_a_compression_bomb_in_little_memory(tmp_path: Path) -> None:
    size = 384 << 20
    bomb = _zero_bomb(tmp_path / "bomb.tar.gz", size)
    assert bomb.stat().st_size < 2 << 20
    probe = (
        "import resource, sys; from remotefix.collect.bundle import verify_bundle\n"
        "r = verify_bundle(sys.argv[1]); assert r.ok, r.problems\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(bomb)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    peak_kib = int(out.stdout.strip())
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib} KiB verifying a {size >> 20} MiB member"


def test_show_survives_a_consistent_but_hand_made_manifest(tmp_path: Path) -> None:
    odd = {**MANIFEST, "target": "[red]web1", "collectors": [1, {"name": "[bold]x", "items": 3}],
           "redaction": [], "incomplete_reasons": "[blink]no"}  # fmt: skip
    with BundleWriter(tmp_path / "odd.tar.gz") as writer:
        path = writer.commit(odd, {"os": ["debian"], "packages": 5, "hostname": "[red]h"})
    for command in (["bundle", "show"], ["fingerprint", "show"]):
        result = CliRunner().invoke(cli, [*command, str(path)])
        assert result.exit_code == 0, result.output
    assert "[red]h" in result.output  # printed as text, never as markup
