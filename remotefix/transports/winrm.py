"""WinRM transport: Windows targets over WS-Management with pywinrm.

    winrm://user@host[:port][?transport=ntlm|basic|kerberos|credssp&scheme=https|http
                             &cert=validate|ignore&ca=/path/ca.pem]

Defaults: HTTPS on 5986, NTLM, certificate validation on (``remotefix.transports._winrm_settings``
has the rules). The password comes from the ``password`` argument, else from the environment
(``password_from_env``): never from the address or the command line.

One remote shell is opened on the first command and reused for all of them; ``close()`` deletes
it. ``run`` sends PowerShell as ``-EncodedCommand``; ``run_cmd`` runs a cmd.exe command line.
``read_file`` streams the file as base64 lines from a small PowerShell reader, capped.
All pywinrm / requests / pyspnego exceptions are translated in ``translate_errors``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence

from winrm.protocol import Protocol

from remotefix import interrupt
from remotefix.errors import AuthError, TransportError
from remotefix.result import DEFAULT_OUTPUT_CAP, CommandResult
from remotefix.targets import Target
from remotefix.transports._killable import raise_if_interrupted
from remotefix.transports._winrm_errors import Peer, translate_errors
from remotefix.transports._winrm_parse import clixml_to_text
from remotefix.transports._winrm_scripts import (
    POWERSHELL,
    STDIN_BOOTSTRAP,
    encode_powershell,
    fits_command_line,
    powershell_arguments,
    read_file_script,
    read_output_cap,
    remote_file_from_base64,
)
from remotefix.transports._winrm_settings import (
    CertificateValidationDisabled,
    WinRMSettings,
    settings_for,
)
from remotefix.transports._winrm_shell import RemoteShell
from remotefix.transports.base import (
    DEFAULT_COMMAND_TIMEOUT,
    BaseTransport,
    CappedBuffer,
    RemoteFile,
    collected_result,
)

__all__ = [
    "PASSWORD_ENV_VARS",
    "CertificateValidationDisabled",
    "WinRMTransport",
    "encode_powershell",
    "password_from_env",
]

PASSWORD_ENV_VARS = ("REMOTEFIX_WINRM_PASSWORD", "REMOTEFIX_PASSWORD")
log = logging.getLogger(__name__)


def password_from_env() -> str | None:
    """The WinRM password from ``REMOTEFIX_WINRM_PASSWORD``, else ``REMOTEFIX_PASSWORD``."""
    for name in PASSWORD_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return None


class WinRMTransport(BaseTransport):
    """Commands on a Windows host through one reused WinRM shell. See the module docstring."""

    shell = "powershell"

    def __init__(
        self,
        target: Target,
        *,
        password: str | None = None,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        operation_timeout: float = 20,
        read_timeout: float = 30,
        connect_timeout: float = 10,
    ) -> None:
        super().__init__(target, output_cap=output_cap)
        if not 1 <= operation_timeout < read_timeout or connect_timeout <= 0:
            raise ValueError("need 1 <= operation_timeout < read_timeout and connect_timeout > 0")
        self.settings: WinRMSettings = settings_for(target)
        self.operation_timeout = operation_timeout
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self._password = password if password is not None else password_from_env()
        self._shell: RemoteShell | None = None
        self._peer = Peer(
            endpoint=self.settings.endpoint,
            host=self.settings.host,
            port=self.settings.port,
            user=self.settings.user,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

    def run_cmd(
        self, command: str, *, timeout: float = DEFAULT_COMMAND_TIMEOUT, stdin: bytes | None = None
    ) -> CommandResult:
        """Run a cmd.exe command line (``run`` is for PowerShell)."""
        self._ensure_open()
        return self._execute(command, command, (), timeout=timeout, stdin=stdin)

    def read_file(self, path: str, *, max_bytes: int = DEFAULT_OUTPUT_CAP) -> RemoteFile:
        """Read at most ``max_bytes`` of ``path``; ``truncated`` tells when there was more."""
        self._ensure_open()
        result = self._powershell(
            f"read_file {path}",
            read_file_script(path, max_bytes + 1),
            timeout=DEFAULT_COMMAND_TIMEOUT,
            stdin=None,
            cap=read_output_cap(max_bytes + 1),
        )
        return remote_file_from_base64(result, path, max_bytes)

    def _connect(self) -> None:
        if self._password is None:
            raise AuthError(
                f"no password for {self.settings.user}@{self.settings.endpoint}",
                hint="set REMOTEFIX_WINRM_PASSWORD (or REMOTEFIX_PASSWORD)",
            )
        with translate_errors(self._peer):
            self._shell = RemoteShell.open(self._protocol(), self.operation_timeout)

    def _protocol(self) -> Protocol:
        s = self.settings
        protocol = Protocol(
            endpoint=s.endpoint,
            transport=s.auth,  # type: ignore[arg-type]
            username=s.user,
            password=self._password,
            server_cert_validation="validate" if s.validate_cert else "ignore",
            ca_trust_path=s.ca_path,  # type: ignore[arg-type]  # None: requests' own CA bundle
            read_timeout_sec=math.ceil(self.read_timeout),
            operation_timeout_sec=max(1, math.floor(self.operation_timeout)),
            message_encryption="auto",
            proxy=None,
        )
        # pywinrm uses one number for connect and read; requests takes a (connect, read) pair.
        protocol.transport.read_timeout_sec = (self.connect_timeout, self.read_timeout)  # type: ignore[assignment]
        return protocol

    def _run(self, command: str, *, timeout: float, stdin: bytes | None, cap: int) -> CommandResult:
        return self._powershell(command, command, timeout=timeout, stdin=stdin, cap=cap)

    def _powershell(
        self, command: str, script: str, *, timeout: float, stdin: bytes | None, cap: int = 0
    ) -> CommandResult:
        """Run ``script`` with powershell.exe; its CLIXML error stream comes back as text.

        A script longer than a command line may be (8191) goes through stdin behind a short
        bootstrap, when stdin is free (ASCII scripts: stdin is read in the console code page)."""
        if stdin is None and not fits_command_line(script):
            script, stdin = STDIN_BOOTSTRAP, script.encode("utf-8")
        args = powershell_arguments(script)
        result = self._execute(command, POWERSHELL, args, timeout=timeout, stdin=stdin, cap=cap)
        return dataclasses.replace(result, stderr=clixml_to_text(result.stderr))

    def _execute(
        self,
        command: str,
        executable: str,
        arguments: Sequence[str],
        *,
        timeout: float,
        stdin: bytes | None,
        cap: int = 0,
    ) -> CommandResult:
        if self._shell is None:
            raise TransportError(f"no WinRM shell open on {self.settings.endpoint}")
        interrupt.check("command")
        stdout, stderr = CappedBuffer(cap or self.output_cap), CappedBuffer(self.output_cap)
        started = time.monotonic()
        with translate_errors(self._peer):
            code = self._shell.execute(
                executable,
                arguments,
                stdin=stdin,
                deadline=started + timeout,
                stdout=stdout,
                stderr=stderr,
            )
        if code is None:
            raise_if_interrupted(command)
        return collected_result(command, code, stdout, stderr, started, timed_out=code is None)

    def _disconnect(self) -> None:
        shell, self._shell = self._shell, None
        if shell is None:
            return
        try:
            with translate_errors(self._peer):
                shell.close()
        except TransportError as exc:
            # Closing must not fail: the host frees an idle shell by itself (IdleTimeout).
            log.debug("deleting the WinRM shell on %s failed: %s", self.settings.endpoint, exc)
