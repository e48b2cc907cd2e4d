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
        description="Backtest a portfolio (or several: --templates, --presets, --coins) under "
        "every threshold (0.5 ... 50) and interval (30m ... 28d) on the fast harness (the "
        "plugin's own core, filled as Freqtrade's backtest fills; a sample re-run by "
        "Freqtrade's engine, --verify) or with Freqtrade's engine (--engine freqtrade), the "
        "candles loaded once and the runs spread over the cores; print a table (final value, "
        "realised gain FIFO, against buy-and-hold, CAGR, max drawdown, rebalances, turnover, "
        "fees), the points ranked by final value, and save sweep.csv and a heatmap per "
        "portfolio. --walk-forward 24m/6m picks the best trigger on each training window and "
        "runs it on the next test window.",
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
        "--min-drifts",
        default="",
        help="comma-separated interval_min_drift values for the interval points (default: the "
        "config's)",
    )
    parser.add_argument(
        "--templates", default="", help="comma-separated templates to sweep (e.g. blue-chip)"
    )
    parser.add_argument(
        "--presets",
        default="",
        help="comma-separated presets to sweep (coins from the bundled market-cap snapshot)",
    )
    parser.add_argument(
        "--coins",
        default="",
        help="portfolios of your own, ';'-separated: 'BTC=50,ETH=50;BTC=40,ETH=30,SOL=30'",
    )
    parser.add_argument(
        "--engine",
        choices=("fast", "freqtrade"),
        default="fast",
        help="fast: the harness (default); freqtrade: every point by Freqtrade's engine",
    )
    parser.add_argument(
        "--verify",
        type=int,
        default=3,
        metavar="N",
        help="re-run N points with Freqtrade's engine (the best, the worst, then random ones) "
        "and fail beyond a 0.01%% difference (default 3; 0: none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the random points' seed")
    parser.add_argument(
        "--walk-forward",
        default=None,
        metavar="TRAIN/TEST",
        help="e.g. 24m/6m: on each training window pick the best point, run it on the next "
        "test window; report the stitched result against the in-sample best and buy-and-hold",
    )
    parser.add_argument(
        "--objective",
        choices=("final", "loss"),
        default="final",
        help="walk-forward's choice: the final value, or the hyperopt loss "
        "(RebalancePortfolioLoss)",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=0, help="worker processes (0: one per core)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for sweep.csv and the heatmaps"
    )
    parser.add_argument("--strategy-path", type=Path, default=None)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="Freqtrade's log of every backtest"
    )


def run(args: argparse.Namespace) -> int:
    """Check the grid, the portfolios and the config, run the sweep (or the walk-forward);
    2 with a one-line error if refused, 1 when the verification fails."""
    from ..core.config import ConfigError
    from ..sweep import check_points, for_portfolios, freqtrade_config, parse_points
    from ..sweep.portfolios import PortfolioError, config_for, resolve

    try:
        points = parse_points(
            args.thresholds,
            args.intervals,
            args.threshold_modes,
            args.rebalance_to,
            args.min_drifts,
        )
    except ValueError as err:
        print(
            f"--thresholds and --min-drifts must be numbers separated by commas: {err}",
            file=sys.stderr,
        )
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
        portfolios = resolve(args.templates, args.presets, args.coins, config.get("datadir"))
        configs = {p.name: config_for(config, p) for p in portfolios} or {"": config}
        points = for_portfolios(points, [p.name for p in portfolios])
        for name, cfg in configs.items():
            check_points(cfg, [p for p in points if p.portfolio == name])
    except (ConfigError, PortfolioError) as err:
        print(f"sweep refused: {err}", file=sys.stderr)
        return 2
    return _execute(args, configs, points)


def _execute(args: argparse.Namespace, configs: dict[str, Any], points: list[Any]) -> int:
    from ..sweep.run import Options, run_sweep
    from ..sweep.verify import VerificationError

    opts = Options(args.jobs, args.engine, args.verify, args.seed)
    try:
        if args.walk_forward:
            from ..sweep.walkforward import WalkForwardError, run_walk_forward

            try:
                run_walk_forward(configs, points, args.walk_forward, args.objective, args.out, opts)
            except WalkForwardError as err:
                print(f"sweep refused: {err}", file=sys.stderr)
                return 2
        else:
            run_sweep(configs, points, args.out, opts)
    except VerificationError as err:
        print(f"sweep verification FAILED: {err}", file=sys.stderr)
        return 1
    return 0
