"""A knowledge-base draft from a case's dossier, and a known-issue skeleton for a new problem.

The draft says only what the dossier shows: the symptom as collected (redacted), the
environment it was seen on, the known issue's cause and remedy, and how the fix was verified.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from remotefix.cases.model import KnownIssue, load_cases
from remotefix.report.dossier import Dossier
from remotefix.report.render import render

SKELETON_ID = "KI-9000"


def known_issue(d: Dossier) -> KnownIssue | None:
    """The known issue the case is about: reproduced first, else the best triage match."""
    cases = {c.id: c for c in load_cases(None)}
    for ref in [r.case for r in d.repros if r.verdict == "REPRODUCED"] + [
        t.case for t in d.triage if t.state == "affected"
    ]:
        if ref in cases:
            return cases[ref]
    return None


def kb_article(d: Dossier) -> str:
    """The article in Markdown: symptom, environment, cause, resolution, verification, re-run."""
    issue = known_issue(d)
    return render("kb.md.j2", d=d, issue=issue, environment=environment(d, issue))


def environment(d: Dossier, issue: KnownIssue | None) -> list[str]:
    """Lines naming the OS and the packages the known issue's rule looks at, as collected."""
    if not d.bundles:
        return []
    fp = d.bundles[0].fingerprint
    lines = [f"{fp.get('os', {}).get('pretty_name', 'unknown OS')}, kernel {fp.get('kernel', '?')}"]
    packages: dict[str, str] = fp.get("packages") or {}
    wanted = list((issue.match.get("packages") or {}) if issue else {})
    lines += [f"{name} {packages[name]}" for name in wanted if name in packages]
    return lines


def case_skeleton(d: Dossier) -> str:
    """A case file prefilled with the environment and the symptom seen, for a person to finish."""
    fp = d.bundles[0].fingerprint if d.bundles else {}
    os_info = fp.get("os") or {}
    base = (
        f"{os_info.get('id', 'debian')}:{os_info.get('major') or os_info.get('version_id', '12')}"
    )
    seen = [e for t in d.triage for e in t.evidence][:3]
    data: dict[str, Any] = {
        "id": SKELETON_ID,
        "title": f"New problem seen in case {d.case}",
        "severity": "medium",
        "summary": f"Seen on {os_info.get('pretty_name', base)} in case {d.case}: describe why.",
        "matrix": [base],
        "lab": {"packages": {}, "setup": []},
        "repro": [{"run": "true", "timeout": 60, "expect": {"exit_code": 0}}],
        "reproduces_on": {base: True},
        "match": {"os": {"distro": os_info.get("id", "debian")}},
        "fixed_in": {},
        "workaround": "",
        "references": [],
    }
    if os_info.get("major"):
        data["match"]["os"]["version"] = f"={os_info['major']}"
    signatures = [
        {
            "name": f"seen in case {d.case}: {e.member}",
            "members": [e.member],
            "matches": re.escape(e.excerpt.strip().splitlines()[0][:120]),
        }
        for e in seen
        if e.excerpt.strip()
    ]
    if signatures:
        data["signatures"] = signatures
    header = (
        f"# Drafted by `remotefix kb draft {d.case} --case-file`: rename the id ({SKELETON_ID}),\n"
        "# write the repro step that shows the problem, then `remotefix case lint` this file.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
