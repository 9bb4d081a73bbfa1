"""The Docker Engine client, and the one place Docker SDK errors become ours.

Everything in remotefix that talks to the Docker daemon gets its client from ``client()`` and
wraps calls in ``docker_errors()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests.exceptions

from remotefix.errors import DependencyError, LabError

LABEL = "remotefix"
"""Every container, image and network remotefix creates carries this label (value ``1``)."""

RUN_LABEL = "remotefix.run"
RUN_ENV = "REMOTEFIX_RUN_ID"
"""When set (test suites, CI jobs), containers also carry ``remotefix.run=<id>`` so one run can
find exactly what it made, even when several runs share a Docker daemon."""


def labels(**extra: str) -> dict[str, str]:
    """Labels for anything remotefix creates: ``remotefix=1``, the run id if any, and ``extra``."""
    found = {LABEL: "1", **extra}
    run_id = os.environ.get(RUN_ENV)
    if run_id:
        found[RUN_LABEL] = run_id
    return found


START_HINT = "start it: nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 & (or: make setup)"


def client(*, timeout: int = 120) -> docker.DockerClient:
    """Connect to the daemon named by ``DOCKER_HOST`` (default: the local socket) and ping it."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        api = docker.from_env(timeout=timeout)
        api.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DependencyError(f"Docker daemon not reachable at {where}", hint=START_HINT) from exc
    return api


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Translate Docker SDK exceptions raised while doing ``what`` into ``LabError``."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise LabError(f"{what}: image not found: {_explain(exc)}") from exc
    except docker.errors.NotFound as exc:
        raise LabError(f"{what}: not found: {_explain(exc)}") from exc
    except docker.errors.BuildError as exc:
        raise LabError(f"{what}: build failed: {exc.msg}") from exc
    except docker.errors.APIError as exc:
        raise LabError(f"{what}: Docker said: {_explain(exc)}") from exc
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        raise DependencyError(f"{what}: Docker daemon not reachable", hint=START_HINT) from exc


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)
