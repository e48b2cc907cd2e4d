"""The portfolio view of one backtest result: its candles loaded, the view computed
(:mod:`.metrics`) and the numbers that must agree checked. :mod:`.show` prints and plots it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .loading import BacktestResult, load_candles, orders_from_trades
from .metrics import CashFlows, PortfolioView, cash_flows, mark_prices, portfolio_view


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
