"""``freqtrade-rebalance sweep``: one portfolio backtested under every threshold and interval
(the sweep itself: :mod:`rebalance_plugin.sweep`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..core.config import INTERVALS, THRESHOLDS

DEFAULT_OUT = Path("user_data") / "sweep"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=Path("config.json"))
    parser.add_argument("--datadir", type=Path, default=None, help="Freqtrade candles")
    parser.add_argument("--timerange", default=None, help="as Freqtrade's, e.g. 20210101-20260101")
    parser.add_argument("--timeframe", default=None, help="default: the config's")
    parser.add_argument(
        "--thresholds",
        default=",".join(f"{t:g}" for t in THRESHOLDS),
        help="comma-separated thresholds (percentage points; '' for none)",
    )
    parser.add_argument(
        "--intervals",
        default=",".join(INTERVALS),
        help="comma-separated intervals ('' for none)",
    )
    parser.add_argument(
        "--threshold-modes",
        default="absolute",
        help="comma-separated threshold_mode values to compare: absolute, relative",
    )
    parser.add_argument(
        "--rebalance-to",
        default="target",
        help="comma-separated rebalance_to values to compare: target, band",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=0, help="worker processes (0: one per core)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for sweep.csv and sweep.png"
    )
    parser.add_argument("--strategy-path", type=Path, default=None)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="Freqtrade's log of every backtest"
    )


def run(args: argparse.Namespace) -> int:
    """Check the grid and the config, run the sweep; 2 with a one-line error if refused."""
    from ..core.config import ConfigError
    from ..sweep import check_points, freqtrade_config, parse_points, run_sweep

    try:
        points = parse_points(
            args.thresholds, args.intervals, args.threshold_modes, args.rebalance_to
        )
    except ValueError as err:
        print(f"--thresholds must be numbers separated by commas: {err}", file=sys.stderr)
        return 2
    if not points:
        print("nothing to sweep: give --thresholds or --intervals", file=sys.stderr)
        return 2
    if not args.verbose:  # a line per point, not Freqtrade's log of every backtest
        logging.disable(logging.INFO)
    config = freqtrade_config(
        args.config, args.datadir, args.timerange, args.timeframe, args.strategy_path
    )
    try:
        check_points(config, points)
    except ConfigError as err:
        print(f"sweep refused: {err}", file=sys.stderr)
        return 2
    run_sweep(config, points, args.jobs, args.out)
    return 0
