"""``freqtrade-rebalance report``: the portfolio view of a finished backtest, exactly
``python -m rebalance_plugin.report`` (same arguments, same output: :func:`main`). The view
itself is :mod:`rebalance_plugin.report`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: ``python -m rebalance_plugin.report --help``'s description.
DESCRIPTION = (
    "Portfolio view of a finished backtest: equity against buy-and-hold, rebalances, turnover, "
    "fees, drawdown, CAGR, and an equity plot."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The portfolio view's arguments (``python -m rebalance_plugin.report`` uses them too)."""
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("config.json"),
        help="the backtest's config (default config.json)",
    )
    parser.add_argument(
        "--datadir",
        type=Path,
        default=None,
        help="the candles the backtest ran on (default: config datadir, "
        "user_data/data/<exchange>, ../shared/data/binance, "
        "user_data/data/synthetic: the first that has them)",
    )
    parser.add_argument(
        "--result",
        type=Path,
        default=None,
        help="a backtest result (.zip/.json; default: the latest)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="where to save the PNG (default <user_data_dir>/backtest_results/"
        "rebalance_equity.png)",
    )
    parser.add_argument(
        "--strategy", default=None, help="strategy to show if the result holds several"
    )
    parser.add_argument(
        "--log-scale",
        action="store_true",
        help="the plot's value axis in log scale (a portfolio that grew manifold)",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from_help = (
        "Portfolio view of a finished backtest: equity against buy-and-hold, rebalances, "
        "turnover, fees, drawdown, CAGR, and an equity plot (= python -m rebalance_plugin.report)."
    )
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="the portfolio view of the latest backtest", description=from_help
    )
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the view from parsed arguments; the exit code (2 with a one-line error)."""
    from ..report import run as show

    try:
        show(
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
    """``python -m rebalance_plugin.report [ARGS]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rebalance_plugin.report", description=DESCRIPTION
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
