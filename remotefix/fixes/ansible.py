"""The one wall around ansible-runner: typed inputs, our inventory, our errors, task events out.

The inventory is generated from remotefix targets (ssh host/port/user, key *paths*, ProxyJump,
labs through their 127.0.0.1 sshd) with strict host-key checking against remotefix's known
hosts. No password or key material is written, nothing secret goes into argv, and the private
data directory is temporary (0700) and removed afterwards.
"""

from __future__ import annotations

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
from remotefix.targets import Target
from remotefix.workspace import Workspace

EventSink = Callable[["TaskEvent"], None]
_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass(frozen=True, slots=True)
class Host:
    """How Ansible reaches one target (everything but secrets)."""

    name: str
    connection: str = "ssh"
    address: str | None = None
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None
    proxy_jump: str | None = None

    def variables(self) -> dict[str, Any]:
        if self.connection == "local":
            return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        args = [
            "-o StrictHostKeyChecking=yes",
            "-o IdentitiesOnly=yes" if self.key_file else "",
            f"-o UserKnownHostsFile={shlex.quote(self.known_hosts)}" if self.known_hosts else "",
            f"-J {shlex.quote(self.proxy_jump)}" if self.proxy_jump else "",
        ]
        out: dict[str, Any] = {
            "ansible_connection": "ssh",
            "ansible_host": self.address or self.name,
            "ansible_ssh_common_args": " ".join(a for a in args if a),
            "ansible_python_interpreter": "auto_silent",
        }
        if self.port:
            out["ansible_port"] = self.port
        if self.user:
            out["ansible_user"] = self.user
            if self.user != "root":
                out |= {"ansible_become": True, "ansible_become_method": "sudo"}
        if self.key_file:
            out["ansible_ssh_private_key_file"] = self.key_file
        return out


def host_for(target: Target, workspace: Workspace) -> Host:
    """The Ansible view of an ssh or local target (labs: see ``remotefix.lab.labs``)."""
    if target.connection == "local":
        return Host(target.name, connection="local")
    if target.connection != "ssh":
        raise FixError(
            f"{target.name}: fixes run over ssh (or local), not {target.connection}",
            hint="labs are reached through their sshd; winrm fixes are not built yet",
        )
    return Host(
        target.name,
        address=target.host,
        port=target.port,
        user=target.user,
        key_file=target.options.get("identity_file"),
        known_hosts=str(workspace.known_hosts),
        proxy_jump=target.options.get("proxy_jump"),
    )


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
    extra_vars: dict[str, str] | None = None,
    on_event: EventSink | None = None,
    timeout: int = 1800,
) -> PlaybookRun:
    """Run ``playbook`` against ``hosts`` (``check``: ``--check --diff``, nothing changes)."""
    import ansible_runner  # heavy: loaded only when a fix runs

    if not playbook.is_file():
        raise FixError(f"playbook {playbook} not found", hint="see the playbooks/ folder")
    data_dir = Path(tempfile.mkdtemp(prefix="remotefix-ansible-"))
    inventory = data_dir / "inventory" / "hosts.yml"
    inventory.parent.mkdir()
    aliases = {_alias(h.name, i): h.name for i, h in enumerate(hosts)}
    hosts_map = {alias: h.variables() for alias, h in zip(aliases, hosts, strict=True)}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts_map}}))
    result = PlaybookRun(check=check, rc=-1, status="not started")

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

    env = {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        runner = ansible_runner.run(
            private_data_dir=str(data_dir),
            playbook=str(playbook.resolve()),
            inventory=str(inventory),
            extravars=dict(extra_vars or {}),
            envvars=env,
            cmdline="--check --diff" if check else "--diff",
            quiet=True,
            timeout=timeout,
            event_handler=handle,
            settings={"suppress_ansible_output": True},
        )
        result.rc = int(runner.rc if runner.rc is not None else -1)
        result.status = str(runner.status)
        if result.rc != 0 and not result.stats:  # ansible-playbook never got to the hosts
            tail = " ".join(runner.stdout.read().split()[-40:]) if runner.stdout else ""
            raise FixError(f"{playbook.name} did not run (ansible-playbook rc {result.rc}): {tail}")
    except FixError:
        raise
    except Exception as exc:  # ansible-runner raises its own and plain exceptions alike
        raise FixError(f"ansible-runner could not run {playbook.name}: {exc}") from exc
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if result.status == "timeout":
        raise FixError(f"{playbook.name} did not finish in {timeout}s")
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
