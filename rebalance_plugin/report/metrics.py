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


# ---- auto-invest: deposits as cash flows ----------------------------------------------------


def deposits(journal: Iterable[dict[str, Any]]) -> pd.Series:
    """The auto-invest deposits of the journal: amount by time (UTC)."""
    rows = [(e["ts"], float(e.get("amount") or 0.0)) for e in journal if e.get("kind") == "deposit"]
    index = _times([pd.Timestamp(t, unit="s", tz="UTC") for t, _ in rows])
    return pd.Series([a for _, a in rows], index=index, name="deposit", dtype=float)


def xirr(flows: Sequence[tuple[Any, float]]) -> float:
    """Money-weighted return, annualised (365-day years): the rate r at which the cash flows
    (money put in negative, money taken out or the final value positive) discounted to the
    first one's date sum to zero, ``sum a_i (1 + r)^-(t_i - t_0)/365d = 0``. Bisection, so any
    number of sign changes converges to a root; NaN when there is none in (-99.99%, 10^6)."""
    if not flows:
        return float("nan")
    t0 = min(pd.Timestamp(t) for t, _ in flows)
    years = np.array([(pd.Timestamp(t) - t0) / YEAR for t, _ in flows])
    amounts = np.array([a for _, a in flows], dtype=float)

    def npv(rate: float) -> float:
        return float((amounts / (1.0 + rate) ** years).sum())

    lo, hi = -0.9999, 1e6
    f_lo, f_hi = npv(lo), npv(hi)
    if np.sign(f_lo) == np.sign(f_hi):
        return float("nan")
    for _ in range(300):
        mid = (lo + hi) / 2.0
        f_mid = npv(mid)
        if np.sign(f_mid) == np.sign(f_lo):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def twr(value: pd.Series, flows: pd.Series) -> float:
    """Time-weighted return over the whole period: the product of each step's growth with the
    money deposited during the step counted from its start, ``V_k / (V_{k-1} + F_k)``, minus 1
    (deposits change the value but are no return)."""
    value = value.dropna()
    if len(value) < 2:
        return float("nan")
    flows = flows.groupby(level=0).sum() if len(flows) else flows
    added = np.zeros(len(value))
    if len(flows):
        at = value.index.searchsorted(flows.index, side="left")  # the first time at/after it
        keep = at < len(value)
        np.add.at(added, at[keep], flows.to_numpy()[keep])
    v = value.to_numpy(float)
    growth = v[1:] / (v[:-1] + added[1:])
    return float(np.prod(growth) - 1.0)


@dataclass
class CashFlows:
    """A backtest with auto-invest, its deposits counted as cash flows, not profit; and two
    references over the same money: ``schedule`` (each deposit bought at the target weights,
    never rebalanced) and ``lump`` (the whole amount invested at the start, held)."""

    investment: float  # the portfolio's investment at its start
    times: list[pd.Timestamp]
    amounts: list[float]
    value: pd.Series  # the portfolio's value (its coins and its own cash) at each time
    final_value: float
    xirr: float
    twr: float
    schedule_final: float
    schedule_xirr: float
    lump_final: float
    lump_xirr: float

    @property
    def deposited(self) -> float:
        return float(sum(self.amounts))

    @property
    def total_in(self) -> float:
        return self.investment + self.deposited


def held_at_targets(
    buys: Sequence[tuple[Any, float]],
    targets: dict[str, float],
    prices: pd.DataFrame,
    exit_prices: pd.Series | dict[str, float],
    fee: float,
) -> float:
    """Final value of buying each amount at the target weights at its time's prices (fee on
    top, no rounding), held, and sold at ``exit_prices`` (fee deducted)."""
    marks = prices.copy()
    marks.index = _times(marks.index)
    marks = marks.sort_index().ffill()
    qty = dict.fromkeys(targets, 0.0)
    for when, amount in buys:
        row = marks.loc[: _times([when])[0]]
        at = row.iloc[-1] if len(row) else marks.iloc[0]
        for coin, w in targets.items():
            qty[coin] += amount * w / (1.0 + fee) / float(at[coin])
    return float(sum(q * float(exit_prices[c]) for c, q in qty.items()) * (1.0 - fee))


def cash_flows(
    view: PortfolioView,
    orders: pd.DataFrame,
    prices: pd.DataFrame,
    exit_prices: pd.Series | dict[str, float],
    journal: Sequence[dict[str, Any]],
    investment: float,
    targets: dict[str, float],
) -> CashFlows | None:
    """The cash-flow figures of a backtest with deposits (None without any); ``prices``: the
    candle opens (a payment buys at the open of its candle). The portfolio's
    value is the wallet's equity less the part of the wallet not (yet) in it:
    ``starting_balance - investment - deposits so far``."""
    made = deposits(journal)
    if made.empty or not len(orders):
        return None
    cumulative = made.cumsum().reindex(view.equity.index, method="ffill").fillna(0.0)
    value = view.equity - (view.starting_balance - investment - cumulative)
    first = _times(orders["time"]).min()
    fee = float(orders["fee"].iloc[0])
    final = float(value.iloc[-1])
    paid = [(first, investment), *zip(made.index, made.to_numpy(float), strict=True)]
    out = [(t, -a) for t, a in paid]
    total = investment + float(made.sum())
    schedule = held_at_targets(paid, targets, prices, exit_prices, fee)
    lump = held_at_targets([(first, total)], targets, prices, exit_prices, fee)
    return CashFlows(
        investment=investment,
        times=list(made.index),
        amounts=[float(a) for a in made],
        value=value.rename("portfolio"),
        final_value=final,
        xirr=xirr([*out, (view.end, final)]),
        twr=twr(value[value.index >= first], made),
        schedule_final=schedule,
        schedule_xirr=xirr([*out, (view.end, schedule)]),
        lump_final=lump,
        lump_xirr=xirr([(first, -total), (view.end, lump)]),
    )
