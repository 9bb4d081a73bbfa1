"""Last-line-of-defence scrub of secrets in a command line before it is written to the audit log.

Callers redact commands themselves; this catches what slips through. It masks values, never
names, so the audit still says *that* a password was passed: ``mysql -p***``, ``token=***``,
``https://user:***@host``. It leans towards masking: a false positive costs a few characters of
audit detail, a false negative leaks a secret into a permanent, append-only file. Harmless text
that merely mentions a secret word (``PasswordAuthentication no``, ``apt-get install passwd``,
``--password-stdin``) is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MASK = "***"

# Every pattern that starts with a repeated class is anchored by a lookbehind to the start of a
# run of that class: unanchored, a 50 kB command made the scrub quadratic (minutes).
# A value: a quoted string, or a run of characters up to whitespace or a shell/URL separator.
_VALUE = r"""(?:'[^']*'|"[^"]*"|[^\s&;|'"]+)"""
# Names that end in one of these hold a secret: DB_PASSWORD, access_token, --api-key, …
_SENSITIVE_NAME = (
    r"(?:password|passwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|secret[_-]?key|storepass|keypass|mysql_pwd)"
)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:pass@host
    (re.compile(r"((?<![\w+.-])[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s/]+@"), rf"\1{MASK}@"),
    # Authorization: Basic xxx / Bearer xxx / a bare value
    (
        re.compile(r"(?i)(\bauthorization\s*:\s*(?:(?:basic|bearer|token|digest)\s+)?)[^\s'\"]+"),
        rf"\1{MASK}",
    ),
    # password=…, PGPASSWORD=…, --password=…, ?api_key=…&
    (re.compile(rf"(?i)((?<![\w.-])[\w.-]*{_SENSITIVE_NAME}\s*=\s*){_VALUE}"), rf"\1{MASK}"),
    # --password VALUE, -Password VALUE (PowerShell), --api-key VALUE; not when VALUE is an option
    (re.compile(rf"(?i)((?<!\S)--?[\w-]*{_SENSITIVE_NAME}\s+)(?!-){_VALUE}"), rf"\1{MASK}"),
    # openssl -passin pass:SECRET
    (re.compile(rf"(\bpass:){_VALUE}"), rf"\1{MASK}"),
    # ConvertTo-SecureString 'secret' -AsPlainText
    (re.compile(rf"(?i)(\bConvertTo-SecureString\s+(?:-String\s+)?){_VALUE}"), rf"\1{MASK}"),
    # sshpass -p SECRET / sshpass -pSECRET
    (re.compile(rf"(\bsshpass\s+(?:-[a-oq-zA-Z]\S*\s+)*-p\s*){_VALUE}"), rf"\1{MASK}"),
)

# Short options whose meaning depends on the program (ssh -p2222 and cp -pr are harmless), so
# they are masked only inside a segment (up to the next | ; & or newline) of that program.
_SEGMENT_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (  # mysql -pSECRET (glued; a bare -p prompts)
        re.compile(r"\b(?:mysql\w*|mariadb\w*)\b[^|;&\n]*"),
        re.compile(rf"(?<=\s)-p(?!\s){_VALUE}"),
        f"-p{MASK}",
    ),
    (  # curl -u user:SECRET
        re.compile(r"\bcurl\b[^|;&\n]*"),
        re.compile(rf"((?<=\s)(?:-u|--user)[\s=]*[^:\s'\"]*:){_VALUE}"),
        rf"\1{MASK}",
    ),
    (  # redis-cli -a SECRET
        re.compile(r"\bredis-cli\b[^|;&\n]*"),
        re.compile(rf"((?<=\s)-a\s+){_VALUE}"),
        rf"\1{MASK}",
    ),
)


_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


def scrub_command(text: str) -> str:
    """Return ``text`` with password/token/secret values masked as ``***``."""
    text = _mask_private_keys(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    for segment, pattern, replacement in _SEGMENT_RULES:
        text = segment.sub(_within(pattern, replacement), text)
    return text


def _within(pattern: re.Pattern[str], replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` callback applying ``pattern`` only inside the matched segment."""
    return lambda segment: pattern.sub(replacement, segment.group(0))


def _mask_private_keys(text: str) -> str:
    """Mask PEM private key bodies; an unterminated one is masked to the end of the text."""
    out, pos = [], 0
    while begin := _KEY_BEGIN.search(text, pos):
        out.append(text[pos : begin.end()] + MASK)
        end = _KEY_END.search(text, begin.end())
        pos = end.start() if end else len(text)
    out.append(text[pos:])
    return "".join(out)
