"""The swarm runtime on a real one-node Swarm with a real registry: the matrix gives the local
engine's verdicts, images are pushed once per spec hash, a task that cannot start is an ERROR
cell with its reason, and nothing is left behind (services, task containers)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from remotefix.cases.model import load_cases
from remotefix.cases.regress import cells, junit_xml, run_matrix
from remotefix.cases.repro_swarm import swarm_reproducer
from remotefix.config import CONFIG_ENV
from remotefix.dockerapi import RUN_LABEL
from remotefix.lab.build import build_lab_image
from remotefix.lab.catalog import Catalog
from remotefix.lab.registry import Registry
from remotefix.lab.runtime_swarm import JobRequest, SwarmRuntime, job_name
from remotefix.lab.swarm_job import JobStep, parse_record
from remotefix.workspace import Workspace
from tests.conftest import RUN_ID
from tests.fixtures.cli import cli_json

pytestmark = pytest.mark.slow
CASES = ["KI-0002", "KI-0004"]


def _verdicts(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(case, os) -> (outcome, system-out) from a JUnit file."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314 (our own file)
        outcome = next((c.tag for c in case if c.tag in ("failure", "error")), "passed")
        out = case.findtext("system-out") or ""
        found[(case.get("classname", ""), case.get("name", ""))] = (outcome, out.split(";")[0])
    return found


def _ours(api: docker.DockerClient) -> list[str]:
    services = [
        s.name for s in api.services.list() if s.attrs["Spec"]["Labels"].get(RUN_LABEL) == RUN_ID
    ]
    containers = api.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"})
    tasks = [c.name for c in containers if "com.docker.swarm.service.id" in c.labels]
    return services + tasks


def test_swarm_matrix_gives_the_local_junit_verdicts(
    tmp_path: Path,
    swarm_manager: docker.DockerClient,
    swarm_registry: Registry,
) -> None:
    workspace = Workspace.default()
    selected = cells(load_cases(CASES), ["debian:12"])
    local = run_matrix(selected, workspace=workspace, jobs=2)
    swarm = run_matrix(selected, workspace=workspace, jobs=2, runtime="swarm",
                       registry=swarm_registry.address)  # fmt: skip
    junit_xml(selected, local, tmp_path / "local.xml")
    junit_xml(selected, swarm, tmp_path / "swarm.xml")
    assert _verdicts(tmp_path / "swarm.xml") == _verdicts(tmp_path / "local.xml")
    assert [swarm[c.key].verdict for c in selected] == ["NOT_REPRODUCED", "REPRODUCED"]
    assert all(r.as_declared and Path(str(r.evidence)).is_file() for r in swarm.values())
    assert swarm["KI-0004@debian:12"].steps[0].output == local["KI-0004@debian:12"].steps[0].output
    assert not _ours(swarm_manager)


def test_unchanged_spec_is_not_pushed_again(
    swarm_manager: docker.DockerClient,
    swarm_registry: Registry,
) -> None:
    """The registry holds the tag, so publish neither looks at the local image nor pushes."""
    runtime = SwarmRuntime(registry=swarm_registry.address)
    tag = "0123456789ab"
    runtime.publish("remotefix/base:debian-12", tag)
    assert swarm_registry.has(tag)
    assert runtime.publish("remotefix/no-such-image:anywhere", tag) == swarm_registry.ref(tag)


def test_task_that_never_starts_is_an_error_cell_with_the_reason(
    tmp_path: Path,
    swarm_manager: docker.DockerClient,
    swarm_registry: Registry,
) -> None:
    runtime = SwarmRuntime(registry=swarm_registry.address, start_timeout=3,
                           constraints=("node.labels.remotefix-test-nowhere==1",))  # fmt: skip
    (case,) = load_cases(["KI-0002"])
    result = swarm_reproducer(Workspace.default(), runtime)(case, "debian:12")
    assert result.verdict == "ERROR"
    assert "did not start in 3s" in str(result.error)
    assert "no suitable node" in str(result.error)
    selected = cells([case], ["debian:12"])
    junit_xml(selected, {selected[0].key: result}, tmp_path / "j.xml")
    assert _verdicts(tmp_path / "j.xml")[("KI-0002", "debian:12")][0] == "error"
    assert not _ours(swarm_manager)


def test_a_cut_off_task_is_an_error_not_a_verdict() -> None:
    record = parse_record(['{"step": 0, "stream": "out", "b64": "aGk="}', "not json", ""])
    assert record.steps == ()
    assert "ended before reporting every step" in str(record.error)
    done = parse_record(['{"b64": "aGk=", "step": 0, "stream": "out"}',
                         '{"duration_s": 0.1, "exit": 3, "step": 0}', '{"done": true}'])  # fmt: skip
    assert done.error is None and done.steps[0].stdout == b"hi" and done.steps[0].exit_code == 3


def test_swarm_regress_needs_a_registry_and_a_good_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = cli_json("regress", "KI-0002", "--matrix", "debian:12", "--runtime", "swarm")
    assert code == 3 and "needs a registry" in out["error"]["message"]
    code, out = cli_json("regress", "KI-0002", "--matrix", "debian:12", "--runtime", "swarm",
                         "--registry", "http://x")  # fmt: skip
    assert code == 3 and "bad registry address" in out["error"]["message"]
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\nregistry = "from config"\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    code, out = cli_json("regress", "KI-0002", "--matrix", "debian:12", "--runtime", "swarm")
    assert code == 3 and "'from config'" in out["error"]["message"]


def test_lab_up_on_the_swarm_single_node_path(
    tmp_path: Path, swarm_manager: docker.DockerClient, swarm_registry: Registry
) -> None:
    """A swarm lab: a service whose task the manager's engine execs into; a plain down (the
    recorded runtime) removes both."""
    spec = tmp_path / "lab.yaml"
    spec.write_text("base: debian:12\n")
    name = f"swarm-lab-{RUN_ID[-6:]}"
    code, made = cli_json("lab", "up", str(spec), "--runtime", "swarm", "--registry",
                          swarm_registry.address, "--name", name)  # fmt: skip
    try:
        assert code == 0, made
        assert made["image"].startswith(f"{swarm_registry.address}/remotefix-lab:")
        assert made["ssh_port"] is None and made["fidelity"]["counts"].get("missing", 0) == 0
        assert [s.name for s in swarm_manager.services.list(filters={"name": name})] == [name]
        code, out = cli_json("lab", "exec", name, "--", "cat", "/etc/debian_version")
        assert code == 0 and out["stdout"].startswith("12."), out
    finally:
        code, gone = cli_json("lab", "down", name)  # the lab's recorded runtime: swarm
    assert code == 0, gone
    assert not swarm_manager.services.list(filters={"name": name})
    assert not swarm_manager.containers.list(all=True, filters={"name": name})


def test_job_steps_time_out_read_files_and_keep_long_output(
    swarm_manager: docker.DockerClient, swarm_registry: Registry
) -> None:
    """The task's runner: output past one log line's worth comes back whole, a step past its
    timeout is killed (no exit code) and ends the job, a missing file is reported as such."""
    runtime = SwarmRuntime(registry=swarm_registry.address)
    (case,) = load_cases(["KI-0002"])
    spec = case.lab_spec("debian:12")
    image = build_lab_image(runtime, spec, {}, Catalog.load()).tag
    steps = (JobStep(run="seq 1 20000; echo oops >&2; exit 4", timeout=30),
             JobStep(file="/etc/debian_version"), JobStep(file="/no/such/file"),
             JobStep(run="sleep 30", timeout=1), JobStep(run="echo never"))  # fmt: skip
    labels = {RUN_LABEL: RUN_ID, "remotefix.case": "KI-TEST"}
    record = runtime.run_job(JobRequest(image, job_name("job-test"), labels, steps))
    assert record.error is None, record.error
    long, version, missing, slept = record.steps
    assert long.exit_code == 4 and long.stderr == b"oops\n"
    assert long.stdout.decode().split() == [str(n) for n in range(1, 20001)]
    assert version.stdout.startswith(b"12.") and missing.missing
    assert slept.timed_out and slept.exit_code is None
    assert not _ours(swarm_manager)
