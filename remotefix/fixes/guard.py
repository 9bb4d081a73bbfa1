"""The consent door inside a playbook run: re-checked before every task, and before each phase.

``ConsentGuard.check`` asks the session (so a refusal is audited like any other) whether every
target of the run still has a live fix grant. The callback plugin ``remotefix_consent`` loads the
guard from the private data directory and calls ``before_task`` when Ansible is about to start a
task, *before* the task is queued to any host: a grant revoked or expired while the previous task
ran stops the run there (the task never starts), and the reason is left in ``stop_file`` for
``run_playbook`` to raise as ``ConsentError``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from remotefix.consent import Scope
from remotefix.errors import ConsentError, FixVarError
from remotefix.session import Session
from remotefix.targets import Target
from remotefix.workspace import Workspace

GUARD_ENV = "REMOTEFIX_FIX_GUARD"
STOP_RC = 75
"""ansible-playbook's exit status when the guard stopped it (any failure also ends in rc != 0)."""


@dataclass(frozen=True, slots=True)
class ConsentGuard:
    """Whose consent a run needs: these targets, this case, fix scope."""

    workspace: Workspace
    case: str
    playbook: str
    targets: tuple[Target, ...]
    elevated: tuple[str, ...] = ()
    """Targets Ansible reaches as a user that becomes root: their grant must allow ``--sudo``."""

    def check(self, attempted: str) -> dict[str, str | None]:
        """The grant id per target (None: engineer-owned); ``ConsentError`` when one is gone."""
        grants: dict[str, str | None] = {}
        for target in self.targets:
            session = Session(target, case=self.case, workspace=self.workspace)
            sudo = target.name in self.elevated
            grant = session.check_consent(Scope.FIX, attempted=attempted, sudo=sudo)
            grants[target.name] = grant.id if grant else None
        return grants

    def before_task(self, task: str, stop_file: Path, *, overrides: list[str]) -> None:
        """Called by the plugin: exit ansible-playbook (no task queued) when consent is gone
        or the playbook would re-point the connection (``overrides``)."""
        if overrides:
            record = {"task": task, "kind": "connection", "message": ", ".join(overrides)}
            stop_file.write_text(json.dumps(record))
            raise SystemExit(STOP_RC)
        try:
            self.check(f"fix {self.playbook}: {task}")
        except ConsentError as exc:
            record = {"task": task, "message": exc.message, "hint": exc.hint}
        except Exception as exc:  # fail closed: Ansible would only warn and go on
            record = {"task": task, "message": f"consent could not be checked: {exc}", "hint": None}
        else:
            return
        stop_file.write_text(json.dumps(record))
        raise SystemExit(STOP_RC)

    def save(self, path: Path) -> None:
        data = {
            "workspace": str(self.workspace.root),
            "case": self.case,
            "playbook": self.playbook,
            "targets": [t.to_dict() for t in self.targets],
            "elevated": list(self.elevated),
        }
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> ConsentGuard:
        data = json.loads(path.read_text())
        targets = tuple(_target(t) for t in data["targets"])
        return cls(Workspace(Path(data["workspace"])), data["case"], data["playbook"], targets,
                   tuple(data.get("elevated") or ()))  # fmt: skip


def stopped(stop_file: Path, playbook: str) -> ConsentError | FixVarError | None:
    """The error the plugin left behind, if it stopped the run."""
    if not stop_file.is_file():
        return None
    record = json.loads(stop_file.read_text())
    if record.get("kind") == "connection":
        return FixVarError(
            f"{playbook} sets {record['message']} (task {record['task']!r}): the connection "
            "is the consented target's; stopped before that task",
            hint="remove it from the playbook; change the target and its grant instead",
        )
    return ConsentError(
        f"{playbook} stopped before task {record['task']!r}: {record['message']}",
        hint=record.get("hint"),
    )


def plugin_env(guard_file: Path) -> dict[str, str]:
    """Environment that makes ansible-playbook load the plugin with this guard."""
    plugins = Path(__file__).with_name("callback_plugins")
    return {
        GUARD_ENV: str(guard_file),
        "ANSIBLE_CALLBACK_PLUGINS": str(plugins),
        "ANSIBLE_CALLBACKS_ENABLED": "remotefix_consent",
    }


def guard_from_env() -> tuple[ConsentGuard, Path] | None:
    """The guard and stop file named by ``$REMOTEFIX_FIX_GUARD`` (inside ansible-playbook)."""
    path = os.environ.get(GUARD_ENV)
    if not path:
        return None
    return ConsentGuard.load(Path(path)), Path(path).with_name("consent-stop.json")


def _target(data: dict[str, Any]) -> Target:
    return Target(
        data["name"],
        data["connection"],
        data["host"],
        data["port"],
        data["user"],
        tuple(data["groups"]),
        MappingProxyType(dict(data["options"])),
    )
