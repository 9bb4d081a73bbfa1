"""Tooling a lab adds for free (python3, sshd) that a playbook's modules need on the customer.

A practice can pass on the lab only because the lab has python3: ``lab_added`` lists what the
lab's fidelity report calls ``added``, ``needs`` reads the playbook for the tools its modules
use, and ``missing_tools`` names those the customer's fingerprint lacks, before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from remotefix.lab import labs
from remotefix.workspace import Workspace

PYTHON = "python3"
PYTHON_FREE = frozenset(
    {"raw", "script", "meta", "debug", "set_fact", "fail", "assert", "pause", "add_host",
     "group_by", "include_tasks", "import_tasks", "include_vars"}
)  # fmt: skip
"""Modules that run on the controller or through the plain shell: no interpreter on the target."""

_PROVIDES = {PYTHON: re.compile(r"python3(\.\d+)?(-minimal)?")}
"""Packages that give a tool (Ansible discovers ``python3.11`` as well as ``python3``)."""
_NESTED = ("block", "rescue", "always")


def lab_added(lab: str, workspace: Workspace) -> frozenset[str]:
    """Packages the lab has only for lab access (its fidelity report's ``added`` items)."""
    items = (labs.measured_fidelity(lab, workspace) or {}).get("items", [])
    return frozenset(i["name"] for i in items if i.get("status") == "added")


def needs(playbook: Path) -> frozenset[str]:
    """Tools the playbook's modules need on the target (python3 unless every task is raw)."""
    try:
        plays = yaml.safe_load(playbook.read_text()) or []
    except yaml.YAMLError:  # vault or other tags: Ansible's to read; assume the usual needs
        return frozenset({PYTHON})
    for play in plays if isinstance(plays, list) else [plays]:
        if not isinstance(play, dict) or _needs_python(play):
            return frozenset({PYTHON})
    return frozenset()


def missing_tools(tools: frozenset[str], fingerprint: dict[str, Any]) -> list[str]:
    """The ``tools`` no package of the target's fingerprint provides, sorted (none when the
    fingerprint lists no packages at all: unknown is not missing)."""
    packages = fingerprint.get("packages") or {}
    if not packages:
        return []
    return sorted(t for t in tools if not any(_provides(t, name) for name in packages))


def _provides(tool: str, package: str) -> bool:
    pattern = _PROVIDES.get(tool)
    return package == tool if pattern is None else bool(pattern.fullmatch(package))


def _needs_python(play: dict[str, Any]) -> bool:
    if play.get("gather_facts", True) not in (False, "false", "no") or "roles" in play:
        return True
    if "import_playbook" in play or "ansible.builtin.import_playbook" in play:
        return True  # not followed: assume it does
    sections = ("pre_tasks", "tasks", "post_tasks", "handlers")
    return any(_task_needs_python(t) for s in sections for t in play.get(s) or [])


def _task_needs_python(task: Any) -> bool:
    if not isinstance(task, dict):
        return True
    if "local_action" in task:
        return False
    if any(k in task for k in _NESTED):
        return any(_task_needs_python(t) for k in _NESTED for t in task.get(k) or [])
    module = _module(task)
    return module is None or module.removeprefix("ansible.builtin.") not in PYTHON_FREE


def _module(task: dict[str, Any]) -> str | None:
    """The task's module name (the key that is not a task keyword), as Ansible reads it."""
    from ansible.playbook.task import Task  # only when a fix runs

    if isinstance(task.get("action"), str):
        return str(task["action"]).split()[0]
    keys = [k for k in task if k not in Task.fattributes and not k.startswith("with_")]
    return str(keys[0]) if len(keys) == 1 else None
