"""The portfolio view of a finished backtest (SPEC §6): equity against buy-and-hold.

Freqtrade's own report is per trade, and here every coin is one trade that stays open until the
final force-exit, so its closed-trade figures (drawdown 0 %, "best day" = the whole profit) say
little about the portfolio. This module rebuilds the portfolio from the exported orders::

    python -m rebalance_plugin.report [--config config.json] [--datadir DIR]
                                      [--result FILE] [--plot PATH]

and prints: period, starting investment, final value (the backtest's final balance) against
buy-and-hold of the same starting allocation, the difference in percentage points, the number of
rebalances / skipped rebalances / skipped legs (from the strategy's journal), turnover, fees paid,
maximum drawdown and annualised return (CAGR) of both; and saves a PNG (equity vs buy-and-hold
with the rebalances marked, and the coins' weights over time).

Definitions (the tests in tests/test_report.py work them out by hand):

* An order's *value* is ``amount × price``; its fee is ``value × fee`` (Freqtrade's exported
  ``cost`` is ``value × (1 + fee)`` for buys *and* sells, so it is not used).
* Cash starts at the backtest's starting balance; a buy takes ``value × (1 + fee)``, a sell
  gives ``value × (1 − fee)``.
* Equity at time T = cash + Σ holdings × price, counting every order filled at or before T.
  The valuation times are the backtest's start (priced at the first candle's open) and every
  candle *close* up to the backtest's end (a candle opening at t closes at t + timeframe). A
  backtest fills at candle opens and force-exits open trades at the open of its last candle, so
  the last point is the cash after the force-exits: the backtest's final balance.
* Buy-and-hold: the first buy of each coin (same quantity, price and fee), held, and sold at
  the open of the last candle (the force-exit price) with the same fee; left-over cash is kept.
* Turnover: Σ value of the orders tagged "rebalance buy" / "rebalance sell".
* Fees paid: Σ value × fee over every order (first buys, rebalances, final exits).
* Max drawdown: the largest fall from a running peak of the equity, as a fraction of the peak.
* CAGR: ``(final / start) ** (365 days / period) − 1`` (Freqtrade's convention, 365-day year).
* Weights: each coin's value over the equity (cash included, as the rebalancer measures them).

The pure computations take plain pandas objects (an *orders* frame with columns ``time``
(UTC timestamps), ``coin``, ``side`` ("buy"/"sell"), ``amount``, ``price``, ``fee`` and ``tag``,
and *prices* frames indexed by time with one column per coin); the loaders below turn
Freqtrade's result files into them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
JOURNAL_NAME = "rebalance_journal.jsonl"  # rebalance_plugin.adapter.JOURNAL_NAME
DEFAULT_PLOT = Path("user_data") / "backtest_results" / "rebalance_equity.png"
YEAR = pd.Timedelta(days=365)
ORDER_COLUMNS = ["time", "coin", "side", "amount", "price", "fee", "tag"]
REBALANCE_TAG = "rebalance"


# ---- pure computations -------------------------------------------------------------------------
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
    return times.searchsorted(_times(orders["time"]), side="left")


def _sign(orders: pd.DataFrame) -> np.ndarray:
    side = orders["side"].to_numpy()
    bad = set(side) - {"buy", "sell"}
    if bad:
        raise ValueError(f"order side must be 'buy' or 'sell', not {sorted(bad)}")
    return np.where(side == "buy", 1.0, -1.0)


def holdings(orders: pd.DataFrame, times: Iterable[Any],
             coins: Sequence[str] | None = None) -> pd.DataFrame:
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


def buy_and_hold_orders(orders: pd.DataFrame, exit_prices: pd.Series | dict[str, float],
                        exit_time: Any) -> pd.DataFrame:
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
    return (end_value / start_value) ** (1.0 / years) - 1.0


def order_totals(orders: pd.DataFrame) -> tuple[float, float, int]:
    """(turnover, fees, number of rebalance orders): turnover is the value of the orders tagged
    rebalance; fees are value × fee summed over every order."""
    value = orders["amount"].astype(float) * orders["price"].astype(float)
    rebalance = orders["tag"].fillna("").astype(str).str.startswith(REBALANCE_TAG)
    return (float(value[rebalance].sum()), float((value * orders["fee"].astype(float)).sum()),
            int(rebalance.sum()))


def journal_counts(events: Iterable[dict]) -> tuple[int, int, int]:
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


def mark_prices(opens: pd.DataFrame, closes: pd.DataFrame, start: Any, end: Any,
                timeframe: pd.Timedelta) -> pd.DataFrame:
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


def portfolio_view(orders: pd.DataFrame, prices: pd.DataFrame, exit_prices: pd.Series,
                   starting_balance: float, start: Any, end: Any,
                   journal: Sequence[dict] = ()) -> PortfolioView:
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
    return PortfolioView(
        start=start, end=end, starting_balance=float(starting_balance), invested=invested,
        equity=equity, bh_equity=bh_equity,
        weights=coin_weights(orders, prices, starting_balance),
        drawdown=max_drawdown(equity), bh_drawdown=max_drawdown(bh_equity),
        cagr=cagr(starting_balance, final, start, end),
        bh_cagr=cagr(starting_balance, float(bh_equity.iloc[-1]), start, end),
        turnover=turnover, fees=fees, rebalance_orders=n_rebalance, orders=len(orders),
        rebalances=rebalances, skipped_rebalances=skipped, skipped_legs=skipped_legs,
        rebalance_times=when("rebalance"), skipped_times=when("skipped"),
    )


# ---- loading a finished backtest ---------------------------------------------------------------
@dataclass
class BacktestResult:
    path: Path  # the result file (zip or json)
    strategy: str
    stats: dict[str, Any]  # Freqtrade's per-strategy stats
    trades: pd.DataFrame  # Freqtrade's trade list, with an ``orders`` column
    config: dict[str, Any]  # the config stored with the result ({} if none)

    @property
    def pairs(self) -> list[str]:
        pairs = list(self.stats.get("pairlist") or [])
        return pairs or list(dict.fromkeys(self.trades["pair"]))

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.stats["backtest_start_ts"], unit="ms", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.stats["backtest_end_ts"], unit="ms", tz="UTC")


def _stored_config(path: Path) -> dict[str, Any]:
    """The config Freqtrade stores inside a zipped result (secrets removed), or {}."""
    if path.suffix != ".zip" or not path.is_file():
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith("_config.json")]
            return json.loads(zf.read(names[0])) if names else {}
    except (OSError, ValueError, zipfile.BadZipFile):
        return {}


def latest_result(results_dir: Path) -> Path:
    from freqtrade.data.btanalysis import get_latest_backtest_filename

    return Path(results_dir) / get_latest_backtest_filename(results_dir)


def load_result(path: Path, strategy: str | None = None) -> BacktestResult:
    """A result file (zip/json), or the latest one in a results directory."""
    from freqtrade.data.btanalysis import load_backtest_data, load_backtest_stats

    path = Path(path)
    hint = ("run a backtest first (freqtrade backtesting, or make demo), or name one with "
            "--result")
    if not path.exists():
        raise FileNotFoundError(f"no backtest result {path}: {hint}")
    if path.is_dir():
        try:
            path = latest_result(path)
        except ValueError as err:
            raise FileNotFoundError(f"no backtest result in {path}: {hint}") from err
        if not path.exists():
            raise FileNotFoundError(f"the latest backtest result {path} is missing: {hint}")
    stats = load_backtest_stats(path)
    names = list(stats.get("strategy", {}))
    if not names:
        raise ValueError(f"{path} holds no strategy result")
    if strategy is None:
        strategy = names[0]
        if len(names) > 1:
            print(f"note: {path.name} holds {', '.join(names)}; showing {strategy} "
                  "(choose with --strategy)")
    elif strategy not in names:
        raise ValueError(f"{path.name} holds no result of {strategy} (it has {', '.join(names)})")
    trades = load_backtest_data(path, strategy)
    return BacktestResult(path, strategy, stats["strategy"][strategy], trades,
                          _stored_config(path))


def orders_from_trades(trades: pd.DataFrame) -> pd.DataFrame:
    """Freqtrade's trades (with their ``orders``) as an orders frame of filled orders."""
    rows = []
    for trade in trades.itertuples(index=False):
        base = str(trade.pair).split("/")[0]
        for order in trade.orders or []:
            ts = order.get("order_filled_timestamp")
            amount = float(order.get("amount") or 0.0)
            if ts is None or amount <= 0:
                continue  # never filled
            entry = order.get("ft_is_entry", order.get("ft_order_side") == "buy")
            fee = trade.fee_open if entry else trade.fee_close
            rows.append((ts, base, order["ft_order_side"], amount, float(order["safe_price"]),
                         float(fee if fee is not None and not pd.isna(fee) else 0.0),
                         order.get("ft_order_tag") or ""))
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ms", utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def load_journal(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_candles(datadir: Path, pairs: Sequence[str], timeframe: str, start: pd.Timestamp,
                 end: pd.Timestamp, data_format: str | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(opens, closes) by candle open time in [start, end], one column per coin, loaded as
    Freqtrade's backtest loads them (missing candles filled at the previous close)."""
    from freqtrade.configuration import TimeRange
    from freqtrade.data.history import load_pair_history

    timerange = TimeRange("date", "date", int(start.timestamp()), int(end.timestamp()))
    opens, closes, missing = {}, {}, []
    for pair in pairs:
        df = load_pair_history(pair, timeframe, Path(datadir), timerange=timerange,
                               data_format=data_format)
        if df.empty:
            missing.append(pair)
            continue
        frame = df.set_index("date")
        coin = pair.split("/")[0]
        opens[coin], closes[coin] = frame["open"], frame["close"]
    if missing:
        raise FileNotFoundError(
            f"no {timeframe} candles for {', '.join(missing)} in {datadir} between "
            f"{start:%Y-%m-%d} and {end:%Y-%m-%d} (pass the backtest's --datadir)")
    return pd.DataFrame(opens), pd.DataFrame(closes)


def has_candles(datadir: Path, pairs: Sequence[str], timeframe: str,
                data_format: str = "feather") -> bool:
    """True if ``datadir`` holds a candle file of every pair (Freqtrade's file layout)."""
    ext = {"feather": "feather", "parquet": "parquet", "json": "json",
           "jsongz": "json.gz"}.get(data_format, data_format)
    return all((Path(datadir) / f"{p.replace('/', '_')}-{timeframe}.{ext}").is_file()
               for p in pairs)


def default_datadirs(user_data: Path, exchange: str = "binance") -> list[Path]:
    """Where the candles are looked for, in order: the user's own download, the shared real
    data beside the checkout, the demo's synthetic market."""
    return [Path(user_data) / "data" / exchange, ROOT.parent / "shared" / "data" / "binance",
            Path(user_data) / "data" / "synthetic"]


@dataclass
class Report:
    result: BacktestResult
    view: PortfolioView
    datadir: Path
    targets: dict[str, float]
    warnings: list[str]
    coins: list[str]


def build_report(result: BacktestResult, datadir: Path, journal: Sequence[dict],
                 targets: dict[str, float] | None = None,
                 data_format: str | None = None) -> Report:
    """Load the candles of the result's coins and compute the portfolio view."""
    from freqtrade.exchange import timeframe_to_seconds

    stats = result.stats
    timeframe = stats.get("timeframe") or result.config.get("timeframe") or "1h"
    tf = pd.Timedelta(seconds=timeframe_to_seconds(timeframe))
    start, end = result.start, result.end
    pairs = result.pairs
    opens, closes = load_candles(datadir, pairs, timeframe, start, end,
                                 data_format or result.config.get("dataformat_ohlcv"))
    orders = orders_from_trades(result.trades)
    prices = mark_prices(opens, closes, start, end, tf)
    last_opens = opens[opens.index <= end].ffill().iloc[-1]
    journal = list(journal)
    view = portfolio_view(orders, prices, last_opens, float(stats["starting_balance"]),
                          start, end, journal)
    warnings = _checks(result, view, orders, opens, journal)
    coins = [p.split("/")[0] for p in pairs]
    if targets is None:
        coins_cfg = (result.config.get("rebalance") or {}).get("coins") or {}
        total = sum(float(v) for v in coins_cfg.values())
        targets = {c: float(v) / total for c, v in coins_cfg.items()} if total else {}
    return Report(result, view, Path(datadir), targets, warnings, coins)


def _checks(result: BacktestResult, view: PortfolioView, orders: pd.DataFrame,
            opens: pd.DataFrame, journal: Sequence[dict]) -> list[str]:
    """Numbers that must agree; any disagreement is printed, never hidden."""
    warnings = []
    final_balance = float(result.stats.get("final_balance", view.final_value))
    if abs(view.final_value - final_balance) > 0.01:
        warnings.append(
            f"the rebuilt final value {view.final_value:.2f} differs from the backtest's final "
            f"balance {final_balance:.2f}")
    # A backtest fills at candle opens: the candles must be the ones it traded on.
    at = opens.stack().rename("open")
    at.index = at.index.set_names(["time", "coin"])
    key = pd.MultiIndex.from_arrays([orders["time"].dt.as_unit("ns"), orders["coin"]])
    traded_at = at.reindex(key).to_numpy()
    off = ~np.isclose(traded_at, orders["price"].to_numpy(), rtol=1e-9, atol=0.0)
    if off.any():
        warnings.append(
            f"{int(off.sum())} of {len(orders)} orders were not filled at the open of their "
            "candle in this datadir: the candles may not be the ones the backtest used")
    legs = sum(len(e.get("legs") or []) for e in journal)
    if journal and legs != view.rebalance_orders:
        warnings.append(
            f"the journal lists {legs} rebalance legs, the result {view.rebalance_orders} "
            "rebalance orders: the journal may belong to another run (it is rewritten by "
            "every backtest)")
    outside = [e for e in journal if not view.start.timestamp() <= e.get("ts", 0)
               <= view.end.timestamp()]
    if outside:
        warnings.append(f"{len(outside)} journal events fall outside the backtest period")
    if not journal and view.rebalance_orders:
        warnings.append("no rebalance journal found: rebalance counts are shown as 0")
    return warnings


# ---- output ------------------------------------------------------------------------------------
def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x * 100:+,.2f} %" if sign else f"{x * 100:,.2f} %"


def format_summary(report: Report, note: str | None = None) -> str:
    v, r = report.view, report.result
    stake = r.stats.get("stake_currency", "USDT")
    days = (v.end - v.start) / pd.Timedelta(days=1)
    targets = ", ".join(f"{c} {report.targets[c] * 100:g}%" for c in report.coins
                        if c in report.targets) or ", ".join(report.coins)
    left = v.starting_balance - v.invested
    lines = [f"*** {note} ***"] if note else []
    lines += [
        f"PORTFOLIO VIEW - {r.strategy}, {r.path.name}",
        "",
        f"  Period               {v.start:%Y-%m-%d %H:%M} -> {v.end:%Y-%m-%d %H:%M} UTC "
        f"({days:g} days, {r.stats.get('timeframe', '?')} candles)",
        f"  Portfolio            {targets}",
        f"  Candles              {report.datadir}",
        f"  Starting investment  {_money(v.starting_balance)} {stake} (first buys "
        f"{_money(v.invested)} incl. fees, {_money(left)} left as cash)",
        "",
    ]
    def span(dd: Drawdown) -> str:
        return f"{dd.peak:%Y-%m-%d} -> {dd.trough:%Y-%m-%d}" if dd.peak is not None else "-"

    rows = [
        ("", "Rebalanced", "Buy and hold"),
        (f"Final value ({stake})", _money(v.final_value), _money(v.bh_final_value)),
        ("Total return", _pct(v.total_return, True), _pct(v.bh_total_return, True)),
        ("Annualised (CAGR)", _pct(v.cagr, True), _pct(v.bh_cagr, True)),
        ("Max drawdown", _pct(v.drawdown.depth), _pct(v.bh_drawdown.depth)),
        ("  peak -> trough", span(v.drawdown), span(v.bh_drawdown)),
    ]
    w0, w1 = 21, max(24, max(len(b) for _, b, _ in rows) + 2)
    for a, b, c in rows:
        lines.append(f"  {a:<{w0}}{b:<{w1}}{c}".rstrip())
    verdict = "ahead of" if v.difference_pp > 0 else "behind" if v.difference_pp < 0 else "level with"
    multiple = v.turnover / v.starting_balance if v.starting_balance else float("nan")
    lines += [
        "",
        f"  Difference           {v.difference_pp:+.2f} percentage points of total return, "
        f"{verdict} buy-and-hold (CAGR {(v.cagr - v.bh_cagr) * 100:+.2f} points)",
        f"  Rebalances           {v.rebalances}",
        f"  Skipped rebalances   {v.skipped_rebalances}",
        f"  Skipped legs         {v.skipped_legs}",
        f"  Turnover             {_money(v.turnover)} {stake} in {v.rebalance_orders} rebalance "
        f"orders ({multiple:.1f}x the starting investment)",
        f"  Fees paid            {_money(v.fees)} {stake} on {v.orders} orders (first buys, "
        "rebalances and final exits)",
    ]
    if r.stats.get("final_balance") is not None:
        lines.append(f"  Check                Freqtrade's final balance "
                     f"{_money(float(r.stats['final_balance']))} {stake} (open trades "
                     "force-exited at the last candle's open)")
    for warning in report.warnings:
        lines.append(f"  WARNING: {warning}")
    return "\n".join(lines)


def plot(report: Report, path: Path, note: str | None = None) -> Path:
    """Equity vs buy-and-hold with the rebalances marked, and the weights, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = report.view
    stake = report.result.stats.get("stake_currency", "USDT")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    top.plot(v.equity.index, v.equity.to_numpy(), lw=1.2, color="tab:blue",
             label=f"Rebalanced ({_money(v.final_value)} {stake}, CAGR {_pct(v.cagr)})")
    top.plot(v.bh_equity.index, v.bh_equity.to_numpy(), lw=1.0, color="tab:gray",
             label=f"Buy and hold ({_money(v.bh_final_value)} {stake}, CAGR {_pct(v.bh_cagr)})")
    if v.rebalance_times:
        marks = v.equity.reindex(_times(v.rebalance_times), method="ffill")
        top.scatter(marks.index, marks.to_numpy(), s=14, marker="v", color="tab:orange",
                    zorder=3, label=f"Rebalance ({v.rebalances})")
    if v.skipped_times:
        marks = v.equity.reindex(_times(v.skipped_times), method="ffill")
        top.scatter(marks.index, marks.to_numpy(), s=18, marker="x", color="tab:red",
                    zorder=3, label=f"Skipped rebalance ({v.skipped_rebalances})")
    top.set_ylabel(f"Portfolio value ({stake})")
    top.set_title(f"{report.result.strategy}: {v.start:%Y-%m-%d} -> {v.end:%Y-%m-%d}, "
                  f"{v.difference_pp:+.1f} pp vs buy-and-hold, max drawdown "
                  f"{v.drawdown.depth * 100:.1f}% (buy-and-hold {v.bh_drawdown.depth * 100:.1f}%)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    weights = v.weights[v.weights.sum(axis=1) > 0]  # not before the first buys / after exits
    for i, coin in enumerate(weights.columns):
        color = colors[i % len(colors)]
        bottom.plot(weights.index, weights[coin].to_numpy() * 100, lw=0.8, color=color,
                    label=coin)
        if coin in report.targets:
            bottom.axhline(report.targets[coin] * 100, color=color, ls="--", lw=0.8, alpha=0.8)
    bottom.set_ylabel("Weight (% of portfolio)")
    bottom.set_title("Weights over time (dashed: targets)", fontsize=10)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper left", fontsize=8, ncol=min(5, max(1, len(v.weights.columns))))
    if note:
        fig.text(0.5, 0.5, note, ha="center", va="center", fontsize=22, color="red",
                 alpha=0.25, rotation=20, wrap=True)
        fig.suptitle(note, color="red", fontweight="bold")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- command line ------------------------------------------------------------------------------
def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    from freqtrade.configuration.load_config import load_config_file

    return load_config_file(str(path))


def run(config_path: Path | None = Path("config.json"), datadir: Path | None = None,
        result_path: Path | None = None, plot_path: Path | None = None,
        strategy: str | None = None, note: str | None = None, out=None) -> Report:
    """Load, compute, print the summary, write the PNG. Returns the report."""
    out = out or sys.stdout
    config = _load_config(config_path)
    user_data = Path(config.get("user_data_dir") or "user_data")
    results_dir = Path(config.get("exportdirectory") or user_data / "backtest_results")
    result = load_result(Path(result_path) if result_path else results_dir,
                         strategy or None)
    merged = {**config, **result.config}  # the result's own config wins (timeframe, coins)
    if datadir is None:
        datadir = Path(config["datadir"]) if config.get("datadir") else None
        exchange = (merged.get("exchange") or {}).get("name", "binance")
        for candidate in default_datadirs(user_data, exchange):
            if datadir is None and has_candles(candidate, result.pairs,
                                               result.stats.get("timeframe", "1h"),
                                               merged.get("dataformat_ohlcv", "feather")):
                datadir = candidate
        if datadir is None:
            raise FileNotFoundError(
                f"no candles of {', '.join(result.pairs)} found in "
                f"{', '.join(str(p) for p in default_datadirs(user_data, exchange))}: "
                "pass the backtest's --datadir")
    journal_path = result.path.parent / JOURNAL_NAME
    if not journal_path.is_file():
        journal_path = results_dir / JOURNAL_NAME
    journal = load_journal(journal_path)
    if not result.config:
        result.config = config
    if note is None and "synthetic" in Path(datadir).parts:
        note = "SYNTHETIC DATA - not real prices"
    report = build_report(result, Path(datadir), journal,
                          data_format=merged.get("dataformat_ohlcv"))
    print(format_summary(report, note), file=out)
    png = plot(report, Path(plot_path) if plot_path else user_data / "backtest_results" /
               DEFAULT_PLOT.name, note=note)
    print(f"\n  Equity plot written to {png.resolve()}", file=out, flush=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rebalance_plugin.report",
        description="Portfolio view of a finished backtest: equity against buy-and-hold, "
                    "rebalances, turnover, fees, drawdown, CAGR, and an equity plot.")
    parser.add_argument("--config", "-c", type=Path, default=Path("config.json"),
                        help="the backtest's config (default config.json)")
    parser.add_argument("--datadir", type=Path, default=None,
                        help="the candles the backtest ran on (default: config datadir, "
                             "user_data/data/<exchange>, ../shared/data/binance, "
                             "user_data/data/synthetic: the first that has them)")
    parser.add_argument("--result", type=Path, default=None,
                        help="a backtest result (.zip/.json; default: the latest)")
    parser.add_argument("--plot", type=Path, default=None,
                        help=f"where to save the PNG (default {DEFAULT_PLOT})")
    parser.add_argument("--strategy", default=None,
                        help="strategy to show if the result holds several")
    args = parser.parse_args(argv)
    try:
        run(args.config, args.datadir, args.result, args.plot, args.strategy)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
