"""The portfolio view of a finished backtest (docs/backtesting.md#the-portfolio-view): equity
against buy-and-hold.

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
text and the plot), :mod:`.build` (:func:`build_report`), :mod:`.show` (:func:`run`: a result's view
found, printed and plotted) and :mod:`.columns` (the chart columns of FreqUI); their names are
importable from here. The command line (arguments, exit code) is
:mod:`rebalance_plugin.cli.report`.
"""

from __future__ import annotations

from .build import Report, build_report
from .loading import (
    BacktestResult,
    find_journal,
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
from .show import result_datadir, run

__all__ = [
    # build and show: the view of one result, printed and plotted
    "Report",
    "build_report",
    "result_datadir",
    "run",
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
    "BacktestResult",
    "find_journal",
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
