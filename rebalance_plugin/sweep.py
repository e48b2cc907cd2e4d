"""``freqtrade-rebalance sweep``: one portfolio under every threshold and every interval.

Each grid point is a real backtest by Freqtrade's own engine (``Backtesting``), exactly what
``freqtrade backtesting`` runs for the same config with that trigger, so a point's figures equal
that command's. What is shared: the candles are loaded once, and Freqtrade's ``Backtesting``
object (exchange, pair list, wallet) is built once; the worker processes are forked from the
process holding both, so each point only analyses and backtests. Figures come from the same code
as ``freqtrade-rebalance report`` (final value, the gain its sales realised by FIFO before the
end, buy-and-hold over the same candles, CAGR, max drawdown from the equity curve, rebalances,
turnover, fees).

Freqtrade is imported inside the functions: ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
import multiprocessing
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .core.config import INTERVALS, THRESHOLDS, ConfigError, parse_rebalance_config

STRATEGY = "RebalanceStrategy"
DEFAULT_OUT = Path("user_data") / "sweep"


@dataclass(frozen=True)
class Point:
    """One grid point: the keys of the ``rebalance`` section it changes. ``group``: the panel of
    the heatmap it belongs to (trigger, and the threshold mode and target when not default)."""

    label: str
    group: str
    overrides: dict[str, Any] = field(default_factory=dict)


def grid(
    thresholds: Iterable[float] = THRESHOLDS,
    intervals: Iterable[str] = tuple(INTERVALS),
    modes: Iterable[str] = ("absolute",),
    targets: Iterable[str] = ("target",),
) -> list[Point]:
    """Every threshold, then every interval (its minimum drift as in the config), for each
    threshold mode and rebalance target asked for (``threshold_mode``, ``rebalance_to``)."""
    thresholds, intervals = list(thresholds), list(intervals)
    points = []
    for mode in modes:
        for to in targets:
            extra: dict[str, Any] = {}
            suffix = ""
            if (mode, to) != ("absolute", "target"):
                extra = {"threshold_mode": mode, "rebalance_to": to}
                suffix = f" {mode}/{to}"
            for t in thresholds:
                overrides = {"trigger": "threshold", "threshold": t, **extra}
                points.append(Point(f"threshold {t:g}{suffix}", f"threshold{suffix}", overrides))
            for i in intervals:
                overrides = {"trigger": "interval", "interval": i, **extra}
                points.append(Point(f"interval {i}{suffix}", f"interval{suffix}", overrides))
    return points


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


# ---- Freqtrade's side ----------------------------------------------------------------------------
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

        from .offline import install_offline_markets

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

        from .ft.params import IGNORE_FILE
        from .report import build_report
        from .report.loading import BacktestResult, load_candles, load_journal

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
        )


# The engine of this process, inherited by the forked workers (built before the fork).
_ENGINE: Engine | None = None


def _run_one(job: tuple[int, Point]) -> tuple[int, Row]:
    assert _ENGINE is not None
    index, point = job
    return index, _ENGINE.run(point, index)


def sweep(
    config: dict[str, Any],
    points: Sequence[Point],
    jobs: int = 0,
    progress: Callable[[int, int, Row], None] | None = None,
) -> list[Row]:
    """Backtest every point; ``jobs`` worker processes (0: one per core). Rows in grid order."""
    global _ENGINE
    for point in points:  # refuse a bad point before any backtest runs
        parse_rebalance_config({**config.get("rebalance", {}), **point.overrides})
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


# ---- output --------------------------------------------------------------------------------------
HEADER = (
    "point",
    "final value",
    "gain FIFO",
    "vs B&H (pp)",
    "CAGR",
    "max DD",
    "rebalances",
    "turnover",
    "fees",
)


def table(rows: Sequence[Row], stake: str = "USDT") -> str:
    cells = [
        (
            r.label,
            f"{r.final_value:,.2f}",
            f"{r.realised_gain:,.2f}",
            f"{r.difference_pp:+.2f}",
            f"{r.cagr * 100:+.2f}%",
            f"{r.max_drawdown * 100:.2f}%",
            str(r.rebalances),
            f"{r.turnover:,.2f}",
            f"{r.fees:,.2f}",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADER)]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [line.format(*HEADER), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    if rows:
        out.append(
            f"buy-and-hold of the starting allocation: {rows[0].bh_final_value:,.2f} {stake}; "
            "money columns in " + stake + "; gain FIFO: the gain the sales realised before the "
            "end (taxable as they happen), where buy-and-hold realises none"
        )
    return "\n".join(out)


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return path


#: The heatmap's rows: (title, Row attribute, format, higher is better).
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("final value", "final_value", "{:,.0f}", True),
    ("realised gain (FIFO)", "realised_gain", "{:,.0f}", False),
    ("vs B&H (pp)", "difference_pp", "{:+.1f}", True),
    ("CAGR", "cagr", "{:+.1%}", True),
    ("max drawdown", "max_drawdown", "{:.1%}", False),
    ("rebalances", "rebalances", "{:d}", False),
    ("turnover", "turnover", "{:,.0f}", False),
    ("fees", "fees", "{:,.2f}", False),
)


def heatmap(rows: Sequence[Row], path: Path, title: str) -> Path:
    """One panel per trigger: metrics (rows) by grid point (columns), each metric coloured
    from worst (red) to best (green) across the whole grid, with its value written in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    kinds = [k for k in ("threshold", "interval") if any(r.group.startswith(k) for r in rows)]
    suffixes = list(dict.fromkeys(r.group.split(" ", 1)[1] if " " in r.group else "" for r in rows))
    panels = {
        (suffix, kind): [r for r in rows if r.group == (f"{kind} {suffix}" if suffix else kind)]
        for suffix in suffixes
        for kind in kinds
    }
    widths = [max(1, max(len(panels[(sfx, k)]) for sfx in suffixes)) for k in kinds]
    fig, axes = plt.subplots(
        len(suffixes),
        len(kinds),
        figsize=(max(8.0, 1.05 * sum(widths) + 2.5), 4.6 * len(suffixes)),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for row_axes, suffix in zip(axes, suffixes, strict=True):
        for ax, kind in zip(row_axes, kinds, strict=True):
            group = panels[(suffix, kind)]
            if not group:
                ax.axis("off")
                continue
            score = np.zeros((len(METRICS), len(group)))
            for i, (_, attr, _, higher) in enumerate(METRICS):
                values = np.array([float(getattr(r, attr)) for r in rows])
                lo, hi = values.min(), values.max()
                mine = np.array([float(getattr(r, attr)) for r in group])
                scaled = (mine - lo) / (hi - lo) if hi > lo else np.full(len(group), 0.5)
                score[i] = scaled if higher else 1.0 - scaled
            ax.imshow(score, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
            for i, (_, attr, fmt, _) in enumerate(METRICS):
                for j, r in enumerate(group):
                    text = fmt.format(getattr(r, attr))
                    ax.text(j, i, text, ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(group)), [r.label.split(" ")[1] for r in group])
            ax.set_yticks(range(len(METRICS)), [m[0] for m in METRICS])
            ax.set_title(f"{kind} {suffix}".strip(), fontsize=10)
            if ax is not row_axes[0]:
                ax.set_yticklabels([])
    fig.suptitle(textwrap.fill(title, 90), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def describe(config: dict[str, Any]) -> str:
    coins = ", ".join(f"{c} {w:g}%" for c, w in config["rebalance"]["coins"].items())
    return (
        f"{coins}; {config['rebalance'].get('investment', '?')} {config['stake_currency']}; "
        f"{config['timeframe']} candles, {config.get('timerange') or 'all candles'}"
    )


# ---- command line --------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=Path("config.json"))
    parser.add_argument("--datadir", type=Path, default=None, help="Freqtrade candles")
    parser.add_argument("--timerange", default=None, help="as Freqtrade's, e.g. 20210101-20260101")
    parser.add_argument("--timeframe", default=None, help="default: the config's")
    parser.add_argument(
        "--thresholds",
        default=",".join(f"{t:g}" for t in THRESHOLDS),
        help="comma-separated thresholds (percentage points; '' for none)",
    )
    parser.add_argument(
        "--intervals",
        default=",".join(INTERVALS),
        help="comma-separated intervals ('' for none)",
    )
    parser.add_argument(
        "--threshold-modes",
        default="absolute",
        help="comma-separated threshold_mode values to compare: absolute, relative",
    )
    parser.add_argument(
        "--rebalance-to",
        default="target",
        help="comma-separated rebalance_to values to compare: target, band",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=0, help="worker processes (0: one per core)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for sweep.csv and sweep.png"
    )
    parser.add_argument("--strategy-path", type=Path, default=None)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="Freqtrade's log of every backtest"
    )


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_points(
    thresholds: str, intervals: str, modes: str = "absolute", targets: str = "target"
) -> list[Point]:
    ts = [float(t) for t in _items(thresholds)]
    return grid(ts, _items(intervals), _items(modes) or ["absolute"], _items(targets) or ["target"])


def run(args: argparse.Namespace) -> int:
    try:
        points = parse_points(
            args.thresholds, args.intervals, args.threshold_modes, args.rebalance_to
        )
    except ValueError as err:
        print(f"--thresholds must be numbers separated by commas: {err}", file=sys.stderr)
        return 2
    if not points:
        print("nothing to sweep: give --thresholds or --intervals", file=sys.stderr)
        return 2
    if not args.verbose:  # a line per point, not Freqtrade's log of every backtest
        logging.disable(logging.INFO)
    config = freqtrade_config(
        args.config, args.datadir, args.timerange, args.timeframe, args.strategy_path
    )
    try:
        for point in points:
            parse_rebalance_config({**config.get("rebalance", {}), **point.overrides})
    except ConfigError as err:
        print(f"sweep refused: {err}", file=sys.stderr)
        return 2
    jobs = min(len(points), args.jobs or os.cpu_count() or 1)
    print(
        f"Sweeping {len(points)} points of {describe(config)} on {jobs} worker(s); candles "
        "loaded once",
        flush=True,
    )
    began = time.perf_counter()

    def progress(done: int, total: int, row: Row) -> None:
        elapsed = time.perf_counter() - began
        eta = elapsed / done * (total - done)
        print(
            f"  [{done}/{total}] {row.label:<14} final {row.final_value:>12,.2f}  "
            f"({row.seconds:.0f} s; {elapsed:.0f} s elapsed, about {eta:.0f} s left)",
            flush=True,
        )

    rows = sweep(config, points, jobs, progress)
    stake = config.get("stake_currency", "USDT")
    print()
    print(table(rows, stake))
    csv_path = write_csv(rows, args.out / "sweep.csv")
    png = heatmap(rows, args.out / "sweep.png", f"Sweep: {describe(config)}")
    print(f"\nTable written to {csv_path.resolve()}\nHeatmap written to {png.resolve()}")
    print(f"{len(rows)} backtests in {time.perf_counter() - began:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="freqtrade-rebalance sweep",
        description="Backtest one portfolio under every threshold and interval with "
        "Freqtrade's engine (candles loaded once, one worker per core); print a table and "
        "save a heatmap.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Point", "Row", "grid", "sweep", "table", "heatmap", "main"]
