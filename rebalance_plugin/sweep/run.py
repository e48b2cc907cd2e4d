"""A sweep from start to files: every point backtested with its progress printed, then the
table, ``sweep.csv`` and ``sweep.png``. What ``freqtrade-rebalance sweep`` runs once its
arguments are read and the points checked."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .engine import Row, sweep
from .grid import Point
from .output import describe, heatmap, table, write_csv


def run_sweep(config: dict[str, Any], points: Sequence[Point], jobs: int, out: Path) -> list[Row]:
    """Backtest ``points`` on ``jobs`` workers (0: one per core), printing a line per point,
    then the table; write the CSV and the heatmap into ``out``. The rows in grid order."""
    jobs = min(len(points), jobs or os.cpu_count() or 1)
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
    csv_path = write_csv(rows, out / "sweep.csv")
    png = heatmap(rows, out / "sweep.png", f"Sweep: {describe(config)}")
    print(f"\nTable written to {csv_path.resolve()}\nHeatmap written to {png.resolve()}")
    print(f"{len(rows)} backtests in {time.perf_counter() - began:.1f} s")
    return rows
