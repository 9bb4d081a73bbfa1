"""Ansible callback plugin: re-check remotefix consent before every task (see fixes.guard)."""

from __future__ import annotations

from typing import Any

from ansible.plugins.callback import CallbackBase

from remotefix.fixes.guard import guard_from_env


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
            guard.before_task(task.get_name(), stop_file)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self.v2_playbook_on_task_start(task, False)
