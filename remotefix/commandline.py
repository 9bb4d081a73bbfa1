"""The words after ``--`` (``run``, ``lab exec``) as the command line a target's shell runs.

One rule, like ``docker exec`` and unlike ssh(1), which joins words with spaces:

- several words are an argv: each word reaches the command as it was typed (quoted for the
  target's shell), so ``-- dpkg-query -W -f '${Version}' nginx`` works as written;
- a single word is a shell command line: ``-- 'ps aux | grep nginx'`` runs a pipeline.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from remotefix.errors import TargetError
from remotefix.targets import Target


def powershell_quote(word: str) -> str:
    """A PowerShell single-quoted literal (only ``'`` needs doubling)."""
    return "'" + word.replace("'", "''") + "'"


def check_words(words: Sequence[str]) -> None:
    if not words:
        raise TargetError("no command given", hint="put it after --, e.g. -- uname -a")


def command_line(words: Sequence[str], target: Target) -> str:
    """The command line for ``target``'s shell (POSIX sh, or PowerShell over WinRM)."""
    check_words(words)
    if len(words) == 1:
        return words[0]
    if target.connection == "winrm":
        return "& " + " ".join(powershell_quote(w) for w in words)
    return shlex.join(words)
