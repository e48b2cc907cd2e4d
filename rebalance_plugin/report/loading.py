"""Reading a finished backtest: Freqtrade's result file (zip/json) and the config stored in it,
its filled orders, the candles it ran on (their folder found by
:func:`rebalance_plugin.marketdata.find_candles`), and the strategy's journal. Freqtrade is
imported inside the functions that need it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rebalance_plugin.core import journal
from rebalance_plugin.core.config import TRIGGER_KEYS

from .metrics import ORDER_COLUMNS


@dataclass
class BacktestResult:
    path: Path  # the result file (zip or json)
    strategy: str
    stats: dict[str, Any]  # Freqtrade's per-strategy stats
    trades: pd.DataFrame  # Freqtrade's trade list, with an ``orders`` column
    config: dict[str, Any]  # the config stored with the result ({} if none): stored_config

    @property
    def pairs(self) -> list[str]:
        pairs = list(self.stats.get("pairlist") or [])
        return pairs or list(dict.fromkeys(self.trades["pair"]))

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.stats["backtest_start_ts"], unit="ms", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.stats["backtest_end_ts"], unit="ms", tz="UTC")


def _stored_json(path: Path, suffix: str) -> dict[str, Any]:
    """The JSON file whose name ends in ``suffix`` inside a zipped result, or {}."""
    if path.suffix != ".zip" or not path.is_file():
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(suffix)]
            found = json.loads(zf.read(names[0])) if names else {}
    except (OSError, ValueError, zipfile.BadZipFile):
        return {}
    return found if isinstance(found, dict) else {}


def stored_config(path: Path, strategy: str) -> dict[str, Any]:
    """The config Freqtrade stores inside a zipped result (secrets removed), or {}; its
    ``rebalance`` section carries the trigger the backtest ran on: the values of the parameter
    file stored beside it (``<result>_<strategy>.json``, written by hyperopt), which a backtest
    takes over config.json's (``rebalance_plugin.ft.params``)."""
    config = _stored_json(path, "_config.json")
    params = _stored_json(path, f"_{strategy}.json").get("params") or {}
    buy = params.get("buy") if isinstance(params, dict) else None
    section = config.get("rebalance")
    if isinstance(buy, dict) and isinstance(section, dict):
        config["rebalance"] = {**section, **{k: buy[k] for k in TRIGGER_KEYS if k in buy}}
    return config


def latest_result(results_dir: Path) -> Path:
    from freqtrade.data.btanalysis import get_latest_backtest_filename

    return Path(results_dir) / str(get_latest_backtest_filename(results_dir))


def load_result(path: Path, strategy: str | None = None) -> BacktestResult:
    """A result file (zip/json), or the latest one in a results directory."""
    from freqtrade.data.btanalysis import load_backtest_data, load_backtest_stats

    path = Path(path)
    hint = "run a backtest first (freqtrade backtesting, or make demo), or name one with --result"
    if not path.exists():
        raise FileNotFoundError(f"no backtest result {path}: {hint}")
    if path.is_dir():
        try:
            path = latest_result(path)
        except ValueError as err:
            raise FileNotFoundError(f"no backtest result in {path}: {hint}") from err
        if not path.exists():
            raise FileNotFoundError(f"the latest backtest result {path} is missing: {hint}")
    stats = load_backtest_stats(path)
    names = list(stats.get("strategy", {}))
    if not names:
        raise ValueError(f"{path} holds no strategy result")
    if strategy is None:
        strategy = names[0]
        if len(names) > 1:
            print(
                f"note: {path.name} holds {', '.join(names)}; showing {strategy} "
                "(choose with --strategy)"
            )
    elif strategy not in names:
        raise ValueError(f"{path.name} holds no result of {strategy} (it has {', '.join(names)})")
    trades = load_backtest_data(path, strategy)
    config = stored_config(path, strategy)
    return BacktestResult(path, strategy, stats["strategy"][strategy], trades, config)


def find_result(
    results_dir: Path, strategy: str, timeframe: str, timerange: str | None
) -> tuple[float, pd.DataFrame, dict[str, Any]] | None:
    """The newest result file in ``results_dir`` of ``strategy`` on ``timeframe`` whose
    backtest ran over ``timerange`` (as given to ``--timerange``; any when None): (the time it
    ran, its trades, its stored config), or None."""
    from freqtrade.data.btanalysis import (
        get_backtest_resultlist,
        load_backtest_data,
        load_backtest_stats,
    )

    try:
        entries = get_backtest_resultlist(Path(results_dir))
    except (OSError, ValueError):
        return None
    entries = [
        e for e in entries if e.get("strategy") == strategy and e.get("timeframe") == timeframe
    ]
    entries.sort(key=lambda e: e.get("backtest_start_time") or 0, reverse=True)
    for entry in entries:
        path = Path(results_dir) / f"{entry['filename']}.zip"
        if not path.is_file():
            path = path.with_suffix(".json")
        try:
            stats = load_backtest_stats(path)["strategy"][strategy]
        except (OSError, ValueError, KeyError):
            continue
        if timerange and stats.get("timerange") != timerange:
            continue
        trades = load_backtest_data(path, strategy)
        ran = float(entry.get("backtest_start_time") or 0)
        return ran, trades, stored_config(path, strategy)
    return None


def orders_from_trades(trades: pd.DataFrame) -> pd.DataFrame:
    """Freqtrade's trades (with their ``orders``) as an orders frame of filled orders."""
    rows = []
    for trade in trades.itertuples(index=False):
        base = str(trade.pair).split("/")[0]
        for order in trade.orders or []:
            ts = order.get("order_filled_timestamp")
            amount = float(order.get("amount") or 0.0)
            if ts is None or amount <= 0:
                continue  # never filled
            entry = order.get("ft_is_entry", order.get("ft_order_side") == "buy")
            fee = trade.fee_open if entry else trade.fee_close
            rows.append(
                (
                    ts,
                    base,
                    order["ft_order_side"],
                    amount,
                    float(order["safe_price"]),
                    float(fee if fee is not None and not pd.isna(fee) else 0.0),
                    order.get("ft_order_tag") or "",
                )
            )
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ms", utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def journal_file(result_path: Path, results_dir: Path) -> Path:
    """The latest journal near a result: the one beside the result file, else the results
    folder's (it may be another run's: :func:`find_journal` finds the result's own)."""
    beside = Path(result_path).parent / journal.JOURNAL_NAME
    return beside if beside.is_file() else Path(results_dir) / journal.JOURNAL_NAME


def _legs(records: Sequence[dict[str, Any]]) -> list[tuple[str, str, float]]:
    return sorted(
        (str(leg["coin"]), str(leg["side"]), float(leg["qty"]))
        for e in records
        for leg in e.get("legs") or []
    )


def find_journal(result: BacktestResult, results_dir: Path) -> tuple[Path | None, list[Any]]:
    """The journal of ``result``'s own run: among the latest journal and those kept from
    earlier runs (``rebalance_journal.<time>.jsonl``, beside the result and in the results
    folder, newest first), the first whose legs are the result's rebalance and deposit orders
    (the same coins and sides, each quantity within 10 %: a
    leg may fill one quantity step off its plan) and whose events fall in its period.
    (None, []) when no journal is this run's: its rebalance counts and markers are unknown."""
    orders = orders_from_trades(result.trades)
    tags = orders["tag"].fillna("").astype(str)
    rebalance = orders[tags.str.startswith("rebalance") | tags.str.startswith("deposit")]
    wanted = sorted(zip(rebalance["coin"], rebalance["side"], rebalance["amount"].astype(float)))
    start, end = result.start.timestamp(), result.end.timestamp()
    folders = list(dict.fromkeys([Path(result.path).parent, Path(results_dir)]))
    candidates = [f / journal.JOURNAL_NAME for f in folders]
    candidates += [p for f in folders for p in journal.kept(f)]
    for path in dict.fromkeys(candidates):
        if not path.is_file():
            continue
        records = journal.read(path)
        legs = _legs(records)
        if len(legs) != len(wanted) or any(not start <= e.get("ts", 0) <= end for e in records):
            continue
        if all(
            (a[0], a[1]) == (b[0], b[1]) and abs(a[2] - b[2]) <= 0.1 * abs(b[2])
            for a, b in zip(legs, wanted)
        ):
            return path, records
    return None, []


def load_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's records ([] when ``path`` is not a file)."""
    return journal.read(path) if path.is_file() else []


def load_candles(
    datadir: Path,
    pairs: Sequence[str],
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    data_format: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(opens, closes) by candle open time in [start, end], one column per coin, loaded as
    Freqtrade's backtest loads them (missing candles filled at the previous close)."""
    from freqtrade.configuration import TimeRange
    from freqtrade.data.history import load_pair_history

    timerange = TimeRange("date", "date", int(start.timestamp()), int(end.timestamp()))
    opens, closes, missing = {}, {}, []
    for pair in pairs:
        df = load_pair_history(
            pair, timeframe, Path(datadir), timerange=timerange, data_format=data_format
        )
        if df.empty:
            missing.append(pair)
            continue
        frame = df.set_index("date")
        coin = pair.split("/")[0]
        opens[coin], closes[coin] = frame["open"], frame["close"]
    if missing:
        raise FileNotFoundError(
            f"no {timeframe} candles for {', '.join(missing)} in {datadir} between "
            f"{start:%Y-%m-%d} and {end:%Y-%m-%d} (pass the backtest's --datadir)"
        )
    return pd.DataFrame(opens), pd.DataFrame(closes)
