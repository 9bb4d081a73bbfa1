"""The lab runtime contract: every backend of ``remotefix.lab.runtime`` passes these tests.

A backend is added to ``RUNTIMES`` (its ``get_runtime`` name and options). The tests start
instances of the Debian 12 base image directly (no lab build), so they are quick; everything
they make carries the run's labels and is removed at the end.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator

import pytest

from remotefix.dockerapi import labels
from remotefix.errors import ConfigError, LabError
from remotefix.lab.runtime import (
    Bind,
    InjectedFile,
    LabRuntime,
    StartOptions,
    StartRequest,
    get_runtime,
    tar_files,
)

pytestmark = pytest.mark.docker

RUNTIMES = {"local": {}}
BASE = "remotefix/base:debian-12"


@pytest.fixture(scope="module", params=sorted(RUNTIMES))
def runtime(request: pytest.FixtureRequest, base12: object) -> Iterator[LabRuntime]:
    made = get_runtime(request.param, **RUNTIMES[request.param])
    yield made
    made.close()


@pytest.fixture(scope="module")
def box(runtime: LabRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One long-running instance with the options a systemd lab needs (minus systemd)."""
    name = f"rfx-rt-{uuid.uuid4().hex[:8]}"
    shared = tmp_path_factory.mktemp("rt-bind")
    (shared / "from-host").write_text("host file\n")
    shared.chmod(0o755)
    options = StartOptions(
        tmpfs={"/run": "", "/run/lock": ""},
        binds=(Bind(str(shared), "/mnt/host"),),
        stop_signal="SIGRTMIN+3",
        command=("sleep", "infinity"),
        files=(InjectedFile("/etc/rfx/injected", b"before start\n", 0o640),),
    )
    request = StartRequest(
        BASE, name, labels(**{"remotefix.kind": "rt-test", "remotefix.lab": name}), "rt-box",
        env={"RFX_VALUE": "from env"}, options=options,
    )  # fmt: skip
    started = runtime.start(request)
    assert started.name == name and started.status == "running"
    assert started.ssh_port is not None and started.ssh_port > 0
    yield name
    assert runtime.remove(name) is True
    assert runtime.get(name) is None and runtime.remove(name) is False


def test_unknown_runtime_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown lab runtime 'k8s'") as info:
        get_runtime("k8s")
    assert info.value.exit_code == 3 and "local" in str(info.value) and "\n" not in str(info.value)


def test_backend_satisfies_the_protocol(runtime: LabRuntime) -> None:
    assert isinstance(runtime, LabRuntime)


def test_start_applies_env_hostname_files_and_options(runtime: LabRuntime, box: str) -> None:
    script = (
        'echo "$RFX_VALUE"; hostname; stat -c %a /etc/rfx/injected; cat /etc/rfx/injected; '
        "grep -c '^tmpfs /run tmpfs' /proc/mounts; cat /mnt/host/from-host; "
        "touch /mnt/host/new 2>/dev/null && echo writable || echo read-only"
    )
    result = runtime.exec(box, ["sh", "-c", script], timeout=20)
    assert result.exit_code == 0, result.text
    lines = result.text.splitlines()
    assert lines == ["from env", "rt-box", "640", "before start", "1", "host file", "read-only"]
    found = runtime.get(box)
    assert found is not None and found.labels["remotefix.lab"] == box
    assert [i.name for i in runtime.list_instances({"remotefix.lab": box})] == [box]


def test_exec_gives_words_exit_codes_and_kills_at_timeout(runtime: LabRuntime, box: str) -> None:
    words = runtime.exec(box, ["printf", "%s|", "a b", "$HOME", "'q'"], timeout=20)
    assert words.exit_code == 0 and words.text == "a b|$HOME|'q'|"
    assert (
        runtime.exec(box, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=20).exit_code == 3
    )
    slow = runtime.exec(box, ["sh", "-c", "exec sleep 30"], timeout=2)
    assert slow.timed_out and slow.exit_code is None
    alive = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done | grep -c 'slee[p] 30'"
    left = runtime.exec(box, ["sh", "-c", alive], timeout=20)
    assert left.text.strip() == "0", left.text  # killed, not left running


def test_copy_in_and_out_are_tar_archives(runtime: LabRuntime, box: str) -> None:
    runtime.copy_in(box, "/tmp", tar_files({"rfx/a.txt": b"alpha", "rfx/run.sh": b"#!/bin/sh\n"}))
    assert runtime.exec(box, ["cat", "/tmp/rfx/a.txt"], timeout=20).text == "alpha"
    with tarfile.open(fileobj=io.BytesIO(runtime.copy_out(box, "/tmp/rfx/run.sh"))) as tar:
        member = tar.getmember("run.sh")
        assert member.mode & 0o111 and tar.extractfile(member).read() == b"#!/bin/sh\n"  # type: ignore[union-attr]
    with pytest.raises(LabError):
        runtime.copy_out(box, "/no/such/path")


def test_snapshot_image_users_and_remove_image(runtime: LabRuntime, box: str) -> None:
    runtime.exec(box, ["sh", "-c", "echo changed > /etc/rfx-state"], timeout=20)
    ref = f"remotefix/lab-snapshot:rt-{uuid.uuid4().hex[:8]}"
    image = runtime.snapshot(box, ref, labels=labels(**{"remotefix.kind": "lab-snapshot"}))
    assert image.ref == ref and image.size > 0 and image.created
    assert [i.ref for i in runtime.list_images({"remotefix.kind": "lab-snapshot"})].count(ref) == 1
    clone = f"rfx-rt-clone-{uuid.uuid4().hex[:6]}"
    runtime.start(StartRequest(ref, clone, labels(), "clone", publish_ssh=False,
                               options=StartOptions(command=("sleep", "infinity"))))  # fmt: skip
    try:
        assert runtime.exec(clone, ["cat", "/etc/rfx-state"], timeout=20).text == "changed\n"
        assert [u.name for u in runtime.image_users(ref)] == [clone]
        with pytest.raises(LabError, match=r"cannot remove image"):
            runtime.remove_image(ref)
    finally:
        runtime.remove(clone)
    assert runtime.image_users(ref) == []
    assert runtime.remove_image(ref) is True
    assert runtime.image(ref) is None and runtime.remove_image(ref) is False


def test_an_instance_that_cannot_start_is_an_error_and_leaves_nothing(
    runtime: LabRuntime,
) -> None:
    name = f"rfx-rt-fails-{uuid.uuid4().hex[:6]}"
    request = StartRequest(BASE, name, labels(), "fails",
                           options=StartOptions(command=("/no/such/program",)))  # fmt: skip
    with pytest.raises(LabError, match=name):
        runtime.start(request)
    assert runtime.get(name) is None
