"""The portfolio per candle, as columns of a pair's analysed dataframe: what FreqUI draws on
every pair's chart (``RebalanceStrategy.plot_config``). Pure pandas, no Freqtrade import; the
glue (``rebalance_plugin.ft.chart``) gathers the inputs from Freqtrade's trades (live) or a
backtest's result (FreqUI's backtest view).

At each candle, valued at the candle's **close**, counting the orders filled **before the
candle closed** (fill time < open + timeframe) and nothing later: no look-ahead. A backtest
fills at candle opens, so a rebalance filled at the open of candle *t* shows from candle *t*
on, valued at *t*'s close.

Columns (:data:`COLUMNS`), for the pair's coin:

- ``rb_weight``: the coin's value over the portfolio's value, in % (coins at the close plus the
  portfolio's own cash, as the rebalancer measures weights);
- ``rb_target``: the coin's target weight in %; ``rb_band_low`` / ``rb_band_high``: the target
  less / plus the trigger's limit (``threshold``, or ``interval_min_drift``; in points, or in
  percent of the target with ``threshold_mode`` relative): outside it, the coin is off;
- ``rb_value``: the portfolio's value in the stake currency;
- ``rb_buy_hold``: buy-and-hold of the starting allocation: the coins the first buys bought,
  held, plus the cash they left; money added or removed later counted at its amount.

Weights and values are empty (NaN) before the portfolio's first order, buy-and-hold before the
first buys were complete.

The inputs (:class:`Ledger`): the filled orders (``time``, ``coin``, ``qty``: signed coins,
``cash``: signed stake currency, fees included), the holdings and the cash *after* the last of
them (live: the open trades' amounts and the portfolio's own cash now; a backtest: what its
orders add up to from the investment), the money moved in or out besides trading, and the
starting allocation. Holdings and cash at a candle are the ones after the last order less what
the orders (and moves) at or after its close changed: a cumulative sum, never a loop over
candles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

#: The columns every pair's dataframe gets, in plot_config's names.
WEIGHT, TARGET, BAND_LOW, BAND_HIGH, VALUE, BUY_HOLD = (
    "rb_weight",
    "rb_target",
    "rb_band_low",
    "rb_band_high",
    "rb_value",
    "rb_buy_hold",
)
COLUMNS = (WEIGHT, TARGET, BAND_LOW, BAND_HIGH, VALUE, BUY_HOLD)
ORDER_COLUMNS = ["time", "coin", "qty", "cash"]


@dataclass(frozen=True)
class Start:
    """The starting allocation: when the first buys were complete, the coins they bought and
    the cash they left."""

    time: pd.Timestamp
    holdings: Mapping[str, float]
    cash: float


@dataclass(frozen=True)
class Ledger:
    orders: pd.DataFrame  # ORDER_COLUMNS, filled orders only
    end_holdings: Mapping[str, float]  # after every order
    end_cash: float  # after every order and move
    moves: Sequence[tuple[pd.Timestamp, float]] = ()  # money in (+) or out (-), not trading
    start: Start | None = None

    @classmethod
    def forward(
        cls,
        orders: pd.DataFrame,
        start_cash: float,
        start: Start | None = None,
    ) -> Ledger:
        """A ledger that starts with ``start_cash`` and nothing else (a backtest)."""
        held = orders.groupby("coin", sort=False)["qty"].sum() if len(orders) else pd.Series()
        return cls(
            orders,
            {str(c): float(q) for c, q in held.items()},
            start_cash + float(orders["cash"].sum()) if len(orders) else start_cash,
            (),
            start,
        )


def utc(values: object) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.tz_convert("UTC").as_unit("ns")


def _after(times: pd.DatetimeIndex, closes_at: pd.DatetimeIndex) -> np.ndarray:
    """Row of the first candle whose close is later than each time (len: none)."""
    return cast(np.ndarray, closes_at.searchsorted(times, side="right"))


def _later_sums(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """For each candle, the sum of the ``values`` not yet counted at it: those whose first
    candle (``rows``, from :func:`_after`) is a later one, or none."""
    added = np.zeros(n + 1)
    np.add.at(added, rows, values)
    counted = np.cumsum(added[:-1])  # in at each candle: first row <= candle
    return cast(np.ndarray, added.sum() - counted)


def portfolio_frame(closes: pd.DataFrame, timeframe: pd.Timedelta, ledger: Ledger) -> pd.DataFrame:
    """Per candle (``closes``: indexed by candle open time, a column per coin): each coin's
    value, the cash, the portfolio's ``value`` and ``buy_hold``, all at the candle's close."""
    dates = utc(closes.index)
    closes_at = dates + timeframe
    n = len(dates)
    orders = ledger.orders
    coins = list(dict.fromkeys([*closes.columns, *orders["coin"], *ledger.end_holdings]))
    prices = closes.reindex(columns=coins).set_axis(dates).ffill()
    times = utc(orders["time"]) if len(orders) else pd.DatetimeIndex([], tz="UTC")
    rows = _after(times, closes_at)
    values = []
    for coin in coins:
        mine = (orders["coin"] == coin).to_numpy()
        later = _later_sums(rows[mine], orders["qty"].to_numpy(float)[mine], n)
        held = float(ledger.end_holdings.get(coin, 0.0)) - later
        scale = max(1.0, float(np.abs(orders["qty"].to_numpy(float)[mine]).max(initial=0.0)))
        held[np.abs(held) < 1e-12 * scale] = 0.0  # a position sold whole: float dust
        value = pd.Series(held, index=dates) * prices[coin]
        values.append(value.where(held != 0.0, 0.0).rename(coin))
    coin_values = pd.concat(values, axis=1) if values else pd.DataFrame(index=dates)
    cash = ledger.end_cash - _later_sums(rows, orders["cash"].to_numpy(float), n)
    if ledger.moves:
        move_times = utc([t for t, _ in ledger.moves])
        move_rows = _after(move_times, closes_at)
        amounts = np.array([a for _, a in ledger.moves], dtype=float)
        cash = cash - _later_sums(move_rows, amounts, n)
    frame = coin_values.copy()
    frame["cash"] = cash
    frame["value"] = coin_values.sum(axis=1) + cash
    first = times.min() if len(times) else None
    if first is not None:
        frame.loc[closes_at <= first, :] = np.nan
    else:
        frame.loc[:, :] = np.nan
    frame["buy_hold"] = _buy_and_hold(prices, closes_at, ledger)
    return frame


def _buy_and_hold(prices: pd.DataFrame, closes_at: pd.DatetimeIndex, ledger: Ledger) -> pd.Series:
    start = ledger.start
    if start is None:
        return pd.Series(np.nan, index=prices.index)
    held = pd.Series({c: float(q) for c, q in start.holdings.items()}, dtype=float)
    bh = prices.reindex(columns=held.index).fillna(0.0).mul(held, axis=1).sum(axis=1)
    bh = bh + start.cash
    since = [(t, a) for t, a in ledger.moves if utc([t])[0] >= utc([start.time])[0]]
    if since:
        rows = _after(utc([t for t, _ in since]), closes_at)
        added = np.zeros(len(closes_at) + 1)
        np.add.at(added, rows, np.array([a for _, a in since], dtype=float))
        bh = bh + np.cumsum(added[:-1])
    return bh.where(closes_at > utc([start.time])[0])


def pair_columns(frame: pd.DataFrame, coin: str, target: float, half_band: float) -> pd.DataFrame:
    """The :data:`COLUMNS` of ``coin``'s chart from :func:`portfolio_frame`'s ``frame``:
    ``target`` and ``half_band`` are fractions of the portfolio (0.15, 0.05)."""
    value = frame["value"]
    coin_value = frame[coin] if coin in frame.columns else pd.Series(0.0, index=frame.index)
    weight = (coin_value / value.where(value > 0)) * 100.0
    return pd.DataFrame(
        {
            WEIGHT: weight,
            TARGET: round(target * 100.0, 9),
            BAND_LOW: round(max(0.0, target - half_band) * 100.0, 9),
            BAND_HIGH: round(min(1.0, target + half_band) * 100.0, 9),
            VALUE: value,
            BUY_HOLD: frame["buy_hold"],
        },
        index=frame.index,
    )


def entry_marks(
    dates: pd.Series, opened: Sequence[pd.Timestamp], timeframe: pd.Timedelta
) -> pd.Series:
    """1 on the candle whose signal opened each trade (the last candle closed before the trade
    opened: Freqtrade enters on the candle after its signal), else 0."""
    index = utc(dates)
    if not opened:
        return pd.Series(0, index=dates.index, dtype="int64")
    signal = (utc(list(opened)) - timeframe).floor(timeframe)
    marks = index.isin(signal)
    return pd.Series(marks.astype("int64"), index=dates.index)
