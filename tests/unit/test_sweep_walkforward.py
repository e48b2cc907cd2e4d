"""The sweep's new parts on hand-made inputs: the grid with minimum drifts and portfolios, the
portfolios' configs, the verification sample and the ranked table, and a walk-forward worked
out by hand: its windows, the point each training window chooses (computed here from the
frictionless arithmetic of a 50/50 portfolio), and the test windows chained."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from rebalance_plugin.fastsim import Setup
from rebalance_plugin.fastsim.candles import Candles
from rebalance_plugin.fastsim.figures import Marks
from rebalance_plugin.sweep.engine import Row
from rebalance_plugin.sweep.fast import FastEngine
from rebalance_plugin.sweep.grid import Point, for_portfolios, parse_points
from rebalance_plugin.sweep.output import ranked
from rebalance_plugin.sweep.portfolios import PortfolioError, config_for, resolve
from rebalance_plugin.sweep.verify import Check, sample
from rebalance_plugin.sweep.walkforward import (
    WalkForwardError,
    parse_spec,
    walk_forward,
    windows,
)

UTC = "UTC"


def row(label: str, final: float, portfolio: str = "") -> Row:
    return Row(
        label, label.split()[0], final, 0.0, 1000.0, 0.0, 0.0, 0.1, 1, 0.0, 0.0, 3, 0.1, portfolio
    )


def test_interval_points_take_each_minimum_drift_and_portfolios_repeat_the_grid() -> None:
    points = parse_points("5", "7d,28d", min_drifts="1,2")
    assert [p.label for p in points] == [
        "threshold 5",
        "interval 7d >1",
        "interval 7d >2",
        "interval 28d >1",
        "interval 28d >2",
    ]
    assert points[2].overrides == {"trigger": "interval", "interval": "7d", "interval_min_drift": 2}
    both = for_portfolios(points, ["blue-chip", "mine"])
    assert len(both) == 10 and {p.portfolio for p in both} == {"blue-chip", "mine"}


def test_portfolios_from_templates_and_coin_lists_get_their_own_whitelist() -> None:
    found = resolve(templates="blue-chip", coin_lists="BTC=50,ETH=50;SOL=100")
    assert [p.coins for p in found] == [
        {"BTC": 60, "ETH": 40},
        {"BTC": 50, "ETH": 50},
        {"SOL": 100},
    ]
    base = {
        "stake_currency": "USDT",
        "exchange": {"pair_whitelist": ["X/USDT"]},
        "rebalance": {"coins": {"X": 100}, "investment": 500},
        "max_open_trades": 1,
    }
    cfg = config_for(base, found[0])
    assert cfg["exchange"]["pair_whitelist"] == ["BTC/USDT", "ETH/USDT"]
    assert cfg["max_open_trades"] == 2 and cfg["rebalance"]["investment"] == 500
    assert base["exchange"]["pair_whitelist"] == ["X/USDT"]  # the user's config untouched
    with pytest.raises(PortfolioError, match="unknown template 'gold'"):
        resolve(templates="gold")


def test_the_verified_sample_is_the_best_the_worst_and_random_points() -> None:
    rows = [
        row(f"threshold {t}", f)
        for t, f in [(1, 900.0), (2, 1200.0), (5, 1000.0), (10, 1100.0), (20, 950.0)]
    ]
    chosen = sample(rows, 4, seed=1)
    assert chosen[:2] == [(1, "best"), (0, "worst")]
    assert len(chosen) == 4 and len({i for i, _ in chosen}) == 4
    assert {why for _, why in chosen[2:]} == {"random"}
    check = Check("best", row("a", 1000.09), row("a", 1000.0))  # 0.009%
    assert check.ok and not Check("best", row("a", 1000.11), row("a", 1000.0)).ok


def test_the_ranked_table_lists_the_best_final_values_first() -> None:
    rows = [
        row("threshold 1", 900.0, "a"),
        row("threshold 2", 1200.0, "b"),
        row("interval 7d", 1100.0, "a"),
    ]
    lines = ranked(rows, top=2).splitlines()
    assert lines[2].split()[:4] == ["1", "b", "threshold", "2"]
    assert lines[3].split()[:4] == ["2", "a", "interval", "7d"]
    assert "2 of 3 points" in lines[-1]


def test_windows_move_on_by_the_test_span() -> None:
    train, test = parse_spec("24m/6m")
    found = windows(
        pd.Timestamp("2019-01-01", tz=UTC), pd.Timestamp("2021-07-01", tz=UTC), train, test
    )
    assert [
        (w.train_start.year, w.test_start.strftime("%Y-%m"), w.test_end.strftime("%Y-%m"))
        for w in found
    ] == [(2019, "2021-01", "2021-07")]
    with pytest.raises(WalkForwardError, match="too short"):
        windows(pd.Timestamp("2019-01-01", tz=UTC), pd.Timestamp("2020-01-01", tz=UTC), train, test)
    with pytest.raises(WalkForwardError, match="TRAIN/TEST"):
        parse_spec("24m")


# ---- a walk-forward worked out by hand ------------------------------------------------------
JAN = pd.Timestamp("2024-01-01", tz=UTC)
FEB = pd.Timestamp("2024-02-01", tz=UTC)
MAR = pd.Timestamp("2024-03-01", tz=UTC)
APR = pd.Timestamp("2024-04-01", tz=UTC)


def prices() -> pd.DataFrame:
    """AAA stays at 100. BBB swings in January (100, 200, 100, 200, 100: a rebalancer gains
    on every swing, holding ends where it began), climbs in February (100, 150, 225, 337.5:
    holding the winner beats selling it on the way) and swings again in March, from where
    February left it."""
    hours = pd.date_range(JAN - pd.Timedelta(hours=4), APR, freq="4h", inclusive="left")
    frame = pd.DataFrame({"date": hours, "AAA": 100.0, "BBB": 100.0})
    for start, end, levels in [
        (JAN, FEB, [100.0, 200.0, 100.0, 200.0, 100.0]),
        (FEB, MAR, [100.0, 150.0, 225.0, 337.5]),
        (MAR, APR, [337.5, 675.0, 337.5, 675.0, 337.5]),
    ]:
        inside = (frame["date"] >= start) & (frame["date"] < end)
        days = (frame.loc[inside, "date"] - start).dt.days // 7  # a level a week
        frame.loc[inside, "BBB"] = [levels[min(d, len(levels) - 1)] for d in days]
    return frame


def engine_for(frame: pd.DataFrame) -> Any:
    def make(start: pd.Timestamp, end: pd.Timestamp) -> FastEngine:
        window = frame[(frame["date"] >= start - pd.Timedelta(hours=4)) & (frame["date"] <= end)]
        loaded = {}
        for coin in ("AAA", "BBB"):
            p = window[coin]
            loaded[f"{coin}/USDT"] = pd.DataFrame(
                {"date": window["date"], "open": p, "high": p, "low": p}
            )
        trimmed = {k: v.iloc[1:] for k, v in loaded.items()}
        candles = Candles.build(loaded, trimmed, list(loaded), 4 * 3600)
        market = {
            "precision": {"amount": 0.0001, "price": 0.01},
            "limits": {"amount": {"min": 0.0001}, "cost": {"min": 5.0}},
        }
        setup = Setup(
            candles=candles,
            markets={p: {**market, "symbol": p} for p in loaded},
            dry_run_wallet=1000.0,
        )
        at = window.set_index("date")[["AAA", "BBB"]]
        marks = Marks.of(at, at, candles.start, candles.end, 4 * 3600)
        config = {
            "rebalance": {"coins": {"AAA": 50, "BBB": 50}, "investment": 1000},
            "stake_currency": "USDT",
        }
        return FastEngine(config, setup, marks)

    return make


def frictionless(levels: list[float], threshold: float) -> float:
    """Growth of a 50/50 portfolio (AAA fixed) through BBB's levels, rebalanced back to 50/50
    whenever BBB's weight is off by more than ``threshold`` points, no fee or rounding."""
    a, b = 0.5, 0.5
    for prev, level in zip(levels, levels[1:], strict=False):
        b *= level / prev
        if abs(b / (a + b) - 0.5) * 100 > threshold:
            a = b = (a + b) / 2
    return a + b


def test_a_walk_forward_chooses_on_each_training_window_and_chains_the_tests() -> None:
    points = [
        Point("threshold 5", "threshold", {"trigger": "threshold", "threshold": 5}),
        Point("threshold 50", "threshold", {"trigger": "threshold", "threshold": 50}),
    ]
    spans = windows(JAN, APR, *parse_spec("1m/1m"))
    assert [(w.train_start, w.test_start, w.test_end) for w in spans] == [
        (JAN, FEB, MAR),
        (FEB, MAR, APR),
    ]
    result = walk_forward(engine_for(prices()), points, spans, "final", 1000.0, 1000.0)
    # the choices, from the arithmetic: January's swings reward rebalancing (x1.27 against
    # x1.0 held), February's climb rewards holding (x2.19 against x1.95)
    expected = []
    for levels in ([100.0, 200.0, 100.0, 200.0, 100.0], [100.0, 150.0, 225.0, 337.5]):
        growth = {p.label: frictionless(levels, p.overrides["threshold"]) for p in points}
        expected.append(max(growth, key=lambda k: growth[k]))
    assert expected == ["threshold 5", "threshold 50"]
    assert [s.chosen.label for s in result.steps] == expected
    # chained: March starts with what February ended with
    feb_end = float(result.steps[0].test_equity.iloc[-1])
    mar_growth = float(result.steps[1].test_equity.iloc[-1]) / 1000.0
    assert result.stitched_final == pytest.approx(feb_end * mar_growth, rel=1e-12)
    assert result.stitched.index.is_monotonic_increasing
    assert result.stitched.index[0] == FEB
    # in hindsight over February and March together: March's swings make the rebalancer win
    levels = [100.0, 150.0, 225.0, 337.5, 675.0, 337.5, 675.0, 337.5]
    growth = {p.label: frictionless(levels, p.overrides["threshold"]) for p in points}
    assert result.best.label == max(growth, key=lambda k: growth[k]) == "threshold 5"
