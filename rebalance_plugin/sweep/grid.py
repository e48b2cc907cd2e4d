"""The sweep's grid: which ``rebalance`` settings each backtest of the sweep runs with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.config import INTERVALS, THRESHOLDS


@dataclass(frozen=True)
class Point:
    """One grid point: the keys of the ``rebalance`` section it changes. ``group``: the panel of
    the heatmap it belongs to (trigger, and the threshold mode and target when not default)."""

    label: str
    group: str
    overrides: dict[str, Any] = field(default_factory=dict)


def grid(
    thresholds: Iterable[float] = THRESHOLDS,
    intervals: Iterable[str] = tuple(INTERVALS),
    modes: Iterable[str] = ("absolute",),
    targets: Iterable[str] = ("target",),
) -> list[Point]:
    """Every threshold, then every interval (its minimum drift as in the config), for each
    threshold mode and rebalance target asked for (``threshold_mode``, ``rebalance_to``)."""
    thresholds, intervals = list(thresholds), list(intervals)
    points = []
    for mode in modes:
        for to in targets:
            extra: dict[str, Any] = {}
            suffix = ""
            if (mode, to) != ("absolute", "target"):
                extra = {"threshold_mode": mode, "rebalance_to": to}
                suffix = f" {mode}/{to}"
            for t in thresholds:
                overrides = {"trigger": "threshold", "threshold": t, **extra}
                points.append(Point(f"threshold {t:g}{suffix}", f"threshold{suffix}", overrides))
            for i in intervals:
                overrides = {"trigger": "interval", "interval": i, **extra}
                points.append(Point(f"interval {i}{suffix}", f"interval{suffix}", overrides))
    return points


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_points(
    thresholds: str, intervals: str, modes: str = "absolute", targets: str = "target"
) -> list[Point]:
    ts = [float(t) for t in _items(thresholds)]
    return grid(ts, _items(intervals), _items(modes) or ["absolute"], _items(targets) or ["target"])
