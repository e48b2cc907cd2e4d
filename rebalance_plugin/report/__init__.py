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

Definitions (the tests in tests/unit/test_report.py work them out by hand):

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
* Auto-invest (``CashFlows``): the deposits are cash flows, not profit. The portfolio's value
  is the equity less the part of the wallet not (yet) in it (starting balance − investment −
  deposits so far); XIRR is the annual rate at which the investment (at the first buy) and the
  deposits, paid in, and the final value, taken out, discount to zero; TWR the product of
  each candle's growth with the money deposited in it counted from its start. The references
  over the same money: each payment bought at the target weights and never rebalanced, and
  the whole amount bought at the target weights at the first buy and held (fee on top of each
  buy and off the final sale, no rounding).

The pure computations take plain pandas objects (an *orders* frame with columns ``time``
(UTC timestamps), ``coin``, ``side`` ("buy"/"sell"), ``amount``, ``price``, ``fee`` and ``tag``,
and *prices* frames indexed by time with one column per coin); the loaders turn Freqtrade's
result files into them. The package: :mod:`.metrics` (the pure computations),
:mod:`.loading` (result files, orders, candles, the journal), :mod:`.render` (the summary
text and the plot), and here the orchestration (:func:`build_report`, :func:`run`,
:func:`main`); every name of the former single module is still importable from here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import pandas as pd

from .loading import (
    ROOT,
    BacktestResult,
    default_datadirs,
    find_journal,
    has_candles,
    journal_file,
    latest_result,
    load_candles,
    load_journal,
    load_result,
    orders_from_trades,
)
from .metrics import (
    ORDER_COLUMNS,
    REBALANCE_TAG,
    YEAR,
    CashFlows,
    Drawdown,
    PortfolioView,
    buy_and_hold_orders,
    cagr,
    cash,
    cash_flows,
    coin_weights,
    equity_curve,
    holdings,
    journal_counts,
    mark_prices,
    max_drawdown,
    order_totals,
    portfolio_view,
)
from .render import DEFAULT_PLOT, format_summary, plot

__all__ = [
    # orchestration (defined here)
    "Report",
    "build_report",
    "run",
    "main",
    "run_args",
    # metrics
    "ORDER_COLUMNS",
    "REBALANCE_TAG",
    "YEAR",
    "CashFlows",
    "Drawdown",
    "PortfolioView",
    "cash_flows",
    "buy_and_hold_orders",
    "cagr",
    "cash",
    "coin_weights",
    "equity_curve",
    "holdings",
    "journal_counts",
    "mark_prices",
    "max_drawdown",
    "order_totals",
    "portfolio_view",
    # loading
    "ROOT",
    "BacktestResult",
    "default_datadirs",
    "find_journal",
    "has_candles",
    "journal_file",
    "latest_result",
    "load_candles",
    "load_journal",
    "load_result",
    "orders_from_trades",
    # render
    "DEFAULT_PLOT",
    "format_summary",
    "plot",
]


@dataclass
class Report:
    result: BacktestResult
    view: PortfolioView
    datadir: Path
    targets: dict[str, float]
    warnings: list[str]
    coins: list[str]
    flows: CashFlows | None = None  # auto-invest: the deposits as cash flows


def build_report(
    result: BacktestResult,
    datadir: Path,
    journal: Sequence[dict[str, Any]],
    targets: dict[str, float] | None = None,
    data_format: str | None = None,
    candles: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> Report:
    """Load the candles of the result's coins (or take ``candles``, the (opens, closes) of
    :func:`load_candles` for the same pairs and period) and compute the portfolio view."""
    from freqtrade.exchange import timeframe_to_seconds

    stats = result.stats
    timeframe = stats.get("timeframe") or result.config.get("timeframe") or "1h"
    tf = pd.Timedelta(seconds=timeframe_to_seconds(timeframe))
    start, end = result.start, result.end
    pairs = result.pairs
    opens, closes = candles or load_candles(
        datadir, pairs, timeframe, start, end, data_format or result.config.get("dataformat_ohlcv")
    )
    orders = orders_from_trades(result.trades)
    prices = mark_prices(opens, closes, start, end, tf)
    last_opens = opens[opens.index <= end].ffill().iloc[-1]
    journal = list(journal)
    view = portfolio_view(
        orders, prices, last_opens, float(stats["starting_balance"]), start, end, journal
    )
    warnings = _checks(result, view, orders, opens, journal)
    coins = [p.split("/")[0] for p in pairs]
    if targets is None:
        coins_cfg = (result.config.get("rebalance") or {}).get("coins") or {}
        total = sum(float(v) for v in coins_cfg.values())
        targets = {c: float(v) / total for c, v in coins_cfg.items()} if total else {}
    investment = (result.config.get("rebalance") or {}).get("investment")
    flows = None
    if isinstance(investment, (int, float)) and targets:
        flows = cash_flows(
            view, orders, opens, last_opens, journal, float(investment), dict(targets)
        )
    return Report(result, view, Path(datadir), targets, warnings, coins, flows)


def _checks(
    result: BacktestResult,
    view: PortfolioView,
    orders: pd.DataFrame,
    opens: pd.DataFrame,
    journal: Sequence[dict[str, Any]],
) -> list[str]:
    """Numbers that must agree; any disagreement is printed, never hidden."""
    warnings = []
    final_balance = float(result.stats.get("final_balance", view.final_value))
    if abs(view.final_value - final_balance) > 0.01:
        warnings.append(
            f"the rebuilt final value {view.final_value:.2f} differs from the backtest's final "
            f"balance {final_balance:.2f}"
        )
    # A backtest fills at candle opens: the candles must be the ones it traded on.
    at = opens.stack().rename("open")
    at.index = at.index.set_names(["time", "coin"])
    key = pd.MultiIndex.from_arrays([orders["time"].dt.as_unit("ns"), orders["coin"]])
    traded_at = at.reindex(key).to_numpy()
    off = ~np.isclose(traded_at, orders["price"].to_numpy(), rtol=1e-9, atol=0.0)
    if off.any():
        warnings.append(
            f"{int(off.sum())} of {len(orders)} orders were not filled at the open of their "
            "candle in this datadir: the candles may not be the ones the backtest used"
        )
    legs = sum(len(e.get("legs") or []) for e in journal if e.get("kind") != "deposit")
    if journal and legs != view.rebalance_orders:
        warnings.append(
            f"the journal lists {legs} rebalance legs, the result {view.rebalance_orders} "
            "rebalance orders: the journal may belong to another run (it is rewritten by "
            "every backtest)"
        )
    outside = [
        e for e in journal if not view.start.timestamp() <= e.get("ts", 0) <= view.end.timestamp()
    ]
    if outside:
        warnings.append(f"{len(outside)} journal events fall outside the backtest period")
    if not journal and view.rebalance_orders:
        warnings.append(
            "no journal of this run found (a run before this release, or its journal was "
            "removed): rebalance counts are shown as 0 and the plot marks no rebalance"
        )
    return warnings


# ---- command line ------------------------------------------------------------------------------
def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    from freqtrade.configuration.load_config import load_config_file

    return cast(dict[str, Any], load_config_file(str(path)))


def run(
    config_path: Path | None = Path("config.json"),
    datadir: Path | None = None,
    result_path: Path | None = None,
    plot_path: Path | None = None,
    strategy: str | None = None,
    note: str | None = None,
    out: TextIO | None = None,
    log_scale: bool = False,
) -> Report:
    """Load, compute, print the summary, write the PNG. Returns the report."""
    out = out or sys.stdout
    config = _load_config(config_path)
    user_data = Path(config.get("user_data_dir") or "user_data")
    results_dir = Path(config.get("exportdirectory") or user_data / "backtest_results")
    result = load_result(Path(result_path) if result_path else results_dir, strategy or None)
    merged = {**config, **result.config}  # the result's own config wins (timeframe, coins)
    if datadir is None:
        datadir = Path(config["datadir"]) if config.get("datadir") else None
        exchange = (merged.get("exchange") or {}).get("name", "binance")
        for candidate in default_datadirs(user_data, exchange):
            if datadir is None and has_candles(
                candidate,
                result.pairs,
                result.stats.get("timeframe", "1h"),
                merged.get("dataformat_ohlcv", "feather"),
            ):
                datadir = candidate
        if datadir is None:
            raise FileNotFoundError(
                f"no candles of {', '.join(result.pairs)} found in "
                f"{', '.join(str(p) for p in default_datadirs(user_data, exchange))}: "
                "pass the backtest's --datadir"
            )
    _, journal = find_journal(result, results_dir)  # this run's own, never another's
    if not result.config:
        result.config = config
    if note is None and "synthetic" in Path(datadir).parts:
        note = "SYNTHETIC DATA - not real prices"
    report = build_report(
        result, Path(datadir), journal, data_format=merged.get("dataformat_ohlcv")
    )
    print(format_summary(report, note), file=out)
    png = plot(
        report,
        Path(plot_path) if plot_path else user_data / "backtest_results" / DEFAULT_PLOT.name,
        note=note,
        log_scale=log_scale,
    )
    print(f"\n  Equity plot written to {png.resolve()}", file=out, flush=True)
    return report


DESCRIPTION = (
    "Portfolio view of a finished backtest: equity against buy-and-hold, rebalances, turnover, "
    "fees, drawdown, CAGR, and an equity plot."
)


def run_args(args: argparse.Namespace) -> int:
    """Run the view from parsed arguments; the exit code (2 with a one-line error)."""
    try:
        run(
            args.config,
            args.datadir,
            args.result,
            args.plot,
            args.strategy,
            log_scale=getattr(args, "log_scale", False),
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli.report import add_arguments

    parser = argparse.ArgumentParser(
        prog="python -m rebalance_plugin.report", description=DESCRIPTION
    )
    add_arguments(parser)
    return run_args(parser.parse_args(argv))
