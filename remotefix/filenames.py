"""File names made from names we do not control (target names, case ids): one safe component.

A name made only of ``A-Z a-z 0-9 . _ -`` (not starting with a dot, at most 100 characters) is
used as it is. Any other name is cleaned (every other character becomes ``_``) and gets the
first 10 hex digits of its SHA-256 appended, so ``web 1`` and ``web_1`` never share a file
(``web_1-<hash>`` and ``web_1``), and neither can a name and a cleaned look-alike of it.
Names that differ only in letter case stay distinct names; on a case-insensitive file system
(macOS, Windows) give such targets distinct names in the inventory.
"""

from __future__ import annotations

import hashlib
import re

_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_OTHER = re.compile(r"[^A-Za-z0-9._-]")
_HASH_DIGITS = 10


def safe_name(text: str) -> str:
    """``text`` as one harmless path component, distinct for distinct texts."""
    if _PLAIN.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_DIGITS]
    cleaned = _OTHER.sub("_", text).lstrip(".")[:80]
    return f"{cleaned}-{digest}" if cleaned else digest
