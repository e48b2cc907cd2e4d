"""``freqtrade-rebalance tax``: realised gains per sale (FIFO, HIFO or average cost) of a
backtest or a bot's database, and every trade in Koinly's or CoinTracking's CSV import format
(the export itself: :mod:`rebalance_plugin.tax`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ..core.taxlots import METHODS
from ..tax import FORMATS, History

DEFAULT_OUT = Path("user_data") / "tax"
DESCRIPTION = (
    "Realised gains of a backtest or of a bot's database: one row per sale with its cost "
    "basis (lots matched per coin: FIFO, HIFO or average cost) and its gain, with totals per "
    "year and per coin; or every buy and sale in Koinly's or CoinTracking's CSV import format."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tax",
        help="realised gains per sale, or every trade for a tax tool's CSV import",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--backtest",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="a backtest result (.zip/.json); without FILE, or by default, the latest in the "
        "config's backtest_results folder",
    )
    source.add_argument(
        "--db-url",
        default=None,
        help="a bot's database: its db_url, e.g. sqlite:///tradesv3.dryrun.sqlite or "
        "postgresql+psycopg://user:pw@host/db (read only)",
    )
    parser.add_argument(
        "--method",
        default="fifo",
        choices=METHODS,
        help="how sales are matched to purchases, per coin: fifo (default), hifo (highest "
        "cost first) or average (Freqtrade's own average-cost booking)",
    )
    parser.add_argument(
        "--format",
        default="gains",
        choices=FORMATS,
        help="gains: one row per sale with its cost basis and gain (default); koinly, "
        "cointracking: every buy and sale in that tool's CSV import format",
    )
    parser.add_argument(
        "--out",
        "-o",
        type=Path,
        default=None,
        help="the CSV file to write (default: user_data/tax/gains-METHOD.csv, or FORMAT.csv)",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("config.json"),
        help="where the backtest results are (user_data_dir, exportdirectory)",
    )
    parser.add_argument(
        "--strategy", default=None, help="the strategy to export if the result holds several"
    )
    parser.add_argument(
        "--without-final-exits",
        action="store_true",
        help="backtest: leave out the sales Freqtrade makes at the last candle to close the "
        "trades still open (their coins stay in their lots)",
    )


def _results_dir(config_path: Path) -> Path:
    config: dict[str, Any] = {}
    if config_path.is_file():
        from freqtrade.configuration.load_config import load_config_file

        config = load_config_file(str(config_path))
    user_data = Path(config.get("user_data_dir") or "user_data")
    return Path(config.get("exportdirectory") or user_data / "backtest_results")


def default_out(args: argparse.Namespace) -> Path:
    name = f"gains-{args.method}.csv" if args.format == "gains" else f"{args.format}.csv"
    return DEFAULT_OUT / name


def history(args: argparse.Namespace) -> History:
    """The fills of the source the arguments name (a database, or a backtest result)."""
    from ..tax import TaxError, from_backtest, from_database

    if args.db_url is not None:
        if args.without_final_exits:
            raise TaxError(
                "--without-final-exits applies to a backtest (a bot's sales are all real)"
            )
        found = from_database(args.db_url)
    else:
        path = Path(args.backtest) if args.backtest else _results_dir(args.config)
        found = from_backtest(path, args.strategy, final_exits=not args.without_final_exits)
    if not found.fills:
        raise TaxError(f"{found.source} holds no filled order: nothing to export")
    return found


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Export, then print the totals; 2 with a one-line error if a source or setting is
    refused."""
    from ..core import taxlots
    from ..tax import TaxError, export, summary

    out = out or sys.stdout
    try:
        fills = history(args)
        sales = taxlots.match(fills.fills, args.method)
        path = export(fills, args.format, args.method, args.out or default_out(args))
    except (TaxError, FileNotFoundError, ValueError) as err:
        print(f"freqtrade-rebalance tax: {err}", file=sys.stderr)
        return 2
    print(summary(fills, sales, args.method, args.format, path), file=out)
    return 0
