"""``make demo`` (``python -m tools.demo``): backtest config.json's portfolio and show the
portfolio view.

1. Finds candles of the portfolio's coins (``rebalance.coins``, the config's timeframe) with
   :func:`rebalance_plugin.marketdata.find_candles`: the config's ``datadir`` if it sets one,
   ``user_data/data/<exchange>`` (your own ``freqtrade download-data``), else the shared real
   Binance candles ``../shared/data/binance`` beside the checkout. If none has them, it
   generates a seeded SYNTHETIC market into ``user_data/data/synthetic`` and says so loudly
   before and after the results.
2. Runs the unchanged Freqtrade CLI offline (``python -m rebalance_plugin.marketdata.offline
   backtesting -c config.json --datadir DIR --timerange RANGE --cache none``), streaming its
   output.
   Real data: 2021-01-01 -> 2026-01-01, narrowed to the coins' common coverage if shorter.
   Synthetic: the generated range, the same five years.
3. Prints the portfolio view (``rebalance_plugin.report``) and writes the equity plot.

Exits non-zero if the backtest (or the report) fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from rebalance_plugin import report
from rebalance_plugin.marketdata import find_candles, has_candles

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.json"
RANGE_START = pd.Timestamp("2021-01-01", tz="UTC")
RANGE_END = pd.Timestamp("2026-01-01", tz="UTC")
MIN_DAYS = 30  # less common coverage than this: not enough for a demo
SYNTHETIC_SEED = 42


def banner(lines: list[str], char: str = "#") -> str:
    width = max(72, max(len(line) for line in lines) + 8)
    edge = char * width
    body = [f"{char}{char}  {line:<{width - 8}}  {char}{char}" for line in lines]
    return "\n".join(["", edge, edge, *body, edge, edge, ""])


def coverage(
    datadir: Path, pairs: list[str], timeframe: str, data_format: str
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Common (first, last) candle of ``pairs`` in ``datadir``, or None if a file is missing."""
    if not has_candles(datadir, pairs, timeframe, data_format):
        return None
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    handler = get_datahandler(datadir, data_format)
    firsts, lasts = [], []
    for pair in pairs:
        first, last, count = handler.ohlcv_data_min_max(pair, timeframe, CandleType.SPOT)
        if not count:
            return None
        firsts.append(pd.Timestamp(first))
        lasts.append(pd.Timestamp(last))
    return max(firsts), min(lasts)


def demo_timerange(cover: tuple[pd.Timestamp, pd.Timestamp]) -> str | None:
    """20210101-20260101, narrowed to whole days of the common coverage; None if too short."""
    start = max(cover[0], RANGE_START).ceil("D")
    end = min(cover[1], RANGE_END).floor("D")
    if end - start < pd.Timedelta(days=MIN_DAYS):
        return None
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def find_data(config: dict[str, Any], pairs: list[str]) -> tuple[Path, str] | None:
    """(datadir, timerange) of the first real-data folder that covers the pairs long enough,
    saying why each folder before it does not."""
    timeframe = config.get("timeframe", "1h")
    data_format = config.get("dataformat_ohlcv", "feather")
    ranges: dict[Path, str] = {}

    def covers(candidate: Path) -> bool:
        cover = coverage(candidate, pairs, timeframe, data_format)
        if cover is None:
            print(f"  {candidate}: no {timeframe} candles of every coin")
            return False
        timerange = demo_timerange(cover)
        if timerange is None:
            print(
                f"  {candidate}: the coins' common coverage {cover[0]:%Y-%m-%d} -> "
                f"{cover[1]:%Y-%m-%d} has under {MIN_DAYS} days in 2021-2025"
            )
            return False
        ranges[candidate] = timerange
        return True

    found = find_candles(config, pairs, base=ROOT, accept=covers)
    return (found, ranges[found]) if found is not None else None


def _latest(results: Path) -> str | None:
    marker = results / ".last_result.json"
    try:
        return json.loads(marker.read_text()).get("latest_backtest")
    except (OSError, ValueError):
        return None


def synthetic_market(user_data: Path, pairs: list[str], timeframe: str) -> tuple[Path, str]:
    """(datadir, timerange) of a seeded SYNTHETIC market generated into the user data, said
    loudly."""
    from rebalance_plugin.marketdata.synthetic import BANNER, generate_market

    datadir = user_data / "data" / "synthetic"
    timerange = f"{RANGE_START:%Y%m%d}-{RANGE_END:%Y%m%d}"
    print(
        banner(
            [
                BANNER,
                "No real candles of the portfolio's coins were found, so this demo runs on a",
                f"generated market ({datadir}, seed {SYNTHETIC_SEED}).",
                "EVERY FIGURE BELOW IS SYNTHETIC: it says nothing about real performance.",
            ]
        ),
        flush=True,
    )
    generate_market(datadir, pairs, timeframe, RANGE_START, RANGE_END, seed=SYNTHETIC_SEED)
    print(
        f"  generated {len(pairs)} synthetic {timeframe} files, timerange {timerange}\n",
        flush=True,
    )
    return datadir, timerange


def backtest(datadir: Path, timerange: str, results: Path) -> tuple[int, str | None]:
    """Freqtrade's unchanged backtesting CLI, offline, its output streamed: (exit code, the
    new result's file name, or None and a message said when it wrote none)."""
    before = _latest(results)
    command = [
        sys.executable,
        "-m",
        "rebalance_plugin.marketdata.offline",
        "backtesting",
        "-c",
        str(CONFIG),
        "--datadir",
        str(datadir),
        "--timerange",
        timerange,
        "--cache",
        "none",
    ]
    print("$ python " + " ".join(command[1:]) + "\n", flush=True)
    rc = subprocess.run(command, cwd=ROOT, check=False).returncode
    if rc != 0:
        print(
            f"\nerror: the backtest failed (exit code {rc}); see Freqtrade's messages above",
            file=sys.stderr,
        )
        return rc, None
    latest = _latest(results)
    if latest is None or latest == before or not (results / latest).is_file():
        print(f"\nerror: the backtest wrote no new result to {results}", file=sys.stderr)
        return 1, None
    return 0, latest


def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    config: dict[str, Any] = json.loads(CONFIG.read_text())
    stake = config.get("stake_currency", "USDT")
    coins: dict[str, float] = (config.get("rebalance") or {}).get("coins") or {}
    if not coins:
        print(f"error: {CONFIG} has no rebalance.coins", file=sys.stderr)
        return 2
    pairs = [f"{coin}/{stake}" for coin in coins]
    timeframe = config.get("timeframe", "1h")
    user_data = ROOT / config.get("user_data_dir", "user_data")
    results = user_data / "backtest_results"
    for folder in (user_data, results, user_data / "data"):
        folder.mkdir(parents=True, exist_ok=True)

    portfolio = ", ".join(f"{c} {w:g}%" for c, w in coins.items())
    print(
        f"freqtrade-rebalance demo: {portfolio}, investment "
        f"{config['rebalance'].get('investment')} {stake}, {timeframe} candles"
    )
    print("Looking for candles:")
    found = find_data(config, pairs)
    note = None
    if found is not None:
        datadir, timerange = found
        print(f"  using REAL candles from {datadir}, timerange {timerange}\n", flush=True)
    else:
        datadir, timerange = synthetic_market(user_data, pairs, timeframe)
        note = "SYNTHETIC DATA - not real prices"

    rc, latest = backtest(datadir, timerange, results)
    if latest is None:
        return rc

    print("", flush=True)
    try:
        report.run(
            config_path=CONFIG,
            datadir=datadir,
            result_path=results / latest,
            plot_path=results / report.DEFAULT_PLOT.name,
            note=note,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"\nerror: the portfolio report failed: {err}", file=sys.stderr)
        return 1
    if note:
        print(
            banner(
                [
                    "THE FIGURES ABOVE ARE SYNTHETIC (seeded random walk, not real prices).",
                    "Put real candles in user_data/data/binance (freqtrade download-data) "
                    "for real ones.",
                ]
            )
        )
    print(f"\nDemo finished in {time.monotonic() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
