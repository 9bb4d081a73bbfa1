"""Last-line-of-defence scrub of secrets in a command line before it is written to the audit log.

Callers redact commands themselves; this catches what slips through. It runs the same rules and
engine as bundle redaction (``remotefix.collect.redaction.yaml``), with ``***`` as the mask, so the
audit still says *that* a password was passed: ``mysql -p***``, ``token=***``,
``https://user:***@host``. Harmless text that merely mentions a secret word
(``PasswordAuthentication no``, ``apt-get install passwd``, ``--password-stdin``) is left alone.
"""

from __future__ import annotations

from remotefix.collect.redact import default_rules
from remotefix.collect.redact_engine import redact_bytes

MASK = "***"


def scrub_command(text: str) -> str:
    """Return ``text`` with password/token/secret values masked as ``***``."""
    data = text.encode("utf-8", "surrogateescape")
    clean, _ = redact_bytes(default_rules(), data, mask=lambda _rule: MASK.encode())
    return clean.decode("utf-8", "surrogateescape")
