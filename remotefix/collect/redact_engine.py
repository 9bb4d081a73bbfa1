"""The one redaction engine: find secret spans with the rules, drop look-alikes, mask the rest.

Bundles (``Redactor``), ``remotefix redact`` and the audit scrubber all call ``redact_bytes``;
only the mask differs (``[redacted-<rule>]`` in files, ``***`` in the audit log).

Rules run in order on the original bytes; a span that overlaps one an earlier rule already took is
dropped, so the specific rules (token formats) come before the generic ones (``name = value``).
A candidate is not a secret when it is a look-alike (the filters of detect-secrets, as data):

* a reference or template: ``$DB_PASS``, ``${VAR}``, ``$(command)``, ``{{ var }}``, ``%VAR%``;
* a placeholder or an empty value: ``XXXX``, ``<token>``, ``****``, ``""``, ``[redacted-…]``;
* a word that is a setting, not a secret: ``yes``, ``none``, ``0``, a YAML block indicator ``|``,
  an absolute path, a sops ``ENC[…]`` value;
* a value whose *name* says it is about a secret, not one: ``password_file``, ``secretName``,
  ``UserSecretsId``, ``token_ttl``, ``--password-stdin``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from remotefix.collect.redact_rules import Rule

_SAFE_VALUE = re.compile(
    rb"""(?ix)
    | [|>][-+1-9]{0,2}                                  # YAML block scalar indicator
    | \$\w+(?:/.*)? | \$\{.* | \$\(.* | \{\{.* | \{%.* | <%.* | `.*           # (cut at a blank)
    | %\(\w+\)[sd] | %\w+% | \#\{[^}\n]*\} | @\w+@ | !(?:vault|env|secret)\b.*  # references
    | <[^<>\n]{1,60}> | [x*#._?-]{3,} | \[redacted[^\]\n]*\] | redacted | \*+     # placeholders
    | (?:your|insert|enter|replace|put)[-_ ][\w -]*|[\w-]*[-_]here
    | ENC\[[^\]\n]*\]                                     # sops
    | none|null|nil|true|false|yes|no|on|off|undefined|unset|required|optional|prompt|ask
    | -?\d{1,2}
    | \.{0,2}(?:/[\w.@+-]+)+/?                           # a path
    """
)
_SETTING_SUFFIX = re.compile(
    rb"""(?ix)(?:
      file|files|path|dir|name|names|id|ids|ref|length|len|min|max|age|ttl|expiry|expires
    | expiration|timeout|policy|type|mode|enabled|required|rounds|algorithm|url|uri|endpoint
    | prompt|command|cmd|stdin|env|hint|format|size|count|regex|pattern|provider|helper|store
    | location|source|version|authentication|reset|changed|field|header|param|parameter|scope
    | scopes|validity|lifetime|retries|strength|complexity|history|quality|warn|warning
    | izer|ization|public_?key|pubkey|fingerprint|checksum|digest|uuid|guid|etag|commit
    | revision|sha1|sha256|sha512|md5|reqd|method|methods|encryption|certificate[-_]?data
    | authority[-_]?data|certificate|cert)\Z"""
)
_QUOTES = b"\"' \t"


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``start:end`` of the data are a secret found by ``rule``."""

    start: int
    end: int
    rule: str


def redact_bytes(
    rules: Iterable[Rule], data: bytes, *, source: str = "", mask: Callable[[str], bytes]
) -> tuple[bytes, dict[str, int]]:
    """``data`` with every secret replaced by ``mask(rule name)``, and the count per rule."""
    spans = find_spans(rules, data, source=source)
    out, pos = [], 0
    for span in spans:
        out += [data[pos : span.start], mask(span.rule)]
        pos = span.end
    out.append(data[pos:])
    return b"".join(out), dict(Counter(span.rule for span in spans))


def find_spans(rules: Iterable[Rule], data: bytes, *, source: str = "") -> list[Span]:
    """Every secret in ``data``, in order, no two overlapping (earlier rules win)."""
    taken = _Taken()
    lowered = data.lower()
    for rule in rules:
        if not rule.applies_to(source) or not _has_keyword(rule, lowered):
            continue
        for start, end in _candidates(rule, data, lowered, taken):
            if _is_secret(rule, data[start:end]):
                taken.add(Span(start, end, rule.name))
    return taken.spans


def _has_keyword(rule: Rule, lowered: bytes) -> bool:
    return not rule.keywords or any(k in lowered for k in rule.keywords)


def _candidates(
    rule: Rule, data: bytes, lowered: bytes, taken: _Taken
) -> Iterator[tuple[int, int]]:
    groups = [g for g in rule.pattern.groupindex if g.startswith("secret")]
    named = any(g.startswith("name") for g in rule.pattern.groupindex)
    for match in _matches(rule, data, lowered, taken):
        if not groups:
            yield match.span()
        elif not (named and _setting_name(match)):
            for group in groups:
                start, stop = match.span(group)
                if 0 <= start < stop:
                    yield start, stop


def _matches(rule: Rule, data: bytes, lowered: bytes, taken: _Taken) -> Iterator[re.Match[bytes]]:
    if rule.line_keywords:
        lines = _hot_lines(rule.line_keywords, lowered, taken)
        if rule.pattern.pattern.startswith(b"^"):
            # anchored at a line start: one try per line, and the match may run past that line
            yield from filter(None, (rule.pattern.match(data, begin) for begin, _ in lines))
        else:
            for begin, end in lines:
                for gap_begin, gap_end in taken.gaps(begin, end):
                    yield from rule.pattern.finditer(data, gap_begin, gap_end)
        return
    for begin, end in _regions(rule, data):
        for gap_begin, gap_end in taken.gaps(begin, end):  # what no earlier rule took
            yield from rule.pattern.finditer(data, gap_begin, gap_end)


def _regions(rule: Rule, data: bytes) -> Iterator[tuple[int, int]]:
    if rule.within is None:
        yield 0, len(data)
        return
    group = "region" if "region" in rule.within.groupindex else 0
    for region in rule.within.finditer(data):
        yield region.span(group)


def _hot_lines(
    keywords: tuple[bytes, ...], lowered: bytes, taken: _Taken
) -> Iterator[tuple[int, int]]:
    """Lines of ``lowered`` holding a keyword outside the spans already taken, as (start, end)."""
    starts = set()
    for keyword in keywords:
        pos = lowered.find(keyword)
        while pos >= 0:
            if taken.covers(pos):
                pos = lowered.find(keyword, pos + 1)
                continue
            starts.add(lowered.rfind(b"\n", 0, pos) + 1)
            end = lowered.find(b"\n", pos)
            pos = lowered.find(keyword, end) if end >= 0 else -1
    for start in sorted(starts):
        end = lowered.find(b"\n", start)
        yield start, end if end >= 0 else len(lowered)


def _setting_name(match: re.Match[bytes]) -> bool:
    """True when a ``name…`` group of the match names a setting (``password_file``)."""
    names = (match.group(g) for g in match.re.groupindex if g.startswith("name"))
    return any(_SETTING_SUFFIX.search(n.rstrip(b"\"'")) for n in names if n is not None)


def _is_secret(rule: Rule, value: bytes) -> bool:
    if _SAFE_VALUE.fullmatch(value.strip(_QUOTES)):
        return False
    return not rule.min_entropy or entropy(value) >= rule.min_entropy


def entropy(value: bytes) -> float:
    """Shannon entropy of ``value`` in bits per byte."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


class _Taken:
    """Accepted spans, sorted by start, never overlapping."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._starts: list[int] = []

    def add(self, span: Span) -> None:
        if not self.spans or span.start >= self.spans[-1].end:  # the common case: in order
            self.spans.append(span)
            self._starts.append(span.start)
            return
        index = bisect.bisect_left(self._starts, span.start)
        if index > 0 and self.spans[index - 1].end > span.start:
            return
        if index < len(self.spans) and self.spans[index].start < span.end:
            return
        self.spans.insert(index, span)
        self._starts.insert(index, span.start)

    def gaps(self, begin: int, end: int) -> Iterator[tuple[int, int]]:
        """The stretches of ``begin:end`` outside every span, as (start, end)."""
        index = max(bisect.bisect_right(self._starts, begin) - 1, 0)
        for span in self.spans[index:]:
            if span.start >= end:
                break
            if span.end > begin:
                if span.start > begin:
                    yield begin, span.start
                begin = span.end
        if begin < end:
            yield begin, end

    def covers(self, pos: int) -> bool:
        index = bisect.bisect_right(self._starts, pos)
        return index > 0 and self.spans[index - 1].end > pos
