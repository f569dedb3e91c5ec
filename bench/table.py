"""The one table the benchmarks print: each figure, its baseline, their ratio, the target."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    ours: float
    baseline: float | None = None  # measured in the same run
    unit: str = ""
    target: str = ""  # what the ratio (or the figure, when there is no baseline) must meet
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.ours / self.baseline


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def render(rows: Sequence[Row]) -> str:
    header = ("section", "figure", "taskbeat", "baseline", "ratio", "target", "met")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.section,
                row.figure,
                _number(row.ours, row.unit),
                "" if row.baseline is None else _number(row.baseline, row.unit),
                "" if row.ratio is None else f"{row.ratio:.2f}x",
                row.target,
                {None: "", True: "yes", False: "NO"}[row.met],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = [
        " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    rendered.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(rendered)


def _number(value: float, unit: str) -> str:
    if value >= 1000:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()
