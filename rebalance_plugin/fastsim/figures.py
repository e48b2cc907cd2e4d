"""A harness run's figures, computed by the report's own functions
(:mod:`rebalance_plugin.report.metrics`) on its orders, so that a point's figures mean exactly
what they mean for a Freqtrade backtest read by ``freqtrade-rebalance report``: the equity
curve valued at each candle's close, buy-and-hold of the first buys, the FIFO gain of the sales
before the end, turnover and fees of the orders, the rebalances counted from the events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..core import journal
from ..report.metrics import (
    ORDER_COLUMNS,
    buy_and_hold_orders,
    cagr,
    equity_curve,
    journal_counts,
    mark_prices,
    max_drawdown,
    order_totals,
    realised_gain,
)
from .run import Result


@dataclass(frozen=True)
class Marks:
    """The prices a run is valued at (``report.build``): the first candle's open at the
    start, then each candle's close; and the last candle's opens (buy-and-hold's sale)."""

    prices: pd.DataFrame
    last_opens: pd.Series

    @classmethod
    def of(cls, opens: pd.DataFrame, closes: pd.DataFrame, start: int, end: int, tf: int) -> Marks:
        """From the (opens, closes) of ``report.loading.load_candles`` over [start, end]."""
        begin = pd.Timestamp(start, unit="s", tz="UTC")
        finish = pd.Timestamp(end, unit="s", tz="UTC")
        prices = mark_prices(opens, closes, begin, finish, pd.Timedelta(seconds=tf))
        last_opens = opens[opens.index <= finish].ffill().iloc[-1]
        return cls(prices, last_opens)


@dataclass(frozen=True)
class Figures:
    """What a sweep row shows (money in the stake currency, fractions: 0.12 = 12%)."""

    final_value: float
    realised_gain: float
    bh_final_value: float
    difference_pp: float
    cagr: float
    max_drawdown: float
    rebalances: int
    turnover: float
    fees: float
    orders: int
    equity: pd.Series  # from the starting balance (the wallet)
    bh_equity: pd.Series


def orders_frame(result: Result) -> pd.DataFrame:
    rows = [(o.time, o.coin, o.side, o.amount, o.price, o.fee, o.tag) for o in result.orders]
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="s", utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def events_as_journal(result: Result) -> list[dict[str, Any]]:
    """The run's events as the journal's records (what the report counts)."""
    return [journal.record(e) for e in result.events]


def figures(result: Result, marks: Marks) -> Figures:
    """The report's figures of ``result`` (``report.metrics.portfolio_view``'s, less the
    weights)."""
    orders = orders_frame(result)
    start = pd.Timestamp(result.start, unit="s", tz="UTC")
    end = pd.Timestamp(result.end, unit="s", tz="UTC")
    balance = result.starting_balance
    equity = equity_curve(orders, marks.prices, balance)
    bh = buy_and_hold_orders(orders, marks.last_opens, end)
    bh_equity = equity_curve(bh, marks.prices, balance)
    turnover, fees, _ = order_totals(orders)
    rebalances, _, _ = journal_counts({"kind": e.kind} for e in result.events)
    final, bh_final = float(equity.iloc[-1]), float(bh_equity.iloc[-1])
    gain, _, _ = realised_gain(orders, end)
    return Figures(
        final_value=final,
        realised_gain=gain,
        bh_final_value=bh_final,
        difference_pp=((final / balance - 1.0) - (bh_final / balance - 1.0)) * 100.0,
        cagr=cagr(balance, final, start, end),
        max_drawdown=max_drawdown(equity).depth,
        rebalances=rebalances,
        turnover=turnover,
        fees=fees,
        orders=len(orders),
        equity=equity,
        bh_equity=bh_equity,
    )
