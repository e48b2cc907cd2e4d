"""The next candle on which a quiet portfolio can have anything to decide (the harness's
fast-forward, as ``ft/fastforward.py`` is the plugin's in a Freqtrade backtest).

Between two rebalances the holdings and the cash do not move, only the prices. What can act
then: the trigger (a threshold crossed; an interval's check instant with drift over its
minimum), an auto-invest deposit falling due, a stop level reached, a coin without a price
(from there on it is held at its last price and the others are decided among themselves: the
loop looks at every candle of the gap, ``Run.pending``).
The search computes the drift and the value of the portfolio on the coming candles at once
(numpy over the price matrix, in growing blocks) and stops *early*, never late: within
``MARGIN`` of a limit. On the candle found, the core decides as always.

An interval trigger remembers its last check (``State.last_check``): the plugin looks at every
check instant, so the harness, skipping the instants where nothing was due, notes the last one
it skipped (``Skip.last_check``), and the engine's next check sees the state it would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.config import RebalanceConfig

#: Stop this many drift units (or this share of a level) before a limit: far above float
#: noise, far below any limit a user sets.
MARGIN = 1e-6
#: The first block examined; each next one is four times longer.
FIRST_BLOCK = 16


@dataclass(frozen=True)
class Skip:
    """Where the loop goes on (``index``), and the last check instant passed on the way (the
    time to note as the interval trigger's last check; None: none passed)."""

    index: int
    last_check: float | None = None


@dataclass(frozen=True)
class Quiet:
    """A portfolio at rest: its quantities (in the order of the config's coins) and cash."""

    held: Sequence[float]
    cash: float


class Ahead:
    """The search over one run's candles: the loop times and the opens of the config's coins
    (one column each, in the config's order)."""

    def __init__(self, times: np.ndarray, prices: np.ndarray) -> None:
        self.times = times
        self.prices = prices
        self.checks: np.ndarray | None = None  # interval check index of every candle

    def instants(self, cfg: RebalanceConfig, first_buy: float) -> np.ndarray:
        """Each candle's count of check instants passed since the first buy
        (``IntervalTrigger.check_index``), computed once per run."""
        if self.checks is None:
            seconds = float(cfg.interval_seconds)
            idx = np.floor((self.times - first_buy) / seconds + 1e-9)
            self.checks = np.maximum(idx, 0).astype(np.int64)
        return self.checks

    def next(
        self,
        i: int,
        cfg: RebalanceConfig,
        quiet: Quiet,
        first_buy: float,
        last_check: float | None,
        until: int,
    ) -> Skip:
        """The first candle after ``i`` (before ``until``) on which the trigger, a stop level
        or a missing price may act."""
        n = min(until, len(self.times))
        lo = i + 1
        due = None
        if cfg.trigger == "interval":
            checks = self.instants(cfg, first_buy)
            prior = self._check_of(last_check, cfg, first_buy)
            due = self._due(checks, lo, prior)
        size = FIRST_BLOCK
        while lo < n:
            hi = min(n, lo + size)
            window = None if due is None else due[lo - i - 1 : hi - i - 1]
            hit = self._hits(lo, hi, cfg, quiet, window)
            if hit is not None:
                return Skip(hit, self._last_due(due, i + 1, hit))
            lo, size = hi, size * 4
        return Skip(n, self._last_due(due, i + 1, n))

    def _check_of(self, last: float | None, cfg: RebalanceConfig, first_buy: float) -> int:
        if last is None:
            return 0
        return max(0, int(np.floor((last - first_buy) / cfg.interval_seconds + 1e-9)))

    def _due(self, checks: np.ndarray, lo: int, prior: int) -> np.ndarray:
        """Candles from ``lo`` on where the interval trigger checks: its count of instants
        grew since the candle before (since the last check for the first one)."""
        before = np.empty(len(checks) - lo, dtype=np.int64)
        if len(before):
            before[0] = prior
            before[1:] = checks[lo:-1]
        return checks[lo:] > before

    def _last_due(self, due: np.ndarray | None, lo: int, stop: int) -> float | None:
        """The time of the last check instant in [lo, stop): the engine's last check there."""
        if due is None:
            return None
        seen = np.flatnonzero(due[: stop - lo])
        return float(self.times[lo + seen[-1]]) if seen.size else None

    def _hits(
        self, lo: int, hi: int, cfg: RebalanceConfig, quiet: Quiet, due: np.ndarray | None
    ) -> int | None:
        block = self.prices[lo:hi]
        missing = np.isnan(block).any(axis=1)
        values = block * np.asarray(quiet.held)
        total = values.sum(axis=1) + quiet.cash
        hit = missing | _levels(cfg, total, block) | _trigger(cfg, values, total, due)
        found = np.flatnonzero(hit)
        return lo + int(found[0]) if found.size else None


def _drift(cfg: RebalanceConfig, values: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The largest drift of each candle (``max_drift``: points, or percent of the target)."""
    target = np.array([w for _, w in cfg.coins], dtype=float) / 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = values / total[:, None]
    scale = 100.0 / target if cfg.relative else np.full_like(target, 100.0)
    return np.asarray((np.abs(weights - target) * scale).max(axis=1))


def _trigger(
    cfg: RebalanceConfig, values: np.ndarray, total: np.ndarray, due: np.ndarray | None
) -> np.ndarray:
    """Candles where the trigger may want a rebalance: drift over the limit (a margin
    early), on a check instant for an interval trigger."""
    over = _drift(cfg, values, total) > cfg.drift_limit - MARGIN
    return over if due is None else over & due


def _levels(cfg: RebalanceConfig, total: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Candles where ``stop_loss`` or ``take_profit`` may be reached (a margin early)."""
    hit = np.zeros(len(total), dtype=bool)
    coin_col = {c: k for k, (c, _) in enumerate(cfg.coins)}  # the block's columns
    for level, below in ((cfg.stop_loss, True), (cfg.take_profit, False)):
        if level is None:
            continue
        if level.coin is None:
            reading = total
        elif level.coin in coin_col:
            reading = block[:, coin_col[level.coin]]
        else:
            continue
        slack = abs(level.value) * MARGIN
        hit |= reading <= level.value + slack if below else reading >= level.value - slack
    return hit
