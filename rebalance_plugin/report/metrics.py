"""The portfolio view's computations, on plain pandas objects. No Freqtrade import.

An *orders* frame has the columns ``time`` (UTC timestamps), ``coin``, ``side`` ("buy"/"sell"),
``amount``, ``price``, ``fee`` and ``tag``; a *prices* frame is indexed by time, one column per
coin. The definitions (value, cash, equity, buy-and-hold, turnover, fees, drawdown, CAGR, weights)
are in :mod:`rebalance_plugin.report`'s docstring; tests/unit/test_report.py works them out by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd

from rebalance_plugin.core import taxlots

YEAR = pd.Timedelta(days=365)
ORDER_COLUMNS = ["time", "coin", "side", "amount", "price", "fee", "tag"]
REBALANCE_TAG = "rebalance"
#: The tag of the sales Freqtrade makes when a backtest ends with trades open.
FINAL_EXIT_TAG = "force_exit"


def _times(times: Iterable[Any]) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.tz_convert("UTC").as_unit("ns")


def _coins(orders: pd.DataFrame, coins: Sequence[str] | None) -> list[str]:
    found = list(dict.fromkeys(orders["coin"]))
    if coins is None:
        return found
    missing = [c for c in found if c not in coins]
    if missing:
        raise ValueError(f"orders for coins without prices: {', '.join(missing)}")
    return list(coins)


def _fill_positions(orders: pd.DataFrame, times: pd.DatetimeIndex) -> np.ndarray:
    """Index in ``times`` of the first valuation time at or after each order's fill time
    (``len(times)`` for orders after the last one: they are not counted)."""
    return cast(np.ndarray, times.searchsorted(_times(orders["time"]), side="left"))


def _sign(orders: pd.DataFrame) -> np.ndarray:
    side = orders["side"].to_numpy()
    bad = set(side) - {"buy", "sell"}
    if bad:
        raise ValueError(f"order side must be 'buy' or 'sell', not {sorted(bad)}")
    return np.where(side == "buy", 1.0, -1.0)


def holdings(
    orders: pd.DataFrame, times: Iterable[Any], coins: Sequence[str] | None = None
) -> pd.DataFrame:
    """Quantity of each coin held at each time, counting the orders filled at or before it."""
    index = _times(times)
    cols = _coins(orders, coins)
    delta = np.zeros((len(index) + 1, len(cols)))
    if len(orders):
        rows = _fill_positions(orders, index)
        col = pd.Index(cols).get_indexer(orders["coin"])
        np.add.at(delta, (rows, col), _sign(orders) * orders["amount"].to_numpy(float))
    held = np.cumsum(delta[:-1], axis=0)
    # Selling a whole position leaves float dust (1e-17): show it as zero.
    scale = max(1.0, float(orders["amount"].abs().max())) if len(orders) else 1.0
    held[np.abs(held) < 1e-12 * scale] = 0.0
    return pd.DataFrame(held, index=index, columns=cols)


def cash(orders: pd.DataFrame, times: Iterable[Any], start_cash: float) -> pd.Series:
    """Cash at each time: buys cost value × (1 + fee), sells bring value × (1 − fee)."""
    index = _times(times)
    flow = np.zeros(len(index) + 1)
    if len(orders):
        value = orders["amount"].to_numpy(float) * orders["price"].to_numpy(float)
        fee = orders["fee"].to_numpy(float)
        sign = _sign(orders)
        np.add.at(flow, _fill_positions(orders, index), -sign * value - value * fee)
    return pd.Series(start_cash + np.cumsum(flow[:-1]), index=index, name="cash")


def _valued(orders: pd.DataFrame, prices: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """(value of each coin, cash) at each time of ``prices``."""
    prices = prices.copy()
    prices.index = _times(prices.index)
    prices = prices.sort_index().ffill()
    held = holdings(orders, prices.index, list(prices.columns))
    # A coin not yet listed has no price (NaN) and no holding: it is worth nothing.
    values = (held * prices).where(held != 0.0, 0.0)
    if values.isna().to_numpy().any():
        where = values.isna().stack()
        first = where[where].index[0]
        raise ValueError(f"no price for {first[1]} at {first[0]}, where it is held")
    return values, cash(orders, prices.index, 0.0)


def equity_curve(orders: pd.DataFrame, prices: pd.DataFrame, start_cash: float) -> pd.Series:
    """Portfolio value at each time of ``prices``: cash + Σ holdings × price."""
    values, flows = _valued(orders, prices)
    return (start_cash + flows + values.sum(axis=1)).rename("equity")


def coin_weights(orders: pd.DataFrame, prices: pd.DataFrame, start_cash: float) -> pd.DataFrame:
    """Each coin's share of the equity (cash included) at each time of ``prices``."""
    values, flows = _valued(orders, prices)
    total = start_cash + flows + values.sum(axis=1)
    return values.div(total.where(total > 0), axis=0)


def buy_and_hold_orders(
    orders: pd.DataFrame, exit_prices: pd.Series | dict[str, float], exit_time: Any
) -> pd.DataFrame:
    """Orders of buy-and-hold of the same starting allocation: the first buy of every coin,
    and a sale of that same quantity at ``exit_prices[coin]`` at ``exit_time``, same fee."""
    buys = orders[orders["side"] == "buy"].copy()
    buys["_t"] = _times(buys["time"])
    first = buys.sort_values("_t", kind="stable").groupby("coin", sort=False).head(1)
    first = first.drop(columns="_t")
    exits = first.copy()
    exits["time"] = _times([exit_time] * len(exits))
    exits["side"] = "sell"
    exits["price"] = [float(exit_prices[c]) for c in exits["coin"]]
    exits["tag"] = "buy_and_hold_exit"
    first = first.copy()
    first["time"] = _times(first["time"])
    return pd.concat([first, exits], ignore_index=True)[ORDER_COLUMNS]


class Drawdown(NamedTuple):
    depth: float  # fraction of the peak, 0.25 = 25 %
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None


def max_drawdown(equity: pd.Series) -> Drawdown:
    """Largest fall from a running peak, as a fraction of that peak, with its peak and trough."""
    equity = equity.dropna()
    if equity.empty:
        return Drawdown(0.0, None, None)
    running_peak = equity.cummax()
    fall = (1.0 - equity / running_peak.where(running_peak > 0)).fillna(0.0)
    if fall.max() <= 0.0:
        return Drawdown(0.0, None, None)
    trough = fall.idxmax()
    peak = equity.loc[:trough].idxmax()
    return Drawdown(float(fall.max()), peak, trough)


def cagr(start_value: float, end_value: float, start: Any, end: Any) -> float:
    """Compound annual growth rate between two dates (365-day years, as Freqtrade)."""
    years = (pd.Timestamp(end) - pd.Timestamp(start)) / YEAR
    if years <= 0 or start_value <= 0:
        return float("nan")
    if end_value <= 0:
        return -1.0
    return cast(float, (end_value / start_value) ** (1.0 / years) - 1.0)


def order_totals(orders: pd.DataFrame) -> tuple[float, float, int]:
    """(turnover, fees, number of rebalance orders): turnover is the value of the orders tagged
    rebalance; fees are value × fee summed over every order."""
    value = orders["amount"].astype(float) * orders["price"].astype(float)
    rebalance = orders["tag"].fillna("").astype(str).str.startswith(REBALANCE_TAG)
    return (
        float(value[rebalance].sum()),
        float((value * orders["fee"].astype(float)).sum()),
        int(rebalance.sum()),
    )


def journal_counts(events: Iterable[dict[str, Any]]) -> tuple[int, int, int]:
    """(rebalances, skipped rebalances, skipped legs) from the strategy's journal."""
    rebalances = skipped = legs = 0
    for event in events:
        kind = event.get("kind")
        if kind == "rebalance":
            rebalances += 1
        elif kind == "skipped":
            skipped += 1
        if kind in ("rebalance", "buys"):
            legs += len(event.get("skipped") or [])
    return rebalances, skipped, legs


def mark_prices(
    opens: pd.DataFrame, closes: pd.DataFrame, start: Any, end: Any, timeframe: pd.Timedelta
) -> pd.DataFrame:
    """Prices at the valuation times: the first candle's open at ``start``, then each candle's
    close at its close time (open + timeframe), up to ``end``. Inputs are indexed by candle
    open time, one column per coin."""
    start, end = _times([start])[0], _times([end])[0]
    closes = closes.copy()
    closes.index = _times(closes.index) + timeframe
    closes = closes[(closes.index > start) & (closes.index <= end)]
    opens = opens.copy()
    opens.index = _times(opens.index)
    first = opens.reindex(_times([start]))
    return pd.concat([first, closes]).sort_index()


def fills(orders: pd.DataFrame, end: Any = None) -> list[taxlots.Fill]:
    """The orders as tax-lot fills (fee = value × fee rate, in the stake currency). With
    ``end`` (a backtest's end), the sales tagged ``force_exit`` at that time are marked
    ``final``: Freqtrade's closing of the trades still open when the backtest ends."""
    at_end = _times([end])[0] if end is not None else None
    out = []
    times = _times(orders["time"]) if len(orders) else _times([])
    for time, row in zip(times, orders.itertuples(index=False), strict=True):
        tag = row.tag if isinstance(row.tag, str) else ""
        value = float(row.amount) * float(row.price)
        out.append(
            taxlots.Fill(
                time=time.to_pydatetime(),
                coin=str(row.coin),
                side=str(row.side),
                quantity=float(row.amount),
                price=float(row.price),
                fee=value * float(row.fee),
                tag=tag,
                final=bool(
                    at_end is not None
                    and row.side == "sell"
                    and tag == FINAL_EXIT_TAG
                    and time == at_end
                ),
            )
        )
    return out


def realised_gain(orders: pd.DataFrame, end: Any) -> tuple[float, int, float]:
    """(gain, sales, gain of the final exits) by FIFO: what the sales before ``end`` realised
    (the taxable gain a configuration produces while it runs), how many sales that is, and
    what the closing sales at ``end`` add (a backtest's force-exits, not the strategy's)."""
    sales = taxlots.match(fills(orders, end), "fifo")
    during = [s for s in sales if not s.final]
    return (
        float(taxlots.total(during).gain),
        len(during),
        float(taxlots.total([s for s in sales if s.final]).gain),
    )


@dataclass
class PortfolioView:
    """Everything the summary and the plot show."""

    start: pd.Timestamp
    end: pd.Timestamp
    starting_balance: float
    invested: float  # the first buys, fees included
    equity: pd.Series
    bh_equity: pd.Series
    weights: pd.DataFrame
    drawdown: Drawdown
    bh_drawdown: Drawdown
    cagr: float
    bh_cagr: float
    turnover: float
    fees: float
    rebalance_orders: int
    orders: int
    rebalances: int
    skipped_rebalances: int
    skipped_legs: int
    rebalance_times: list[pd.Timestamp] = field(default_factory=list)
    skipped_times: list[pd.Timestamp] = field(default_factory=list)
    # FIFO, stake currency: the gain the sales before the end realised, their number, and the
    # gain of the backtest's closing sales at the end (see realised_gain)
    realised_gain: float = 0.0
    realised_sales: int = 0
    final_exit_gain: float = 0.0

    @property
    def final_value(self) -> float:
        return float(self.equity.iloc[-1])

    @property
    def bh_final_value(self) -> float:
        return float(self.bh_equity.iloc[-1])

    @property
    def total_return(self) -> float:
        return self.final_value / self.starting_balance - 1.0

    @property
    def bh_total_return(self) -> float:
        return self.bh_final_value / self.starting_balance - 1.0

    @property
    def difference_pp(self) -> float:
        """Total return minus buy-and-hold's, in percentage points."""
        return (self.total_return - self.bh_total_return) * 100.0


def portfolio_view(
    orders: pd.DataFrame,
    prices: pd.DataFrame,
    exit_prices: pd.Series,
    starting_balance: float,
    start: Any,
    end: Any,
    journal: Sequence[dict[str, Any]] = (),
) -> PortfolioView:
    """Compose the computations: ``prices`` at the valuation times (see :func:`mark_prices`),
    ``exit_prices`` the price of each coin at the last candle (buy-and-hold's sale at ``end``)."""
    start, end = _times([start])[0], _times([end])[0]
    equity = equity_curve(orders, prices, starting_balance)
    bh = buy_and_hold_orders(orders, exit_prices, end)
    bh_equity = equity_curve(bh, prices, starting_balance).rename("buy_and_hold")
    first_buys = bh[bh["tag"] != "buy_and_hold_exit"]
    invested = float((first_buys["amount"] * first_buys["price"] * (1 + first_buys["fee"])).sum())
    turnover, fees, n_rebalance = order_totals(orders)
    rebalances, skipped, skipped_legs = journal_counts(journal)

    def when(kind: str) -> list[pd.Timestamp]:
        return [pd.Timestamp(e["ts"], unit="s", tz="UTC") for e in journal if e.get("kind") == kind]

    final = float(equity.iloc[-1])
    gain, sales, final_gain = realised_gain(orders, end)
    return PortfolioView(
        start=start,
        end=end,
        starting_balance=float(starting_balance),
        invested=invested,
        equity=equity,
        bh_equity=bh_equity,
        weights=coin_weights(orders, prices, starting_balance),
        drawdown=max_drawdown(equity),
        bh_drawdown=max_drawdown(bh_equity),
        cagr=cagr(starting_balance, final, start, end),
        bh_cagr=cagr(starting_balance, float(bh_equity.iloc[-1]), start, end),
        turnover=turnover,
        fees=fees,
        rebalance_orders=n_rebalance,
        orders=len(orders),
        rebalances=rebalances,
        skipped_rebalances=skipped,
        skipped_legs=skipped_legs,
        rebalance_times=when("rebalance"),
        skipped_times=when("skipped"),
        realised_gain=gain,
        realised_sales=sales,
        final_exit_gain=final_gain,
    )
