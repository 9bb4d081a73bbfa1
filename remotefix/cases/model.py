"""Known-issue case files (``labs/known-issues/*.yaml``): load and validate.

Format (unknown keys are errors, so a typo never silently weakens a case)::

    id: KI-0001
    title: pip refuses system-wide installs (externally-managed-environment)
    severity: medium                      # low | medium | high | critical
    summary: ...
    matrix: [debian:11, debian:12, debian:13]
    lab: {packages: {python3-pip: "*"}, files: {...}, setup: [...], services: [...]}
    repro:
      - run: pip3 install --no-index rfx-probe
        timeout: 120
        expect: {exit_code: nonzero, output_contains: externally-managed-environment}
      - file: /etc/foo.conf              # file state
        expect: {exists: true, contains: "x"}
    reproduces_on: {debian:11: false, debian:12: true, debian:13: true}
    match:                                # triage: the environment the problem needs
      os: {distro: debian, version: ">=12"}
      packages: {python3-pip: "*"}        # "*" installed; or ranges ">=20.3, <24"
    signatures:                           # triage: what only an affected machine shows
      - {name: pip refused, members: ["commands/logs/*.out"], matches: "externally-managed"}
    include: [/etc/myapp/*.yml]           # diagnose --known KI-0001 also collects these files
    fixed_in: {python3-pip: null}         # package → first fixed version (null: not fixed)
    workaround: Use a virtual environment.
    fix: playbooks/ki-0004-dpkg-configure.yml
    references: [https://peps.python.org/pep-0668/]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remotefix._yaml import load_yaml
from remotefix.cases.signatures import Signature, parse_signatures
from remotefix.collect.include import include_collector
from remotefix.errors import ConfigError
from remotefix.lab.spec import LabSpec, parse_spec
from remotefix.resources import data_dir

SEVERITIES = ("low", "medium", "high", "critical")
_KEYS = {"id", "title", "severity", "summary", "matrix", "lab", "repro", "reproduces_on", "match",
         "signatures", "include", "fixed_in", "workaround", "fix", "references"}  # fmt: skip
_REQUIRED = ("id", "title", "matrix", "repro", "reproduces_on")
_STEP_KEYS = {"run", "file", "timeout", "expect", "name"}
_EXPECT_KEYS = {"exit_code", "output_contains", "output_not_contains", "output_matches",
                "exists", "contains"}  # fmt: skip
_MATCH_KEYS = {"os", "packages"}
_ID = re.compile(r"^[A-Z][A-Z0-9]*-[0-9]{3,}$")
_RANGE = re.compile(r"^\s*(\*|(?:(?:>=|<=|>>|<<|>|<|=|==|!=)\s*[0-9][A-Za-z0-9.+~:-]*\s*,?\s*)+)$")


@dataclass(frozen=True)
class Step:
    """One repro step: a command (``run``) or a file check (``file``) and what to expect."""

    name: str
    run: str | None = None
    file: str | None = None
    timeout: float = 120.0
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    path: Path
    matrix: tuple[str, ...]
    repro: tuple[Step, ...]
    reproduces_on: dict[str, bool]
    lab: dict[str, Any] = field(default_factory=dict)
    severity: str = "medium"
    summary: str = ""
    match: dict[str, Any] = field(default_factory=dict)
    signatures: tuple[Signature, ...] = ()
    include: tuple[str, ...] = ()
    """The application's files ``diagnose --known`` collects (bounded like ``--include``)."""
    fixed_in: dict[str, str | None] = field(default_factory=dict)
    workaround: str = ""
    fix: str | None = None
    references: tuple[str, ...] = ()

    def lab_spec(self, base: str) -> LabSpec:
        """The lab this case reproduces on, for one matrix entry."""
        return parse_spec(
            {**self.lab, "base": base}, where=f"{self.path}: lab", folder=self.path.parent
        )


def cases_dir() -> Path:
    return data_dir("labs") / "known-issues"


def load_case(path: Path) -> KnownIssue:
    raw = load_yaml(path)
    where = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a case is a mapping (id, title, matrix, repro, ...)")
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          hint=f"allowed: {', '.join(sorted(_KEYS))}")  # fmt: skip
    missing = [k for k in _REQUIRED if raw.get(k) in (None, "", [], {})]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    case_id = str(raw["id"])
    if not _ID.match(case_id):
        raise ConfigError(f"{where}: id {case_id!r} must look like KI-0001")
    matrix = tuple(_strings(where, "matrix", raw["matrix"]))
    reproduces = _reproduces(where, raw["reproduces_on"], matrix)
    severity = str(raw.get("severity", "medium"))
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    lab = raw.get("lab") or {}
    if not isinstance(lab, dict) or "base" in lab:
        raise ConfigError(f"{where}: lab must be a mapping without 'base' (the matrix gives it)")
    case = KnownIssue(
        id=case_id, title=str(raw["title"]), path=path.resolve(), matrix=matrix,
        repro=tuple(_step(where, i, s) for i, s in enumerate(_list(where, "repro", raw["repro"]))),
        reproduces_on=reproduces, lab=lab, severity=severity, summary=str(raw.get("summary", "")),
        match=_match(where, raw.get("match") or {}),
        signatures=parse_signatures(where, raw.get("signatures")),
        include=_include(where, raw.get("include")),
        fixed_in=_fixed_in(where, raw.get("fixed_in")),
        workaround=str(raw.get("workaround", "")), fix=raw.get("fix"),
        references=tuple(_strings(where, "references", raw.get("references") or [])),
    )  # fmt: skip
    for base in matrix:
        case.lab_spec(base)  # validates the lab part (packages, files, setup) per base
    return case


def load_cases(sources: list[str] | None = None) -> list[KnownIssue]:
    """Cases from ids, files or folders (default: every shipped case), sorted by id."""
    paths: list[Path] = []
    for source in sources or [str(cases_dir())]:
        path = Path(source)
        if path.is_dir():
            paths += sorted(path.glob("*.yaml"))
        elif path.is_file():
            paths.append(path)
        elif "/" in source or path.suffix in (".yaml", ".yml"):
            raise ConfigError(f"no such file: {source}", hint="check the path (or give a case id)")
        else:
            paths.append(_by_id(source))
    cases = [load_case(p) for p in paths]
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen and seen[case.id] != case.path:
            raise ConfigError(f"case id {case.id} is used twice: {seen[case.id]} and {case.path}")
        seen[case.id] = case.path
    return sorted({c.id: c for c in cases}.values(), key=lambda c: c.id)


def _by_id(case_id: str) -> Path:
    for path in sorted(cases_dir().glob("*.yaml")):
        raw = load_yaml(path)
        if isinstance(raw, dict) and str(raw.get("id")) == case_id:
            return path
    raise ConfigError(f"unknown case {case_id!r}", hint="see: remotefix case ls")


def _list(where: str, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list")
    return value


def _strings(where: str, key: str, value: Any) -> list[str]:
    items = _list(where, key, value)
    if not all(isinstance(v, str) and v for v in items):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return items


def _reproduces(where: str, value: Any, matrix: tuple[str, ...]) -> dict[str, bool]:
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise ConfigError(f"{where}: reproduces_on must map each matrix entry to true/false")
    out = {str(k): bool(v) for k, v in value.items()}
    if set(out) != set(matrix):
        raise ConfigError(f"{where}: reproduces_on must name exactly the matrix entries "
                          f"({', '.join(matrix)})")  # fmt: skip
    return out


def _step(where: str, index: int, raw: Any) -> Step:
    at = f"{where}: repro[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: a step is a mapping with 'run' or 'file'")
    unknown = sorted(set(raw) - _STEP_KEYS)
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}")
    if bool(raw.get("run")) == bool(raw.get("file")):
        raise ConfigError(f"{at}: give exactly one of 'run' (a command) or 'file' (a path)")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict) or set(expect) - _EXPECT_KEYS:
        raise ConfigError(f"{at}: expect may hold {', '.join(sorted(_EXPECT_KEYS))}")
    code = expect.get("exit_code")
    if code is not None and not (isinstance(code, int) or code in ("zero", "nonzero")):
        raise ConfigError(f"{at}: expect.exit_code must be a number, 'zero' or 'nonzero'")
    if "output_matches" in expect:
        try:
            re.compile(str(expect["output_matches"]))
        except re.error as exc:
            raise ConfigError(
                f"{at}: expect.output_matches: bad regular expression: {exc}"
            ) from exc
    timeout = raw.get("timeout", 120)
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise ConfigError(f"{at}: timeout must be 1..3600 seconds")
    name = str(raw.get("name") or raw.get("run") or f"file {raw.get('file')}")[:80]
    return Step(name, raw.get("run"), raw.get("file"), float(timeout), dict(expect))


def _match(where: str, raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict) and "evidence" in raw:
        raise ConfigError(
            f"{where}: match.evidence is now a top-level 'signatures' list",
            hint="signatures: [{name, members: [globs], matches: regex}]",
        )
    if not isinstance(raw, dict) or set(raw) - _MATCH_KEYS:
        raise ConfigError(f"{where}: match may hold {', '.join(sorted(_MATCH_KEYS))}")
    os_rule = raw.get("os") or {}
    if not isinstance(os_rule, dict) or set(os_rule) - {"distro", "version"}:
        raise ConfigError(f"{where}: match.os may hold distro and version")
    if "version" in os_rule and not _RANGE.match(str(os_rule["version"])):
        raise ConfigError(
            f"{where}: match.os.version {os_rule['version']!r} is not a range like >=12"
        )
    packages = raw.get("packages") or {}
    if not isinstance(packages, dict):
        raise ConfigError(f"{where}: match.packages must map package → version range")
    for name, spec in packages.items():
        if not _RANGE.match(str(spec)):
            raise ConfigError(f"{where}: match.packages.{name}: {spec!r} is not a range like "
                              "\"*\" or \">=1.2, <2\"")  # fmt: skip
    return dict(raw)


def _include(where: str, raw: Any) -> tuple[str, ...]:
    globs = tuple(_strings(where, "include", raw or []))
    include_collector(globs, where=f"{where}: include")  # the bounds of diagnose --include
    return globs


def _fixed_in(where: str, raw: Any) -> dict[str, str | None]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: fixed_in must map package → first fixed version (or null)")
    return {str(k): (None if v is None else str(v)) for k, v in raw.items()}
