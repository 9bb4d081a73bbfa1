"""Ansible callback plugin: before every task, re-check remotefix consent and refuse a playbook
that would re-point the connection (see ``remotefix.fixes.guard``)."""

from __future__ import annotations

from typing import Any

from ansible.plugins.callback import CallbackBase

from remotefix.fixes.extravars import is_connection_var
from remotefix.fixes.guard import guard_from_env

_SET_FACT = {"set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"}
_LOCAL = {"localhost", "127.0.0.1", "::1"}


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "remotefix_consent"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard_from_env()

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        if self._guard is not None:
            guard, stop_file = self._guard
            guard.before_task(task.get_name(), stop_file, overrides=_overrides(task))

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self.v2_playbook_on_task_start(task, False)


def _overrides(task: Any) -> list[str]:
    """What in the play, its blocks, roles or this task would change where tasks run."""
    names = set(task.get_vars())
    play = task.get_play()
    if play is not None:
        names |= set(play.get_vars())
    if task.action in _SET_FACT and isinstance(task.args, dict):
        names |= set(task.args)
    found = [f"variable {n}" for n in sorted(names) if is_connection_var(str(n))]
    if task.delegate_to and str(task.delegate_to) not in _LOCAL:
        found.append(f"delegate_to {task.delegate_to}")
    return found
