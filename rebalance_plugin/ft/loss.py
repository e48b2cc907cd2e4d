"""The hyperopt loss of a portfolio. Freqtrade loads it by its class name from
``hyperopts/RebalancePortfolioLoss.py`` (``--hyperopt-loss RebalancePortfolioLoss``, with
``--hyperopt-path hyperopts``; the shipped config.json sets both).

Why a loss of its own: Freqtrade's built-in losses judge closed trades, and a rebalancer's
trades close only when the backtest ends (one force-exit per coin), so they see one profit per
coin and no drawdown at all. This loss judges the portfolio::

    loss = -(final / investment) * (1 - max_drawdown) ** DRAWDOWN_POWER      (lower is better)

- ``final``: the portfolio's value at the end of the epoch's backtest: ``rebalance.investment``
  plus what its trades made, after the final force-exits (money in the wallet beyond the
  investment is not the portfolio's and is left out);
- ``max_drawdown``: the largest fall of the portfolio's equity curve from a running peak, as a
  fraction of that peak (0.25 = 25 %);
- ``DRAWDOWN_POWER`` (1): how much the drawdown weighs.

Why this formula: it is the end value per unit invested, discounted by the worst fall on the
way. It is defined for every epoch and keeps its sense for a losing one, where a Calmar-like
ratio (return over drawdown) does not: that divides by zero without a drawdown, and ranks -5 %
through a 1 % drawdown (-5) below -40 % through a 50 % one (-0.8). It needs no annualisation,
so it compares epochs over any period, and it falls with every gain in final value and rises
with every point of drawdown. With power 1 a 50 % drawdown weighs as much as halving the final
value: a portfolio that doubled through a 50 % fall scores -1.0, as one that ended flat without
any fall.
Subclass and raise ``DRAWDOWN_POWER`` to weigh drawdown more.

The equity curve is the report's (``rebalance_plugin.report``): the portfolio's value (its cash
plus every coin held at the price) at the backtest's start and at every candle close, rebuilt
from the epoch's own filled orders (``results``, each trade with its ``orders``) and candles
(``processed``). Both are what Freqtrade hands the loss, in the process that ran that epoch's
backtest (``HyperOptimizer._get_results_dict``), so the loss sees exactly that epoch with any
number of hyperopt jobs, and needs nothing from the strategy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_minutes
from freqtrade.optimize.hyperopt_loss.hyperopt_loss_interface import IHyperOptLoss

from ..report.loading import orders_from_trades
from ..report.metrics import equity_curve, mark_prices, max_drawdown


def epoch_equity(
    results: pd.DataFrame,
    processed: dict[str, pd.DataFrame],
    investment: float,
    start: datetime,
    end: datetime,
    timeframe: str,
) -> pd.Series:
    """The portfolio's value at ``start`` (the first candle's open) and at every candle close up
    to ``end``: ``investment`` less what the orders cost, plus what they brought, plus the coins
    held at the price."""
    opens, closes = {}, {}
    for pair, candles in processed.items():
        if candles is None or candles.empty:
            continue
        frame = candles.set_index("date")
        coin = pair.split("/")[0]
        opens[coin], closes[coin] = frame["open"], frame["close"]
    step = pd.Timedelta(minutes=timeframe_to_minutes(timeframe))
    prices = mark_prices(pd.DataFrame(opens), pd.DataFrame(closes), start, end, step)
    return equity_curve(orders_from_trades(results), prices, investment)


def portfolio_loss(equity: pd.Series, investment: float, drawdown_power: float = 1.0) -> float:
    """``-(final / investment) * (1 - max_drawdown) ** drawdown_power`` of an equity curve."""
    final = float(equity.iloc[-1])
    depth = max_drawdown(equity).depth
    return -(final / investment) * (1.0 - depth) ** drawdown_power


class PortfolioLoss(IHyperOptLoss):
    """The portfolio's final value per unit invested, discounted by its maximum drawdown (the
    module's docstring). ``hyperopts/RebalancePortfolioLoss.py`` is this class under the name
    Freqtrade looks for."""

    DRAWDOWN_POWER: float = 1.0

    @classmethod
    def hyperopt_loss_function(
        cls,
        *,
        results: pd.DataFrame,
        min_date: datetime,
        max_date: datetime,
        config: dict[str, Any],
        processed: dict[str, pd.DataFrame],
        **kwargs: Any,
    ) -> float:
        investment = float(config["rebalance"]["investment"])
        equity = epoch_equity(
            results, processed, investment, min_date, max_date, str(config["timeframe"])
        )
        return portfolio_loss(equity, investment, cls.DRAWDOWN_POWER)
