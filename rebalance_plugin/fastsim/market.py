"""Freqtrade's exchange arithmetic in a backtest, for one pair: quantities truncated to the
amount precision, exit prices rounded to the price precision of the month the trade opened in,
and the minimum and maximum stakes with Freqtrade's reserves. Written from Freqtrade 2026.9's
``exchange/exchange_utils.py`` (``amount_to_precision``, ``price_to_precision``),
``exchange/exchange.py`` (``_get_stake_amount_limit``) and
``data/btanalysis/historic_precision.py`` (the price precision over time); the rounding itself
is ccxt's ``decimal_to_precision``, the function Freqtrade calls, so a quantity or a price
comes out to the last bit as Freqtrade's.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ccxt.base.decimal_to_precision import ROUND, TICK_SIZE, TRUNCATE, decimal_to_precision

#: Freqtrade's ``amount_reserve_percent`` default (``DEFAULT_AMOUNT_RESERVE_PERCENT``).
DEFAULT_AMOUNT_RESERVE = 0.05
#: The stop-loss Freqtrade passes when it sizes a minimum stake: a first entry (-0.05), a
#: position increase (0.0), a partial exit's remainder (-0.1) (``optimize/backtesting.py``).
ENTRY_STOPLOSS = -0.05
ADJUST_STOPLOSS = 0.0
EXIT_STOPLOSS = -0.1


@lru_cache(maxsize=256)
def _tick(precision: float) -> Decimal:
    return Decimal(str(precision))


def _tick_size(value: float, precision: float, rounding: int) -> float:
    """ccxt's ``decimal_to_precision`` in TICK_SIZE mode for a positive number, its own
    decimal steps without its string formatting (the result is a multiple of the tick, which
    that formatting leaves as it is): truncated, or rounded half up."""
    dec = Decimal(str(value))
    tick = _tick(precision)
    missing = dec % tick
    if missing:
        dec = dec - missing + tick if rounding == ROUND and missing >= tick / 2 else dec - missing
    return float(dec)


def amount_to_precision(amount: float, precision: float | None, mode: int | None) -> float:
    """Freqtrade's ``amount_to_precision``: truncated to the amount precision."""
    if precision is None or mode is None:
        return amount
    if mode == TICK_SIZE and precision > 0 and amount > 0:
        return _tick_size(amount, precision, TRUNCATE)
    digits = precision if mode == TICK_SIZE else int(precision)
    return float(decimal_to_precision(amount, TRUNCATE, digits, mode))


def price_to_precision(price: float, precision: float | None, mode: int | None) -> float:
    """Freqtrade's ``price_to_precision`` (rounding to the nearest)."""
    if precision is None or mode is None or price != price:
        return price
    if mode == TICK_SIZE and precision > 0 and price > 0:
        return _tick_size(price, precision, ROUND)
    digits = precision if mode == TICK_SIZE else int(precision)
    return float(decimal_to_precision(price, ROUND, digits, mode))


@dataclass(frozen=True)
class PairMarket:
    """One pair as Freqtrade's backtest trades it: the ccxt market's precision and limits,
    and the price precision of each month (``get_tick_size_over_time``: month start, tick;
    Freqtrade forces TICK_SIZE for those)."""

    pair: str
    amount_precision: float | None
    precision_mode: int
    cost_min: float | None = None
    amount_min: float | None = None
    cost_max: float | None = None
    amount_max: float | None = None
    reserve: float = DEFAULT_AMOUNT_RESERVE
    month_starts: Sequence[float] = ()
    month_ticks: Sequence[float] = ()
    price_precision_default: float | None = None
    price_mode_default: int = TICK_SIZE

    @classmethod
    def from_ccxt(
        cls,
        market: Mapping[str, Any],
        precision_mode: int,
        reserve: float = DEFAULT_AMOUNT_RESERVE,
        months: Sequence[tuple[float, float]] = (),
        price_mode: int = TICK_SIZE,
    ) -> PairMarket:
        """From a ccxt unified market (the one Freqtrade's exchange holds), with the price
        precision of each month ((month start, tick) pairs, NaN months left out)."""
        limits = market.get("limits") or {}
        precision = market.get("precision") or {}
        cost = limits.get("cost") or {}
        amount = limits.get("amount") or {}
        return cls(
            pair=str(market["symbol"]),
            amount_precision=precision.get("amount"),
            precision_mode=precision_mode,
            cost_min=cost.get("min"),
            amount_min=amount.get("min"),
            cost_max=cost.get("max"),
            amount_max=amount.get("max"),
            reserve=reserve,
            month_starts=tuple(float(m) for m, _ in months),
            month_ticks=tuple(float(t) for _, t in months),
            price_precision_default=precision.get("price"),
            price_mode_default=price_mode,
        )

    def truncate(self, amount: float) -> float:
        return amount_to_precision(amount, self.amount_precision, self.precision_mode)

    def price_precision(self, ts: float) -> tuple[float | None, int]:
        """The price precision Freqtrade gives a trade opened at ``ts``: the last month at or
        before it (``Series.asof``), else the market's."""
        i = bisect.bisect_right(self.month_starts, ts) - 1
        if i >= 0:
            return self.month_ticks[i], TICK_SIZE
        return self.price_precision_default, self.price_mode_default

    def min_stake(self, price: float, stoploss: float) -> float | None:
        """``get_min_pair_stake_amount``: the larger of the minimum cost (with the stop-loss
        reserve, at most 1.5x) and the minimum amount at ``price`` (with the amount reserve);
        None without either."""
        margin = 1.0 + self.reserve
        sl_reserve = margin / (1 - abs(stoploss)) if abs(stoploss) != 1 else 1.5
        sl_reserve = max(min(sl_reserve, 1.5), 1)
        limits = []
        if self.cost_min is not None:
            limits.append(self.cost_min * sl_reserve)
        if self.amount_min is not None:
            limits.append(self.amount_min * price * margin)
        return max(limits) if limits else None

    def max_stake(self, price: float) -> float:
        """``get_max_pair_stake_amount``: the smaller of the maximum cost and the maximum
        amount at ``price``; infinite without either."""
        limits = []
        if self.cost_max is not None:
            limits.append(self.cost_max)
        if self.amount_max is not None:
            limits.append(self.amount_max * price)
        return min(limits) if limits else float("inf")
