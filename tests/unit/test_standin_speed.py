"""Accelerated replay (``python -m binance_standin --speed N``, ``SimExchange(speed=N)``): the
price path and the candles run N times faster than the wall clock from the start date, while
every time the stand-in serves stays on the wall clock, so a real bot that judges candles by its
own clock (Freqtrade's refresh and "Outdated history") and signs with it keeps working.

The stand-in in-process on a clock the test moves, over four weeks of hourly BTC candles written
here: candle k (from 2024-01-01 00:00) opens at 40000 + 100 k and closes 100 higher, its high 150
over the open and its low 50 under it, volume 10. The wall clock starts on Monday 2030-06-03 at
10:15, mapped onto Monday 2024-01-01 10:15 (price 41025: a quarter of the way through candle
10). At speed 2400 an hour of history passes every 1.5 s of wall time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from binance_standin import DAY, HOUR, MINUTE, SimExchange
from binance_standin.__main__ import _parser
from tests.helpers.candles import ManualClock, write_btc_ramp

HOURS = 24 * 28
WALL_DAY = int(pd.Timestamp("2030-06-03", tz="UTC").value // 10**6)
SPEED = 2400
CANDLE = 1500  # wall ms per hour of history at SPEED


@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    return write_btc_ramp(tmp_path_factory.mktemp("speeddata"), HOURS)


class Clock(ManualClock):
    def __init__(self) -> None:
        super().__init__(WALL_DAY + 10 * HOUR + 15 * MINUTE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(datadir, clock) -> SimExchange:
    return SimExchange(datadir, start="2024-01-01", clock=clock, speed=SPEED)


def klines(sim: SimExchange, interval: str = "1h", **kwargs) -> list[tuple]:
    """(wall open time, open, high, low, close, volume) of the klines served."""
    return [
        (row[0], *(float(x) for x in row[1:6])) for row in sim.klines("BTCUSDT", interval, **kwargs)
    ]


def test_history_runs_speed_times_faster_than_the_wall_clock(sim, clock):
    assert float(sim.price("BTCUSDT")) == 41025.0  # 10:15: a quarter into candle 10
    clock.now += CANDLE  # one hour of history later: 11:15, a quarter into candle 11
    assert float(sim.price("BTCUSDT")) == 41125.0
    clock.now += 10 * CANDLE  # 15 s of wall time: 21:15
    assert float(sim.price("BTCUSDT")) == 42125.0
    state = sim.state()["clock"]
    assert state["now"] == clock.now  # the wall clock
    assert state["history_now"] == "2024-01-01T21:15:00+00:00"
    assert state["speed"] == SPEED
    # two weeks (336 hours) in 504 s of wall time: candle 346 (14 days and 10 hours in)
    clock.now += 325 * CANDLE
    assert sim.state()["clock"]["history_now"] == "2024-01-15T10:15:00+00:00"
    assert float(sim.price("BTCUSDT")) == 40000.0 + 100.0 * 346 + 25.0


def test_the_candles_end_at_the_wall_clocks_hour(sim, clock):
    clock.now += CANDLE  # history 11:15, the wall clock 10:15:01.5
    rows = klines(sim, limit=3)
    # dated on the wall clock's hours, the current one last; the history behind it
    assert [r[0] for r in rows] == [WALL_DAY + h * HOUR for h in (8, 9, 10)]
    assert rows[0][1:] == (40900.0, 41050.0, 40850.0, 41000.0, 10.0)  # candle 9
    assert rows[1][1:] == (41000.0, 41150.0, 40950.0, 41100.0, 10.0)  # candle 10
    # candle 11 so far: from its open 41100 to 41125, a quarter of its volume
    assert rows[2][1:] == (41100.0, 41125.0, 41100.0, 41125.0, 2.5)
    clock.now += 20 * CANDLE  # 30 s later: history 2024-01-02 07:15 (candle 31)
    rows = klines(sim, limit=2)
    assert [r[0] for r in rows] == [WALL_DAY + 9 * HOUR, WALL_DAY + 10 * HOUR]
    assert rows[0][1:] == (43000.0, 43150.0, 42950.0, 43100.0, 10.0)  # candle 30
    assert rows[1][1:5] == (43100.0, 43125.0, 43100.0, 43125.0)


def test_start_and_end_are_wall_clock_times(sim, clock):
    clock.now += CANDLE  # history 11:15: the 09:00 candle is history's 10:00
    after = klines(sim, start=WALL_DAY + 9 * HOUR, limit=2)
    assert [(r[0], r[1]) for r in after] == [
        (WALL_DAY + 9 * HOUR, 41000.0),
        (WALL_DAY + 10 * HOUR, 41100.0),
    ]
    before = klines(sim, end=WALL_DAY + 9 * HOUR, limit=2)
    assert [(r[0], r[1]) for r in before] == [
        (WALL_DAY + 8 * HOUR, 40900.0),
        (WALL_DAY + 9 * HOUR, 41000.0),
    ]


def test_weekly_candles_open_on_the_wall_clocks_monday(sim, clock):
    clock.now += CANDLE  # history Monday 2024-01-01 11:15; the wall clock Monday 2030-06-03
    (row,) = klines(sim, "1w", limit=1)
    # the week so far: candle 0's open, the highest high (candle 10's 41150), the lowest low
    # (candle 0's 39950), the price now
    assert row[:5] == (WALL_DAY, 40000.0, 41150.0, 39950.0, 41125.0)
    clock.now += 7 * 24 * CANDLE  # a week of history later: its second week
    (row,) = klines(sim, "1w", limit=1)
    assert row[:2] == (WALL_DAY, 40000.0 + 100.0 * 168)


def test_a_price_move_lands_in_the_candle_it_was_served_in(sim, clock):
    sim.controls.set_multipliers({"BTCUSDT": 2})  # at history 10:15, the model at 41025
    clock.now += CANDLE  # history 11:15
    assert float(sim.price("BTCUSDT")) == 82250.0  # 2 x 41125
    closed, current = klines(sim, limit=2)
    # candle 10 (now dated 09:00): the model 41000 -> 41025, then 2 x (41025 -> 41100): it
    # closed at 82200, its high
    assert closed[:5] == (WALL_DAY + 9 * HOUR, 41000.0, 82200.0, 41000.0, 82200.0)
    # candle 11 so far: 2 x (41100 -> 41125)
    assert current[:5] == (WALL_DAY + 10 * HOUR, 82200.0, 82250.0, 82200.0, 82250.0)


def test_every_time_served_is_the_wall_clocks(sim, clock):
    clock.now += 4 * CANDLE
    ticker = sim.public.ticker_24hr("BTCUSDT")
    assert (ticker["openTime"], ticker["closeTime"]) == (clock.now - DAY, clock.now)
    assert float(ticker["lastPrice"]) == 41425.0  # history 14:15
    assert sim.public.exchange_info()["serverTime"] == clock.now
    assert sim.public.avg_price("BTCUSDT")["closeTime"] == clock.now
    order = sim.trading.new_order(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
    )
    assert order["transactTime"] == clock.now
    assert sim.state()["orders"][0]["time"] == clock.now


def test_speed_below_one_is_refused(datadir, clock):
    with pytest.raises(ValueError, match="speed"):
        SimExchange(datadir, start="2024-01-01", clock=clock, speed=0.5)
    base = ["--datadir", str(datadir)]
    assert _parser().parse_args([*base, "--speed", "2400"]).speed == 2400.0
    assert _parser().parse_args(base).speed == 1.0
    for bad in ("0.5", "nan", "fast"):
        with pytest.raises(SystemExit):
            _parser().parse_args([*base, "--speed", bad])
