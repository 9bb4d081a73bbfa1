"""Pytest fixtures starting the WS-Management test endpoint. In a test module or conftest:

    pytest_plugins = ["tests.winrm_endpoint.fixture"]

(or import the fixtures by name, as tests/conftest.py does for the docker fixtures).

``winrm_endpoint``: HTTP, NTLM with message encryption (what ``scheme=http`` uses).
``winrm_https_endpoint``: HTTPS with a throw-away CA (``.ca_path``), NTLM or Basic.
Each yields a running ``WinRMEndpoint`` (``host``, ``port``, ``user``, ``password``, ``scheme``,
``ca_path``, ``counts``, ``service``, ``address(**options)``) and stops it at teardown.
``running_endpoint`` is the same as a context manager, for factories outside fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.winrm_endpoint.server import WinRMEndpoint


@contextmanager
def running_endpoint(workdir: Path, *, https: bool = False) -> Iterator[WinRMEndpoint]:
    """A started endpoint keeping its files (user file, certificates) in ``workdir``."""
    endpoint = WinRMEndpoint(workdir, https=https).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def winrm_endpoint(tmp_path: Path) -> Iterator[WinRMEndpoint]:
    with running_endpoint(tmp_path / "winrm-http") as endpoint:
        yield endpoint


@pytest.fixture
def winrm_https_endpoint(tmp_path: Path) -> Iterator[WinRMEndpoint]:
    with running_endpoint(tmp_path / "winrm-https", https=True) as endpoint:
        yield endpoint
