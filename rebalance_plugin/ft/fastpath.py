"""The one place where the plugin reaches into Freqtrade internals, and why.

A rebalancer keeps one trade per coin open for years, and every rebalance adds an order to it:
trades collect hundreds or thousands of orders. Freqtrade 2026.9 is built for trades with
10-20 orders (maintainer, freqtrade issue #11262), and in a backtest it does work proportional to
a trade's order count on *every candle*:

1. ``strategy_safe_wrapper`` deep-copies the trade, with all its orders, before every call of
   ``adjust_trade_position`` (80% of a naive rebalancer's backtest time);
2. ``Backtesting.manage_open_orders``, ``LocalTrade.select_order(is_open=True)`` (twice per
   candle) and ``LocalTrade.open_orders`` / ``has_open_orders`` (on every wallet update) scan the
   whole order list looking for open orders;
3. ``LocalTrade.recalc_trade_from_orders`` replays every order with exact-decimal arithmetic after
   every fill.

4. ``Backtesting._check_adjust_trade_for_candle`` computes the trade's profit, two stake limits
   and the wallet's available stake for every open trade on every candle *before* asking the
   strategy, which has nothing to do on almost every candle.
5. ``LocalTrade.nr_of_successful_entries`` (asked when every entry order closes) lists all the
   trade's filled entry orders to count them, and ``Backtesting.get_pair_precision`` (every
   order) looks the price precision up with pandas' ``Series.asof``.

Together they make a backtest quadratic in the number of orders (FREQTRADE-NOTES.md: 45x slower
than buy-and-hold). This module removes that cost without changing any result:

- ``NoTradeCopyMixin._adjust_trade_position_internal`` calls the strategy's
  ``adjust_trade_position`` without the deep copy. The plugin's callback only reads the trade.
- For backtest trades (exactly ``LocalTrade``, never the database ``Trade`` of live/dry-run), a
  *closed-prefix watermark* per trade records how many leading orders are closed. In a backtest a
  closed order never reopens and only open orders are ever removed, so open orders can only be
  after the watermark: the open-order look-ups scan only the tail.
- A strategy may set ``ft_adjust_gate`` on itself: an object with ``orders`` (the pairs that
  may have an adjustment this candle), ``buys_due`` (True: every pair's visit matters) and
  ``wanted(pair) -> bool``. Where the pair is not in ``orders`` and no buys are due, or
  ``wanted`` answers False, the backtest skips ``_check_adjust_trade_for_candle`` for that trade
  and candle (asked for every open trade on every candle: a look-up, not a call). The skipped
  code only computes arguments and calls the strategy, whose answer would be "no adjustment":
  nothing else changes.
- ``recalc_trade_from_orders`` is Freqtrade's own loop (copied verbatim below) resumed from a
  cached state at the watermark instead of from the first order. The loop is a left fold over the
  orders, so the result is identical.
- ``nr_of_successful_entries`` counts the closed prefix once (a closed backtest order never
  changes) and scans only the tail, with ``select_filled_orders``' own condition.
- ``get_pair_precision`` finds the same value as ``Series.asof`` (the last non-NaN value at or
  before the time) with a binary search over the series' dates, kept per pair.

Safety: ``install()`` patches only if the source of every replaced Freqtrade function has a
hash recorded here (``EXPECTED_SOURCE_SHA256``, checked by ``GUARD``, a
``sourceguard.SourceGuard``): a source the copies below were read against, in the releases named
beside it. On a Freqtrade release that changes any of them, it logs a warning and leaves
Freqtrade untouched (correct, only slower), and ``tests/unit/test_ft_sourceguard.py`` fails so
the copy below is re-checked against the new code.

Per release: 2026.6 and 2026.7's ``recalc_trade_from_orders`` names its unused loop index ``i``
(2026.8: ``_i``), the loop copied below is otherwise the same; 2026.6's ``select_order``
filters lists where 2026.7 walks the orders backwards, both answering the last order that
matches. The fast path is verified on 2026.6 to 2026.9.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.exchange import amount_to_contract_precision, price_to_precision
from freqtrade.exchange.exchange import TICK_SIZE
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.persistence.trade_model import NON_OPEN_EXCHANGE_STATES, LocalTrade
from freqtrade.strategy.interface import IStrategy
from freqtrade.util import FtPrecise

from .sourceguard import Accepted, SourceGuard

logger = logging.getLogger(__name__)

#: sha256 of ``inspect.getsource`` of each Freqtrade function this module replaces or relies on,
#: with the releases it was read in where they differ (``sourceguard.Accepted``).
EXPECTED_SOURCE_SHA256: dict[str, Accepted] = {}  # filled in below, checked by install()

_ORIGINALS: dict[str, Any] = {}
_installed = False

#: Set to False (before the strategy is created) to run with Freqtrade's own code paths, e.g. to
#: compare results or timings. NoTradeCopyMixin still skips the deep copy.
ENABLED = True


#: Where each Freqtrade function lives: (owner class, attribute, is a property).
_SITES: dict[str, tuple[type, str, bool]] = {
    "LocalTrade.recalc_trade_from_orders": (LocalTrade, "recalc_trade_from_orders", False),
    "LocalTrade.select_order": (LocalTrade, "select_order", False),
    "LocalTrade.open_orders": (LocalTrade, "open_orders", True),
    "LocalTrade.has_open_orders": (LocalTrade, "has_open_orders", True),
    "LocalTrade.nr_of_successful_entries": (LocalTrade, "nr_of_successful_entries", True),
    "LocalTrade.select_filled_orders": (LocalTrade, "select_filled_orders", False),
    "Backtesting.get_pair_precision": (Backtesting, "get_pair_precision", False),
    "Backtesting.manage_open_orders": (Backtesting, "manage_open_orders", False),
    "Backtesting._check_adjust_trade_for_candle": (
        Backtesting,
        "_check_adjust_trade_for_candle",
        False,
    ),
    "IStrategy._adjust_trade_position_internal": (
        IStrategy,
        "_adjust_trade_position_internal",
        False,
    ),
}


def _current(name: str) -> Any:
    owner, attr, is_property = _SITES[name]
    value = owner.__dict__[attr]
    return value.fget if is_property else value


def _target_functions() -> dict[str, Any]:
    """Freqtrade's own versions (the originals, also after ``install()``)."""
    return {name: _ORIGINALS.get(name) or _current(name) for name in _SITES}


#: The fast path is installed only while Freqtrade's code is the code copied and relied on.
GUARD = SourceGuard(
    _target_functions,
    EXPECTED_SOURCE_SHA256,
    "the backtest fast path is disabled. Results stay correct but long backtests will be much "
    "slower.",
    logger,
)


# --------------------------------------------------------------------------------------------
# 1. No deep copy of the trade before adjust_trade_position.
# --------------------------------------------------------------------------------------------
class NoTradeCopyMixin(IStrategy):
    """Mix into an ``IStrategy``: calls ``adjust_trade_position`` with the trade itself.

    Same contract as ``IStrategy._adjust_trade_position_internal`` (errors are logged and mean
    "no adjustment"), minus the deep copy. The callback must not modify the trade.

    Derives from ``IStrategy`` (see ``RebalanceMixin``): Freqtrade's hyperopt registers the module
    of every base class of the strategy for pickling by value, walking up until ``IStrategy``; a
    mixin based on ``object`` would register ``builtins`` and ``-j 2`` would fail with
    "Could not pickle object as excessively deep recursion required".
    """

    def _adjust_trade_position_internal(
        self,
        trade,
        current_time,
        current_rate,
        current_profit,
        min_stake,
        max_stake,
        current_entry_rate,
        current_exit_rate,
        current_entry_profit,
        current_exit_profit,
        **kwargs,
    ) -> tuple[float | None, str]:
        try:
            resp = self.adjust_trade_position(
                trade=trade,
                current_time=current_time,
                current_rate=current_rate,
                current_profit=current_profit,
                min_stake=min_stake,
                max_stake=max_stake,
                current_entry_rate=current_entry_rate,
                current_exit_rate=current_exit_rate,
                current_entry_profit=current_entry_profit,
                current_exit_profit=current_exit_profit,
                **kwargs,
            )
        except Exception as error:  # same as strategy_safe_wrapper(supress_error=True)
            logger.exception(f"Unexpected error {error!r} calling adjust_trade_position")
            return None, ""
        if isinstance(resp, tuple):
            return (resp[0] if resp else None), ((resp[1] if len(resp) > 1 else "") or "")
        return resp, ""


# --------------------------------------------------------------------------------------------
# 2. Closed-prefix watermark: open-order look-ups scan only the tail of a backtest trade.
# --------------------------------------------------------------------------------------------
def closed_prefix(trade: LocalTrade) -> int:
    """Number of leading orders of a backtest trade that are closed (amortised O(1))."""
    orders = trade.orders
    n = len(orders)
    wm = trade.__dict__.get("_rb_wm", 0)
    if wm > n:  # orders were removed below the watermark: not expected, rescan safely
        wm = 0
    while wm < n and not orders[wm].ft_is_open:
        wm += 1
    trade._rb_wm = wm
    return wm


def _is_bt(trade: Any) -> bool:
    return type(trade) is LocalTrade


def _select_order(self, order_side=None, is_open=None, only_filled=False):
    if is_open is True and type(self) is LocalTrade:
        orders = self.orders
        if self.__dict__.get("_rb_wm", -1) == len(orders):  # every order closed (most candles)
            return None
        for i in range(len(orders) - 1, closed_prefix(self) - 1, -1):
            o = orders[i]
            if (order_side and o.ft_order_side != order_side) or not o.ft_is_open:
                continue
            return o
        return None
    return _ORIGINALS["LocalTrade.select_order"](self, order_side, is_open, only_filled)


def _open_orders(self):
    if _is_bt(self):
        if self.__dict__.get("_rb_wm", -1) == len(self.orders):
            return []
        return [
            o
            for o in self.orders[closed_prefix(self) :]
            if o.ft_is_open and o.ft_order_side != "stoploss"
        ]
    return _ORIGINALS["LocalTrade.open_orders"](self)


def _has_open_orders(self):
    if _is_bt(self):
        if self.__dict__.get("_rb_wm", -1) == len(self.orders):
            return False
        return any(
            o.ft_is_open and o.ft_order_side != "stoploss"
            for o in self.orders[closed_prefix(self) :]
        )
    return _ORIGINALS["LocalTrade.has_open_orders"](self)


def _manage_open_orders(self, trade, current_time, row) -> bool:
    # Freqtrade's Backtesting.manage_open_orders, scanning only orders after the watermark.
    for order in [o for o in trade.orders[closed_prefix(trade) :] if o.ft_is_open]:
        oc = self.check_order_cancel(trade, order, current_time)
        if oc:
            return True
        elif oc is None and self.check_order_replace(trade, order, current_time, row):
            self.canceled_trade_entries += 1
            return True
    return False


def _check_adjust_trade_for_candle(self, trade, row, current_time):
    gate = self.strategy.__dict__.get("ft_adjust_gate")
    if gate is not None and (
        (not gate.buys_due and trade.pair not in gate.orders) or not gate.wanted(trade.pair)
    ):
        return trade
    return _ORIGINALS["Backtesting._check_adjust_trade_for_candle"](self, trade, row, current_time)


def _is_filled_entry(o: Any, side: str) -> bool:
    # LocalTrade.select_filled_orders(side)'s condition (freqtrade 2026.6 to 2026.9)
    return (
        o.ft_order_side == side
        and o.ft_is_open is False
        and bool(o.filled)
        and o.status in NON_OPEN_EXCHANGE_STATES
    )


def _nr_of_successful_entries(self):
    if not _is_bt(self):
        return _ORIGINALS["LocalTrade.nr_of_successful_entries"](self)
    orders = self.orders
    wm = closed_prefix(self)
    side = self.entry_side
    cache = self.__dict__.get("_rb_entries")
    if (
        cache is not None
        and cache[0] <= wm
        and cache[1] == side
        and (cache[0] == 0 or orders[cache[0] - 1] is cache[2])
    ):
        start, count = cache[0], cache[3]
    else:
        start, count = 0, 0
    for i in range(start, wm):
        if _is_filled_entry(orders[i], side):
            count += 1
    self._rb_entries = (wm, side, orders[wm - 1] if wm else None, count)
    return count + sum(1 for o in orders[wm:] if _is_filled_entry(o, side))


def _get_pair_precision(self, pair, current_time):
    series = self.price_pair_prec.get(pair)
    if series is not None:
        cache = self.__dict__.setdefault("_rb_precision", {})
        found = cache.get(pair)
        if found is None or found[0] is not series:
            valid = series.dropna()
            found = (series, pd.DatetimeIndex(valid.index).as_unit("ns").asi8, valid.to_numpy())
            cache[pair] = found
        _, dates, values = found
        i = int(np.searchsorted(dates, pd.Timestamp(current_time).value, side="right")) - 1
        if i >= 0:
            # Force tick size if we define the precision
            return values[i], TICK_SIZE
    return self.exchange.get_precision_price(pair), self.precision_mode_price


# --------------------------------------------------------------------------------------------
# 3. recalc_trade_from_orders, resumed from the state cached at the watermark.
# --------------------------------------------------------------------------------------------
_ZERO = FtPrecise(0.0)
_INITIAL_STATE = (
    FtPrecise(0.0),
    FtPrecise(0.0),
    FtPrecise(0.0),
    0.0,
    FtPrecise(0.0),
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    None,
    None,
)


def _recalc_trade_from_orders(self, *, is_closing: bool = False):
    if not _is_bt(self):
        return _ORIGINALS["LocalTrade.recalc_trade_from_orders"](self, is_closing=is_closing)
    orders = self.orders
    wm = closed_prefix(self)
    cache = self.__dict__.get("_rb_recalc")
    if cache is not None and cache[0] <= wm and (cache[0] == 0 or orders[cache[0] - 1] is cache[1]):
        start, _, state = cache
    else:
        start, state = 0, _INITIAL_STATE
    (
        current_amount,
        current_stake,
        max_stake_amount,
        total_stake,
        avg_price,
        close_profit,
        close_profit_abs,
        total_funding_fees,
        current_funding_fee,
        funding_fees,
        prof,
        price,
    ) = state
    # ---- Freqtrade 2026.6-2026.9 LocalTrade.recalc_trade_from_orders, loop body verbatim ----
    self.funding_fees = funding_fees
    for i in range(start, len(orders) + 1):
        if i == wm:
            self._rb_recalc = (
                i,
                orders[i - 1] if i else None,
                (
                    current_amount,
                    current_stake,
                    max_stake_amount,
                    total_stake,
                    avg_price,
                    close_profit,
                    close_profit_abs,
                    total_funding_fees,
                    current_funding_fee,
                    self.funding_fees,
                    prof,
                    price,
                ),
            )
        if i == len(orders):
            break
        o = orders[i]
        if o.ft_is_open or not o.filled:
            continue
        current_funding_fee += o.funding_fee or 0.0
        total_funding_fees += o.funding_fee or 0.0
        tmp_amount = FtPrecise(o.safe_amount_after_fee)
        tmp_price = FtPrecise(o.safe_price)

        is_exit = o.ft_order_side != self.entry_side
        side = FtPrecise(-1 if is_exit else 1)
        if tmp_amount > _ZERO and tmp_price is not None:
            current_amount += tmp_amount * side
            price = avg_price if is_exit else tmp_price
            current_stake += price * tmp_amount * side

            if current_amount > _ZERO and not is_exit:
                avg_price = current_stake / current_amount

        if is_exit:
            self.funding_fees = current_funding_fee
            exit_rate = o.safe_price
            exit_amount = o.safe_amount_after_fee
            prof = self.calculate_profit(exit_rate, exit_amount, float(avg_price))
            close_profit_abs += prof.profit_abs
            if total_stake > 0:
                close_profit = (close_profit_abs / total_stake) * self.leverage
            current_funding_fee = 0.0
        else:
            total_stake += self._calc_open_trade_value(tmp_amount, price)
            max_stake_amount += tmp_amount * price
    self.funding_fees = total_funding_fees
    self.max_stake_amount = float(max_stake_amount) / (self.leverage or 1.0)

    if close_profit:
        self.close_profit = close_profit
        self.realized_profit = close_profit_abs
        self.close_profit_abs = prof.profit_abs

    current_amount_tr = amount_to_contract_precision(
        float(current_amount), self.amount_precision, self.precision_mode, self.contract_size
    )
    if current_amount_tr > 0.0:
        self.open_rate = price_to_precision(
            float(current_stake / current_amount),
            self.price_precision,
            self.precision_mode_price,
        )
        self.amount = current_amount_tr
        self.stake_amount = float(current_stake) / (self.leverage or 1.0)
        self.fee_open_cost = self.fee_open * float(self.max_stake_amount)
        self.recalc_open_trade_value()
        if self.stop_loss_pct is not None and self.open_rate is not None:
            self.adjust_stop_loss(self.open_rate, self.stop_loss_pct)
    elif is_closing and total_stake > 0:
        self.close_profit = (close_profit_abs / total_stake) * self.leverage
        self.close_profit_abs = close_profit_abs


EXPECTED_SOURCE_SHA256.update(
    {
        # Checked by tests/unit/test_ft_sourceguard.py. Add a release's hash (`GUARD.hashes()`)
        # only after re-reading its Freqtrade code against the copies above.
        "LocalTrade.recalc_trade_from_orders": {
            "399535aefbf5cd71af637e12feed83ff777595ee277c0f4b755c36aebf04021c": (
                "2026.6",
                "2026.7",
            ),
            "867347ee0ab8f31950fafcd5a929efeb760ea6adb416cfa36f11d217f7ac2eb9": (
                "2026.8",
                "2026.9",
            ),
        },
        "LocalTrade.select_order": {
            "e3ce2c7da77bfb74d28083f62824ca0bfecdd071f6fd322cc5bde5fddede00db": ("2026.6",),
            "21501a34db8d1c354018a33a8e8ac09997daaf9a2f88a868180a5c59e9c0ad07": (
                "2026.7",
                "2026.8",
                "2026.9",
            ),
        },
        "LocalTrade.open_orders": (
            "e6171f26c78ec0366ceebb7f0a758ecb39513a546fd19d51358df083d082df02"
        ),
        "LocalTrade.has_open_orders": (
            "7dfc93eecbde7e17144b9f65a015a1b7a2d07aa0202b75b43826313a575c9ae2"
        ),
        "LocalTrade.nr_of_successful_entries": (
            "78c71008b6db18ab80e2de712b7a0b990cf5a28cb159ddddd051fccfbb6f8ae0"
        ),
        # Relied on, not replaced: its condition is _is_filled_entry's.
        "LocalTrade.select_filled_orders": (
            "2591db5d3aabc2a864f487567234c1e026c1123cdfe314070e0e683f3f564501"
        ),
        "Backtesting.get_pair_precision": (
            "bf58a9ebba9a64fdc4aebc81116b49f5cd218a51083247e9ac5bd173860049e0"
        ),
        "Backtesting.manage_open_orders": (
            "31ae85853ad0eed91ef53d8fb5b2e39c5b5cec0f2a0566a7931e51c6eccfeac0"
        ),
        # Wrapped (skipped when the strategy has no order); also relied on for the cost-basis
        # conversion of a negative stake.
        "Backtesting._check_adjust_trade_for_candle": (
            "900e3ec7f067fb67b56f190babed637712e26f5c08cb9e90ee5fd0df9849af8d"
        ),
        # Relied on, not replaced: NoTradeCopyMixin overrides it with the same contract.
        "IStrategy._adjust_trade_position_internal": (
            "c75c442efe6e109346f3e5dc757d5766774db3d242b948d9d0df8021ee59d964"
        ),
    }
)


def _replacements() -> dict[str, Any]:
    return {
        "LocalTrade.recalc_trade_from_orders": _recalc_trade_from_orders,
        "LocalTrade.select_order": _select_order,
        "LocalTrade.open_orders": _open_orders,
        "LocalTrade.has_open_orders": _has_open_orders,
        "LocalTrade.nr_of_successful_entries": _nr_of_successful_entries,
        "Backtesting.get_pair_precision": _get_pair_precision,
        "Backtesting.manage_open_orders": _manage_open_orders,
        "Backtesting._check_adjust_trade_for_candle": _check_adjust_trade_for_candle,
    }


def install() -> bool:
    """Patch Freqtrade for fast rebalancing backtests. Idempotent. Returns True if active."""
    global _installed
    if _installed:
        return True
    if not ENABLED:
        return False
    if not GUARD.verified():
        return False
    for name, replacement in _replacements().items():
        owner, attr, is_property = _SITES[name]
        _ORIGINALS[name] = _current(name)
        setattr(owner, attr, property(replacement) if is_property else replacement)
    _installed = True
    return True


def uninstall() -> None:
    """Restore Freqtrade's originals (used by tests comparing both paths)."""
    global _installed
    if not _installed:
        return
    for name in _replacements():
        owner, attr, is_property = _SITES[name]
        original = _ORIGINALS.pop(name)
        setattr(owner, attr, property(original) if is_property else original)
    _installed = False
