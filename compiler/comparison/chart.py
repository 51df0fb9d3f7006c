"""ComparisonResult → an inline SVG bar chart: one panel per reading, a group of bars per split,
one bar per run, each with its Wilson 95 % interval as an error bar.

Drawn by hand, not with matplotlib: SVG is text, so the same comparison gives the same bytes,
the HTML stays self-contained and small, and each bar carries a <title> a browser shows on hover.
Pure.
"""

from __future__ import annotations

import math
from html import escape

from ..names import READINGS
from .compare import ComparisonResult, Table

# The house colours (release/html_report.py: tuned, prompted, …), then more for further runs.
PALETTE = ("#2f80ed", "#f0b429", "#18794e", "#c62828", "#c3a6e8", "#9aa5b1", "#0f9ba8", "#b7791f")
INK, GRID = "#1f2933", "#cbd2d9"
PLOT_H = 160  # px of the 0..1 axis
AXIS_W = 36  # px left of the bars: the tick labels
GROUP_GAP = 18
LEGEND_ROW = 16
TITLE_H = 22
LABEL_H = 20  # px under the axis: the split names


def colour(i: int) -> str:
    """Run index → its bar colour (cycling after len(PALETTE) runs)."""
    return PALETTE[i % len(PALETTE)]


def _px(x: float) -> str:
    return f"{x:.1f}"


def svg_chart(result: ComparisonResult) -> str:
    """ComparisonResult → an <svg> element (text); "" when no table has an item every run scored."""
    readings = [rd for rd in READINGS if any(t.reading == rd for t in result.tables)]
    readings += sorted({t.reading for t in result.tables} - set(readings))
    panels = [[t for t in result.tables if t.reading == rd and t.shared > 0] for rd in readings]
    panels = [(rd, ts) for rd, ts in zip(readings, panels) if ts]
    if not panels:
        return ""
    k = len(result.runs)
    bar = max(6, min(18, 72 // k))  # px: narrower bars when many runs share a group
    group = k * bar + GROUP_GAP
    widths = [AXIS_W + len(ts) * group + 8 for _, ts in panels]
    width = max(sum(widths) + 8, 240)
    legend, legend_h = _legend([run.label for run in result.runs], width)
    top = legend_h + TITLE_H
    height = top + PLOT_H + LABEL_H + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="accuracy per split and run, with Wilson 95% intervals">',
        "<title>accuracy per split and run, with Wilson 95% intervals</title>",
        f'<style>text{{font:11px system-ui,sans-serif;fill:{INK}}}</style>',
        legend,
    ]
    left = 0.0
    for (reading, tables), w in zip(panels, widths):
        parts.append(_panel(reading, tables, left, top, bar, group))
        left += w
    parts.append("</svg>")
    return "".join(parts)


def _legend(labels: list[str], width: int) -> tuple[str, int]:
    """Run labels → the legend (a swatch and the label per run, left to right, wrapping at the
    chart's width) and its height in px. Text width is estimated: ~6.5 px a character at 11 px."""
    out, x, y = [], float(AXIS_W), 4.0
    for i, label in enumerate(labels):
        text = _cut(label)
        w = 14 + 6.5 * len(text) + 14
        if x > AXIS_W and x + w > width:
            x, y = float(AXIS_W), y + LEGEND_ROW
        out.append(f'<rect x="{_px(x)}" y="{_px(y)}" width="10" height="10" fill="{colour(i)}"/>'
                   f'<text x="{_px(x + 14)}" y="{_px(y + 9)}">{escape(text)}</text>')
        x += w
    return "".join(out), int(y + LEGEND_ROW + 4)


def _panel(reading: str, tables: list[Table], left: float, top: float, bar: int, group: int) -> str:
    y = lambda v: top + PLOT_H * (1 - v)  # noqa: E731  accuracy 0..1 → px, 1 at the top
    x0 = left + AXIS_W
    out = [f'<text x="{_px(x0)}" y="{_px(top - 8)}" font-weight="bold">accuracy ({escape(reading)})</text>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{_px(x0)}" x2="{_px(x0 + len(tables) * group)}" y1="{_px(y(tick))}" '
                   f'y2="{_px(y(tick))}" stroke="{GRID}" stroke-width="1"/>'
                   f'<text x="{_px(x0 - 4)}" y="{_px(y(tick) + 4)}" text-anchor="end">{tick:.2f}</text>')
    for g, t in enumerate(tables):
        gx = x0 + g * group + GROUP_GAP / 2
        out.append(f'<text x="{_px(gx + len(t.rows) * bar / 2)}" y="{_px(top + PLOT_H + 14)}" '
                   f'text-anchor="middle">{escape(t.split.replace("test_", ""))}</text>')
        for i, row in enumerate(t.rows):
            if not all(math.isfinite(v) for v in (row.acc, row.wilson_low, row.wilson_high)):
                continue
            bx = gx + i * bar
            tip = (f"{row.label}, {t.split} ({t.reading}): {row.acc:.3f} "
                   f"[{row.wilson_low:.2f}, {row.wilson_high:.2f}], n = {row.n}")
            out.append(f'<rect x="{_px(bx + 1)}" y="{_px(y(row.acc))}" width="{bar - 2}" '
                       f'height="{_px(PLOT_H * row.acc)}" fill="{colour(i)}"><title>{escape(tip)}</title></rect>')
            cx, lo, hi = bx + bar / 2, y(row.wilson_low), y(row.wilson_high)
            cap = min(3.0, bar / 2 - 1)
            out.append(f'<path d="M{_px(cx)} {_px(lo)}V{_px(hi)}M{_px(cx - cap)} {_px(lo)}H{_px(cx + cap)}'
                       f'M{_px(cx - cap)} {_px(hi)}H{_px(cx + cap)}" stroke="{INK}" stroke-width="1" fill="none"/>')
    return "".join(out)


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
