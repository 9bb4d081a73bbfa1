"""The one wall around ansible-runner: typed inputs, our inventory, our errors, task events out.

The inventory is generated from remotefix targets (``remotefix.fixes.connection``: the session's
resolution and host keys, strict checking, our own ssh_config and ansible.cfg). Extra vars never
hold connection variables. Consent is re-checked before every task (``remotefix.fixes.guard``).
No password or key material is written, nothing secret goes into argv or the child's
environment, and the private data directory is temporary (0700) and removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from remotefix.errors import FixError
from remotefix.fixes.connection import Host, write_ssh_files
from remotefix.fixes.extravars import check_extra_vars
from remotefix.fixes.guard import ConsentGuard, plugin_env, stopped
from remotefix.fixes.interpreter import explained, interpreter_missing
from remotefix.transports._ssh_settings import PASSWORD_ENV
from remotefix.workspace import Workspace

EventSink = Callable[["TaskEvent"], None]
_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass(frozen=True, slots=True)
class TaskEvent:
    host: str
    task: str
    status: str  # ok | failed | unreachable | skipped
    changed: bool
    duration_s: float | None
    message: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PlaybookRun:
    """Per-host counters and every task event of one ansible-playbook run."""

    check: bool
    rc: int
    status: str
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    events: list[TaskEvent] = field(default_factory=list)

    def changed(self, host: str) -> int:
        return self.stats.get(host, {}).get("changed", 0)

    def failed_hosts(self) -> list[str]:
        return sorted(h for h, s in self.stats.items() if s.get("failed") or s.get("unreachable"))


def run_playbook(
    playbook: Path,
    hosts: list[Host],
    *,
    check: bool,
    workspace: Workspace,
    guard: ConsentGuard | None = None,
    extra_vars: dict[str, str] | None = None,
    on_event: EventSink | None = None,
    password: str | None = None,
    timeout: int = 1800,
) -> PlaybookRun:
    """Run ``playbook`` against ``hosts`` (``check``: ``--check --diff``, nothing changes).

    ``guard`` is re-checked before every task; ``password`` (ssh) is typed into Ansible's own
    prompt and never written, put in argv or in the environment.
    """
    if not playbook.is_file():
        raise FixError(f"playbook {playbook} not found", hint="see the playbooks/ folder")
    check_extra_vars(extra_vars or {})
    job = _Job(playbook, tuple(hosts), check, workspace, guard, dict(extra_vars or {}), timeout)
    data_dir = Path(tempfile.mkdtemp(prefix="remotefix-ansible-"))
    try:
        return job.run(data_dir, on_event, password)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class _Job:
    """One ansible-playbook run, prepared in a private data directory."""

    playbook: Path
    hosts: tuple[Host, ...]
    check: bool
    workspace: Workspace
    guard: ConsentGuard | None
    extra_vars: dict[str, str]
    timeout: int

    def run(self, data_dir: Path, on_event: EventSink | None, password: str | None) -> PlaybookRun:
        import ansible_runner  # heavy: loaded only when a fix runs

        aliases = {_alias(h.name, i): h.name for i, h in enumerate(self.hosts)}
        env = self.prepare(data_dir, aliases)
        result = PlaybookRun(check=self.check, rc=-1, status="not started")
        cmdline = ["--check", "--diff"] if self.check else ["--diff"]
        try:
            config = ansible_runner.RunnerConfig(
                private_data_dir=str(data_dir),
                playbook=str(self.playbook.resolve()),
                inventory=str(data_dir / "inventory" / "hosts.yml"),
                envvars=env,
                cmdline=shlex.join([*cmdline, "--ask-pass"] if password else cmdline),
                passwords={r"SSH password:\s*$": password} if password else None,
                quiet=True,
                timeout=self.timeout,
                suppress_env_files=True,
                settings={"suppress_ansible_output": True, "pexpect_timeout": 1},
            )
            config.prepare()
            config.env.pop(PASSWORD_ENV, None)  # the password reaches ansible by its prompt only
            handler = _handler(result, aliases, on_event)
            runner = ansible_runner.Runner(
                config, event_handler=handler, cancel_callback=_signals()
            )
            runner.run()
        except Exception as exc:  # ansible-runner raises its own and plain exceptions alike
            raise FixError(f"ansible-runner could not run {self.playbook.name}: {exc}") from exc
        return _outcome(result, runner, self.playbook, data_dir, self.timeout)

    def prepare(self, data_dir: Path, aliases: dict[str, str]) -> dict[str, str]:
        """Write inventory, ssh files, extra vars, ansible.cfg, guard; return the environment."""
        ssh_config = write_ssh_files(list(self.hosts), self.workspace, data_dir)
        inventory = data_dir / "inventory" / "hosts.yml"
        inventory.parent.mkdir()
        hosts_map = {a: h.variables(ssh_config) for a, h in zip(aliases, self.hosts, strict=True)}
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts_map}}))
        if self.extra_vars:
            (data_dir / "env").mkdir(exist_ok=True)
            (data_dir / "env" / "extravars").write_text(json.dumps(self.extra_vars))
        (data_dir / "ansible.cfg").write_text("[defaults]\n")  # no ansible.cfg of cwd or ~
        env = {
            "ANSIBLE_CONFIG": str(data_dir / "ansible.cfg"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=5s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(data_dir / "cp"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        if self.guard is not None:
            self.guard.save(data_dir / "guard.json")
            env |= plugin_env(data_dir / "guard.json")
        return env


def _handler(
    result: PlaybookRun, aliases: dict[str, str], on_event: EventSink | None
) -> Callable[[dict[str, Any]], bool]:
    def handle(event: dict[str, Any]) -> bool:
        if event.get("event") == "playbook_on_stats":
            stats = _stats(event.get("event_data") or {})
            result.stats = {aliases.get(a, a): s for a, s in stats.items()}
        parsed = _task_event(event, aliases)
        if parsed is not None:
            result.events.append(parsed)
            if on_event:
                on_event(parsed)
        return False  # ansible-runner need not keep the event on disk

    return handle


def _signals() -> Callable[[], bool] | None:
    """Ctrl-C / SIGTERM cancel the run, as ansible-runner's own default does."""
    from ansible_runner.utils import signal_handler

    return signal_handler()


def _outcome(
    result: PlaybookRun, runner: Any, playbook: Path, data_dir: Path, timeout: int
) -> PlaybookRun:
    result.rc = int(runner.rc if runner.rc is not None else -1)
    result.status = str(runner.status)
    stop = stopped(data_dir / "consent-stop.json", playbook.name)
    if stop is not None:
        raise stop
    if result.status == "timeout":
        raise FixError(f"{playbook.name} did not finish in {timeout}s")
    if result.rc != 0 and not result.stats:  # ansible-playbook never got to the hosts
        tail = " ".join(runner.stdout.read().split()[-40:]) if runner.stdout else ""
        raise FixError(f"{playbook.name} did not run (ansible-playbook rc {result.rc}): {tail}")
    return result


def _alias(name: str, index: int) -> str:
    """An inventory name Ansible parses as a plain host (no ':' port, '?', '/', '@')."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60]
    return safe if safe == name else f"{safe}-{index}"


def _task_event(event: dict[str, Any], aliases: dict[str, str]) -> TaskEvent | None:
    status = _EVENTS.get(str(event.get("event")))
    if status is None:
        return None
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    message = str(res.get("msg") or res.get("stderr") or "")[:500]
    if status == "failed" and interpreter_missing(res):
        message = explained(message)
    diff = res.get("diff") or []
    return TaskEvent(
        host=aliases.get(str(data.get("host")), str(data.get("host"))),
        task=str(data.get("task")),
        status=status,
        changed=bool(res.get("changed")),
        duration_s=data.get("duration"),
        message=message,
        diff=diff if isinstance(diff, list) else [diff],
    )


def _stats(raw: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    names = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
    }
    hosts: dict[str, dict[str, int]] = {}
    for key, label in names.items():
        for host, count in (raw.get(key) or {}).items():
            hosts.setdefault(host, dict.fromkeys(names.values(), 0))[label] = int(count)
    return hosts
