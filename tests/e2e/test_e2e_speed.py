"""A real live bot (the stand-in's keys) against the stand-in's accelerated replay (``--speed``,
the soak's clock). Live, not dry-run: a dry-run limit order waits until the price crosses it,
which history running away at this speed may not do for minutes; the stand-in's IOC answers at
once and what it leaves goes at market, as on Binance.

At speed 36000 ten hours of history pass every wall second: the bot must load, buy, and
rebalance on the prices of that fast-moving history, while its candles stay dated by its own
clock (Freqtrade refreshes a pair when the wall clock enters a new candle and drops a dataframe
whose last candle is two candles old as "Outdated history"), and log no error.
"""

from __future__ import annotations

import time

import pandas as pd

from tests.helpers.e2e import candles_dir

SPEED = 36000
HOUR_MS = 3_600_000
COINS = {"BTC": 50, "SOL": 50}


def _file_range(coin: str, start_ms: int, end_ms: int) -> tuple[float, float]:
    """The lowest low and highest high of ``coin``'s hourly candles in [start, end] (ms)."""
    frame = pd.read_feather(candles_dir() / f"{coin}_USDT-1h.feather")
    ms = frame["date"].astype("datetime64[ms, UTC]").astype("int64")
    inside = frame[(ms >= start_ms // HOUR_MS * HOUR_MS) & (ms <= end_ms)]
    return float(inside["low"].min()), float(inside["high"].max())


def test_a_bot_rebalances_on_accelerated_history_with_candles_on_its_own_clock(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000}, start="2024-03-01", extra_args=["--speed", "36000"])
    bot = make_bot("fast", sim=sim, dry_run=False, rebalance={"coins": COINS, "threshold": 2})
    bot.wait_for(lambda: len(bot.open_trades()) == 2, 90, "the first buys")
    first = sim.state()["clock"]
    wall0 = time.monotonic()

    def rebalanced() -> list[dict] | None:
        orders = [o for t in bot.open_trades() for o in t.get("orders", [])[1:]]
        return orders if orders and not any(o.get("is_open") for o in orders) else None

    orders = bot.wait_for(rebalanced, 90, "a rebalance on the accelerated prices")
    bot.wait_loops(2)
    now = sim.state()["clock"]
    wall = time.monotonic() - wall0
    # history ran about SPEED times faster than the wall clock (the machine's delays aside)
    advanced = now["history_now_ms"] - first["history_now_ms"]
    assert advanced >= 0.9 * SPEED * (now["now"] - first["now"]), (first, now)
    assert advanced > 12 * HOUR_MS, (wall, first["history_now"], now["history_now"])
    # the rebalance traded at a price of that history, not of the moment the bot bought
    for order in orders:
        coin = order["pair"].split("/")[0]
        low, high = _file_range(coin, first["history_now_ms"], now["history_now_ms"])
        assert low <= order["safe_price"] <= high, (order, low, high)

    # the bot's candles: hourly, the last complete one the wall clock's previous hour (or the
    # one before, across an hour boundary), never the replay's far-ahead hours
    answer = bot.client.pair_candles("BTC/USDT", "1h", 50)
    dates = pd.to_datetime([row[answer["columns"].index("date")] for row in answer["data"]])
    assert (dates[1:] - dates[:-1] == pd.Timedelta(hours=1)).all()
    last_hour = now["now"] // HOUR_MS * HOUR_MS - HOUR_MS
    assert int(dates[-1].value // 10**6) in {last_hour, last_hour - HOUR_MS}, dates[-3:]

    log = bot.log()
    assert "Outdated history" not in log
    assert not [line for line in log.splitlines() if " - ERROR - " in line], bot.log_tail()
