"""A target without python3 as Ansible reports it, turned into one line that says what to do."""

from __future__ import annotations

import re
from typing import Any

PREFIX = "module interpreter not found"
_NOT_FOUND = re.compile(r"module interpreter .* was not found|python[0-9.]*: not found", re.I)


def interpreter_missing(res: dict[str, Any]) -> bool:
    """Ansible's result says the module interpreter is missing (also inside fact gathering)."""
    texts = [str(res.get(k) or "") for k in ("msg", "module_stdout")]
    nested = res.get("failed_modules") or {}
    return any(_NOT_FOUND.search(t) for t in texts) or any(
        interpreter_missing(r) for r in nested.values() if isinstance(r, dict)
    )


def explained(message: str) -> str:
    """The line shown for a task that failed because the target has no python3."""
    if message.startswith(PREFIX):
        return message
    return (
        f"{PREFIX}: the target has no python3, which Ansible's modules need; "
        "install it first (remotefix run TARGET --case C -- apt-get install -y python3), point "
        f"-e ansible_python_interpreter=PATH at one, or use raw tasks (Ansible: {message})"
    )
