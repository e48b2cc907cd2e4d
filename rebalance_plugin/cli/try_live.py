"""``freqtrade-rebalance try-live``: the portfolio as a dry-run bot against a local Binance
stand-in, no internet needed (see :mod:`rebalance_plugin.trylive`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

WORKDIR = Path("user_data") / "try-live"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "try-live",
        help="run the portfolio as a dry-run bot against a local Binance stand-in (offline)",
        description="Start a local stand-in for Binance's spot API (candles replayed in the "
        "present) and a dry-run `freqtrade trade` of the config's portfolio on it, with the REST "
        "API (and FreqUI, if installed) on 127.0.0.1; print the url, username and a generated "
        "password, and freqtrade-client commands to try. Ctrl-C stops both. No internet, no "
        "money. With --move/--set-price: move a price of the running try-live (a rebalance "
        "follows past the threshold). With --write-config: only write the bot's config, "
        "rest.json and the JWT secret for a stand-in you run yourself.",
    )
    parser.add_argument(
        "--config", "-c", type=Path, default=Path("config.json"), help="default config.json"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=WORKDIR,
        help=f"the bot's config, database, logs, rest.json and JWT secret (default {WORKDIR})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="REST API / FreqUI port (default 8080, or a free one)",
    )
    parser.add_argument(
        "--datadir",
        type=Path,
        default=None,
        help="candles for the stand-in (default: the config's datadir, user_data/data/binance, "
        "../shared/data/binance; else a generated synthetic market)",
    )
    parser.add_argument(
        "--standin-port",
        type=int,
        default=0,
        help="the stand-in's port (default: any free one)",
    )
    parser.add_argument(
        "--move",
        action="append",
        default=[],
        metavar="COIN=FACTOR",
        help="running try-live: multiply COIN's price now by FACTOR and hold it (SOL=1.6: +60%%)",
    )
    parser.add_argument(
        "--set-price",
        action="append",
        default=[],
        metavar="COIN=PRICE",
        help="running try-live: set COIN's price and hold it",
    )
    parser.add_argument(
        "--write-config",
        action="store_true",
        help="only write the config, rest.json and JWT secret into --workdir for the stand-in "
        "at --standin",
    )
    parser.add_argument(
        "--standin",
        default=None,
        metavar="URL",
        help="a stand-in you started yourself (python -m binance_standin): for --write-config, "
        "and for --move/--set-price without a running try-live",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from ..trylive import TryLiveError, move, start, write_config

    try:
        if args.move or args.set_price:
            return move(args.workdir, args.move, args.set_price, standin=args.standin)
        if args.write_config:
            if not args.standin:
                raise TryLiveError("--write-config needs --standin URL (the stand-in's address)")
            return write_config(args.config, args.workdir, args.standin, args.port)
        return start(args.config, args.workdir, args.port, args.datadir, args.standin_port)
    except TryLiveError as err:
        print(f"freqtrade-rebalance try-live: {err}", file=sys.stderr)
        return 2
