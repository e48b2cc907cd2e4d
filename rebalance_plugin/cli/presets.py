"""``freqtrade-rebalance presets``: the presets and templates with their weights and returns
(gathered by :mod:`rebalance_plugin.presets`); and the options choosing where their data comes
from, which ``init --preset`` takes too."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..marketdata import find_candles
from ..presets import DEFAULT_STAKE, Overview, build_overview
from ..presets.marketcap import SOURCES

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


# ---- options shared by `presets` and `init --preset` ---------------------------------------------
def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datadir",
        type=Path,
        default=None,
        help="Freqtrade candles with daily (1d) files (default: the config's datadir, else "
        "user_data/data/<exchange>)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="market caps: live from CoinGecko, the bundled snapshot, or auto (live, falling "
        "back to the snapshot when CoinGecko cannot be reached; default)",
    )
    parser.add_argument(
        "--coingecko-url",
        default=None,
        metavar="URL",
        help="CoinGecko API base URL (default https://api.coingecko.com/api/v3/, or the Pro "
        "API with a non-demo coingecko.api_key in the config)",
    )
    parser.add_argument(
        "--markets",
        type=Path,
        default=None,
        metavar="FILE",
        help="ccxt markets as JSON (symbol -> market) to take the tradable coins from "
        "(default: the bundled Binance spot markets snapshot)",
    )


def datadir_for(config: Mapping[str, Any], given: Path | None) -> Path:
    """``--datadir``, else the config's ``datadir``, else ``<user_data_dir>/data/<exchange>``
    (the first folder :func:`~rebalance_plugin.marketdata.find_candles` looks in)."""
    found = find_candles(config, (), given=given)
    assert found is not None  # with no pairs to look for, the first folder
    return found


def overview_from_args(args: argparse.Namespace, config: Mapping[str, Any], stake: str) -> Overview:
    """Build the overview from the shared options and the config's defaults."""
    datadir = datadir_for(config, args.datadir)
    gecko = config.get("coingecko") or {}
    return build_overview(
        datadir,
        stake,
        source=args.source,
        coingecko_url=args.coingecko_url,
        markets_path=args.markets,
        api_key=str(gecko.get("api_key") or ""),
        is_demo=bool(gecko.get("is_demo", True)),
        data_format=str(config.get("dataformat_ohlcv") or "feather"),
    )


def run(args: argparse.Namespace) -> int:
    from ..presets.candles import candle_coins
    from ..presets.marketcap import MarketCapError
    from ..presets.render import format_table, to_json
    from .configfile import ConfigFileError, read_config

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
