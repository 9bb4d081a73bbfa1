"""``repro --bundle B --case C``: the customer's collected state is tried first, the case's own
setup only when that state does not show the symptom; the verdict says which, and the labs and
verdict join the customer's case timeline."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from remotefix.sandbox import Customer
from tests.fixtures.cli import cli_json, grant, trust
from tests.fixtures.docker import CustomerFactory, KeyPair

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MARK = "# remotefix-origin-probe"


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "origin.yaml"
    case.write_text(f"""\
id: KI-{uuid.uuid4().int % 9000 + 1000}
title: sshd_config carries the probe line
matrix: [debian:12]
lab:
  setup: ["echo '{MARK}' >> /etc/ssh/sshd_config"]
repro:
  - run: grep -c -- '{MARK}' /etc/ssh/sshd_config
    expect: {{exit_code: 0}}
reproduces_on: {{debian:12: true}}
""")
    return case


def _bundle(customer: Customer, key: KeyPair, case: str, out: Path) -> Path:
    trust(customer)
    grant([customer.address], case)
    address = f"{customer.address}?identity_file={key.private}"
    code, data = cli_json("diagnose", address, "--case", case, "-o", str(out))
    assert code == 0, data
    return out


@pytest.mark.parametrize("planted", [True, False], ids=["customer-state", "case-setup"])
def test_origin_of_the_symptom(
    planted: bool, customer_factory: CustomerFactory, client_key: KeyPair,
    docker_api: docker.DockerClient, tmp_path: Path,
) -> None:  # fmt: skip
    customer = customer_factory()
    if planted:
        line = f"echo '{MARK}' >> /etc/ssh/sshd_config"
        assert docker_api.containers.get(customer.name).exec_run(["sh", "-c", line])[0] == 0
    bundle = _bundle(customer, client_key, "C-ORIGIN", tmp_path / "b.tar.gz")
    code, out = cli_json("repro", str(_case(tmp_path)), "--bundle", str(bundle),
                         "--case", "C-ORIGIN")  # fmt: skip
    assert code == 0 and out["verdict"] == "REPRODUCED", out
    assert out["origin"] == ("customer state" if planted else "case setup")
    assert out["for_case"] == "C-ORIGIN"
    _, records = cli_json("audit", "log", "--case", "C-ORIGIN")
    repro_labs = {r["target"] for r in records if r["action"] == "repro"}
    assert len(repro_labs) == (1 if planted else 2), records  # the customer state was tried first
    assert out["lab"] is None and cli_json("lab", "ls")[1] == []
