"""``freqtrade-rebalance sweep``: one portfolio backtested under every threshold and interval
(see :mod:`rebalance_plugin.sweep`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from ..sweep import add_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sweep",
        help="backtest the portfolio under every threshold and interval",
        description="Backtest one portfolio under every threshold (0.5 ... 50) and interval "
        "(30m ... 28d) with Freqtrade's own engine, the candles loaded once and the runs spread "
        "over the cores; print a table (final value, realised gain FIFO, against buy-and-hold, "
        "CAGR, max drawdown, rebalances, turnover, fees) and save sweep.csv and a heatmap "
        "sweep.png.",
    )
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..sweep import run as run_sweep

    return run_sweep(args)
