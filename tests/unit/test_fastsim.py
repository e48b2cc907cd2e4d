"""The fast harness on hand-made candles: Freqtrade's exchange arithmetic and books, a
rebalance worked out by hand, and the fast-forward giving exactly what looking at every candle
gives (the equality with Freqtrade's own backtest: tests/backtest/test_fast_harness.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.portfolio import Portfolio, max_drift
from rebalance_plugin.fastsim import Setup, simulate
from rebalance_plugin.fastsim import run as run_module
from rebalance_plugin.fastsim.ahead import Ahead, Quiet
from rebalance_plugin.fastsim.candles import Candles
from rebalance_plugin.fastsim.market import PairMarket, amount_to_precision, price_to_precision
from rebalance_plugin.fastsim.trades import Books, Trade

HOUR = 3600
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC, a whole hour
FEE = 0.001


def market(pair: str, step: float = 0.001, tick: float = 0.01) -> dict[str, Any]:
    return {
        "symbol": pair,
        "precision": {"amount": step, "price": tick},
        "limits": {"amount": {"min": step, "max": None}, "cost": {"min": 5.0, "max": None}},
        "taker": FEE,
    }


def candles(prices: dict[str, list[float]]) -> Candles:
    """Candles whose open, high and low are the price (a flat candle each hour); the first
    is the startup candle Freqtrade loads before the range."""
    loaded, trimmed = {}, {}
    for pair, series in prices.items():
        dates = pd.date_range(pd.Timestamp(T0, unit="s", tz="UTC"), periods=len(series), freq="h")
        frame = pd.DataFrame({"date": dates, "open": series, "high": series, "low": series})
        loaded[pair] = frame
        trimmed[pair] = frame.iloc[1:]
    return Candles.build(loaded, trimmed, list(prices), HOUR)


def setup_of(prices: dict[str, list[float]], wallet: float = 1000.0) -> Setup:
    return Setup(
        candles=candles(prices),
        markets={p: market(p) for p in prices},
        fee=FEE,
        dry_run_wallet=wallet,
    )


def config(**keys: Any) -> Any:
    section = {"coins": {"AAA": 50, "BBB": 50}, "investment": 1000, **keys}
    return parse_rebalance_config(section)


# ---- Freqtrade's arithmetic ---------------------------------------------------------------
def test_quantities_are_truncated_and_exit_prices_rounded_as_freqtrade_does() -> None:
    assert amount_to_precision(4.9950049950049, 0.001, 4) == 4.995
    assert amount_to_precision(0.29999999, 0.01, 4) == 0.29
    assert price_to_precision(702.31, 0.1, 4) == 702.3  # a coarser tick than the candle's
    assert price_to_precision(702.35, 0.1, 4) == 702.4
    m = PairMarket.from_ccxt(market("AAA/USDT"), 4)
    # cost minimum 5 with the stop-loss reserve: 1.05 / (1 - 0.05) for a first entry, 1.05 for
    # a position increase, 1.05 / 0.9 for what a partial exit leaves; quantity minimum x 1.05
    assert m.min_stake(100.0, -0.05) == pytest.approx(5 * 1.05 / 0.95)
    assert m.min_stake(100.0, 0.0) == pytest.approx(5.25)
    assert m.min_stake(100.0, -0.1) == pytest.approx(5 * 1.05 / 0.9)
    assert m.min_stake(10_000.0, 0.0) == pytest.approx(0.001 * 10_000 * 1.05)
    assert m.max_stake(100.0) == math.inf


def test_a_trade_books_profit_against_its_average_entry_price() -> None:
    m = PairMarket.from_ccxt(market("AAA/USDT"), 4)
    books = Books(start_cap=1000.0)
    trade = Trade("AAA/USDT", "AAA", m, T0, FEE, 0.01, 4)
    books.add(trade)
    trade.buy(1.0, 100.0)
    trade.buy(1.0, 200.0)
    assert (trade.amount, trade.stake_amount) == (2.0, 300.0)
    trade.sell(1.0, 300.0)
    # sold at 300 less the fee, against the average entry 150 plus the fee
    assert trade.realized_profit == pytest.approx(300 * 0.999 - 150 * 1.001)
    assert (trade.amount, trade.stake_amount) == (1.0, 150.0)
    assert books.free() == pytest.approx(1000 + 149.55 - 150)
    # a stake is bumped up to the minimum when within 30% of it, else dropped; capped at free
    assert books.validate_stake(5.0, 5.25, math.inf, None) == 5.25
    assert books.validate_stake(4.0, 5.25, math.inf, None) == 0.0
    assert books.validate_stake(5000.0, 5.25, math.inf, None) == pytest.approx(999.55)


# ---- a rebalance worked out by hand ---------------------------------------------------------
def test_a_doubled_coin_is_sold_and_the_other_bought_on_the_next_open() -> None:
    # BBB doubles at the 6th loop candle; AAA stays at 100
    a = [100.0] * 12
    b = [100.0] * 6 + [200.0] * 6
    result = simulate(setup_of({"AAA/USDT": a, "BBB/USDT": b}), config(threshold=5))
    orders = [(o.time, o.coin, o.side, o.amount, o.price, o.tag) for o in result.orders]
    first = T0 + 2 * HOUR  # the first row Freqtrade visits: after the startup candle, shifted
    qty = math.floor(500 / 1.001 / 100 * 1000) / 1000  # 4.995 each
    assert orders[:2] == [
        (first, "AAA", "buy", qty, 100.0, ""),
        (first, "BBB", "buy", qty, 100.0, ""),
    ]
    # After the jump BBB is worth 999 of 1498.5 (66.7%): 16.7 points off, over 5. The plan
    # sells BBB down to half the portfolio after fees (T' = T - fee x turnover), BBB is the
    # last pair Freqtrade visits, so AAA's buy is sized on the next candle from the cash then.
    cash = 1000 - 2 * qty * 100 * 1.001
    total = cash + qty * 100 + qty * 200
    after = total
    for _ in range(50):
        after = total - FEE * (abs(after / 2 - qty * 100) + abs(after / 2 - qty * 200))
    sell = math.floor((qty * 200 - after / 2) / 200 * 1000) / 1000
    jump = T0 + 6 * HOUR
    assert orders[2] == (jump, "BBB", "sell", sell, 200.0, "rebalance sell")
    cash += sell * 200 * 0.999
    buy = math.floor(min(after / 2 - qty * 100, cash / 1.001) / 100 * 1000) / 1000
    assert orders[3] == (jump + HOUR, "AAA", "buy", buy, 100.0, "rebalance buy")
    cash -= buy * 100 * 1.001
    # nothing else until the end, where Freqtrade sells both at the last open
    assert [o[5] for o in orders[4:]] == ["force_exit", "force_exit"]
    final = cash + (qty + buy) * 100 * 0.999 + (qty - sell) * 200 * 0.999
    assert result.final_balance == pytest.approx(final, abs=1e-6)


def test_no_order_while_the_drift_stays_within_the_threshold() -> None:
    a = [100.0] * 10
    b = [100.0, 100.0, 100.0, 104.0, 108.0, 110.0, 106.0, 100.0, 98.0, 100.0]
    result = simulate(setup_of({"AAA/USDT": a, "BBB/USDT": b}), config(threshold=5))
    # BBB at 110 is 52.4% of the portfolio: 2.4 points off, within 5
    assert [o.tag for o in result.orders] == ["", "", "force_exit", "force_exit"]


# ---- a coin whose candles stop (ft/plugin.py's _prices in a backtest) --------------------------
def gapped_setup(prices: dict[str, list[float]]) -> Setup:
    """``setup_of`` where a NaN price is a candle missing from the pair's data."""
    loaded, trimmed = {}, {}
    for pair, series in prices.items():
        dates = pd.date_range(pd.Timestamp(T0, unit="s", tz="UTC"), periods=len(series), freq="h")
        frame = pd.DataFrame({"date": dates, "open": series, "high": series, "low": series})
        frame = frame.dropna().reset_index(drop=True)
        loaded[pair], trimmed[pair] = frame, frame.iloc[1:]
    return Setup(
        candles=Candles.build(loaded, trimmed, list(prices), HOUR),
        markets={p: market(p) for p in prices},
        fee=FEE,
    )


def test_a_coin_without_candles_is_held_while_the_others_rebalance_then_rejoins() -> None:
    nan = math.nan
    # CCC has no candle at rows 5 to 8 (loop candles T0 + 5h to T0 + 8h); BBB jumps by half at
    # row 6; CCC comes back at half its price at row 9.
    a = [100.0] * 14
    b = [100.0] * 6 + [150.0] * 8
    c = [100.0] * 5 + [nan] * 4 + [50.0] * 5
    cfg = parse_rebalance_config(
        {"coins": {"AAA": 50, "BBB": 30, "CCC": 20}, "investment": 1000, "threshold": 5}
    )
    result = simulate(gapped_setup({"AAA/USDT": a, "BBB/USDT": b, "CCC/USDT": c}), cfg)
    orders = [(o.time, o.coin, o.side, o.amount, o.price, o.tag) for o in result.orders]
    first = T0 + 2 * HOUR
    qa, qb, qc = 4.995, 2.997, 1.998  # floor(weight x 1000 / 1.001 / 100) to 0.001
    assert orders[:3] == [
        (first, "AAA", "buy", qa, 100.0, ""),
        (first, "BBB", "buy", qb, 100.0, ""),
        (first, "CCC", "buy", qc, 100.0, ""),
    ]
    cash = 1000 - (qa + qb + qc) * 100 * 1.001
    # Row 6: CCC held at 100, out of the decision. Among AAA and BBB the targets are 50/80 and
    # 30/80; BBB is 449.55 of 949.05 (47.4%, target 37.5): sold down to 37.5% after fees.
    total = cash + qa * 100 + qb * 150
    after = total
    for _ in range(50):
        after = total - FEE * (abs(after * 0.625 - qa * 100) + abs(after * 0.375 - qb * 150))
    sell = math.floor((qb * 150 - after * 0.375) / 150 * 1000) / 1000
    jump = T0 + 6 * HOUR
    assert orders[3] == (jump, "BBB", "sell", sell, 150.0, "rebalance sell")
    # AAA was visited before BBB, and CCC's turn does not come (no candle): AAA's buy is sized
    # at the next candle from the cash then.
    cash += sell * 150 * 0.999
    buy = math.floor(min(after * 0.625 - qa * 100, cash / 1.001) / 100 * 1000) / 1000
    assert orders[4] == (jump + HOUR, "AAA", "buy", buy, 100.0, "rebalance buy")
    # Row 9: CCC is back, at 50 (9.5% of the portfolio, target 20): the whole portfolio is
    # rebalanced, CCC bought.
    back = [o for o in orders if o[0] == T0 + 9 * HOUR or o[0] == T0 + 10 * HOUR]
    assert {(o[1], o[2]) for o in back} == {("AAA", "sell"), ("BBB", "sell"), ("CCC", "buy")}
    assert not [o for o in orders if o[1] == "CCC" and first < o[0] < T0 + 9 * HOUR]


def test_a_buy_carried_to_a_candle_its_coin_does_not_have_is_dropped() -> None:
    nan = math.nan
    # Row 5: BBB up by half is sold; AAA was visited before it, so its buy is carried to row 6,
    # where AAA has no candle (for good). Row 9: BBB doubles again.
    a = [100.0] * 6 + [nan] * 8
    b = [100.0] * 5 + [150.0] * 4 + [300.0] * 5
    c = [100.0] * 14
    cfg = parse_rebalance_config(
        {"coins": {"AAA": 40, "BBB": 30, "CCC": 30}, "investment": 1000, "threshold": 5}
    )
    result = simulate(gapped_setup({"AAA/USDT": a, "BBB/USDT": b, "CCC/USDT": c}), cfg)
    legs = [(o.time, o.coin, o.side) for o in result.orders if o.tag.startswith("rebalance")]
    row = [T0 + k * HOUR for k in range(14)]
    # The carried buy is dropped (AAA gets no order) and the rest is decided: at row 9 BBB
    # (2.298 at 300: 689) is 63% of the trading coins' 1094 (target 30/60): sold, CCC bought.
    assert legs == [
        (row[5], "BBB", "sell"),
        (row[5], "CCC", "buy"),
        (row[9], "BBB", "sell"),
        (row[9], "CCC", "buy"),
    ]


def test_a_coin_without_candles_gives_the_same_orders_skipping_quiet_candles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prices = {"AAA/USDT": walk(400, 4), "BBB/USDT": walk(400, 5, 0.03), "CCC/USDT": walk(400, 6)}
    prices["CCC/USDT"][120:200] = [math.nan] * 80
    prices["BBB/USDT"][300:] = [math.nan] * 100  # its candles stop for good
    setup = gapped_setup(prices)
    cfg = parse_rebalance_config(
        {"coins": {"AAA": 50, "BBB": 30, "CCC": 20}, "investment": 1000, "threshold": 2}
    )
    fast = simulate(setup, cfg)
    monkeypatch.setattr(run_module.Run, "next_index", lambda self, i: i + 1)
    slow = simulate(setup, cfg)
    during = [o for o in fast.orders if T0 + 121 * HOUR <= o.time < T0 + 200 * HOUR]
    assert during and {o.coin for o in during} == {"AAA", "BBB"}
    assert fast.orders == slow.orders
    assert fast.final_balance == slow.final_balance


# ---- the fast-forward changes nothing -------------------------------------------------------
def walk(n: int, seed: int, vol: float = 0.02) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(p, 2) for p in 100.0 * np.exp(np.cumsum(rng.normal(0, vol, n)))]


@pytest.mark.parametrize(
    "keys",
    [
        {"threshold": 2},
        {"threshold": 10, "threshold_mode": "relative", "rebalance_to": "band"},
        {"trigger": "interval", "interval": "4h", "interval_min_drift": 1},
        {"trigger": "interval", "interval": "1d", "interval_min_drift": 0},
        {"threshold": 5, "auto_invest": {"amount": 50, "every": "daily", "hour": 6}},
        {"threshold": 5, "stop_loss": 700, "on_stop": "sell_all"},
        {"threshold": 5, "take_profit": {"AAA": 130}, "on_stop": "keep"},
    ],
    ids=["threshold", "relative band", "interval 4h", "interval 1d", "deposits", "stop", "take"],
)
def test_skipping_quiet_candles_gives_what_every_candle_gives(
    keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = {"AAA/USDT": walk(600, 1), "BBB/USDT": walk(600, 2, 0.03)}
    setup = setup_of(prices, wallet=5000.0)
    cfg = config(**keys)
    fast = simulate(setup, cfg)
    monkeypatch.setattr(run_module.Run, "next_index", lambda self, i: i + 1)
    slow = simulate(setup, cfg)
    assert len(fast.orders) > 4
    assert fast.orders == slow.orders
    assert fast.final_balance == slow.final_balance


def test_the_search_stops_at_the_first_candle_over_the_threshold() -> None:
    rng = np.random.default_rng(3)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (500, 3)), axis=0))
    times = T0 + HOUR * np.arange(500, dtype=np.int64)
    cfg = parse_rebalance_config(
        {"coins": {"AAA": 50, "BBB": 30, "CCC": 20}, "investment": 1000, "threshold": 2}
    )
    held = [5.0, 3.0, 2.0]
    skip = Ahead(times, prices).next(0, cfg, Quiet(held, 10.0), float(T0), None, 500)
    targets = cfg.weights
    drift = [
        max_drift(
            Portfolio(
                dict(zip("AAA BBB CCC".split(), held, strict=True)),
                dict(zip("AAA BBB CCC".split(), row, strict=True)),
                10.0,
            ),
            targets,
        )
        for row in prices
    ]
    first = next(k for k in range(1, 500) if drift[k] > 2)
    assert skip.index == first


def test_the_tick_size_shortcut_rounds_as_ccxt_does() -> None:
    """The harness truncates and rounds with ccxt's own decimal steps, without its string
    formatting: the same numbers as ``decimal_to_precision``, on multiples of the tick, a hair
    off them, halfway between two, and anywhere."""
    import random

    from ccxt.base.decimal_to_precision import ROUND, TICK_SIZE, TRUNCATE, decimal_to_precision

    rng = random.Random(5)
    for _ in range(3_000):
        tick = rng.choice([1e-8, 1e-5, 1e-3, 0.01, 0.1, 1.0, 10.0, 0.05, 0.0025])
        k = rng.randint(1, 10**6)
        x = rng.choice(
            [
                k * tick,
                k * tick * (1 + 1e-15),
                k * tick * (1 - 1e-15),
                (k + 0.5) * tick,
                10 ** rng.uniform(-6, 6),
            ]
        )
        assert amount_to_precision(x, tick, TICK_SIZE) == float(
            decimal_to_precision(x, TRUNCATE, tick, TICK_SIZE)
        )
        assert price_to_precision(x, tick, TICK_SIZE) == float(
            decimal_to_precision(x, ROUND, tick, TICK_SIZE)
        )
