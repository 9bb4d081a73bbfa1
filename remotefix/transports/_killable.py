"""Commands that can be stopped for real when they outlive their timeout.

The command is started through a tiny wrapper that first prints its PID on stderr
(``RFXPID:<pid>``, stripped again by ``MarkerFilter``). On timeout, ``kill_tree_command(pid)``
run over a second channel stops that process and all its descendants, found through ``/proc``
(no procps needed on the target; shell builtins only, so it stays fast on a busy host).
Used by the docker and ssh transports.

A Ctrl-C (``remotefix.interrupt``) stops a running command the same way: ``should_stop`` is
what their wait loops ask, ``stop_reason`` turns an interrupted command into ``Interrupted``.
"""

from __future__ import annotations

import shlex
import time

from remotefix import interrupt
from remotefix.errors import Interrupted
from remotefix.transports.base import CappedBuffer

_WRAPPER = 'printf "RFXPID:%s\\n" "$$" >&2; exec /bin/sh -c "$1"'
_KILL_TREE = (
    # one pass over /proc/N/stat with shell builtins only (no process per entry: fast on a busy
    # host), then the descendants of @PID@ level by level; comm may hold spaces and parens
    'all=; for d in /proc/[0-9]*; do read -r l 2>/dev/null < "$d/stat" || continue; '
    'r=${l##*) }; r=${r#* }; all="$all ${d#/proc/}:${r%% *}"; done; '
    'pids=@PID@; more=1; while [ -n "$more" ]; do more=; for e in $all; do '
    'case " $pids " in *" ${e#*:} "*) case " $pids " in *" ${e%:*} "*) ;; '
    '*) pids="$pids ${e%:*}"; more=1;; esac;; esac; done; done; '
    "kill -STOP $pids 2>/dev/null; kill -KILL $pids 2>/dev/null; true"
)


def wrapped_argv(command: str) -> list[str]:
    """argv running ``command`` with ``/bin/sh -c`` after reporting its PID on stderr."""
    return ["/bin/sh", "-c", _WRAPPER, "sh", command]


def wrapped_shell(command: str) -> str:
    """The same as one shell string (for transports that take a command line, like ssh)."""
    return shlex.join(wrapped_argv(command))


def kill_tree_command(pid: int) -> str:
    """Shell command that stops ``pid`` and every descendant of it."""
    return _KILL_TREE.replace("@PID@", str(int(pid)))


def should_stop(deadline: float) -> bool:
    """True when a running command must be stopped: its deadline passed or Ctrl-C was pressed."""
    return interrupt.requested() or time.monotonic() >= deadline


def raise_if_interrupted(command: str) -> None:
    """After a stopped command was killed: ``Interrupted`` when Ctrl-C stopped it."""
    if interrupt.requested():
        raise Interrupted(f"stopped by Ctrl-C and killed on the target: {command}")


class MarkerFilter:
    """Strips the first line of stderr (``RFXPID:<pid>``) and remembers the pid in it."""

    PREFIX = b"RFXPID:"

    def __init__(self, sink: CappedBuffer) -> None:
        self._sink = sink
        self._head = bytearray()
        self.pid: int | None = None
        self._done = False
        self.cap = sink.cap

    @property
    def truncated(self) -> bool:
        return self._sink.truncated

    def write(self, data: bytes) -> None:
        if self._done:
            self._sink.write(data)
            return
        self._head += data
        line, newline, rest = bytes(self._head).partition(b"\n")
        if not newline:
            return
        self._done = True
        if line.startswith(self.PREFIX) and line[len(self.PREFIX) :].isdigit():
            self.pid = int(line[len(self.PREFIX) :])
        else:
            rest = bytes(self._head)
        if rest:
            self._sink.write(rest)

    def getvalue(self) -> bytes:
        return self._sink.getvalue()
