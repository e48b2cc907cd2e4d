"""Portfolios under every threshold and every interval: ``freqtrade-rebalance sweep``.

With ``--engine freqtrade`` each grid point is a real backtest by Freqtrade's own engine
(``Backtesting``), exactly what ``freqtrade backtesting`` runs for the same config with that
trigger, so a point's figures equal that command's. What is shared: the candles are loaded
once, and Freqtrade's ``Backtesting`` object (exchange, pair list, wallet) is built once; the
worker processes are forked from the process holding both, so each point only analyses and
backtests. Figures come from the same code
as ``freqtrade-rebalance report`` (final value, the gain its sales realised by FIFO before the
end, buy-and-hold over the same candles, CAGR, max drawdown from the equity curve, rebalances,
turnover, fees).

By default the points run on the fast harness (:mod:`rebalance_plugin.fastsim`: the same core,
filled as Freqtrade's backtest fills, about a hundred times faster), and a sample of them is
run again by Freqtrade's ``Backtesting`` and compared (:mod:`.verify`); ``--engine freqtrade``
runs every point by Freqtrade's engine.

The package: :mod:`.grid` (the points), :mod:`.portfolios` (templates, presets, coin lists),
:mod:`.engine` (Freqtrade's backtests), :mod:`.fast` (the harness's), :mod:`.verify`,
:mod:`.output` (tables, CSV, heatmaps), :mod:`.run` (all of it, printed) and
:mod:`.walkforward`. The command line (arguments, exit code) is
:mod:`rebalance_plugin.cli.sweep`. Freqtrade is imported inside the functions: ``--help``
stays fast.
"""

from __future__ import annotations

from .engine import STRATEGY, Engine, Row, check_points, freqtrade_config, sweep
from .grid import Point, for_portfolios, grid, parse_points
from .output import describe, heatmap, table, write_csv
from .run import run_sweep

__all__ = [
    "STRATEGY",
    "Engine",
    "Point",
    "Row",
    "check_points",
    "describe",
    "for_portfolios",
    "freqtrade_config",
    "grid",
    "heatmap",
    "parse_points",
    "run_sweep",
    "sweep",
    "table",
    "write_csv",
]
