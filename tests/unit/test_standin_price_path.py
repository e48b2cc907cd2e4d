"""The stand-in's candles carry the prices it served (binance_standin/market.py, the price
path): a price held (``try-live``'s start-up, ``--set-price``) or multiplied (``--move``) shows in
the candles that close afterwards, not only in the ticker and the current candle. FreqUI draws
the portfolio from the closed candles: without this its chart contradicted the bot (issue 22).

The stand-in in-process, on a clock the test moves, over one day and a half of hourly BTC
candles written here: candle k (from 2024-01-01 00:00) opens at 40000 + 100 k and closes 100
higher, with a high 50 over the close and a low 50 under the open. The price model runs from
open to close across the hour, so at 10:15 the price is 41000 + 25 = 41025; BTCUSDT's tick is
0.01. The wall clock starts on 2030-06-03 at 10:15, mapped onto 2024-01-01 10:15.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from binance_standin import HOUR, MINUTE, SimExchange
from tests.helpers.candles import ManualClock, write_btc_ramp

HOURS = 36
WALL_DAY = int(pd.Timestamp("2030-06-03", tz="UTC").value // 10**6)


@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    return write_btc_ramp(tmp_path_factory.mktemp("pathdata"), HOURS)


class Clock(ManualClock):
    def __init__(self) -> None:
        super().__init__(WALL_DAY + 10 * HOUR + 15 * MINUTE)

    def at(self, hours: int, minutes: int = 0) -> None:
        self.now = WALL_DAY + hours * HOUR + minutes * MINUTE


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(datadir, clock) -> SimExchange:
    return SimExchange(datadir, start="2024-01-01", clock=clock)


def candles(sim: SimExchange, interval: str = "1h", limit: int = 4) -> dict[int, tuple]:
    """{open hour or minute of the wall day: (open, high, low, close)} of the last klines."""
    size = HOUR if interval == "1h" else MINUTE
    out = {}
    for row in sim.klines("BTCUSDT", interval, limit=limit):
        out[(row[0] - WALL_DAY) // size] = tuple(float(x) for x in row[1:5])
    return out


def test_without_an_override_the_candles_are_the_files(sim, clock):
    clock.at(12, 30)
    rows = candles(sim)
    # candle 10 and 11 closed: the file's; 12 so far: open 41200, half way to 41300
    assert rows[10] == (41000.0, 41150.0, 40950.0, 41100.0)
    assert rows[11] == (41100.0, 41250.0, 41050.0, 41200.0)
    assert rows[12] == (41200.0, 41250.0, 41200.0, 41250.0)


def test_a_held_price_is_in_the_candles_that_close_after_it(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # at 10:15, the model at 41025
    clock.at(12, 30)
    rows = candles(sim)
    # 10:00-11:00: the model from 41000 to 41025, then 50000 held: it closed at 50000.
    assert rows[10] == (41000.0, 50000.0, 41000.0, 50000.0)
    # held throughout: flat at the price the ticker quoted
    assert rows[11] == (50000.0, 50000.0, 50000.0, 50000.0)
    assert rows[12] == (50000.0, 50000.0, 50000.0, 50000.0)
    assert float(sim.price("BTCUSDT")) == 50000.0


def test_a_multiplier_moves_the_closed_candles_with_it(sim, clock):
    sim.controls.set_multipliers({"BTCUSDT": 1.5})  # at 10:15
    clock.at(11, 30)
    rows = candles(sim)
    # 10:00-10:15 the model (41000 -> 41025); 10:15-11:00 1.5 x (41025 -> 41100):
    # 61537.50 -> 61650.00. Closed at 61650, its high.
    assert rows[10] == (41000.0, 61650.0, 41000.0, 61650.0)
    # 11:30 now: 1.5 x the path 41100 -> 41150 so far
    assert rows[11] == (61650.0, 61725.0, 61650.0, 61725.0)
    assert float(sim.price("BTCUSDT")) == 61725.0


def test_back_to_the_candles_price_after_a_clear(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # 10:15
    clock.at(11, 30)
    sim.controls.clear_prices("BTCUSDT")  # 11:30: the model at 41150
    clock.at(13, 10)
    rows = candles(sim)
    assert rows[10][3] == 50000.0
    # 11:00-11:30 held at 50000, then the model from 41150 to its close, 41200
    assert rows[11] == (50000.0, 50000.0, 41150.0, 41200.0)
    assert rows[12] == (41200.0, 41350.0, 41150.0, 41300.0)  # the file's candle 12


def test_a_reset_keeps_the_path_served_before_it(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # 10:15
    clock.at(11)
    sim.reset()  # no override from 11:00 on
    clock.at(12, 30)
    rows = candles(sim)
    assert rows[10][3] == 50000.0  # served then
    assert rows[11] == (41100.0, 41250.0, 41050.0, 41200.0)  # the file's again


def test_finer_candles_than_the_file_carry_the_held_price(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # 10:15
    clock.at(10, 20)
    rows = candles(sim, "1m", limit=8)
    # minute 10:14 (854) closed before the price was set: the split hourly path
    assert rows[10 * 60 + 14][3] == pytest.approx(41000.0 + 100.0 * 15 / 60)
    # every minute from 10:15 on: 50000
    for minute in range(10 * 60 + 15, 10 * 60 + 21):
        assert rows[minute] == (50000.0, 50000.0, 50000.0, 50000.0), minute


def test_the_24_hour_ticker_opens_at_the_price_served_a_day_ago(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # 2024-01-01 10:15
    clock.at(24 + 11)  # a day and 45 minutes later: held all day
    ticker = sim.public.market.ticker_24hr("BTCUSDT")
    assert isinstance(ticker, dict)
    assert float(ticker["openPrice"]) == 50000.0
    assert float(ticker["highPrice"]) == float(ticker["lowPrice"]) == 50000.0
    assert float(ticker["priceChange"]) == 0.0


def test_a_price_moved_by_a_chase_fault_stays_in_the_candles(sim, clock):
    sim.set_price("BTCUSDT", 50000)  # 10:15
    clock.at(10, 30)
    sim.market.move("BTCUSDT", Decimal("1.001"))  # the chase fault's move: 50050
    clock.at(11, 5)
    rows = candles(sim)
    assert rows[10] == (41000.0, 50050.0, 41000.0, 50050.0)
    assert rows[11] == (50050.0, 50050.0, 50050.0, 50050.0)
