"""The sweep's backtests: Freqtrade's own engine (``Backtesting``) with the candles loaded once,
one grid point per run, the points spread over forked worker processes. A point's figures are
the report's (:mod:`rebalance_plugin.report`) on the same candles. Freqtrade is imported inside
the functions: ``--help`` stays fast.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import parse_rebalance_config
from .grid import Point

STRATEGY = "RebalanceStrategy"


@dataclass(frozen=True)
class Row:
    """A grid point's figures (money in the stake currency; fractions: 0.12 = 12%)."""

    label: str
    group: str
    final_value: float
    realised_gain: float  # FIFO gain of the sales before the end (the report's, taxable)
    bh_final_value: float
    difference_pp: float  # total return minus buy-and-hold's, percentage points
    cagr: float
    max_drawdown: float
    rebalances: int
    turnover: float
    fees: float
    orders: int
    seconds: float  # wall time of this point's backtest
    portfolio: str = ""  # the portfolio's name ("" for the config's own)
    # the hyperopt loss (RebalancePortfolioLoss) of the point; NaN where not computed
    loss: float = float("nan")


def freqtrade_config(
    config: Path,
    datadir: Path | None,
    timerange: str | None,
    timeframe: str | None,
    strategy_path: Path | None = None,
) -> dict[str, Any]:
    """The config ``freqtrade backtesting -c CONFIG --datadir ... --timerange ...`` would run
    with (Freqtrade's own argument parsing and configuration)."""
    from freqtrade.commands import Arguments
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode

    argv = ["backtesting", "-c", str(config), "--cache", "none", "--export", "none"]
    argv += ["--strategy", STRATEGY]
    if datadir is not None:
        argv += ["--datadir", str(datadir)]
    if timerange:
        argv += ["--timerange", timerange]
    if timeframe:
        argv += ["--timeframe", timeframe]
    if strategy_path is not None:
        argv += ["--strategy-path", str(strategy_path)]
    args = Arguments(argv).get_parsed_arg()
    return setup_optimize_configuration(args, RunMode.BACKTEST)


class Engine:
    """Freqtrade's backtesting engine with the candles loaded: runs one point at a time."""

    def __init__(self, config: dict[str, Any], scratch: Path) -> None:
        from freqtrade.optimize.backtesting import Backtesting

        from ..marketdata.offline import install_offline_markets

        install_offline_markets()
        self.scratch = scratch
        self.config = copy.deepcopy(config)
        # Each point's journal goes to its own folder, never over the user's last backtest.
        self.config["user_data_dir"] = scratch / "base"
        self.backtesting = Backtesting(self.config)
        self.data, self.timerange = self.backtesting.load_bt_data()
        # The report's (opens, closes) by (pairs, start, end), read once per process.
        self.candles: dict[tuple[Any, ...], Any] = {}

    def run(self, point: Point, index: int) -> Row:
        from freqtrade.optimize.optimize_reports import generate_backtest_stats
        from freqtrade.resolvers import StrategyResolver

        from ..ft.params import IGNORE_FILE
        from ..report import build_report
        from ..report.loading import BacktestResult, load_candles, load_journal

        began = time.perf_counter()
        config = copy.deepcopy(self.config)
        config["rebalance"] = {**config.get("rebalance", {}), **point.overrides}
        user_data = self.scratch / f"point-{index}"
        config["user_data_dir"] = user_data
        strategy = StrategyResolver.load_strategy(config)
        # The grid gives this point's trigger: a hyperopt parameter file must not replace it.
        setattr(strategy, IGNORE_FILE, True)
        bt = self.backtesting
        min_date, max_date = bt.backtest_one_strategy(strategy, self.data, self.timerange)
        content = bt.all_bt_content.pop(STRATEGY)
        stats = generate_backtest_stats(self.data, {STRATEGY: content}, min_date, max_date)
        result = BacktestResult(
            path=user_data / "sweep",
            strategy=STRATEGY,
            stats=stats["strategy"][STRATEGY],
            trades=content["results"],
            config=config,
        )
        journal = load_journal(user_data / "backtest_results" / "rebalance_journal.jsonl")
        fmt = config.get("dataformat_ohlcv")
        key = (tuple(result.pairs), result.start, result.end)
        if key not in self.candles:  # every point values the same candles: read them once
            timeframe = result.stats.get("timeframe") or config["timeframe"]
            self.candles[key] = load_candles(
                Path(config["datadir"]), result.pairs, timeframe, result.start, result.end, fmt
            )
        report = build_report(
            result, Path(config["datadir"]), journal, data_format=fmt, candles=self.candles[key]
        )
        v = report.view
        return Row(
            label=point.label,
            group=point.group,
            final_value=v.final_value,
            realised_gain=v.realised_gain,
            bh_final_value=v.bh_final_value,
            difference_pp=v.difference_pp,
            cagr=v.cagr,
            max_drawdown=v.drawdown.depth,
            rebalances=v.rebalances,
            turnover=v.turnover,
            fees=v.fees,
            orders=v.orders,
            seconds=time.perf_counter() - began,
            portfolio=point.portfolio,
        )


# The engine of this process, inherited by the forked workers (built before the fork).
_ENGINE: Engine | None = None


def _run_one(job: tuple[int, Point]) -> tuple[int, Row]:
    assert _ENGINE is not None
    index, point = job
    return index, _ENGINE.run(point, index)


def check_points(config: dict[str, Any], points: Iterable[Point]) -> None:
    """Raise :class:`~rebalance_plugin.core.config.ConfigError` for the first point whose
    ``rebalance`` section the bot would refuse."""
    for point in points:
        parse_rebalance_config({**config.get("rebalance", {}), **point.overrides})


def sweep(
    config: dict[str, Any],
    points: Sequence[Point],
    jobs: int = 0,
    progress: Callable[[int, int, Row], None] | None = None,
) -> list[Row]:
    """Backtest every point; ``jobs`` worker processes (0: one per core). Rows in grid order."""
    global _ENGINE
    check_points(config, points)  # refuse a bad point before any backtest runs
    jobs = min(len(points), jobs or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="rebalance-sweep-") as scratch:
        _ENGINE = Engine(config, Path(scratch))
        rows: dict[int, Row] = {}
        try:
            if jobs <= 1:
                results: Iterable[tuple[int, Row]] = map(_run_one, enumerate(points))
                for i, row in results:
                    rows[i] = row
                    if progress:
                        progress(len(rows), len(points), row)
            else:
                with multiprocessing.get_context("fork").Pool(jobs) as pool:
                    for i, row in pool.imap_unordered(_run_one, enumerate(points)):
                        rows[i] = row
                        if progress:
                            progress(len(rows), len(points), row)
        finally:
            _ENGINE = None
    return [rows[i] for i in range(len(points))]
