"""Where the WinRM exchanges recorded from real Windows hosts live: ``shared/winrm-recordings``
next to the repository (``<repo>/../shared``), as in every checkout of this project.

They are not optional: a test that needs them fails (never skips) when they are missing, so a
clone without them cannot pass silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
RECORDINGS = REPOSITORY.parent / "shared" / "winrm-recordings"


def recordings_dir() -> Path:
    """The recordings folder; the calling test fails when it is not there."""
    if not (RECORDINGS / "SOURCES.md").is_file():
        pytest.fail(
            f"recorded Windows WinRM exchanges not found at {RECORDINGS} "
            f"(expected ../shared/winrm-recordings next to the repository {REPOSITORY})"
        )
    return RECORDINGS
