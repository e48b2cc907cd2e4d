"""``freqtrade-rebalance presets``: the presets and templates with their weights and returns."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..presets import DEFAULT_STAKE, add_source_arguments, datadir_for

DESCRIPTION = (
    "Show the presets (the top 3, 5 or 10 coins by market cap, weighted by market cap, by its "
    "square root, or equally; stablecoins and wrapped coins excluded; each weight between 1%% "
    "and 50%%) and the templates, with their weights and their annualised returns over the "
    "last 7, 30 and 180 daily closes, rebalanced daily, no fees: "
    "r_t = sum_i w_i * close_i,t / close_i,t-1 - 1, R = prod(1 + r_t) - 1, "
    "simple = R * 365 / N, compound = (1 + R)^(365/N) - 1."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "presets",
        help="the presets and templates, their weights and returns",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print a JSON list of {"name", "coins", "as_of", "returns", ...}; returns as '
        "fractions (0.12 = 12%%), null when the history is too short",
    )
    parser.add_argument(
        "--stake",
        default=None,
        help=f"stake currency (default: the config's stake_currency, else {DEFAULT_STAKE})",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("config.json"),
        help="read datadir, stake_currency and the coingecko key from this config when it "
        "exists (default config.json)",
    )
    add_source_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..configfile import ConfigFileError, read_config
    from ..presets import overview_from_args
    from ..presets.candles import candle_coins
    from ..presets.marketcap import MarketCapError
    from ..presets.render import format_table, to_json

    config: dict[str, Any] = {}
    if Path(args.config).is_file():
        try:
            _, config = read_config(args.config)
        except ConfigFileError as err:
            print(f"freqtrade-rebalance presets: {err}", file=sys.stderr)
            return 2
    stake = str(args.stake or config.get("stake_currency") or DEFAULT_STAKE).upper()
    datadir = datadir_for(config, args.datadir)
    fmt = str(config.get("dataformat_ohlcv") or "feather")
    if not candle_coins(datadir, stake, fmt):
        print(
            f"freqtrade-rebalance presets: no daily candles of any {stake} pair in {datadir} "
            f"({fmt} files like BTC_{stake}-1d.{fmt}). Download them with "
            f"`freqtrade download-data -c config.json --timeframes 1d --days 200`, or pass "
            f"--datadir DIR.",
            file=sys.stderr,
        )
        return 2
    try:
        overview = overview_from_args(args, config, stake)
    except MarketCapError as err:
        print(
            f"freqtrade-rebalance presets: {err}. Use --source snapshot (the bundled "
            "circulating supplies) or --source auto.",
            file=sys.stderr,
        )
        return 2
    if args.json:
        for note in overview.caps.notes:
            print(f"note: {note}", file=sys.stderr)
        print(json.dumps(to_json(overview), indent=2, ensure_ascii=False))
    else:
        print(format_table(overview))
    return 0
