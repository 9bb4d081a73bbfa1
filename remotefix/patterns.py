"""Ansible host patterns for ``--limit``: ``all``, ``group``, ``host``, globs, ``~regex``,
``a:b`` / ``a,b`` (union), ``a:&b`` (intersection), ``a:!b`` (exclusion).

As in Ansible, unions are taken first, then intersections, then exclusions, whatever their order.
"""

from __future__ import annotations

import fnmatch
import re

from remotefix.errors import TargetError
from remotefix.targets import Target


def select(targets: list[Target], pattern: str) -> list[Target]:
    """The targets ``pattern`` selects, in inventory order; nothing selected is an error."""
    terms = [t.strip() for t in re.split(r"[:,]", pattern) if t.strip()]
    union = [t for t in terms if t[0] not in "&!"]
    chosen: set[str] = set()
    for term in union or ["all"]:
        chosen |= _match(targets, term)
    for term in (t[1:] for t in terms if t[0] == "&"):
        chosen &= _match(targets, term)
    for term in (t[1:] for t in terms if t[0] == "!"):
        chosen -= _match(targets, term)
    selected = [t for t in targets if t.name in chosen]
    if not selected:
        raise TargetError(
            f"--limit {pattern!r} matches no host", hint="see `remotefix targets ls -i INVENTORY`"
        )
    return selected


def _match(targets: list[Target], term: str) -> set[str]:
    if term in ("all", "*"):
        return {t.name for t in targets}
    if term.startswith("~"):
        regex = re.compile(term[1:])
        return {t.name for t in targets if regex.match(t.name) or any(map(regex.match, t.groups))}
    return {
        t.name
        for t in targets
        if fnmatch.fnmatchcase(t.name, term) or any(fnmatch.fnmatchcase(g, term) for g in t.groups)
    }
