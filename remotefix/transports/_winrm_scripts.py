"""The PowerShell the WinRM transport sends: encoded commands and the chunked file reader.

``encode_powershell`` makes the ``-EncodedCommand`` argument (UTF-16LE, base64), so a script
reaches powershell.exe byte for byte whatever quotes or non-ASCII text it holds.

``read_file_script`` reads a file in chunks and prints each chunk as one base64 line on stdout,
at most ``limit`` bytes in all; its exit code says why it could not (``MISSING``…).
``remote_file_from_base64`` turns that output back into a ``RemoteFile``.
"""

from __future__ import annotations

import base64
import binascii
import math

from remotefix.errors import TransportError
from remotefix.result import CommandResult
from remotefix.transports.base import RemoteFile, raise_for_read

POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive")
"""No ``-ExecutionPolicy Bypass``: it does not apply to encoded commands, the host's policy for
modules stands, and endpoint protection flags that combination."""
MAX_COMMAND_LINE = 8191
"""cmd.exe's limit: WinRM starts every command through ``cmd.exe /c``."""

READ_FILE_MARKER = "# remotefix read_file v1"
READ_CHUNK = 192 * 1024
"""Bytes per base64 line (a multiple of 3, so every line but the last has no padding)."""

MISSING, UNREADABLE, NOT_FILE = 201, 202, 203

_READ_FILE_PS = """{marker}
$ErrorActionPreference = 'Stop'
$path = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{path_b64}'))
$left = [long]{limit}
if (Test-Path -LiteralPath $path -PathType Container) {{ exit {not_file} }}
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {{ exit {missing} }}
$path = (Resolve-Path -LiteralPath $path).ProviderPath
try {{ $stream = [IO.File]::Open($path, 'Open', 'Read', 'ReadWrite') }} catch {{
  $e = $_.Exception; while ($e.InnerException) {{ $e = $e.InnerException }}
  if ($e -is [UnauthorizedAccessException]) {{ exit {unreadable} }}
  [Console]::Error.WriteLine($e.Message); exit 1
}}
try {{
  $buffer = New-Object byte[] {chunk}
  while ($left -gt 0) {{
    $n = $stream.Read($buffer, 0, [int][Math]::Min($buffer.Length, $left))
    if ($n -le 0) {{ break }}
    [Console]::Out.WriteLine([Convert]::ToBase64String($buffer, 0, $n))
    $left -= $n
  }}
}} finally {{ $stream.Dispose() }}
exit 0
"""


def encode_powershell(script: str) -> str:
    """The ``-EncodedCommand`` value for ``script``: base64 of its UTF-16LE bytes."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


STDIN_BOOTSTRAP = (
    "# remotefix stdin script v1\n"
    "$rfxScript = [Console]::In.ReadToEnd()\n"
    "& ([scriptblock]::Create($rfxScript))\n"
    "exit $LASTEXITCODE\n"
)
"""Runs a script too long for a command line: the script itself comes through stdin (Send)."""


def fits_command_line(script: str) -> bool:
    encoded = encode_powershell(script)
    args = (*POWERSHELL_ARGS, "-EncodedCommand", encoded)
    return len(POWERSHELL) + sum(len(a) + 1 for a in args) <= MAX_COMMAND_LINE


def powershell_arguments(script: str) -> tuple[str, ...]:
    """Arguments of ``powershell.exe`` running ``script``; refuses what cmd.exe would cut."""
    encoded = encode_powershell(script)
    args = (*POWERSHELL_ARGS, "-EncodedCommand", encoded)
    length = len(POWERSHELL) + sum(len(a) + 1 for a in args)
    if length > MAX_COMMAND_LINE:
        raise TransportError(
            f"PowerShell script too long for a WinRM command line "
            f"({len(script)} characters encode to {length} > {MAX_COMMAND_LINE})",
            hint="split it into smaller commands",
        )
    return args


def read_file_script(path: str, limit: int) -> str:
    """PowerShell printing at most ``limit`` bytes of ``path`` as base64 lines."""
    return _READ_FILE_PS.format(
        marker=READ_FILE_MARKER,
        path_b64=base64.b64encode(path.encode("utf-8")).decode("ascii"),
        limit=limit,
        chunk=READ_CHUNK,
        missing=MISSING,
        unreadable=UNREADABLE,
        not_file=NOT_FILE,
    )


def read_output_cap(limit: int) -> int:
    """Stdout bytes the read script prints for ``limit`` bytes (base64 plus CR LF per line)."""
    lines = max(1, math.ceil(limit / READ_CHUNK))
    return 4 * math.ceil(limit / 3) + 4 * lines + 2 * lines + 1024


def remote_file_from_base64(result: CommandResult, path: str, max_bytes: int) -> RemoteFile:
    """Turn the read script's result (limit ``max_bytes + 1``) into a ``RemoteFile``."""
    reasons = {
        MISSING: "no such file",
        UNREADABLE: "access denied (needs an administrator, or a user with read rights)",
        NOT_FILE: "is a directory",
    }
    raise_for_read(result, path, reasons)
    try:
        data = b"".join(base64.b64decode(line, validate=True) for line in result.stdout.split())
    except binascii.Error as exc:
        raise TransportError(f"reading {path}: the reader's output is not base64") from exc
    return RemoteFile(path=path, data=data[:max_bytes], truncated=len(data) > max_bytes)
