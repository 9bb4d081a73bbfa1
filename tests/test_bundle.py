"""Bundle writing (atomic, reproducible), verification (tamper caught) and safe extraction."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotefix.cli import cli
from remotefix.collect.bundle import (
    BundleIndex,
    BundleWriter,
    default_bundle_path,
    extract_bundle,
    open_bundle,
    safe_name,
    verify_bundle,
)
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


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../b", ""])
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
    with pytest.raises(BundleError, match="unsafe member"):
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
