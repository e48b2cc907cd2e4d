"""A backtest result's portfolio view shown: the result and its candles found, the view built
(:mod:`.build`), the summary printed and the plot written (:mod:`.render`). :func:`run` is what
``freqtrade-rebalance report`` (and ``python -m rebalance_plugin.report``) calls once its
arguments are read, and what ``make demo`` calls after its backtest.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO, cast

from ..marketdata import candle_folders, find_candles
from .build import Report, build_report
from .loading import BacktestResult, find_journal, load_result
from .render import DEFAULT_PLOT, format_summary, plot


def _load_config(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    from freqtrade.configuration.load_config import load_config_file

    return cast(dict[str, Any], load_config_file(str(path)))


def result_datadir(config: dict[str, Any], result: BacktestResult, user_data: Path) -> Path:
    """The candles ``result`` ran on: the config's ``datadir``, else the first default folder
    holding a file of each of its pairs on its timeframe (the exchange and data format the
    result was run with; the demo's synthetic market last)."""
    merged = {**config, **result.config}  # the result's own config wins (timeframe, coins)
    search = {
        "user_data_dir": str(user_data),
        "exchange": {"name": (merged.get("exchange") or {}).get("name", "binance")},
        "timeframe": result.stats.get("timeframe", "1h"),
        "dataformat_ohlcv": merged.get("dataformat_ohlcv", "feather"),
    }
    given = Path(config["datadir"]) if config.get("datadir") else None
    found = find_candles(search, result.pairs, given=given, synthetic=True)
    if found is None:
        raise FileNotFoundError(
            f"no candles of {', '.join(result.pairs)} found in "
            f"{', '.join(str(p) for p in candle_folders(search, synthetic=True))}: "
            "pass the backtest's --datadir"
        )
    return found


def run(
    config_path: Path | None = Path("config.json"),
    datadir: Path | None = None,
    result_path: Path | None = None,
    plot_path: Path | None = None,
    strategy: str | None = None,
    note: str | None = None,
    out: TextIO | None = None,
    log_scale: bool = False,
) -> Report:
    """Load, compute, print the summary, write the PNG. Returns the report."""
    out = out or sys.stdout
    config = _load_config(config_path)
    user_data = Path(config.get("user_data_dir") or "user_data")
    results_dir = Path(config.get("exportdirectory") or user_data / "backtest_results")
    result = load_result(Path(result_path) if result_path else results_dir, strategy or None)
    merged = {**config, **result.config}
    if datadir is None:
        datadir = result_datadir(config, result, user_data)
    _, journal = find_journal(result, results_dir)  # this run's own, never another's
    if not result.config:
        result.config = config
    if note is None and "synthetic" in Path(datadir).parts:
        note = "SYNTHETIC DATA - not real prices"
    report = build_report(
        result, Path(datadir), journal, data_format=merged.get("dataformat_ohlcv")
    )
    print(format_summary(report, note), file=out)
    png = plot(
        report,
        Path(plot_path) if plot_path else user_data / "backtest_results" / DEFAULT_PLOT.name,
        note=note,
        log_scale=log_scale,
    )
    print(f"\n  Equity plot written to {png.resolve()}", file=out, flush=True)
    return report
