"""`make bench`: how fast is a rebalancing backtest compared with buy-and-hold?

One invocation (``python -m tools.bench`` from the repository's root) runs, one after another,
never in parallel:

1. Whole-process wall time of the unchanged ``freqtrade backtesting`` CLI (through
   ``python -m rebalance_plugin.marketdata.offline``, which only feeds ccxt an offline markets
   snapshot), on real Binance 1h candles 2021-01-01 -> 2026-01-01, fee 0.1%, 10 000 USDT; each
   run repeated (``--repeat``, default 3, interleaved a b c a10 a b c a10 ...) and its median
   reported, so that one slow run cannot flatter or spoil a ratio:

   - (a)   BuyAndHoldStrategy, Balanced growth coins (BTC 40, ETH 30, BNB 15, SOL 15)
   - (b)   RebalanceStrategy, Balanced growth, 5-point threshold
   - (c)   RebalanceStrategy, 10 coins at 10% each, 1-point threshold
   - (a10) BuyAndHoldStrategy, the same 10 coins (context for c)

   plus b/a and c/a (targets <= 1.5 and <= 3), each run's final balance and, for (b) and (c), the
   orders per trade at the end (from the plugin's journal: its legs per coin + the first buy +
   Freqtrade's final force-exit).

2. "Cost per candle must not grow with the number of orders a trade has collected": (c) again,
   in-process (``Backtesting(config).start()``), with the strategy's ``bot_loop_start`` wrapped
   (on the instance, in this bench only) to record the wall time between consecutive calls, i.e.
   one candle of the whole backtest loop, and the mean number of orders per open trade at that
   candle. Reported as median microseconds per candle by order-count bucket.

3. The same measurement over a short range with the fast path ON and OFF. OFF means Freqtrade's
   own code paths exactly as a plain strategy gets them: ``ft_fastpath`` not installed (its
   ``ENABLED`` switch off before the strategy is built, so the strategy's ``install()`` call does
   nothing), and the strategy instance's ``_adjust_trade_position_internal`` reset to
   ``IStrategy``'s, so every ``adjust_trade_position`` call goes through ``strategy_safe_wrapper``
   and its ``deepcopy`` of the trade (the plugin's ``NoTradeCopyMixin`` override bypassed).

4. ``freqtrade-rebalance sweep --engine freqtrade`` on its 18-point grid (every threshold,
   every interval) for Balanced growth, against the same 18 points as 18 separate
   ``freqtrade backtesting`` processes run one after another (what a user would otherwise do).
   Both whole-process wall times, and each point's final balance from both (they must be
   identical).

5. ``fast``: the same 18 points on the fast harness (``freqtrade-rebalance sweep``, its default
   engine), without and with its verification (``--verify 0`` and the default ``--verify 3``:
   the best, the worst and a random point re-run by Freqtrade's engine), whole-process wall
   times and points per second; then, in one process, one point (threshold 5) on the harness
   against the same point by Freqtrade's ``Backtesting`` (the ratio of the two, each the median
   of three runs), with the machine's load average before and after.

6. ``grid``: the big grid on the harness: the 8 presets and templates x (8 thresholds + 10
   intervals x 8 minimum drifts) x 2 threshold modes x 2 rebalance targets (2,816 points), with
   ``--verify 3``: wall time and points per second.

   ``--parts`` chooses among ``cli`` (sections 1-3), ``sweep`` (4), ``fast`` (5) and ``grid``
   (6); default ``cli,sweep,fast``.

Benchmarks print; they assert nothing. Times on a shared machine are noisy: compare ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rebalance_plugin.core import journal

#: The repository's root (config.json, strategies/): tools/bench.py sits one level below it.
ROOT = Path(__file__).resolve().parents[1]
DATADIR = ROOT.parent / "shared" / "data" / "binance"
BASE_CONFIG = ROOT / "config.json"
TIMEFRAME = "1h"
TIMERANGE = "20210101-20260101"
#: Short range for the fast-path-off contrast (the naive path is quadratic in the orders).
SHORT_TIMERANGE = "20210101-20210301"
INVESTMENT = 10000.0
FEE = 0.001

BALANCED_GROWTH: dict[str, float] = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
TEN_COINS: dict[str, float] = {
    c: 10 for c in ("BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LINK", "LTC", "TRX")
}

#: Order-count bucket edges (mean orders per open trade at the candle).
BUCKETS_LONG = (0, 100, 300, 600, 1000)
BUCKETS_SHORT = (0, 25, 50, 75, 100, 150)

REBALANCE = ("RebalanceStrategy", ROOT / "strategies")
#: The baseline strategy, beside this file (tools/strategies/BuyAndHoldStrategy.py).
BUY_AND_HOLD = ("BuyAndHoldStrategy", Path(__file__).resolve().parent / "strategies")
#: The plugin's journal, relative to a run's user_data_dir.
JOURNAL = journal.JOURNAL_PATH


# ---- pure helpers (tested in tests/unit/test_bench.py) -------------------------------------
def pairs_of(coins: dict[str, float], stake: str = "USDT") -> list[str]:
    return [f"{coin}/{stake}" for coin in coins]


def build_config(
    base: dict[str, Any],
    coins: dict[str, float],
    threshold: float,
    investment: float,
    user_data_dir: str | Path,
) -> dict[str, Any]:
    """A deep copy of config.json with another portfolio: the whitelist lists exactly its pairs,
    the dry-run wallet is the investment. Strategy and strategy path come from the CLI."""
    cfg = copy.deepcopy(base)
    stake = cfg.get("stake_currency", "USDT")
    cfg["rebalance"]["coins"] = dict(coins)
    cfg["rebalance"]["threshold"] = threshold
    cfg["rebalance"]["investment"] = investment
    cfg["dry_run_wallet"] = investment
    cfg["fee"] = FEE
    cfg["timeframe"] = TIMEFRAME
    cfg["exchange"]["pair_whitelist"] = pairs_of(coins, stake)
    cfg["user_data_dir"] = str(user_data_dir)
    return cfg


def bucket_label(lo: float, hi: float | None) -> str:
    return f"{lo:g}+" if hi is None else f"{lo:g}-{hi:g}"


def bucket_medians(
    samples: list[tuple[float, float]], edges: tuple[float, ...]
) -> list[tuple[str, int, float | None]]:
    """samples: (seconds per candle, orders per trade). One row per bucket [lo, hi), the last
    open-ended: (label, number of candles, median microseconds or None when empty)."""
    rows = []
    bounds = list(edges) + [math.inf]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        times = [s for s, n in samples if lo <= n < hi]
        label = bucket_label(lo, None if hi == math.inf else hi)
        rows.append((label, len(times), statistics.median(times) * 1e6 if times else None))
    return rows


def orders_per_trade_from_journal(lines: list[str]) -> dict[str, int]:
    """Orders of each coin's trade at the end of a backtest: the journal's legs for the coin,
    plus the first buy, plus Freqtrade's force-exit at the end of the backtest."""
    counts: dict[str, int] = {}
    for record in journal.parse(lines):
        for leg in record.get("legs", []):
            counts[leg["coin"]] = counts.get(leg["coin"], 0) + 1
    return counts


def parse_final_balance(output: str) -> float | None:
    """``Final balance`` from the summary metrics table that ``freqtrade backtesting`` prints."""
    match = re.search(r"Final balance\s*[│|]\s*([-\d.,]+)", output)
    return float(match.group(1).replace(",", "")) if match else None


def format_table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = set(range(1, len(headers))) if right is None else right
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, rows)])


# ---- runs ----------------------------------------------------------------------------------
@dataclass
class Run:
    key: str
    title: str
    strategy: tuple[str, Path]
    coins: dict[str, float]
    threshold: float
    times: list[float] = field(default_factory=list)  # wall time of each repetition
    final_balance: float | None = None
    orders: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The median of the repetitions: one slow (or fast) run cannot move a ratio."""
        return statistics.median(self.times) if self.times else math.nan


def write_config(tmp: Path, name: str, coins: dict[str, float], threshold: float) -> Path:
    user_data = tmp / name / "user_data"
    user_data.mkdir(parents=True)
    cfg = build_config(json.loads(BASE_CONFIG.read_text()), coins, threshold, INVESTMENT, user_data)
    path = tmp / name / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def run_point_cli(config: Path, timerange: str, datadir: Path) -> tuple[float, float | None]:
    """One ``freqtrade backtesting`` process (RebalanceStrategy): (wall seconds, final balance)."""
    strategy, strategy_path = REBALANCE
    cmd = [
        sys.executable,
        "-m",
        "rebalance_plugin.marketdata.offline",
        "backtesting",
        "-c",
        str(config),
    ]
    cmd += ["--strategy", strategy, "--strategy-path", str(strategy_path)]
    cmd += ["--datadir", str(datadir), "--timerange", timerange, "--cache", "none"]
    cmd += ["--export", "none"]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-40:]), file=sys.stderr)
        sys.exit(1)
    return seconds, parse_final_balance(proc.stdout)


def bench_sweep(tmp: Path, datadir: Path, timerange: str) -> None:
    """Section 4: the sweep against 18 separate backtests of the same points."""
    from rebalance_plugin.sweep import grid

    points = grid()
    base = write_config(tmp, "sweep", BALANCED_GROWTH, 5)
    print(f"\n[sweep] freqtrade-rebalance sweep, {len(points)} points ...", end=" ", flush=True)
    out = tmp / "sweep" / "out"
    cmd = [sys.executable, "-m", "rebalance_plugin.cli", "sweep", "-c", str(base)]
    cmd += ["--datadir", str(datadir), "--timerange", timerange, "--out", str(out)]
    cmd += ["--engine", "freqtrade"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    sweep_seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-40:]), file=sys.stderr)
        sys.exit(1)
    print(f"{sweep_seconds:.1f} s", flush=True)
    import csv

    with (out / "sweep.csv").open() as fh:
        swept = {row["label"]: float(row["final_value"]) for row in csv.DictReader(fh)}

    separate: list[tuple[str, float, float | None]] = []
    for i, point in enumerate(points):
        print(f"[sweep] separate run {i + 1}/{len(points)}: {point.label} ...", end=" ")
        cfg = json.loads(base.read_text())
        cfg["rebalance"].update(point.overrides)
        cfg["user_data_dir"] = str(tmp / "sweep" / f"p{i}")
        Path(cfg["user_data_dir"]).mkdir()
        path = tmp / "sweep" / f"p{i}.json"
        path.write_text(json.dumps(cfg))
        seconds, final = run_point_cli(path, timerange, datadir)
        separate.append((point.label, seconds, final))
        print(f"{seconds:.1f} s", flush=True)

    total = sum(s for _, s, _ in separate)
    print(
        f"\nSweep of Balanced growth ({len(points)} points, {timerange}, {TIMEFRAME}): "
        f"`freqtrade-rebalance sweep` against {len(points)} separate `freqtrade backtesting` runs"
    )
    rows = [
        [label, f"{seconds:.1f}", _money(final), _money(swept.get(label))]
        for label, seconds, final in separate
    ]
    print(
        format_table(
            ["point", "separate run s", "final (separate)", "final (sweep)"], rows, {1, 2, 3}
        )
    )
    # Freqtrade prints the final balance to 3 decimals: compare at that precision.
    same = all(
        final is not None and abs(final - swept.get(label, math.nan)) < 0.0015
        for label, _, final in separate
    )
    print(
        f"separate runs {total:.0f} s in all; sweep {sweep_seconds:.0f} s on {os.cpu_count()} "
        f"cores: {total / sweep_seconds:.1f}x faster; final balances "
        f"{'identical' if same else 'DIFFERENT'}"
    )


def run_cli(run: Run, tmp: Path, datadir: Path) -> None:
    config = tmp / run.key / "config.json"
    if not config.exists():
        config = write_config(tmp, run.key, run.coins, run.threshold)
    strategy, strategy_path = run.strategy
    cmd = [
        sys.executable,
        "-m",
        "rebalance_plugin.marketdata.offline",
        "backtesting",
        "-c",
        str(config),
        "--strategy",
        strategy,
        "--strategy-path",
        str(strategy_path),
        "--datadir",
        str(datadir),
        "--timerange",
        TIMERANGE,
        "--cache",
        "none",
        "--export",
        "none",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    run.times.append(time.perf_counter() - start)
    if proc.returncode != 0:
        print(
            f"\n{' '.join(cmd)}\nfailed (exit {proc.returncode}):\n"
            + "\n".join((proc.stdout + proc.stderr).splitlines()[-40:]),
            file=sys.stderr,
        )
        sys.exit(1)
    run.final_balance = parse_final_balance(proc.stdout)
    journal_file = config.parent / "user_data" / JOURNAL
    if journal_file.exists():
        legs = orders_per_trade_from_journal(journal_file.read_text().splitlines())
        run.orders = {coin: legs.get(coin, 0) + 2 for coin in run.coins}


@dataclass
class Profile:
    title: str
    samples: list[tuple[float, float]]  # (seconds between bot_loop_start calls, orders/trade)
    seconds: float
    final_balance: float
    fast_path: bool


def _no_progress(task: Any) -> None:
    """A progress callback turns off Freqtrade's terminal progress bars."""


def run_profiled(
    title: str, config_path: Path, timerange: str, datadir: Path, fast_path: bool = True
) -> Profile:
    """RebalanceStrategy in-process; records (wall time per candle, mean orders per open trade)."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting
    from freqtrade.persistence.trade_model import LocalTrade
    from freqtrade.strategy.interface import IStrategy

    from rebalance_plugin.ft import fastpath as ft_fastpath
    from rebalance_plugin.marketdata.offline import install_offline_markets

    install_offline_markets()
    strategy, strategy_path = REBALANCE
    args = {
        "config": [str(config_path)],
        "strategy": strategy,
        "strategy_path": str(strategy_path),
        "datadir": str(datadir),
        "timerange": timerange,
        "export": "none",
        "cache": "none",
    }
    logging.disable(logging.INFO)  # Freqtrade's INFO logs would drown the report
    with contextlib.redirect_stdout(io.StringIO()):
        config = setup_optimize_configuration(args, RunMode.BACKTEST)

    if not fast_path:
        ft_fastpath.uninstall()
        ft_fastpath.ENABLED = False  # the strategy's __init__ calls install(): now a no-op
    try:
        bt = Backtesting(config, progress_callback=_no_progress)
        strat = bt.strategylist[0]
        installed = ft_fastpath._installed
        if not fast_path:
            # Freqtrade's own wrapper: strategy_safe_wrapper, deepcopy of the trade on every call.
            strat._adjust_trade_position_internal = types.MethodType(
                IStrategy._adjust_trade_position_internal, strat
            )

        samples: list[tuple[float, float]] = []
        state: dict[str, Any] = {"last": None, "orders": 0.0}
        original = strat.bot_loop_start

        def timed_bot_loop_start(current_time: Any, **kwargs: Any) -> Any:
            now = time.perf_counter()
            if state["last"] is not None:
                samples.append((now - state["last"], state["orders"]))
            state["last"] = now
            trades = LocalTrade.bt_trades_open
            state["orders"] = (sum(len(t.orders) for t in trades) / len(trades)) if trades else 0
            return original(current_time=current_time, **kwargs)

        strat.bot_loop_start = timed_bot_loop_start
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            bt.start()
        seconds = time.perf_counter() - start
        final = bt.all_bt_content[strategy]["final_balance"]
    finally:
        logging.disable(logging.NOTSET)
        if not fast_path:
            ft_fastpath.ENABLED = True
    return Profile(title, samples, seconds, final, installed)


# ---- report --------------------------------------------------------------------------------
def _money(x: float | None) -> str:
    return "?" if x is None else f"{x:,.2f}"


def _orders(orders: dict[str, int]) -> str:
    if not orders:
        return "-"
    vals = list(orders.values())
    return f"{min(vals)}-{max(vals)} (mean {sum(vals) / len(vals):.0f})"


def _us(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run_sweep_cli(args: list[str]) -> tuple[float, str]:
    """One ``freqtrade-rebalance sweep`` process: (wall seconds, what it printed)."""
    cmd = [sys.executable, "-m", "rebalance_plugin.cli", "sweep", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-40:]), file=sys.stderr)
        sys.exit(1)
    return seconds, proc.stdout


def one_point_ratio(base: Path, datadir: Path, timerange: str) -> tuple[float, float, float]:
    """One point (the config's threshold) on the harness and by Freqtrade's ``Backtesting``,
    in this process, each the median of three runs: (harness s, Freqtrade s, same final)."""
    from rebalance_plugin.sweep import Point, freqtrade_config
    from rebalance_plugin.sweep.engine import Engine
    from rebalance_plugin.sweep.fast import FastEngine

    logging.disable(logging.INFO)
    config = freqtrade_config(base, datadir, timerange, None)
    point = Point("threshold 5", "threshold", {"trigger": "threshold", "threshold": 5})
    fast = FastEngine(config)
    fast_s = [fast.run(point).seconds for _ in range(3)]
    with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as scratch:
        engine = Engine(config, Path(scratch))
        rows = [engine.run(point, i) for i in range(3)]
    diff = abs(fast.run(point).final_value - rows[0].final_value)
    return statistics.median(fast_s), statistics.median(r.seconds for r in rows), diff


def bench_fast(tmp: Path, datadir: Path, timerange: str) -> None:
    """Section 5: the 18 points on the harness, and one point against Freqtrade's engine."""
    base = write_config(tmp, "fast", BALANCED_GROWTH, 5)
    common = ["-c", str(base), "--datadir", str(datadir), "--timerange", timerange]
    print(f"\n[fast] load average before: {_loadavg()}")
    plain, _ = run_sweep_cli([*common, "--verify", "0", "--out", str(tmp / "fast" / "a")])
    print(
        f"[fast] sweep, 18 points on the harness, --verify 0: {plain:.1f} s "
        f"({18 / plain:.1f} points/s, whole process)",
        flush=True,
    )
    checked, out = run_sweep_cli([*common, "--out", str(tmp / "fast" / "b")])
    print(f"[fast] sweep, 18 points, --verify 3 (default): {checked:.1f} s", flush=True)
    lines = out.splitlines()
    start = next((k for k, line in enumerate(lines) if line.startswith("Verifying")), len(lines))
    for line in lines[start:]:
        print("       " + line)
        if line.startswith("verified in"):
            break
    harness, freqtrade, diff = one_point_ratio(base, datadir, timerange)
    print(
        f"[fast] one point (threshold 5), in one process, medians of 3: harness {harness:.3f} s, "
        f"Freqtrade's Backtesting {freqtrade:.1f} s: {freqtrade / harness:.0f}x; final values "
        f"differ by {diff:.8f} USDT; load average after: {_loadavg()}"
    )


GRID_PORTFOLIOS = (
    ["--templates", "blue-chip,balanced-growth,diversified"],
    ["--presets", "top3-mcap,top5-mcap,top10-mcap,top10-sqrt-mcap,top10-equal"],
)


def bench_grid(tmp: Path, datadir: Path, timerange: str) -> None:
    """Section 6: the 2,816-point grid on the harness, verified on three points; the shipped
    config.json's investment (1,000 USDT), as a user runs ``sweep`` on it."""
    user_data = tmp / "grid" / "user_data"
    user_data.mkdir(parents=True)
    shipped = json.loads(BASE_CONFIG.read_text())
    investment = float(shipped["rebalance"]["investment"])
    base = tmp / "grid" / "config.json"
    cfg = build_config(shipped, BALANCED_GROWTH, 5, investment, user_data)
    base.write_text(json.dumps(cfg, indent=2))
    args = ["-c", str(base), "--datadir", str(datadir), "--timerange", timerange]
    args += [a for pair in GRID_PORTFOLIOS for a in pair]
    args += ["--min-drifts", "0.5,1,2,5,10,20,30,50", "--threshold-modes", "absolute,relative"]
    args += ["--rebalance-to", "target,band", "--out", str(tmp / "grid" / "out")]
    print(f"\n[grid] load average before: {_loadavg()}", flush=True)
    seconds, out = run_sweep_cli(args)
    swept = next((line for line in out.splitlines() if " points in " in line), "")
    print(
        f"[grid] {swept.strip()}; whole process {seconds:.0f} s; load average after: {_loadavg()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", type=Path, default=DATADIR)
    parser.add_argument(
        "--short-timerange",
        default=SHORT_TIMERANGE,
        help="range of the fast-path ON/OFF contrast (default %(default)s)",
    )
    parser.add_argument(
        "--parts",
        default="cli,sweep,fast",
        help="cli (sections 1-3), sweep (4), fast (5), grid (6), comma-separated (default "
        "cli,sweep,fast)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="repetitions of each section-1 run; the median is reported (default %(default)s)",
    )
    parser.add_argument(
        "--sweep-timerange", default=TIMERANGE, help="range of section 4 (default %(default)s)"
    )
    opts = parser.parse_args(argv)
    parts = {p.strip() for p in opts.parts.split(",") if p.strip()}

    datadir: Path = opts.datadir
    all_coins = {**BALANCED_GROWTH, **TEN_COINS}
    missing = [
        f"{c}_USDT-{TIMEFRAME}.feather"
        for c in all_coins
        if not (datadir / f"{c}_USDT-{TIMEFRAME}.feather").exists()
    ]
    if not datadir.is_dir() or missing:
        absent = "directory absent" if not datadir.is_dir() else "missing " + ", ".join(missing)
        print(
            f"make bench needs real Binance {TIMEFRAME} candles in {datadir} ({absent})."
            " Download them with `freqtrade download-data --exchange binance --timeframes 1h "
            f"--pairs {' '.join(pairs_of(all_coins))} --timerange {TIMERANGE}` "
            "and pass --datadir.",
            file=sys.stderr,
        )
        return 2

    bench_start = time.perf_counter()
    print(
        f"freqtrade-rebalance bench: Binance {TIMEFRAME} candles {TIMERANGE}, fee {FEE:g}, "
        f"{INVESTMENT:,.0f} USDT, data {datadir}"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; runs one after another\n")

    if "cli" not in parts:
        _sweep_parts(parts, datadir, opts.sweep_timerange)
        return 0
    runs = [
        Run("a", "BuyAndHold, Balanced growth (4 coins)", BUY_AND_HOLD, BALANCED_GROWTH, 5),
        Run("b", "Rebalance, Balanced growth, 5-pt", REBALANCE, BALANCED_GROWTH, 5),
        Run("c", "Rebalance, 10 coins x 10%, 1-pt", REBALANCE, TEN_COINS, 1),
        Run("a10", "BuyAndHold, 10 coins x 10%", BUY_AND_HOLD, TEN_COINS, 1),
    ]
    with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for rep in range(opts.repeat):  # interleaved: a change in the machine's load hits all
            for run in runs:
                print(
                    f"[{run.key:>3}] ({rep + 1}/{opts.repeat}) freqtrade backtesting: {run.title}"
                    " ...",
                    end=" ",
                    flush=True,
                )
                run_cli(run, tmp, datadir)
                print(f"{run.times[-1]:.1f} s", flush=True)

        profiles = []
        config_c = write_config(tmp, "c-inprocess", TEN_COINS, 1)
        for title, timerange, fast in [
            (f"(c) in-process, {TIMERANGE}, fast path ON", TIMERANGE, True),
            (f"10 coins 1-pt, {opts.short_timerange}, fast path ON", opts.short_timerange, True),
            (f"10 coins 1-pt, {opts.short_timerange}, fast path OFF", opts.short_timerange, False),
        ]:
            print(f"[in-process] {title} ...", end=" ", flush=True)
            profile = run_profiled(title, config_c, timerange, datadir, fast_path=fast)
            profiles.append(profile)
            print(f"{profile.seconds:.1f} s ({len(profile.samples)} candles)", flush=True)

    a, b, c, a10 = runs
    print(
        "\nWhole-process wall time of `freqtrade backtesting` (python -m "
        "rebalance_plugin.marketdata.offline"
        f" backtesting ... --timerange {TIMERANGE} --cache none --export none), median of "
        f"{opts.repeat} runs"
    )
    print(
        format_table(
            [
                "run",
                "strategy / portfolio",
                "median wall s",
                "runs s",
                "x (a)",
                "final balance USDT",
                "orders per trade at end",
            ],
            [
                [
                    r.key,
                    r.title,
                    f"{r.seconds:.1f}",
                    " ".join(f"{t:.1f}" for t in r.times),
                    f"{r.seconds / a.seconds:.2f}",
                    _money(r.final_balance),
                    _orders(r.orders),
                ]
                for r in runs
            ],
            right={2, 4, 5},
        )
    )
    print(
        "(orders per trade: min-max over the coins' trades; the journal's legs + first buy + "
        "final force-exit)"
    )

    full, short_on, short_off = profiles
    print(f"\nCost per candle vs orders per trade, {full.title}")
    print(
        "(wall time between consecutive bot_loop_start calls = one candle of the backtest loop;"
        " bucket = mean orders per open trade at that candle)"
    )
    print(
        format_table(
            ["orders per trade", "candles", "median us/candle"],
            [
                [label, str(n), _us(med)]
                for label, n, med in bucket_medians(full.samples, BUCKETS_LONG)
            ],
        )
    )
    print(
        f"final balance {_money(full.final_balance)} USDT (CLI run (c): "
        f"{_money(c.final_balance)}); fast path installed: {full.fast_path}"
    )

    print(f"\nFast path ON vs OFF, 10 coins x 10%, 1-point threshold, {opts.short_timerange}")
    print(
        "OFF = rebalance_plugin.ft.fastpath not installed (fastpath.ENABLED = False before the"
        " strategy is built)\n      AND adjust_trade_position called through Freqtrade's "
        "IStrategy._adjust_trade_position_internal\n      (strategy_safe_wrapper: deepcopy of "
        "the trade with all its orders on every call, every candle, every trade)"
    )
    on_rows = bucket_medians(short_on.samples, BUCKETS_SHORT)
    off_rows = bucket_medians(short_off.samples, BUCKETS_SHORT)
    rows = []
    for (label, n_on, m_on), (_, n_off, m_off) in zip(on_rows, off_rows):
        ratio = f"{m_off / m_on:.1f}" if m_on and m_off else "-"
        rows.append([label, f"{n_on}/{n_off}", _us(m_on), _us(m_off), ratio])
    print(
        format_table(
            ["orders per trade", "candles on/off", "ON median us", "OFF median us", "OFF/ON"], rows
        )
    )
    same = short_on.final_balance == short_off.final_balance
    print(
        f"total: ON {short_on.seconds:.1f} s, OFF {short_off.seconds:.1f} s; fast path installed:"
        f" ON run {short_on.fast_path}, OFF run {short_off.fast_path}; final balance ON "
        f"{_money(short_on.final_balance)}, OFF {_money(short_off.final_balance)} USDT "
        f"({'identical' if same else 'DIFFERENT'})"
    )

    print(
        f"\nmedians: b/a = {b.seconds / a.seconds:.2f} (target <= 1.05: Balanced growth, "
        f"rebalancing against buy-and-hold of the same coins)   c/a10 = "
        f"{c.seconds / a10.seconds:.2f} (target <= 1.15: 10 coins, 1-point threshold, against "
        f"buy-and-hold of the same 10 coins)   context: c/a = {c.seconds / a.seconds:.2f}, "
        f"a10/a = {a10.seconds / a.seconds:.2f}"
    )
    print(f"bench sections 1-3 took {time.perf_counter() - bench_start:.0f} s")
    _sweep_parts(parts, datadir, opts.sweep_timerange)
    return 0


def _sweep_parts(parts: set[str], datadir: Path, timerange: str) -> None:
    """Sections 4-6, those asked for."""
    for name, section in (("sweep", bench_sweep), ("fast", bench_fast), ("grid", bench_grid)):
        if name in parts:
            with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as tmpdir:
                section(Path(tmpdir), datadir, timerange)


if __name__ == "__main__":
    sys.exit(main())
