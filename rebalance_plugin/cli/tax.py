"""``freqtrade-rebalance tax``: realised gains per sale (FIFO, HIFO or average cost) of a
backtest or a bot's database, and every trade in Koinly's or CoinTracking's CSV import format
(see :mod:`rebalance_plugin.tax`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from ..tax import DESCRIPTION, add_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tax",
        help="realised gains per sale, or every trade for a tax tool's CSV import",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..tax import run as run_tax

    return run_tax(args)
