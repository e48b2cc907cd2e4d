"""The sweep's grid: which ``rebalance`` settings each backtest of the sweep runs with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.config import INTERVALS, THRESHOLDS


@dataclass(frozen=True)
class Point:
    """One grid point: the keys of the ``rebalance`` section it changes. ``group``: the panel of
    the heatmap it belongs to (trigger, and the threshold mode and target when not default);
    ``portfolio``: the portfolio it runs on (its name; "" for the config's own)."""

    label: str
    group: str
    overrides: dict[str, Any] = field(default_factory=dict)
    portfolio: str = ""


def _interval_points(
    intervals: Sequence[str], min_drifts: Sequence[float | None], extra: dict[str, Any], suffix: str
) -> list[Point]:
    """Every interval, with each minimum drift asked for (None: the config's)."""
    points = []
    for i in intervals:
        for drift in min_drifts:
            overrides: dict[str, Any] = {"trigger": "interval", "interval": i, **extra}
            label = f"interval {i}"
            if drift is not None:
                overrides["interval_min_drift"] = drift
                label += f" >{drift:g}"
            points.append(Point(f"{label}{suffix}", f"interval{suffix}", overrides))
    return points


def grid(
    thresholds: Iterable[float] = THRESHOLDS,
    intervals: Iterable[str] = tuple(INTERVALS),
    modes: Iterable[str] = ("absolute",),
    targets: Iterable[str] = ("target",),
    min_drifts: Iterable[float | None] = (None,),
) -> list[Point]:
    """Every threshold, then every interval (with each ``interval_min_drift`` of
    ``min_drifts``; None: the config's), for each threshold mode and rebalance target asked for
    (``threshold_mode``, ``rebalance_to``)."""
    thresholds, intervals = list(thresholds), list(intervals)
    drifts = list(min_drifts) or [None]
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
            points += _interval_points(intervals, drifts, extra, suffix)
    return points


def for_portfolios(points: Sequence[Point], names: Sequence[str]) -> list[Point]:
    """The grid once per portfolio (portfolio by portfolio)."""
    if not names:
        return list(points)
    return [replace(p, portfolio=name) for name in names for p in points]


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_points(
    thresholds: str,
    intervals: str,
    modes: str = "absolute",
    targets: str = "target",
    min_drifts: str = "",
) -> list[Point]:
    ts = [float(t) for t in _items(thresholds)]
    drifts: list[float | None] = [float(d) for d in _items(min_drifts)] or [None]
    return grid(
        ts, _items(intervals), _items(modes) or ["absolute"], _items(targets) or ["target"], drifts
    )
