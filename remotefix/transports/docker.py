"""``docker://container``: commands through the Docker Engine's exec API.

stdin, stdout and stderr travel over the exec's hijacked socket (stdout/stderr multiplexed, see
``_docker_stream``). A command is started through a tiny wrapper that first reports its PID on
stderr; on timeout a second exec kills that process and all its descendants (found through
``/proc``, so no procps is needed in the container) and the partial output is returned.
A command that closes its output but keeps running is waited for up to the same deadline: the
result has an exit code, or it is ``timed_out`` (never neither). Ctrl-C (``remotefix.interrupt``)
stops it the same way and raises ``Interrupted``.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import requests.exceptions

from remotefix import dockerapi, interrupt
from remotefix.errors import ConnectError, DependencyError, TransportError
from remotefix.result import CommandResult
from remotefix.targets import Target
from remotefix.transports._docker_stream import FrameDemuxer
from remotefix.transports._killable import (
    MarkerFilter,
    kill_tree_command,
    raise_if_interrupted,
    should_stop,
    wrapped_argv,
)
from remotefix.transports._shells import DockerPty
from remotefix.transports.base import (
    DEFAULT_OUTPUT_CAP,
    BaseTransport,
    CappedBuffer,
    collected_result,
)

_CHUNK = 65536


class DockerTransport(BaseTransport):
    """Runs commands in a running container; ``target.host`` is its name or ID (case kept)."""

    def __init__(
        self,
        target: Target,
        *,
        client: docker.DockerClient | None = None,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        user: str | None = None,
        **_ignored: Any,
    ) -> None:
        super().__init__(target, output_cap=output_cap)
        self._client = client
        self.user = user or target.user or ""
        self._container_id = ""

    def _connect(self) -> None:
        with self._errors():
            if self._client is None:
                self._client = dockerapi.client()
            container = self._client.containers.get(self.target.host)
        if container.status != "running":
            raise ConnectError(
                f"container {self.target.host} is {container.status}, not running",
                hint=f"docker start {self.target.host}",
            )
        self._container_id = container.id

    def _disconnect(self) -> None:
        self._client = None

    def open_shell(self, cols: int = 80, rows: int = 24) -> DockerPty:
        """An interactive login shell in the container (``remotefix shell``)."""
        self._ensure_open()
        with self._errors():
            return DockerPty(self._api(), self._container_id, self.user, cols, rows)

    def _run(self, command: str, *, timeout: float, stdin: bytes | None, cap: int) -> CommandResult:
        interrupt.check("command")
        started = time.monotonic()
        out, err = CappedBuffer(cap), MarkerFilter(CappedBuffer(self.output_cap))
        with self._errors():
            exec_id, sock = self._start(command, stdin is not None)
            with contextlib.closing(sock):
                done = _shuttle(sock, stdin, FrameDemuxer(out, err), started + timeout)  # type: ignore[arg-type]
            code = self._exit_code(exec_id, started + timeout) if done else None
            if code is None and err.pid is not None:
                self._kill_tree(err.pid)
        if code is None:
            raise_if_interrupted(command)
        return collected_result(command, code, out, err, started, timed_out=code is None)

    def _start(self, command: str, with_stdin: bool) -> tuple[str, socket.socket]:
        api = self._api()
        exec_id = api.exec_create(
            self._container_id,
            wrapped_argv(command),
            stdin=with_stdin,
            user=self.user,
        )["Id"]
        raw = api.exec_start(exec_id, socket=True)
        return exec_id, getattr(raw, "_sock", raw)

    def _exit_code(self, exec_id: str, deadline: float) -> int | None:
        """The exec's exit code once it ends; None when it must be stopped first.

        The stream closes when the command closes its output, which can be long before it ends
        (``exec >&-; sleep 9``): wait for the end until the deadline, as for any command.
        """
        pause = 0.005
        while True:
            info = self._api().exec_inspect(exec_id)
            if not info["Running"] and info["ExitCode"] is not None:
                return int(info["ExitCode"])
            if should_stop(deadline):
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _kill_tree(self, pid: int) -> None:
        api = self._api()
        exec_id = api.exec_create(
            self._container_id,
            ["/bin/sh", "-c", kill_tree_command(pid)],
        )["Id"]
        api.exec_start(exec_id)

    def _api(self) -> docker.APIClient:
        assert self._client is not None
        return self._client.api

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The one place Docker SDK exceptions become ours."""
        name = self.target.host
        try:
            yield
        except DependencyError:
            raise  # no Docker daemon is a missing dependency (exit 6), not an unreachable target
        except docker.errors.NotFound as exc:
            raise ConnectError(f"no container named {name!r}", hint="see `docker ps`") from exc
        except docker.errors.APIError as exc:
            raise TransportError(f"docker exec in {name}: {exc.explanation or exc}") from exc
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise ConnectError(
                f"Docker daemon not reachable for container {name}", hint=dockerapi.START_HINT
            ) from exc
        except OSError as exc:
            raise TransportError(f"docker exec stream to {name} failed: {exc}") from exc


def _shuttle(
    sock: socket.socket, stdin: bytes | None, demux: FrameDemuxer, deadline: float
) -> bool:
    """Send stdin (on a thread), read frames until EOF; False when the deadline passed first."""
    if stdin is not None:
        threading.Thread(target=_send_stdin, args=(sock, stdin), daemon=True).start()
    while True:
        if should_stop(deadline):
            return False
        ready, _, _ = select.select([sock], [], [], min(max(deadline - time.monotonic(), 0), 0.2))
        if not ready:
            continue
        data = sock.recv(_CHUNK)
        if not data:
            return True
        demux.feed(data)


def _send_stdin(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
