"""When to rebalance: one small object per trigger (docs/how-it-works.md#when-it-rebalances), in
the style of bt's algos.

Times are POSIX seconds. Interval checks are counted from the portfolio's first buy: with a 7d
interval and a first buy on Monday 10:00, checks fall every Monday 10:00.

A trigger compares the portfolio's largest drift with its limit; the drift is measured in the
unit of ``threshold_mode`` (``max_drift(..., relative)``): percentage points, or percent of each
coin's target. The same mode applies to ``threshold`` and to ``interval_min_drift``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import RebalanceConfig
from .portfolio import Band

#: Drift is a difference of float ratios (0.55 - 0.5 = 0.05000000000000004): a drift within this
#: many points of the limit counts as *at* the limit, which does not trigger ("more than").
DRIFT_EPSILON = 1e-9


@dataclass(frozen=True)
class ThresholdTrigger:
    """Rebalance as soon as any coin is off its target by more than ``threshold`` (points, or
    percent of the target)."""

    threshold: float

    def check_due(self, now: float, first_buy: float, last_check: float | None) -> bool:
        return True

    def wants(self, drift: float) -> bool:
        return drift > self.threshold + DRIFT_EPSILON


@dataclass(frozen=True)
class IntervalTrigger:
    """At every ``seconds`` after the first buy, rebalance if drift exceeds ``min_drift``."""

    seconds: float
    min_drift: float

    def check_index(self, now: float, first_buy: float) -> int:
        """Number of check instants that have passed at ``now`` (0 before the first one)."""
        return max(0, math.floor((now - first_buy) / self.seconds + 1e-9))

    def check_due(self, now: float, first_buy: float, last_check: float | None) -> bool:
        """True when a check instant lies in (last_check, now]."""
        idx = self.check_index(now, first_buy)
        if idx == 0:
            return False
        last_idx = 0 if last_check is None else self.check_index(last_check, first_buy)
        return idx > last_idx

    def next_check(self, now: float, first_buy: float) -> float:
        return first_buy + (self.check_index(now, first_buy) + 1) * self.seconds

    def wants(self, drift: float) -> bool:
        return drift > self.min_drift + DRIFT_EPSILON


Trigger = ThresholdTrigger | IntervalTrigger


def trigger_for(cfg: RebalanceConfig) -> Trigger:
    if cfg.trigger == "interval":
        return IntervalTrigger(cfg.interval_seconds, cfg.interval_min_drift)
    return ThresholdTrigger(cfg.threshold)


def band_for(cfg: RebalanceConfig) -> Band | None:
    """The band a triggered rebalance trades back to (``rebalance_to`` band): the active
    trigger's limit (``threshold``, or ``interval_min_drift`` for an interval trigger), in the
    same mode. None: all the way to the targets (``rebalance_to`` target)."""
    if cfg.rebalance_to != "band":
        return None
    return Band(cfg.drift_limit, cfg.relative)
