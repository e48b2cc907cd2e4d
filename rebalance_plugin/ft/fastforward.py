"""Backtest speed: the candles on which nothing can happen are not looked at (results unchanged).

Between two rebalances a portfolio's holdings and cash do not move; only prices do. With a
threshold trigger, the next candle on which anything can happen is the first one whose prices
put a coin past the threshold; with an interval trigger, the next check instant. Every candle
before it would run the whole loop (trades, prices, weights, the engine) only to decide nothing.
``FastForward.until`` finds that candle from all the backtest's candle opens at once (numpy over
the price matrix), and the plugin's loop returns at once until then.

Why the results cannot change:

- it is used only when nothing is pending (no order handed out or carried, no rebalance half
  done, no first buy to make, no skip episode being followed, no stop level to watch, no coin
  without a candle): the loop's only possible action is the trigger's;
- it stops *early*, never late: at any candle where the drift computed here comes within
  ``MARGIN`` points of the limit (numpy's sums may differ from the core's ``math.fsum`` in the
  last bits), and at any candle where a coin has no price (the loop says so there). On that
  candle the loop runs as always and the core decides, exactly as without this module.

``tests/unit/test_ft_fastforward.py`` checks the candles found against the core's own drift, and
``tests/backtest`` runs the same backtests with it on and off (``ENABLED``) for identical orders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..core.config import RebalanceConfig
from ..core.triggers import IntervalTrigger, trigger_for

#: Off: the loop looks at every candle (the tests compare both).
ENABLED = True
#: Stop this many drift units before the limit: far above float noise, far below any threshold.
MARGIN = 1e-6
#: Candles examined per step of the search (most rebalances come within a few hundred).
CHUNK = 1024


class FastForward:
    """The candle opens of one backtest as a matrix, and the search for the next candle on
    which the loop has something to decide."""

    def __init__(self, opens: Mapping[str, Mapping[int, float]]) -> None:
        self.opens = opens  # pair -> {candle time (s): open}
        self._key: tuple[str, ...] = ()
        self.times = np.zeros(0, dtype=np.int64)
        self.prices = np.zeros((0, 0))

    def _matrix(self, pairs: Sequence[str]) -> None:
        key = tuple(pairs)
        if key == self._key:
            return
        times = sorted(set().union(*(self.opens.get(p, {}) for p in pairs)))
        self.times = np.array(times, dtype=np.int64)
        matrix = np.full((len(times), len(pairs)), np.nan)
        index = {t: i for i, t in enumerate(times)}
        for j, pair in enumerate(pairs):
            for t, price in self.opens.get(pair, {}).items():
                matrix[index[t], j] = price
        self.prices = matrix
        self._key = key

    def until(
        self,
        cfg: RebalanceConfig,
        now: float,
        first_buy: float,
        quantities: Mapping[str, float],
        cash: float,
    ) -> float:
        """The time of the next candle after ``now`` on which the loop must run (``math.inf``:
        none before the data ends), for a portfolio holding ``quantities`` and ``cash``."""
        if not ENABLED:
            return 0.0
        coins = list(quantities)
        self._matrix([cfg.pair(c) for c in coins])
        start = int(np.searchsorted(self.times, now, side="right"))
        trigger = trigger_for(cfg)
        if isinstance(trigger, IntervalTrigger):
            limit = math.inf  # nothing to decide before the next check instant
            stop = trigger.next_check(now, first_buy)
        else:
            limit = cfg.threshold - MARGIN
            stop = math.inf
        targets = cfg.weights
        target = np.array([targets.get(c, 0.0) for c in coins])
        held = np.array([quantities[c] for c in coins])
        is_target = target > 0
        scale = np.where(is_target & cfg.relative, 100.0 / np.where(is_target, target, 1.0), 100.0)
        for lo in range(start, len(self.times), CHUNK):
            if self.times[lo] >= stop:
                break
            block = self.prices[lo : lo + CHUNK]
            missing = np.isnan(block).any(axis=1)
            values = block * held
            total = values.sum(axis=1) + cash
            with np.errstate(invalid="ignore", divide="ignore"):
                weights = values / total[:, None]
            drift = (np.abs(weights - target) * scale).max(axis=1)
            hits = np.flatnonzero(missing | (drift > limit) | (self.times[lo : lo + CHUNK] >= stop))
            if hits.size:
                return float(self.times[lo + hits[0]])
        return float(stop)
