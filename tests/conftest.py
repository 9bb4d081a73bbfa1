"""Shared fixtures, and the session-end check that no labelled container was left behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from remotefix.config import CONFIG_ENV
from remotefix.dockerapi import RUN_ENV
from remotefix.workspace import HOME_ENV
from tests.fixtures.docker import (  # noqa: F401  (fixtures are registered by import)
    base12,
    catalog,
    client_key,
    container_factory,
    customer,
    customer_factory,
    docker_api,
    labelled_containers,
    remove_lab_images,
)
from tests.fixtures.sshd import sshd, sshd_factory  # noqa: F401
from tests.fixtures.swarm import swarm_manager, swarm_registry  # noqa: F401
from tests.winrm_endpoint.fixture import winrm_endpoint, winrm_https_endpoint  # noqa: F401

BASE_RUN_ID = os.environ.setdefault(RUN_ENV, f"pytest-{uuid.uuid4().hex[:12]}")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
RUN_ID = os.environ[RUN_ENV] = f"{BASE_RUN_ID}-{_WORKER}" if _WORKER else BASE_RUN_ID
"""Every container this run makes carries remotefix.run=RUN_ID (subprocesses inherit it); with
pytest-xdist each worker has its own (BASE_RUN_ID-gwN), so its checks see only its own labs."""


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own remotefix workspace."""
    home = tmp_path / "remotefix-home"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "no-config.toml"))  # never the user's own
    return home


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # the controller cleans up and checks once, after every worker has ended
    remove_lab_images(BASE_RUN_ID)
    leaked = labelled_containers(BASE_RUN_ID)
    if leaked:
        print(
            f"\nLEAK: {len(leaked)} container(s) labelled remotefix left behind: {sorted(leaked)}"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
