"""A sweep from start to files: every point run with its progress printed, then the table,
``sweep.csv`` and a heatmap per portfolio (``sweep.png``, or ``sweep-NAME.png`` for several),
the points ranked by final value, and the harness checked against Freqtrade on a sample. What
``freqtrade-rebalance sweep`` runs once its arguments are read and the points checked."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Row, sweep
from .grid import Point
from .output import describe, heatmap, ranked, table, write_csv
from .verify import VerificationError, verify
from .verify import table as verify_table

#: Progress lines printed at most (a line per point on small grids).
PROGRESS_LINES = 40


@dataclass(frozen=True)
class Options:
    jobs: int = 0
    engine: str = "fast"  # "fast" (the harness) or "freqtrade"
    verify: int = 3  # points re-run by Freqtrade (fast engine only)
    seed: int = 0
    top: int = 20  # rows of the ranked table


class Progress:
    """A line per point on small grids, about ``PROGRESS_LINES`` lines on big ones, each with
    the time elapsed and an estimate of the time left."""

    def __init__(self, total: int) -> None:
        self.began = time.perf_counter()
        self.every = max(1, total // PROGRESS_LINES)

    def __call__(self, done: int, total: int, row: Row | None) -> None:
        if done % self.every and done != total:
            return
        elapsed = time.perf_counter() - self.began
        eta = elapsed / done * (total - done)
        what = f"{row.label:<14} final {row.final_value:>12,.2f}" if row else "not modelled"
        rate = done / elapsed if elapsed else 0.0
        print(
            f"  [{done}/{total}] {what}  ({elapsed:.0f} s elapsed, about {eta:.0f} s left; "
            f"{rate:.1f} points/s)",
            flush=True,
        )


def _fast(
    configs: Mapping[str, dict[str, Any]], points: Sequence[Point], opts: Options
) -> list[Row]:
    """The harness; the points it does not model run by Freqtrade's engine."""
    from ..fastsim import Unsupported
    from .fast import load_engines, sweep_fast

    began = time.perf_counter()
    try:
        engines = load_engines(configs)
    except Unsupported as err:
        print(f"  the harness does not model {err}: every point runs on Freqtrade's engine")
        return _freqtrade(configs, points, opts)
    print(
        f"  candles, markets and prices loaded in {time.perf_counter() - began:.1f} s", flush=True
    )
    results = sweep_fast(engines, points, opts.jobs, Progress(len(points)))
    left = [i for i, r in enumerate(results) if not isinstance(r, Row)]
    rows: list[Row | str] = list(results)
    if left:
        why = sorted({str(results[i]) for i in left})
        print(
            f"  {len(left)} point(s) not modelled by the harness ({'; '.join(why)}): "
            "run by Freqtrade's engine",
            flush=True,
        )
        for name in dict.fromkeys(points[i].portfolio for i in left):
            mine = [i for i in left if points[i].portfolio == name]
            for i, row in zip(mine, sweep(configs[name], [points[i] for i in mine], opts.jobs)):
                rows[i] = row
    return [r for r in rows if isinstance(r, Row)]


def _freqtrade(
    configs: Mapping[str, dict[str, Any]], points: Sequence[Point], opts: Options
) -> list[Row]:
    rows: dict[int, Row] = {}
    progress = Progress(len(points))
    for name in dict.fromkeys(p.portfolio for p in points):
        mine = [i for i, p in enumerate(points) if p.portfolio == name]

        def seen(done: int, total: int, row: Row, base: int = len(rows)) -> None:
            progress(base + done, len(points), row)

        found = sweep(configs[name], [points[i] for i in mine], opts.jobs, seen)
        rows.update(zip(mine, found, strict=True))
    return [rows[i] for i in range(len(points))]


def run_sweep(
    configs: Mapping[str, dict[str, Any]],
    points: Sequence[Point],
    out: Path,
    opts: Options = Options(),
) -> list[Row]:
    """Run ``points`` (each on its portfolio's config) on the engine asked for, printing
    progress, then the tables; write the CSV and the heatmaps into ``out``; verify a sample
    (raises ``VerificationError`` when a point differs from Freqtrade's). Rows in grid order."""
    began = time.perf_counter()
    jobs = min(len(points), opts.jobs or os.cpu_count() or 1)
    first = next(iter(configs.values()))
    what = describe(first) if len(configs) == 1 else f"{len(configs)} portfolios"
    engine = "the fast harness" if opts.engine == "fast" else "Freqtrade's engine"
    print(
        f"Sweeping {len(points)} points of {what} on {jobs} worker(s); candles loaded once; "
        f"engine: {engine}",
        flush=True,
    )
    run = _fast if opts.engine == "fast" else _freqtrade
    rows = run(configs, points, Options(jobs, opts.engine, opts.verify, opts.seed, opts.top))
    swept = time.perf_counter() - began
    _report(configs, rows, out)
    print(f"{len(rows)} points in {swept:.1f} s ({len(rows) / swept:.1f} points/s)")
    if opts.engine == "fast" and opts.verify > 0:
        _verify(configs, points, rows, opts)
    return rows


def _report(configs: Mapping[str, dict[str, Any]], rows: Sequence[Row], out: Path) -> None:
    first = next(iter(configs.values()))
    stake = first.get("stake_currency", "USDT")
    names = list(dict.fromkeys(r.portfolio for r in rows))
    for name in names:
        mine = [r for r in rows if r.portfolio == name]
        print(f"\n{name}: {describe(configs[name])}" if name else "")
        print(table(mine, stake))
    if len(names) > 1 or len(rows) > 20:
        print("\nRanked by final value:")
        print(ranked(rows, 20, stake))
    csv_path = write_csv(rows, out / "sweep.csv")
    pngs = []
    for name in names:
        mine = [r for r in rows if r.portfolio == name]
        file = f"sweep-{name}.png" if len(names) > 1 else "sweep.png"
        pngs.append(heatmap(mine, out / file, f"Sweep: {describe(configs[name])}"))
    print(f"\nTable written to {csv_path.resolve()}")
    for png in pngs:
        print(f"Heatmap written to {png.resolve()}")


def _verify(
    configs: Mapping[str, dict[str, Any]],
    points: Sequence[Point],
    rows: Sequence[Row],
    opts: Options,
) -> None:
    began = time.perf_counter()
    n = min(opts.verify, len(rows))
    print(f"\nVerifying {n} point(s) with Freqtrade's own backtest ...", flush=True)
    checks = verify(configs, points, rows, n, opts.jobs, opts.seed)
    stake = next(iter(configs.values())).get("stake_currency", "USDT")
    print(verify_table(checks, stake))
    print(f"verified in {time.perf_counter() - began:.1f} s")
    bad = [c for c in checks if not c.ok]
    if bad:
        raise VerificationError(
            f"{len(bad)} verified point(s) differ from Freqtrade's backtest by more than 0.01%: "
            + ", ".join(f"{c.fast.label} ({c.difference * 100:+.4f}%)" for c in bad)
        )
