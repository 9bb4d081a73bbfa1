"""Processes behind the endpoint's commands, and the POSIX stand-in for what Windows would run.

``stand_in_argv`` decides what actually runs for a WinRM ``Command``:

* ``powershell.exe ... -EncodedCommand B64``: the script is decoded (UTF-16LE) and run with
  ``/bin/sh -c`` as a stand-in — tests write POSIX shell where a real host would get PowerShell;
* the transport's read_file script (first line ``# remotefix read_file v1``) is the one PowerShell
  script the endpoint understands: it takes the path, byte limit and exit codes from the script
  text and runs the POSIX equivalent (``head -c LIMIT | base64`` with the same exit codes);
* anything else (a cmd.exe command line) runs with ``/bin/sh -c``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import uuid
from collections import deque
from pathlib import Path

READ_MARKER = "# remotefix read_file v1"
COLLECTION_MARKER = "# remotefix collection script"
COLLECTION_REPLAY: dict[str, Path] = {}
"""Set ``COLLECTION_REPLAY["output"]`` to a recorded output of the PowerShell collection script:
the endpoint then answers that script with it (no PowerShell runs here, see the package doc)."""
_SUBSET = {
    "path": r"FromBase64String\('([A-Za-z0-9+/=]*)'\)",
    "limit": r"\$left = \[long\](\d+)",
    "directory": r"-PathType Container\) \{ exit (\d+) \}",
    "missing": r"-PathType Leaf\)\) \{ exit (\d+) \}",
    "denied": r"UnauthorizedAccessException\]\) \{ exit (\d+) \}",
}


def stand_in_argv(command: str, arguments: str) -> list[str]:
    """The argv the endpoint runs for a WinRM command line (see the module docstring)."""
    words = arguments.split()
    lowered = [w.lower() for w in words]
    if command.lower().removesuffix(".exe") == "powershell" and "-encodedcommand" in lowered:
        encoded = words[lowered.index("-encodedcommand") + 1]
        script = base64.b64decode(encoded).decode("utf-16-le")
        if script.startswith(READ_MARKER):
            return ["/bin/sh", "-c", read_file_stand_in(script)]
        if script.startswith(STDIN_MARKER):
            return ["/bin/sh", "-c", stdin_stand_in()]
        if script.startswith(COLLECTION_MARKER):
            replay = COLLECTION_REPLAY.get("output")
            if replay is None:
                return ["/bin/sh", "-c", "echo 'no PowerShell on this endpoint' >&2; exit 1"]
            return ["cat", str(replay)]
        return ["/bin/sh", "-c", script]
    return ["/bin/sh", "-c", f"{command} {arguments}".strip()]


STDIN_MARKER = "# remotefix stdin script v1"


def stdin_stand_in() -> str:
    """The transport's stdin bootstrap: the script arrives on stdin; the collection script is
    answered from the replay (if set), anything else runs with the POSIX shell."""
    replay = COLLECTION_REPLAY.get("output")
    answer = f"cat {shlex.quote(str(replay))}" if replay else "echo 'no PowerShell here' >&2; false"
    return (
        'f=$(mktemp); cat > "$f"; '
        f'if head -n 1 "$f" | grep -q "^{COLLECTION_MARKER}"; then {answer}; else sh "$f"; fi; '
        'rc=$?; rm -f "$f"; exit $rc'
    )


def read_file_stand_in(script: str) -> str:
    """The POSIX shell equivalent of the transport's PowerShell file reader."""
    found = {key: re.search(pattern, script) for key, pattern in _SUBSET.items()}
    missing = [key for key, match in found.items() if match is None]
    if missing:
        raise ValueError(f"read_file script not understood: no {missing}")
    v = {key: match.group(1) for key, match in found.items() if match}
    p = shlex.quote(base64.b64decode(v["path"]).decode("utf-8"))
    return (
        f"if [ -d {p} ]; then exit {v['directory']}; fi; "
        f"if [ ! -e {p} ]; then exit {v['missing']}; fi; "
        f"if [ ! -r {p} ]; then exit {v['denied']}; fi; "
        f"head -c {v['limit']} -- {p} | base64 -w 262144"
    )


class OutputQueue:
    """Output pieces in arrival order, plus whether the process has ended and said everything."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: deque[tuple[str, bytes]] = deque()
        self._ended = False

    def put(self, stream: str, data: bytes) -> None:
        with self._cond:
            self._items.append((stream, data))
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def take(self, wait: float, max_bytes: int) -> tuple[list[tuple[str, bytes]], bool] | None:
        """Up to ``max_bytes`` of output and "finished"; None when nothing came in ``wait`` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._ended, timeout=wait):
                return None
            out: list[tuple[str, bytes]] = []
            size = 0
            while self._items and size < max_bytes:
                stream, data = self._items.popleft()
                room = max_bytes - size
                if len(data) > room:
                    self._items.appendleft((stream, data[room:]))
                    data = data[:room]
                out.append((stream, data))
                size += len(data)
            return out, self._ended and not self._items


class RunningCommand:
    """One process started by a ``Command`` request, in its own process group."""

    def __init__(
        self, argv: list[str], *, pipe_stdin: bool, cwd: Path, user: str | None = None
    ) -> None:
        self.id = str(uuid.uuid4()).upper()
        self.argv = argv
        self.output = OutputQueue()
        self.terminated = False
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
        self._stdin: queue.Queue[bytes | None] = queue.Queue()
        readers = [self._thread(self._read, name) for name in ("stdout", "stderr")]
        self._thread(self._wait, readers)
        self._thread(self._write)
        if not pipe_stdin:  # console-mode stdin: nothing will ever be typed
            self._stdin.put(None)

    @property
    def exit_code(self) -> int | None:
        return self.process.returncode

    def send(self, data: bytes, *, end: bool) -> None:
        self._stdin.put(data)
        if end:
            self._stdin.put(None)

    def terminate(self) -> None:
        """Kill the whole process group (what Signal terminate does to a running command)."""
        if self.process.poll() is None:
            self.terminated = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _thread(self, target: object, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    def _read(self, name: str) -> None:
        pipe = getattr(self.process, name)
        while chunk := pipe.read1(65536):
            self.output.put(name, chunk)
        pipe.close()

    def _wait(self, readers: list[threading.Thread]) -> None:
        self.process.wait()
        for reader in readers:
            reader.join()
        self.output.end()

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while (data := self._stdin.get()) is not None:
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError):
                break
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
