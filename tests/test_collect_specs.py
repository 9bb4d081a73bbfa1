"""Collector specs: every spec is valid and runs on Debian 11, 12 and 13 (conformance), and bad
spec files are refused with the file and the collector named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from remotefix.collect.script import item_status, parse_output, render_script
from remotefix.collect.specs import load_collectors, select_collectors
from remotefix.errors import ConfigError
from remotefix.targets import parse_address
from remotefix.transports.docker import DockerTransport
from tests.fixtures.docker import running_container

VERSIONS = ["debian:11", "debian:12", "debian:13"]


def test_shipped_profiles_nest_and_quick_has_what_fingerprints_need() -> None:
    """Timeouts, caps and profile names are the loader's job (tested below with bad specs);
    what only the shipped data can get wrong is checked here."""
    collectors = load_collectors("linux")
    assert len(collectors) >= 12
    assert [c.name for c in collectors if not c.description.strip()] == []
    quick = {c.name for c in select_collectors(collectors, profile="quick")}
    assert {"os", "packages", "services", "platform"} <= quick
    assert quick < {c.name for c in select_collectors(collectors, profile="full")}


@pytest.fixture(scope="module", params=VERSIONS)
def debian(request: pytest.FixtureRequest, docker_api: docker.DockerClient) -> Iterator[str]:
    from tests.fixtures.docker import require_base

    base = require_base(docker_api, request.getfixturevalue("catalog").resolve(request.param))
    with running_container(docker_api, "conformance", image=base.tag) as name:
        yield name


@pytest.mark.docker
def test_every_collector_runs_cleanly_on_each_debian(debian: str) -> None:
    collectors = load_collectors("linux")
    transport = DockerTransport(parse_address(f"docker://{debian}"), output_cap=256 * 1024 * 1024)
    with transport:
        result = transport.run(render_script(collectors), timeout=600)
    items, complete = parse_output(result.stdout)
    assert result.exit_code == 0 and complete
    assert {i.collector for i in items} == {c.name for c in collectors}
    bad = [
        (i.collector, i.name, i.stderr[:100])
        for i in items
        if item_status(i) not in ("ok", "missing", "skipped")
    ]
    assert bad == []


def test_a_hung_item_times_out_alone_and_the_rest_still_run(tmp_path: Path) -> None:
    spec = tmp_path / "linux.yaml"
    spec.write_text(
        "- {name: slow, description: hangs, profiles: [full], timeout: 1, max_bytes: 100,\n"
        "   commands: [{name: hang, run: 'echo partial; sleep 30'}]}\n"
        "- {name: fast, description: fine, profiles: [full], timeout: 5, max_bytes: 5,\n"
        "   commands: [{name: big, run: 'echo 0123456789'}], files: [/nonexistent/*.conf]}\n"
    )
    from remotefix.transports.local import LocalTransport

    with LocalTransport(parse_address("local://")) as transport:
        result = transport.run(render_script(load_collectors(path=spec)), timeout=60)
    items = {f"{i.collector}/{i.name}": i for i in parse_output(result.stdout)[0]}
    assert item_status(items["slow/hang"]) == "timed_out"
    assert items["slow/hang"].stdout == b"partial\n"
    big = items["fast/big"]
    assert item_status(big) == "ok" and big.stdout == b"01234" and big.truncated
    assert item_status(items["fast//nonexistent/*.conf"]) == "missing"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- {name: a, profiles: [full], max_bytes: 5, commands: [{name: x, run: id}]}", "timeout"),
        ("- {name: a, profiles: [full], timeout: 0, max_bytes: 5, files: [/x]}", "timeout must"),
        ("- {name: a, profiles: [full], timeout: 601, max_bytes: 5, files: [/x]}", "1..600"),
        ("- {name: a, profiles: [full], timeout: 5, max_bytes: 0, files: [/x]}", "max_bytes must"),
        ("- {name: a, profiles: [], timeout: 5, max_bytes: 5, files: [/x]}", "profiles must"),
        ("- {name: a, profiles: [full], timeout: 5, max_bytes: 5, comands: []}", "unknown keys"),
        ("- {name: a, profiles: [weekly], timeout: 5, max_bytes: 5, files: [/x]}", "profiles"),
        ("- {name: a, profiles: [full], timeout: 5, max_bytes: 5}", "needs commands or files"),
        (
            "- {name: a, profiles: [full], timeout: 5, max_bytes: 5, files: ['/x; rm -rf /']}",
            "file glob",
        ),
        (
            "- {name: a, profiles: [full], timeout: 5, max_bytes: 5, files: [/x]}\n"
            "- {name: a, profiles: [full], timeout: 5, max_bytes: 5, files: [/y]}",
            "duplicate",
        ),
        ("- {name: a, profiles: [full], timeout: 5, max_bytes: 5, files: [/x]\n", "malformed YAML"),
    ],
)
def test_bad_specs_are_refused_naming_file_and_collector(
    tmp_path: Path, text: str, problem: str
) -> None:
    spec = tmp_path / "linux.yaml"
    spec.write_text(text + "\n")
    with pytest.raises(ConfigError, match=problem) as info:
        load_collectors(path=spec)
    assert str(spec) in str(info.value)


def test_only_and_skip_select_collectors() -> None:
    collectors = load_collectors("linux")
    assert [c.name for c in select_collectors(collectors, only=["os", "nginx"])] == ["os", "nginx"]
    assert "packages" not in {c.name for c in select_collectors(collectors, skip=["packages"])}
    with pytest.raises(ConfigError, match="unknown collector"):
        select_collectors(collectors, only=["nope"])
