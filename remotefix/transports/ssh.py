"""``ssh://user@host:port``: commands over one reused paramiko connection.

Strict host-key checking always (``remotefix.hostkeys``); keys from the address
(``?identity_file=``), ``~/.ssh/config``, the agent or the default key files; a password only from
the caller or ``$REMOTEFIX_PASSWORD``. ProxyJump through one bastion (checked as strictly).

Transient connection failures (refused, timed out, reset during the banner exchange — what sshd's
``MaxStartups`` does when many connections arrive at once) are retried ``connect_attempts`` times
in all (default 4) with exponential backoff and full jitter; each retry is kept in ``retries``.
Authentication and host-key failures are never retried.

Timeouts (seconds, keyword arguments): ``connect_timeout`` 10 (TCP connect and SSH banner),
``auth_timeout`` 15, and the per-command ``timeout`` of ``run`` (default 60). A command that
outlives its timeout is killed on the target with all its children (``_killable``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko

from remotefix import interrupt
from remotefix.errors import (
    AuthError,
    ConnectError,
    HostKeyError,
    RemotefixError,
    TransportError,
)
from remotefix.hostkeys import RefuseUnknown, changed_key_error, known_host_keys
from remotefix.result import CommandResult
from remotefix.targets import Target
from remotefix.transports._killable import (
    MarkerFilter,
    kill_tree_command,
    raise_if_interrupted,
    should_stop,
    wrapped_shell,
)
from remotefix.transports._shells import SSHPty
from remotefix.transports._ssh_settings import SSHSettings, password_from_env, resolve
from remotefix.transports.base import (
    DEFAULT_OUTPUT_CAP,
    BaseTransport,
    CappedBuffer,
    collected_result,
)
from remotefix.workspace import Workspace

_CHUNK = 65536
# paramiko logs its own tracebacks for failed handshakes: ours is the one-line error.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0


class SSHTransport(BaseTransport):
    """One paramiko connection per transport, opened on first use and reused."""

    def __init__(
        self,
        target: Target,
        *,
        workspace: Workspace | None = None,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        connect_timeout: float = 10.0,
        auth_timeout: float = 15.0,
        password: str | None = None,
        ssh_config: Path | None = None,
        known_hosts_files: list[Path] | None = None,
        use_agent: bool = True,
        connect_attempts: int = 4,
    ) -> None:
        super().__init__(target, output_cap=output_cap)
        self.connect_attempts = max(1, connect_attempts)
        self.retries: list[str] = []
        """One line per retried connection attempt: what failed and how long we waited."""
        self.workspace = workspace or Workspace.default()
        self.connect_timeout = connect_timeout
        self.auth_timeout = auth_timeout
        self._password = password
        self._ssh_config = ssh_config
        self._known_hosts_files = known_hosts_files
        self._use_agent = use_agent
        self._client: paramiko.SSHClient | None = None
        self._bastion: SSHTransport | None = None

    @property
    def client(self) -> paramiko.SSHClient:
        """The live paramiko client (connects on first use)."""
        self._ensure_open()
        assert self._client is not None
        return self._client

    def _connect(self) -> None:
        for attempt in range(1, self.connect_attempts + 1):
            try:
                self._connect_once()
                return
            except TransportError as exc:
                if not _transient(exc):
                    raise
                if attempt == self.connect_attempts:
                    exc.message += f" after {attempt} attempts" if attempt > 1 else ""
                    raise
                self._disconnect()
                delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))  # noqa: S311
                self.retries.append(f"attempt {attempt}: {exc.message}; retried after {delay:.2f}s")
                time.sleep(delay)

    def _connect_once(self) -> None:
        settings = resolve(self.target, self._ssh_config)
        sock = self._jump(settings) if settings.proxy_jump else None
        client = paramiko.SSHClient()
        known = known_host_keys(self.workspace, self._known_hosts_files)
        for host, keys in known.items():
            for keytype, key in keys.items():
                client.get_host_keys().add(host, keytype, key)
        client.set_missing_host_key_policy(RefuseUnknown(self.target.address, known))
        with self._errors(settings):
            client.connect(
                settings.host,
                port=settings.port,
                username=settings.user,
                key_filename=list(settings.identity_files) or None,
                password=self._password or password_from_env(),
                look_for_keys=not settings.identity_files,
                allow_agent=self._use_agent,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.auth_timeout,
                sock=sock,
            )
        self._client = client

    def _jump(self, settings: SSHSettings) -> paramiko.Channel:
        """A direct-tcpip channel to the target through the bastion's own checked connection."""
        assert settings.proxy_jump is not None
        self._bastion = SSHTransport(
            settings.proxy_jump,
            workspace=self.workspace,
            connect_timeout=self.connect_timeout,
            auth_timeout=self.auth_timeout,
            password=self._password,
            ssh_config=self._ssh_config,
            known_hosts_files=self._known_hosts_files,
            use_agent=self._use_agent,
        )
        with self._errors(settings):
            transport = self._bastion.client.get_transport()
            assert transport is not None
            return transport.open_channel(
                "direct-tcpip", (settings.host, settings.port), ("127.0.0.1", 0),
                timeout=self.connect_timeout,
            )  # fmt: skip

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._bastion is not None:
            self._bastion.close()
            self._bastion = None

    def _run(self, command: str, *, timeout: float, stdin: bytes | None, cap: int) -> CommandResult:
        interrupt.check("command")
        started = time.monotonic()
        out, err = CappedBuffer(cap), MarkerFilter(CappedBuffer(self.output_cap))
        with self._errors():
            channel = self._channel()
            channel.exec_command(wrapped_shell(command))
            _feed(channel, stdin)
            done = _drain(channel, out, err, started + timeout)  # type: ignore[arg-type]
            code = channel.recv_exit_status() if done else None
            if not done:
                self._stop(channel, err)  # type: ignore[arg-type]
            channel.close()
        if not done:
            raise_if_interrupted(command)
        return collected_result(command, code, out, err, started, timed_out=not done)

    def _stop(self, channel: paramiko.Channel, err: MarkerFilter) -> None:
        """Kill a command that must stop (its pid is the first line of stderr; wait for it)."""
        waited = time.monotonic() + self.connect_timeout
        while err.pid is None and time.monotonic() < waited and not channel.exit_status_ready():
            if channel.recv_stderr_ready():
                err.write(channel.recv_stderr(_CHUNK))
            else:
                select.select([channel], [], [], 0.05)
        if err.pid is not None:
            self._kill(err.pid)

    def open_shell(self, cols: int = 80, rows: int = 24) -> SSHPty:
        """An interactive pty shell (``remotefix shell``)."""
        with self._errors():
            channel = self.client.invoke_shell(term="xterm-256color", width=cols, height=rows)
        return SSHPty(channel)

    def _channel(self) -> paramiko.Channel:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectError(f"SSH connection to {self.target.name} was lost")
        return transport.open_session(timeout=self.connect_timeout)

    def _kill(self, pid: int) -> None:
        with contextlib.suppress(RemotefixError, paramiko.SSHException, OSError):
            channel = self._channel()
            channel.exec_command(kill_tree_command(pid))
            channel.recv_exit_status()
            channel.close()

    @contextlib.contextmanager
    def _errors(self, settings: SSHSettings | None = None) -> Iterator[None]:
        """The one place paramiko and socket exceptions become ours."""
        where = f"{settings.host}:{settings.port}" if settings else self.target.name
        try:
            yield
        except RemotefixError:
            raise
        except paramiko.BadHostKeyException as exc:
            assert settings is not None
            raise changed_key_error(settings.host, settings.port, exc) from None
        except paramiko.AuthenticationException as exc:
            raise AuthError(
                f"authentication to {where} as {settings.user if settings else '?'} failed",
                hint="check the key (?identity_file=), ssh-agent, or $REMOTEFIX_PASSWORD",
            ) from exc
        except (paramiko.ssh_exception.NoValidConnectionsError, ConnectionRefusedError) as exc:
            raise ConnectError(
                f"cannot reach {where}: connection refused",
                hint="is sshd running and the port right?",
            ) from exc
        except TimeoutError as exc:
            raise ConnectError(
                f"cannot reach {where}: timed out", hint="check host, port, firewall"
            ) from exc
        except socket.gaierror as exc:
            raise ConnectError(
                f"cannot resolve {where}: {exc.strerror}", hint="check the host name"
            ) from exc
        except paramiko.ChannelException as exc:
            raise ConnectError(f"cannot open a channel to {where}: {exc.text}") from exc
        except (paramiko.SSHException, EOFError) as exc:
            raise TransportError(f"SSH to {where} failed: {exc}") from exc
        except OSError as exc:
            raise ConnectError(f"cannot reach {where}: {exc.strerror or exc}") from exc


def _transient(exc: TransportError) -> bool:
    """Worth another try: refused, timed out, or cut off before the SSH session was set up."""
    if isinstance(exc, AuthError | HostKeyError) or exc.message.startswith("cannot resolve"):
        return False
    if isinstance(exc, ConnectError):
        return True
    text = exc.message.lower()
    return any(word in text for word in ("banner", "reset by peer", "eof", "closed by"))


def _feed(channel: paramiko.Channel, stdin: bytes | None) -> None:
    """Send stdin on a thread (big stdin and big stdout together must not deadlock), then EOF."""
    if stdin is None:
        channel.shutdown_write()
        return

    def send() -> None:
        with contextlib.suppress(OSError, paramiko.SSHException):
            channel.sendall(stdin)
            channel.shutdown_write()

    threading.Thread(target=send, daemon=True).start()


def _drain(
    channel: paramiko.Channel, out: CappedBuffer, err: CappedBuffer, deadline: float
) -> bool:
    """Read both streams until the command ends; False when the deadline passed first."""
    while True:
        while channel.recv_ready():
            out.write(channel.recv(_CHUNK))
        while channel.recv_stderr_ready():
            err.write(channel.recv_stderr(_CHUNK))
        if (
            channel.exit_status_ready()
            and channel.eof_received
            and not (channel.recv_ready() or channel.recv_stderr_ready())
        ):
            return True
        if should_stop(deadline):
            return False
        select.select([channel], [], [], min(max(deadline - time.monotonic(), 0), 0.2))
