"""Walk-forward: how much of a sweep's best row is luck.

The best row of a sweep is chosen in hindsight. Walk-forward chooses the way a user would have
to: on each training window (``TRAIN``, e.g. 24 months) the grid runs on the harness and the
best point by the objective (the final value, or the hyperopt loss ``RebalancePortfolioLoss``:
the final value per unit invested discounted by the drawdown) is picked; that point then runs
on the next test window (``TEST``, e.g. 6 months), which it has never seen. The windows move on
by ``TEST``. The test windows, chained (each starts with what the last one ended with), are the
out-of-sample result; it is set against the point that is best over the same span in hindsight
(the in-sample best) and against buy-and-hold of the starting allocation over that span.

Each window is a backtest of its own (the first buys at its start, everything sold at its
end), as ``freqtrade backtesting --timerange`` of that window would run it.
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from .engine import Row
from .grid import Point


class WalkForwardError(ValueError):
    """A walk-forward that cannot run (a bad TRAIN/TEST, a range too short for one window)."""


class Engine(Protocol):
    """What a window needs: a point's row and figures (``sweep.fast.FastEngine``)."""

    def figures(self, point: Point) -> tuple[Row, Any]: ...


EngineFor = Callable[[pd.Timestamp, pd.Timestamp], Engine]

_SPAN = re.compile(r"^(\d+)([dwmy])$")


def parse_span(text: str) -> pd.DateOffset:
    """``24m``, ``6m``, ``2y``, ``8w``, ``90d`` as a calendar offset."""
    found = _SPAN.match(text.strip().lower())
    if not found:
        raise WalkForwardError(f"{text!r} is not a span such as 24m, 6m, 2y, 8w or 90d")
    n, unit = int(found.group(1)), found.group(2)
    if n <= 0:
        raise WalkForwardError(f"{text!r}: a span must be longer than 0")
    kwargs = {"d": "days", "w": "weeks", "m": "months", "y": "years"}
    return pd.DateOffset(**{kwargs[unit]: n})


def parse_spec(text: str) -> tuple[pd.DateOffset, pd.DateOffset]:
    train, sep, test = text.partition("/")
    if not sep:
        raise WalkForwardError(f"--walk-forward {text!r}: write TRAIN/TEST, e.g. 24m/6m")
    return parse_span(train), parse_span(test)


@dataclass(frozen=True)
class Window:
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp


def windows(
    start: pd.Timestamp, end: pd.Timestamp, train: pd.DateOffset, test: pd.DateOffset
) -> list[Window]:
    """Training windows from ``start``, each followed by its test window, moving on by the
    test window's length, while a whole test window fits before ``end``."""
    out = []
    at = start
    while at + train + test <= end:
        out.append(Window(at, at + train, at + train, at + train + test))
        at = at + test
    if not out:
        raise WalkForwardError(
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d} is too short for one training and one test window"
        )
    return out


def score(row: Row, objective: str) -> float:
    """Higher is better: the final value, or minus the hyperopt loss."""
    return row.final_value if objective == "final" else -row.loss


@dataclass(frozen=True)
class Step:
    """One window: the point chosen on its training window, and that point on its test window
    (its equity curve from the investment)."""

    window: Window
    chosen: Point
    train_row: Row
    test_row: Row
    test_equity: pd.Series


@dataclass(frozen=True)
class WalkForward:
    steps: list[Step]
    stitched: pd.Series  # out of sample, from the investment
    best: Row  # the in-sample best over the out-of-sample span
    best_equity: pd.Series
    hold_equity: pd.Series  # buy-and-hold over the span, from the investment
    investment: float
    wallet: float

    @property
    def stitched_final(self) -> float:
        return float(self.stitched.iloc[-1])


def _own(equity: pd.Series, wallet: float, investment: float) -> pd.Series:
    """An equity curve from the wallet, as the portfolio's own (from its investment)."""
    return equity - (wallet - investment)


def _rows(engine: Engine, points: Sequence[Point], jobs: int) -> list[Row]:
    """Every point's row on ``engine``: on forked workers for the harness's engine (``jobs``
    other than 1), one after another otherwise."""
    from .fast import FastEngine, sweep_fast

    if jobs != 1 and isinstance(engine, FastEngine):
        found = sweep_fast({p.portfolio: engine for p in points}, points, jobs)
        if all(isinstance(r, Row) for r in found):
            return [r for r in found if isinstance(r, Row)]
    return [engine.figures(p)[0] for p in points]


def _best(rows: Sequence[Row], objective: str) -> int:
    return max(range(len(rows)), key=lambda i: score(rows[i], objective))


def walk_forward(
    engine_for: EngineFor,
    points: Sequence[Point],
    spans: list[Window],
    objective: str,
    wallet: float,
    investment: float,
    jobs: int = 1,
) -> WalkForward:
    """Choose on each training window, run on its test window, chain the test windows."""
    steps: list[Step] = []
    for w in spans:
        rows = _rows(engine_for(w.train_start, w.train_end), points, jobs)
        k = _best(rows, objective)
        chosen, train_row = points[k], rows[k]
        row, fig = engine_for(w.test_start, w.test_end).figures(chosen)
        steps.append(Step(w, chosen, train_row, row, _own(fig.equity, wallet, investment)))
    stitched = _stitch([s.test_equity for s in steps], investment)
    whole = engine_for(spans[0].test_start, spans[-1].test_end)
    k = _best(_rows(whole, points, jobs), objective)
    best, fig = whole.figures(points[k])
    return WalkForward(
        steps,
        stitched,
        best,
        _own(fig.equity, wallet, investment),
        _own(fig.bh_equity, wallet, investment),
        investment,
        wallet,
    )


def _stitch(curves: Sequence[pd.Series], investment: float) -> pd.Series:
    """The test windows chained: each window's curve scaled so that it starts with what the
    last one ended with."""
    parts: list[pd.Series] = []
    value = investment
    for curve in curves:
        scaled = curve * (value / investment)
        if parts:
            scaled = scaled.iloc[1:]  # the window's start is the last one's end
        parts.append(scaled)
        value = float(scaled.iloc[-1])
    return pd.concat(parts)


# ---- the command -----------------------------------------------------------------------------
def _timerange(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def fast_engines(config: dict[str, Any]) -> EngineFor:
    """A fast engine per window (the config with that window's timerange), kept per window."""
    from .fast import FastEngine

    made: dict[str, FastEngine] = {}

    def engine_for(start: pd.Timestamp, end: pd.Timestamp) -> Engine:
        key = _timerange(start, end)
        if key not in made:
            cfg = copy.deepcopy(config)
            cfg["timerange"] = key
            made[key] = FastEngine(cfg)
        return made[key]

    return engine_for


def run_walk_forward(
    configs: Mapping[str, dict[str, Any]],
    points: Sequence[Point],
    spec: str,
    objective: str,
    out: Path,
    opts: Any,
) -> WalkForward:
    """``sweep --walk-forward TRAIN/TEST``: one portfolio's walk-forward, printed, with
    ``walkforward.csv`` and ``walkforward.png`` in ``out``."""
    if len(configs) != 1:
        raise WalkForwardError("--walk-forward takes one portfolio at a time")
    config = next(iter(configs.values()))
    span = _span(config)
    train, test = parse_spec(spec)
    spans = windows(span[0], span[1], train, test)
    investment = float(config["rebalance"]["investment"])
    wallet = float(config.get("dry_run_wallet", investment))
    print(
        f"Walk-forward {spec} over {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}: {len(spans)} "
        f"windows, {len(points)} points each, objective {objective}",
        flush=True,
    )
    engines = fast_engines(config)
    result = walk_forward(engines, points, spans, objective, wallet, investment, opts.jobs)
    print(text(result, config.get("stake_currency", "USDT")))
    _files(result, out, spec)
    return result


def _span(config: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    from freqtrade.configuration import TimeRange

    raw = config.get("timerange")
    parsed = TimeRange.parse_timerange(raw) if raw else None
    if parsed is None or not parsed.startts or not parsed.stopts:
        raise WalkForwardError("--walk-forward needs a --timerange with a start and an end")
    return (
        pd.Timestamp(parsed.startts, unit="s", tz="UTC"),
        pd.Timestamp(parsed.stopts, unit="s", tz="UTC"),
    )


def text(result: WalkForward, stake: str = "USDT") -> str:
    """The windows and the three results, as printed."""
    head = ("train", "test", "chosen", "train final", "test return", "B&H return")
    cells = []
    for s in result.steps:
        w = s.window
        test_return = float(s.test_equity.iloc[-1]) / result.investment - 1.0
        hold = (s.test_row.bh_final_value - result.wallet) / result.investment + 1.0
        cells.append(
            (
                f"{w.train_start:%Y-%m-%d}..{w.train_end:%Y-%m-%d}",
                f"{w.test_start:%Y-%m-%d}..{w.test_end:%Y-%m-%d}",
                s.chosen.label,
                f"{s.train_row.final_value:,.2f}",
                f"{test_return * 100:+.2f}%",
                f"{(hold - 1.0) * 100:+.2f}%",
            )
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    inv = result.investment
    hold_final = float(result.hold_equity.iloc[-1])
    best_final = float(result.best_equity.iloc[-1])
    out += [
        "",
        f"out of sample (the test windows chained): {result.stitched_final:,.2f} {stake} from "
        f"{inv:,.2f} ({(result.stitched_final / inv - 1) * 100:+.2f}%)",
        f"in-sample best ({result.best.label}, chosen in hindsight over the same span): "
        f"{best_final:,.2f} {stake} ({(best_final / inv - 1) * 100:+.2f}%)",
        f"buy-and-hold over the same span: {hold_final:,.2f} {stake} "
        f"({(hold_final / inv - 1) * 100:+.2f}%)",
    ]
    return "\n".join(out)


def _files(result: WalkForward, out: Path, spec: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "walkforward.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "train_start",
                "train_end",
                "test_start",
                "test_end",
                "chosen",
                "train_final",
                "test_final_from_investment",
            ]
        )
        for s in result.steps:
            w = s.window
            writer.writerow(
                [
                    w.train_start.date(),
                    w.train_end.date(),
                    w.test_start.date(),
                    w.test_end.date(),
                    s.chosen.label,
                    s.train_row.final_value,
                    float(s.test_equity.iloc[-1]),
                ]
            )
    png = plot(result, out / "walkforward.png", f"Walk-forward {spec}")
    print(f"\nWindows written to {path.resolve()}\nPlot written to {png.resolve()}")


def plot(result: WalkForward, path: Path, title: str) -> Path:
    """The out-of-sample curve against the in-sample best and buy-and-hold, the test windows
    marked with the point chosen for each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5))
    ax.plot(
        result.stitched.index,
        result.stitched.to_numpy(),
        label="out of sample (walk-forward)",
        color="tab:blue",
        lw=1.4,
    )
    ax.plot(
        result.best_equity.index,
        result.best_equity.to_numpy(),
        label=f"in-sample best: {result.best.label}",
        color="tab:green",
        lw=1.0,
    )
    ax.plot(
        result.hold_equity.index,
        result.hold_equity.to_numpy(),
        label="buy-and-hold",
        color="tab:gray",
        lw=1.0,
    )
    ax.set_yscale("log")  # growth reads the same at every level
    low = ax.get_ylim()[0]
    for s in result.steps:
        ax.axvline(s.window.test_start, color="0.85", lw=0.8, zorder=0)
        ax.text(
            s.window.test_start,
            low,
            f" {s.chosen.label}",
            fontsize=7,
            va="bottom",
            rotation=90,
            color="0.35",
        )
    ax.set_ylabel("portfolio value (log scale)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
