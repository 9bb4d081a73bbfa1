"""Small inline SVG charts (no script, no external anything): a phase bar, status counts, a grid.

Every text that goes into a chart is escaped here; the result is safe ``Markup``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from remotefix.report.timeline import Phase

PHASE_COLOURS = {
    "consent": "#6c757d", "diagnose": "#0d6efd", "triage": "#6610f2", "lab": "#20c997",
    "repro": "#d63384", "fix practice": "#fd7e14", "fix": "#dc3545", "verify": "#198754",
    "other": "#adb5bd",
}  # fmt: skip
STATUS_COLOURS = {
    "exact": "#198754", "approximated": "#ffc107", "added": "#0dcaf0", "missing": "#dc3545",
    "not reproducible": "#adb5bd", "newer": "#fd7e14", "older": "#fd7e14", "differs": "#fd7e14",
}  # fmt: skip
VERDICT_COLOURS = {"as declared": "#198754", "not as declared": "#dc3545", "error": "#6c757d"}


def phase_bar(phases: Sequence[Phase], *, width: int = 640) -> Markup:
    """One bar, a segment per phase (width ∝ wall time, at least 4 px), with a legend below."""
    total = sum(max(p.duration_s, 0.01) for p in phases) or 1.0
    x, parts = 0.0, []
    for p in phases:
        w = max(4.0, (max(p.duration_s, 0.01) / total) * (width - 4 * len(phases)))
        colour = PHASE_COLOURS.get(p.name, PHASE_COLOURS["other"])
        tip = f"{p.name}: {p.duration_s:.1f} s, records {p.first_seq}-{p.last_seq}"
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="22" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        x += w + 4
    legend = _legend([(n, PHASE_COLOURS[n]) for n in dict.fromkeys(p.name for p in phases)], 34)
    return _svg(width, 34 + 18 * _rows(len(legend)), "phases of the case", parts + legend)


def count_bar(counts: Mapping[str, int], colours: Mapping[str, str], *, width: int = 640) -> Markup:
    """A stacked bar of counts per status, with the numbers in the legend."""
    total = sum(counts.values()) or 1
    x, parts = 0.0, []
    for status, n in counts.items():
        w = width * n / total
        colour = colours.get(status, "#adb5bd")
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour}">'
            f"<title>{escape(f'{status}: {n}')}</title></rect>"
        )
        x += w
    items = [(f"{status} {n}", colours.get(status, "#adb5bd")) for status, n in counts.items()]
    legend = _legend(items, 30)
    return _svg(width, 30 + 18 * _rows(len(legend)), "counts by status", parts + legend)


def grid(
    rows: Sequence[str], cols: Sequence[str], cells: Mapping[tuple[str, str], tuple[str, str]]
) -> Markup:
    """A heat map: ``cells[(row, col)] = (colour, label)``; empty where no cell ran."""
    cw, ch, left, top = 110, 26, 110, 24
    parts = [
        f'<text x="{left + i * cw + cw / 2}" y="16" text-anchor="middle">{escape(c)}</text>'
        for i, c in enumerate(cols)
    ]
    for j, r in enumerate(rows):
        y = top + j * ch
        parts.append(f'<text x="4" y="{y + 17}">{escape(r)}</text>')
        for i, c in enumerate(cols):
            colour, label = cells.get((r, c), ("#f1f3f5", ""))
            parts.append(
                f'<rect x="{left + i * cw}" y="{y}" width="{cw - 4}" height="{ch - 4}" '
                f'fill="{colour}"><title>{escape(f"{r} on {c}: {label}")}</title></rect>'
                f'<text x="{left + i * cw + (cw - 4) / 2}" y="{y + 16}" text-anchor="middle" '
                f'fill="#fff">{escape(label)}</text>'
            )
    return _svg(left + cw * len(cols), top + ch * len(rows), "regression matrix", parts)


def _legend(items: Sequence[tuple[str, str]], y: int) -> list[str]:
    out = []
    for k, (label, colour) in enumerate(items):
        lx, ly = (k % 4) * 160, y + (k // 4) * 18
        out.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"></rect>'
            f'<text x="{lx + 16}" y="{ly + 11}">{escape(label)}</text>'
        )
    return out


def _rows(n: int) -> int:
    return max(1, (n + 3) // 4)


def _svg(width: int, height: int, label: str, parts: list[str]) -> Markup:
    body = "".join(parts)
    return Markup(  # noqa: S704 - every text above went through escape()
        f'<svg role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'font-family="sans-serif" font-size="12">{body}</svg>'
    )
