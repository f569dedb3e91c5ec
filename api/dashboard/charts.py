"""Small SVG charts drawn on the server: no script library, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 140, 20
COLOURS = {"succeeded": "#2e9d5b", "failed": "#d64545", "other": "#9aa4ae"}


@dataclass(frozen=True)
class Bar:
    label: str  # shown on hover
    parts: Sequence[tuple[str, float]]  # (colour key, value), stacked bottom-up
    note: str = ""  # shown on hover after the total


def bars(title: str, items: Sequence[Bar], unit: str = "") -> Markup:
    """A bar chart (stacked when a bar has several parts), with a title for each bar."""
    top = max((sum(v for _, v in bar.parts) for bar in items), default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(items), 1)
    shapes = []
    for index, bar in enumerate(items):
        x, base = PAD + index * step, HEIGHT - PAD
        total = sum(value for _, value in bar.parts)
        note = f" ({bar.note})" if bar.note else ""
        tip = escape(f"{bar.label}: {_number(total)}{unit}{note}")
        for key, value in bar.parts:
            height = (HEIGHT - 2 * PAD) * value / top
            base -= height
            shapes.append(
                f'<rect x="{x + 1:.1f}" y="{base:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{height:.1f}" fill="{COLOURS.get(key, COLOURS["other"])}">'
                f"<title>{tip}</title></rect>"
            )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><text x="{PAD}" y="12" class="chart-title">'
        f"{escape(title)} (max {_number(top)}{unit})</text>"
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'stroke="#ccc"/>{"".join(shapes)}</svg>'
    )


def outcome_bars(series: dict[int, dict[str, int]], start: int, step: int, count: int) -> list[Bar]:
    """One bar per time bucket, succeeded at the bottom, failures above, the rest on top."""
    items = []
    for index in range(count):
        at = start + index * step
        counts = series.get(at, {})
        failed = sum(v for k, v in counts.items() if k in ("failed", "timed_out", "lost"))
        ok = counts.get("succeeded", 0)
        other = sum(counts.values()) - failed - ok
        label = datetime.fromtimestamp(at, UTC).strftime("%H:%M UTC")
        note = f"{ok / (ok + failed):.0%} succeeded" if ok + failed else ""
        parts = [("succeeded", ok), ("failed", failed), ("other", other)]
        items.append(Bar(label, parts, note))
    return items


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"
