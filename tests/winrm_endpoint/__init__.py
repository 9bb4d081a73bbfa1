"""A small WS-Management (WinRM) server on 127.0.0.1 for testing the WinRM transport.

No Windows host exists in this test environment; this endpoint stands in for one.

What it speaks, for real, over real HTTP(S) sockets:
  * SOAP 1.2 envelopes of the ``.../windows/shell/cmd`` resource: Create, Command, Send,
    Receive, Signal (terminate / ctrl_c), Delete — answers shaped like the responses recorded from
    Windows hosts (``../shared/winrm-recordings``), ``RelatesTo`` echoing the request.
  * Receive as Windows does it: base64 ``rsp:Stream`` pieces (several per answer, at most 64 KiB
    an answer, so big output takes many Receives), ``CommandState Running`` until the end, then
    ``End`` streams and ``CommandState Done`` with ``ExitCode``. A Receive long-polls for its
    ``OperationTimeout`` and answers HTTP 500 ``w:TimedOut`` (WSManFault 2150858793) when no
    output came — the fault pywinrm turns into ``WinRMOperationTimeoutError``.
  * Faults: ``w:InvalidSelectors`` (2150858843) for an unknown ShellId or CommandId,
    ``ActionNotSupported``, unknown resource URI; its own failures as ``w:InternalError``.
  * Auth: NTLM (pyspnego's acceptor, offered as ``Negotiate`` like Windows, connection-based)
    with [MS-WSMV] message encryption (``multipart/encrypted``,
    ``application/HTTP-SPNEGO-session-encrypted``) on HTTP; on HTTPS, NTLM with channel binding
    checks, and Basic. A throw-away CA and server certificate are made per endpoint. A wrong
    password or user gets HTTP 401.
  * Signal terminate kills the command's whole process group (tests can check it died).

What it does NOT do (only a real Windows host proves these):
  * It runs commands with ``/bin/sh -c``, not PowerShell or cmd.exe. ``run()`` scripts are
    decoded from ``-EncodedCommand`` (so the UTF-16LE/base64 encoding is exercised) and given to
    the POSIX shell: tests write POSIX where a real host gets PowerShell. PowerShell semantics,
    CLIXML error streams, code pages, quoting rules and the 8191-character cmd.exe limit are not
    exercised here (CLIXML is tested against a recorded Windows response instead).
  * The transport's read_file PowerShell is *not executed*: the endpoint recognises that one
    script (``# remotefix read_file v1``), takes the path, byte limit and exit codes from its text
    and runs the POSIX equivalent (``head -c LIMIT | base64``) with the same output contract.
    Whether the PowerShell itself works (Test-Path, access denied on ACLs) is untested here;
    "access denied" is produced for real by running the commands as an unprivileged user
    (``endpoint.service.run_as = "nobody"``) on a file that user cannot read.
  * The PowerShell collection script of ``remotefix diagnose`` (first line ``# remotefix
    collection script``) is *not executed* either: a test may set
    ``commands.COLLECTION_REPLAY["output"]`` to a recorded output (the Windows fixtures in
    ``tests/fixtures/windows`` rendered to the script's frame), which the endpoint then returns
    as the command's stdout. That proves transport, framing, parsing, redaction, bundle and
    fingerprint over WinRM; it does not prove the PowerShell collectors themselves.
  * No Kerberos, CredSSP, certificate auth, WinRM quotas, MaxEnvelopeSize enforcement, shell
    idle timeouts, PowerShell remoting (PSRP), or Windows-specific fault texts beyond those above.
  * Console-mode stdin (``WINRS_CONSOLEMODE_STDIN=TRUE``) is modelled as an already closed stdin.
"""

from tests.winrm_endpoint.server import WinRMEndpoint

__all__ = ["WinRMEndpoint"]
