"""Figures, their statistics, the Markdown table and the JSON file."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stat:
    """Repeated measurements of one quantity: shown as median (min–max)."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Iterable[float]) -> Stat:
        values = tuple(float(s) for s in samples)
        if not values:
            raise ValueError("a figure needs at least one measurement")
        return cls(values)

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "samples": list(self.samples),
        }


@dataclass
class Row:
    """One line of the table.

    ``unit`` is one of ``s`` (shown in ms below 10 s), ``/s``, ``commands``, ``MB``.
    ``baseline`` is the floor or baseline measured in the same run; ``ratio`` is
    median / median. ``holds`` is None where the row has no target.
    """

    key: str
    figure: str
    unit: str
    value: Stat | None
    target: str = "—"
    holds: bool | None = None
    baseline: Stat | None = None
    baseline_label: str = ""
    notes: list[str] = field(default_factory=list)
    #: Shown instead of the formatted value (rows that list several quantities).
    text: str | None = None
    #: Extra numbers for the JSON file only.
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.value.median / self.baseline.median

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "figure": self.figure,
            "unit": self.unit,
            "value": self.value.to_json() if self.value else None,
            "text": self.text,
            "baseline": (
                {"label": self.baseline_label, **self.baseline.to_json()} if self.baseline else None
            ),
            "ratio": self.ratio,
            "target": self.target,
            "holds": self.holds,
            "notes": self.notes,
            "error": self.error,
            **self.extra,
        }


def failed_row(key: str, figure: str, target: str, error: str) -> Row:
    return Row(key, figure, "", None, target, holds=False, error=error)


def fmt_number(value: float, unit: str) -> str:
    """One value with its unit."""
    if unit == "s":
        ms = value * 1000
        if value >= 10:
            return f"{value:.1f} s"
        if ms >= 100:
            return f"{ms:,.0f} ms"
        if ms >= 10:
            return f"{ms:.1f} ms"
        return f"{ms:.2f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "commands":
        return f"{value:g}"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g} {unit}".strip()


def _bare(value: float, unit: str) -> str:
    text = fmt_number(value, unit)
    for suffix in (" ms", " s", "/s", " MB"):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def fmt_stat(stat: Stat, unit: str) -> str:
    """``612 ms (598–640)``; a single measurement without the range."""
    median = fmt_number(stat.median, unit)
    if len(stat.samples) == 1 or stat.min == stat.max:
        return median
    low, high = fmt_number(stat.min, unit), fmt_number(stat.max, unit)
    # Range in the median's unit when it shares it (ms vs s), else with units.
    same_suffix = low.split()[-1:] == median.split()[-1:] == high.split()[-1:]
    if unit in ("/s", "MB", "commands") or same_suffix:
        low, high = _bare(stat.min, unit), _bare(stat.max, unit)
    return f"{median} ({low}–{high})"


def holds_text(holds: bool | None) -> str:
    return "—" if holds is None else ("yes" if holds else "NO")


def markdown(rows: list[Row]) -> str:
    header = (
        "| figure | ours: median (min–max) | floor / baseline: median (min–max) | ratio"
        " | target | holds |\n| --- | --- | --- | --- | --- | --- |"
    )
    lines = [header]
    for row in rows:
        if row.error is not None:
            ours = "failed (see notes)"
        elif row.text is not None:
            ours = row.text
        elif row.value is not None:
            ours = fmt_stat(row.value, row.unit)
        else:
            ours = "—"
        if row.baseline is not None:
            base = f"{fmt_stat(row.baseline, row.unit)} {row.baseline_label}".strip()
        else:
            base = row.baseline_label or "—"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        cells = [row.figure, ours, base, ratio, row.target, holds_text(row.holds)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = [(row.figure, n) for row in rows for n in ([row.error] if row.error else row.notes)]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"- {figure}: {note}" for figure, note in notes]
    return "\n".join(lines)
