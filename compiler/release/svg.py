"""The pictures of report.html, as inline SVG text (no image library, no script, nothing fetched):

  accuracy_chart(verdict) → one panel per reading, one under the other: per split, a bar per arm (base, prompted,
      constant, tuned) with its Wilson 95 % interval; the prompted and constant accuracies as
      dashed marks across the split; each gate check's threshold as a line in accuracy terms
      (green passed, red missed, amber not evaluated), labelled.
  loss_curve(points) → training loss per optimizer step (run.json's loss_curve).

Pure and deterministic: numbers are written with fixed decimals, so the same verdict gives the
same bytes. Every text is escaped.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

from ..names import READINGS, REPORT_ARMS, SCORED_SPLITS
from .formatting import table_row
from .verdict import CheckResult, Verdict

COLORS = {"base": "#9aa5b1", "prompted": "#f0b429", "constant": "#9f7aea", "tuned": "#2f80ed"}
STATUS_COLOR = {True: "#18794e", False: "#c62828", None: "#b7791f"}
MARKED = ("prompted", "constant")  # the baselines a fine-tune must beat: dashed across each split

# Geometry, px: a panel is LEFT + splits × GROUP + RIGHT wide; bars fill BARS of each GROUP, the
# rest of the group holds the threshold labels.
LEFT, TOP, PLOT_H, BOTTOM, GROUP, BARS, RIGHT = 34, 10, 200, 34, 176, 92, 8
LABEL_GAP = 10  # px between two threshold labels of one split, so they never print over each other


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}"


@dataclass(frozen=True)
class Threshold:
    """A check drawn in accuracy terms on one split × reading: the accuracy the tuned bar must reach."""

    split: str
    reading: str
    value: float
    label: str
    passed: bool | None
    check: str  # the check's name, for the tooltip


def _arm_acc(verdict: Verdict, arm: str, split: str, reading: str) -> float:
    row = table_row(verdict, arm, split, reading)
    return row.acc if row is not None else math.nan


def threshold_of(check: CheckResult, verdict: Verdict) -> Threshold | None:
    """A check → the tuned accuracy it asks for on its split × reading, or None when it asks for
    none there (general drift) or a number it needs is missing:
      min_accuracy: min · no_regression: the last release's Wilson lower bound ·
      max_drop_vs_base: base − max · beats_X: X + min_gain (X's accuracy: the paired items are
      the same items) · max_gap: tuned train_sample − max."""
    t, k = check.threshold, check.kind
    if not math.isfinite(t) or not check.reading:
        return None
    if k == "min_accuracy":
        value, label = t, f"min {t:.2f}"
    elif k == "no_regression":
        value, label = t, f"release ≥ {t:.2f}"
    elif k == "max_drop_vs_base":
        value, label = _arm_acc(verdict, "base", check.split, check.reading) - t, f"base − {t:.2f}"
    elif k.startswith("beats_"):
        ref = k.removeprefix("beats_")
        value = _arm_acc(verdict, ref, check.split, check.reading) + t
        label = f"> {ref}" if t <= 0 else f"{ref} + {t:.2f}"
    elif k == "max_gap":
        value, label = _arm_acc(verdict, "tuned", "train_sample", check.reading) - t, f"train − {t:.2f}"
    else:
        return None
    if not math.isfinite(value):
        return None
    return Threshold(check.split, check.reading, min(1.0, max(0.0, value)), label, check.passed, check.name)


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label heights (px, top = 0), sorted ascending → the same, moved down where two are closer than `gap`."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, out[-1] + gap) if out else y)
    return out


def _panel(verdict: Verdict, reading: str, lines: Sequence[Threshold]) -> tuple[list[str], float]:
    """One reading's panel, its top left corner at (0, 0) → (SVG elements, width)."""
    splits = [s for s in SCORED_SPLITS if any(r.split == s and r.reading == reading for r in verdict.table)]
    splits += sorted({r.split for r in verdict.table if r.reading == reading} - set(splits))
    width = LEFT + GROUP * len(splits) + RIGHT
    y = lambda acc: TOP + PLOT_H * (1.0 - acc)  # noqa: E731 (accuracy → px)
    out = [f'<text x="{_n(width / 2)}" y="{TOP + PLOT_H + 30}" text-anchor="middle" font-weight="bold">'
           f"accuracy ({_e(reading)})</text>"]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" '
                   f'stroke="#e4e7eb"/><text x="{_n(LEFT - 4)}" y="{_n(y(tick) + 3)}" text-anchor="end">{tick:g}</text>')
    bar = BARS / len(REPORT_ARMS)
    for j, split in enumerate(splits):
        gx = LEFT + GROUP * j + 6  # the split's bars start here
        out.append(f'<text x="{_n(gx + BARS / 2)}" y="{TOP + PLOT_H + 14}" text-anchor="middle">'
                   f'{_e(split.removeprefix("test_"))}</text>')
        for i, arm in enumerate(REPORT_ARMS):
            row = table_row(verdict, arm, split, reading)
            if row is None or not math.isfinite(row.acc):
                continue
            bx = gx + i * bar
            tip = f"{arm} on {split} ({reading}): {row.acc:.3f}, n = {row.n}"
            if math.isfinite(row.wilson_low) and math.isfinite(row.wilson_high):
                tip += f", Wilson 95% [{row.wilson_low:.2f}, {row.wilson_high:.2f}]"
            out.append(f'<rect x="{_n(bx + 1)}" y="{_n(y(row.acc))}" width="{_n(bar - 2)}" '
                       f'height="{_n(PLOT_H * row.acc)}" fill="{COLORS[arm]}"><title>{_e(tip)}</title></rect>')
            if math.isfinite(row.wilson_low) and math.isfinite(row.wilson_high):
                cx = _n(bx + bar / 2)
                out.append(f'<line x1="{cx}" x2="{cx}" y1="{_n(y(row.wilson_high))}" y2="{_n(y(row.wilson_low))}" '
                           'stroke="#1f2933"/>')
        for arm in MARKED:  # dashed across the whole group: the tuned bar must clear it
            acc = _arm_acc(verdict, arm, split, reading)
            if math.isfinite(acc):
                out.append(f'<line x1="{_n(gx)}" x2="{_n(gx + BARS)}" y1="{_n(y(acc))}" y2="{_n(y(acc))}" '
                           f'stroke="{COLORS[arm]}" stroke-width="1.5" stroke-dasharray="4 3">'
                           f"<title>{_e(f'{arm} baseline on {split} ({reading}): {acc:.3f}')}</title></line>")
        mine = sorted((t for t in lines if t.split == split and t.reading == reading), key=lambda t: -t.value)
        for t, ly in zip(mine, _spread([y(t.value) + 3 for t in mine], LABEL_GAP)):
            color = STATUS_COLOR[t.passed]
            outcome = {True: "passed", False: "missed", None: "not evaluated"}[t.passed]
            tip = _e(f"{t.check}: the tuned bar's threshold is {t.value:.3f} ({t.label}); {outcome}")
            out.append(f'<line x1="{_n(gx - 4)}" x2="{_n(gx + BARS + 4)}" y1="{_n(y(t.value))}" y2="{_n(y(t.value))}" '
                       f'stroke="{color}" stroke-width="2"><title>{tip}</title></line>'
                       f'<text x="{_n(gx + BARS + 7)}" y="{_n(ly)}" fill="{color}">{_e(t.label)}<title>{tip}</title></text>')
    return out, width


def accuracy_chart(verdict: Verdict) -> str:
    """Verdict → an <svg> of accuracy per split and arm, one panel per reading, with the checks'
    thresholds and the baselines marked; "" when the verdict has no scores."""
    readings = [rd for rd in READINGS if any(r.reading == rd for r in verdict.table)]
    readings += sorted({r.reading for r in verdict.table} - set(readings))
    if not readings:
        return ""
    lines = [t for t in (threshold_of(c, verdict) for c in verdict.checks) if t is not None]
    parts: list[str] = []
    x = 760.0  # at least as wide as the legend
    panel_h = TOP + PLOT_H + BOTTOM + 4
    for k, reading in enumerate(readings):  # one panel under the other: each as wide as a page
        elements, width = _panel(verdict, reading, lines)
        parts += [f'<g transform="translate(0,{panel_h * k})">', *elements, "</g>"]
        x = max(x, width)
    legend_y = panel_h * len(readings) + 12
    legend = [f'<rect x="{LEFT + 90 * i}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS[a]}"/>'
              f'<text x="{LEFT + 90 * i + 14}" y="{legend_y}">{_e(a)}</text>' for i, a in enumerate(REPORT_ARMS)]
    note_x = LEFT + 90 * len(REPORT_ARMS)
    legend.append(f'<text x="{note_x}" y="{legend_y}">- - prompted / constant baseline · ─ check threshold '
                  "(green passed, red missed, amber not evaluated)</text>")
    height = legend_y + 8
    desc = ("accuracy per split: base, prompted, constant, tuned with Wilson 95% intervals; "
            "prompted and constant baselines dashed; gate check thresholds as lines")
    return (f'<svg role="img" width="{_n(x)}" height="{height}" viewBox="0 0 {_n(x)} {height}" '
            f'style="max-width:100%;height:auto" font-family="system-ui,sans-serif" font-size="10">'
            f"<title>{_e(desc)}</title>" + "".join(parts + legend) + "</svg>")


MAX_POINTS = 600  # a longer curve is drawn from bucket means: a 10,000-step run stays a small picture


def _thin(points: Sequence[tuple[int, float]]) -> list[tuple[float, float]]:
    """(step, loss) points, finite ones only → at most MAX_POINTS: the mean step and loss of
    consecutive buckets of ⌈n / MAX_POINTS⌉ points (e.g. 1,500 points → buckets of 3 → 500)."""
    finite = [(float(s), float(v)) for s, v in points if math.isfinite(v)]
    k = max(1, math.ceil(len(finite) / MAX_POINTS))
    buckets = [finite[i:i + k] for i in range(0, len(finite), k)]
    return [(sum(p[0] for p in b) / len(b), sum(p[1] for p in b) / len(b)) for b in buckets]


def loss_curve(points: Sequence[tuple[int, float]]) -> str:
    """(step, training loss) points → an <svg> line of loss over steps with its axes; "" for fewer than 2."""
    pts = _thin(points)
    if len(pts) < 2:
        return ""
    w, h, left, top, bottom = 560, 180, 44, 10, 30
    s0, s1 = pts[0][0], pts[-1][0]
    hi = max(v for _, v in pts)
    lo = min(0.0, min(v for _, v in pts))  # from 0 unless a loss is negative
    span_s, span_v = max(s1 - s0, 1e-9), max(hi - lo, 1e-9)
    px = lambda s: left + (w - left - 8) * (s - s0) / span_s  # noqa: E731
    py = lambda v: top + (h - top - bottom) * (1 - (v - lo) / span_v)  # noqa: E731
    line = " ".join(f"{_n(px(s))},{_n(py(v))}" for s, v in pts)
    ticks = "".join(f'<line x1="{left}" x2="{w - 8}" y1="{_n(py(v))}" y2="{_n(py(v))}" stroke="#e4e7eb"/>'
                    f'<text x="{left - 4}" y="{_n(py(v) + 3)}" text-anchor="end">{v:.3g}</text>'
                    for v in (lo, lo + span_v / 2, hi))
    steps = (f'<text x="{left}" y="{h - 14}">step {int(points[0][0])}</text>'
             f'<text x="{w - 8}" y="{h - 14}" text-anchor="end">step {int(points[-1][0])}</text>')
    desc = f"training loss per step: {len(points)} logged steps, {pts[0][1]:.3f} → {pts[-1][1]:.3f}"
    return (f'<svg role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="system-ui,sans-serif" font-size="10"><title>{_e(desc)}</title>{ticks}{steps}'
            f'<polyline fill="none" stroke="{COLORS["tuned"]}" stroke-width="1.5" points="{line}"/></svg>')
