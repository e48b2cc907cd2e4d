"""A portfolio snapshot, its weights and its drift from the targets. Pure Python."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Portfolio:
    """What the portfolio holds at a moment: coin quantities, their prices, and free cash.

    ``cash`` is the portfolio's own stake currency (not the whole wallet): money the rebalancer
    may spend. Weights are measured against the total value *including* cash, so cash left over
    (a skipped buy, added funds) shows up as drift and gets invested.
    """

    quantities: Mapping[str, float]
    prices: Mapping[str, float]
    cash: float = 0.0
    values: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [c for c in self.quantities if c not in self.prices]
        if missing:
            raise ValueError(f"no price for {', '.join(missing)}")
        bad = [c for c, p in self.prices.items() if not (p > 0 and math.isfinite(p))]
        if bad:
            raise ValueError(f"price of {', '.join(bad)} is not a positive number")
        values = {c: q * self.prices[c] for c, q in self.quantities.items()}
        object.__setattr__(self, "values", values)

    @property
    def total(self) -> float:
        return math.fsum(self.values.values()) + self.cash

    def weights(self) -> dict[str, float]:
        """Current weight of each coin, as a fraction of the total value (cash included)."""
        total = self.total
        if total <= 0:
            return {c: 0.0 for c in self.values}
        return {c: v / total for c, v in self.values.items()}


def drift_points(weights: Mapping[str, float], targets: Mapping[str, float]) -> dict[str, float]:
    """Current minus target weight of every target coin, in percentage points."""
    return {c: (weights.get(c, 0.0) - t) * 100.0 for c, t in targets.items()}


def drift_relative(weights: Mapping[str, float], targets: Mapping[str, float]) -> dict[str, float]:
    """Current minus target weight of every target coin, in percent of its target: a 10% target
    held at 8% is -20 (``threshold_mode`` relative)."""
    return {c: (weights.get(c, 0.0) - t) * 100.0 / t for c, t in targets.items()}


def drifts(
    weights: Mapping[str, float], targets: Mapping[str, float], relative: bool = False
) -> dict[str, float]:
    """Signed drift of every target coin: points, or percent of the target when ``relative``."""
    return drift_relative(weights, targets) if relative else drift_points(weights, targets)


def max_drift(portfolio: Portfolio, targets: Mapping[str, float], relative: bool = False) -> float:
    """Largest absolute drift of any coin, in percentage points, or in percent of the coin's
    target when ``relative``. Coins held but not targeted (target 0, no relative measure)
    count with their weight in points in both modes: a removed coin's unsellable dust does
    not look infinitely far off."""
    weights = portfolio.weights()
    measured = drifts(weights, targets, relative)
    extra = [w * 100.0 for c, w in weights.items() if c not in targets]
    return max([abs(d) for d in measured.values()] + extra, default=0.0)


@dataclass(frozen=True)
class Band:
    """The tolerance around every target: ``width`` percentage points either side of it, or
    ``width`` percent of the target when ``relative`` (a 10% target with width 20 relative:
    8% to 12%). A coin is off when its drift is *more than* the width."""

    width: float
    relative: bool = False

    def half(self, target: float) -> float:
        """Half-width around ``target``, as a fraction of the portfolio."""
        return self.width / 100.0 * (target if self.relative else 1.0)

    def drift(self, weight: float, target: float) -> float:
        """Signed drift of one coin in the band's unit."""
        points = (weight - target) * 100.0
        return points / target if self.relative else points
