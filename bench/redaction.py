"""Recall and over-redaction of the redaction engine per format family (tests/data/secrets/).

Recall: share of planted secret values gone after redaction. Over-redaction: share of look-alike
lines (references, placeholders, setting names, public keys, checksums…) that changed. "broken":
YAML/JSON samples that no longer parse. The same corpus gates CI (tests/test_redact.py).

Well-kept detectors are scored on the same corpus when importable, as "redactors" that mask every
value they report: detect-secrets (Yelp, Apache-2.0) and CredSweeper (Samsung, MIT, with its ML
validation). They are not dependencies; install them into any venv to compare:
    python -m venv /tmp/det && /tmp/det/bin/pip install detect-secrets credsweeper pyyaml click
    /tmp/det/bin/python bench/redaction.py --detectors
Run: .venv/bin/python bench/redaction.py [--detectors] [--misses]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remotefix.collect.redact import DEFAULT_RULES, Redactor
from tests.fixtures.redaction_corpus import Redact, Score, load_corpus, score


def remotefix_redact(path: str, text: str) -> str:
    return Redactor(DEFAULT_RULES).redact(text.encode(), source=path)[0].decode(errors="replace")


def _masking(find: Callable[[str, str], list[str]]) -> Redact:
    """A redactor that masks every value a detector reports."""

    def redact(path: str, text: str) -> str:
        for value in sorted(set(find(path, text)), key=len, reverse=True):
            if value.strip():
                text = text.replace(value, "***")
        return text

    return redact


def detect_secrets_redactor() -> Redact | None:
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None

    def find(path: str, text: str) -> list[str]:
        with tempfile.TemporaryDirectory() as tmp:
            name = Path(tmp) / (re.sub(r"[^\w.-]", "_", Path(path).name) or "sample")
            name.write_text(text)
            secrets = SecretsCollection()
            with default_settings():
                secrets.scan_file(str(name))
            return [s.secret_value for _, s in secrets if s.secret_value]

    return _masking(find)


def credsweeper_redactor() -> Redact | None:
    try:
        from credsweeper import CredSweeper
        from credsweeper.file_handler.string_content_provider import StringContentProvider
    except ImportError:
        return None
    warnings.simplefilter("ignore")

    def find(path: str, text: str) -> list[str]:
        sweeper = CredSweeper()
        sweeper.scan([StringContentProvider(lines=text.splitlines(), file_path=path)], None)
        sweeper.post_processing(None)
        found = sweeper.credential_manager.get_credentials()
        return [ld.value for c in found for ld in c.line_data_list if ld.value]

    return _masking(find)


def table(name: str, scores: list[Score], seconds: float, *, misses: bool) -> None:
    print(f"\n{name}  ({seconds:.1f} s for the corpus)")
    print(f"{'family':16} {'recall':>16} {'over-redaction':>16} {'broken':>7}")
    for s in scores:
        print(f"{s.family:16} {s.recall:7.0%} ({s.found:3}/{s.values:3}) "
              f"{s.over_redaction:7.0%} ({s.changed:3}/{s.lines:3}) {len(s.broken):7}")  # fmt: skip
        if misses:
            for line in s.missed:
                print(f"    missed: {line}")
            for line in s.over:
                print(f"    over:   {line.strip()[:90]}")
    values, found = sum(s.values for s in scores), sum(s.found for s in scores)
    lines, changed = sum(s.lines for s in scores), sum(s.changed for s in scores)
    broken = sum(len(s.broken) for s in scores)
    print(f"{'all':16} {found / values:7.0%} ({found:3}/{values:3}) "
          f"{changed / lines:7.0%} ({changed:3}/{lines:3}) {broken:7}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", action="store_true", help="also score installed detectors")
    parser.add_argument("--misses", action="store_true", help="list missed and changed lines")
    args = parser.parse_args()
    redactors: dict[str, Redact | None] = {"remotefix": remotefix_redact}
    if args.detectors:
        redactors["detect-secrets"] = detect_secrets_redactor()
        redactors["CredSweeper"] = credsweeper_redactor()
    families = load_corpus()
    for name, redact in redactors.items():
        if redact is None:
            print(f"\n{name}: not installed, skipped")
            continue
        start = time.perf_counter()
        scores = [score(family, redact) for family in families]
        table(name, scores, time.perf_counter() - start, misses=args.misses)


if __name__ == "__main__":
    main()
