"""The sweep on the fast harness (:mod:`rebalance_plugin.fastsim`): each portfolio's candles,
markets and valuation prices loaded once, the points spread over forked worker processes, each
point's figures computed by the report's functions. A point the harness does not model comes
back as None and is run by Freqtrade's engine (:mod:`.engine`)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.config import parse_rebalance_config
from ..fastsim import Setup, Unsupported, simulate
from ..fastsim.figures import Figures, Marks, figures
from .engine import Row
from .grid import Point


class FastEngine:
    """One portfolio's inputs, loaded once: the harness's setup and the valuation prices."""

    def __init__(
        self, config: dict[str, Any], setup: Setup | None = None, marks: Marks | None = None
    ) -> None:
        self.config = config
        self.setup: Setup = setup if setup is not None else self._load(config)
        self.marks = marks if marks is not None else self._marks(config, self.setup)

    @staticmethod
    def _load(config: dict[str, Any]) -> Setup:
        from ..fastsim import inputs

        return inputs.load(config)

    @staticmethod
    def _marks(config: dict[str, Any], setup: Setup) -> Marks:
        import pandas as pd

        from ..report.loading import load_candles

        c = setup.candles
        start = pd.Timestamp(c.start, unit="s", tz="UTC")
        end = pd.Timestamp(c.end, unit="s", tz="UTC")
        opens, closes = load_candles(
            Path(config["datadir"]),
            list(c.pairs),
            config["timeframe"],
            start,
            end,
            config.get("dataformat_ohlcv"),
        )
        return Marks.of(opens, closes, c.start, c.end, c.timeframe)

    def run(self, point: Point) -> Row:
        """The point's row; raises ``Unsupported`` for a backtest the harness does not model."""
        return self.figures(point)[0]

    def figures(self, point: Point) -> tuple[Row, Figures]:
        """The point's row and figures (its equity curves)."""
        from ..ft.loss import portfolio_loss

        began = time.perf_counter()
        section = {**self.config.get("rebalance", {}), **point.overrides}
        cfg = parse_rebalance_config(section, self.config.get("stake_currency", "USDT"))
        result = simulate(self.setup, cfg)
        f = figures(result, self.marks)
        # the hyperopt loss values the portfolio from its investment, not the whole wallet
        own = f.equity - (result.starting_balance - cfg.investment)
        row = Row(
            label=point.label,
            group=point.group,
            final_value=f.final_value,
            realised_gain=f.realised_gain,
            bh_final_value=f.bh_final_value,
            difference_pp=f.difference_pp,
            cagr=f.cagr,
            max_drawdown=f.max_drawdown,
            rebalances=f.rebalances,
            turnover=f.turnover,
            fees=f.fees,
            orders=f.orders,
            seconds=time.perf_counter() - began,
            portfolio=point.portfolio,
            loss=portfolio_loss(own, cfg.investment),
        )
        return row, f


# The engines of this process (one per portfolio), inherited by the forked workers.
_ENGINES: dict[str, FastEngine] = {}


def _run_one(job: tuple[int, Point]) -> tuple[int, Row | str]:
    index, point = job
    try:
        return index, _ENGINES[point.portfolio].run(point)
    except Unsupported as err:
        return index, str(err)


def load_engines(configs: Mapping[str, dict[str, Any]]) -> dict[str, FastEngine]:
    """Each portfolio's engine (``Unsupported`` for a config the harness does not model)."""
    return {name: FastEngine(config) for name, config in configs.items()}


def sweep_fast(
    engines: Mapping[str, FastEngine],
    points: Sequence[Point],
    jobs: int = 0,
    progress: Callable[[int, int, Row | None], None] | None = None,
) -> list[Row | str]:
    """Every point on the harness, ``jobs`` workers (0: one per core); in grid order, each a
    row, or the reason the harness does not model it."""
    global _ENGINES
    jobs = min(len(points), jobs or os.cpu_count() or 1)
    _ENGINES = dict(engines)
    out: dict[int, Row | str] = {}
    try:
        if jobs <= 1:
            results: Iterable[tuple[int, Row | str]] = map(_run_one, enumerate(points))
            _collect(results, out, len(points), progress)
        else:
            chunk = max(1, min(8, len(points) // (jobs * 8)))
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                results = pool.imap_unordered(_run_one, enumerate(points), chunksize=chunk)
                _collect(results, out, len(points), progress)
    finally:
        _ENGINES = {}
    return [out[i] for i in range(len(points))]


def _collect(
    results: Iterable[tuple[int, Row | str]],
    out: dict[int, Row | str],
    total: int,
    progress: Callable[[int, int, Row | None], None] | None,
) -> None:
    for i, row in results:
        out[i] = row
        if progress:
            progress(len(out), total, row if isinstance(row, Row) else None)
