"""Auto-invest end to end: real ``freqtrade trade`` bots against the local Binance stand-in.

The bots run on the wall clock (Freqtrade's loop time; the stand-in replays its candles in real
time), and nobody waits a day in a test: each bot runs a daily schedule twelve hours away from
the current UTC hour, so no deposit can fall due while the test runs, whatever hour or day
boundary it crosses. The bot is stopped, its record told that the deposit before the last
scheduled time (worked out here from the portfolio's recorded start) was the last one made,
and restarted: the one at that last scheduled time, missed while it was down, is due at once.
Prices are frozen, so the figures follow from them."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.helpers.flows import (
    COINS,
    book,
    exchange_matches_freqtrade,
    freeze,
    live_bot,
    said,
    settled,
    values,
)

DEPOSITED = "Auto-invest: 100 USDT deposited"
MISSED = "was missed while the bot was not running; it is made now, once."


DAY = 86400


def far_hour() -> int:
    """The daily deposit hour (UTC) twelve hours away from now: none falls due during a test
    (minutes long), so a test never depends on the hour it runs at."""
    return (int(time.time() // 3600) + 12) % 24


def schedule(hour: int) -> dict:
    return {"amount": 100, "every": "daily", "hour": hour}


def last_slot_before(started: float, hour: int) -> float:
    """The last ``hour``:00 UTC at or before ``started`` (POSIX seconds)."""
    return started - (started - hour * 3600) % DAY


def the_one_before_was_the_last(bot, hour: int) -> float:
    """The bot stopped; its record says the last deposit made was the one a day before the
    last scheduled time before the portfolio started: that time's deposit is due. Returns it."""
    bot.stop()
    record = book(bot)
    assert record.get("deposited", 0) == 0 and record.get("last_deposit") is None
    slot = last_slot_before(record["started"], hour)
    assert record["started"] - DAY < slot <= record["started"]
    record["last_deposit"] = slot - DAY
    with sqlite3.connect(bot.db_path) as db:
        db.execute(
            "update KeyValueStore set string_value=? where key='rebalance_state'",
            (json.dumps(record),),
        )
    bot.start()
    return slot


def test_live_a_missed_deposit_is_made_once_and_never_twice(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1100})
    freeze(sim, COINS)
    hour = far_hour()
    bot = live_bot(make_bot, sim, auto_invest=schedule(hour))
    bot.wait_loops(2, what="bought")  # the next deposit is hours away: not made
    assert DEPOSITED not in bot.log()
    before, _ = values(sim, COINS)
    slot = the_one_before_was_the_last(bot, hour)
    bot.wait_for(lambda: DEPOSITED in bot.log(), 60, "the missed deposit")
    after = bot.wait_for(
        lambda: (
            settled(bot, sim, 4)
            and sum(values(sim, COINS)[0].values()) > 1085
            and values(sim, COINS)[0]
        ),
        60,
        "the deposit invested",
    )
    # ~100 of coins bought (100 / 1.001, rounded down to the steps), nothing sold
    assert 1085 < sum(after.values()) < 1100
    assert all(after[c] >= before[c] - 1e-9 for c in COINS)
    record = book(bot)
    assert (record["deposited"], record["funded"], record["last_deposit"]) == (100, 1100, slot)
    assert said(bot, MISSED) == 1
    exchange_matches_freqtrade(bot, sim, COINS)
    bot.restart()  # and again: that deposit is made, never twice
    bot.wait_loops(3, what="after the restart")
    assert said(bot, DEPOSITED) == 1
    assert book(bot)["deposited"] == 100


@pytest.mark.parametrize("mode", ["dry-run", "live"])
def test_two_bots_only_the_one_whose_share_allows_it_deposits(fresh_sim, make_bot, mode):
    """Dry-run: each bot's wallet is its dry_run_wallet (A 1100, B 1000). Live: one account of
    2200 USDT, A's share available_capital 1200, B's 1000. Both invest 1000; only A has room
    for a deposit of 100; B's is skipped, said once."""
    live = mode == "live"
    sim = fresh_sim(balances={"USDT": 2200 if live else 0})
    freeze(sim, COINS)
    hour = far_hour()
    bots = []
    for name, coins, room in (
        ("a", {"BTC": 50, "ETH": 50}, 1100 if not live else 1200),
        ("b", {"BTC": 60, "SOL": 40}, 1000),
    ):
        extra = {"available_capital": room} if live else {"dry_run_wallet": room}
        bot = make_bot(
            name,
            sim=sim,
            dry_run=not live,
            rebalance={"coins": coins, "investment": 1000, "auto_invest": schedule(hour)},
            extra=extra,
        )
        bot.wait_for(lambda bot=bot: settled(bot, sim, 2), 90, f"bot {name} bought")
        bots.append(bot)
    a, b = bots
    slots = [the_one_before_was_the_last(bot, hour) for bot in bots]
    a.wait_for(lambda: DEPOSITED in a.log(), 60, "A's deposit")
    b.wait_for(lambda: "is skipped" in b.log(), 60, "B's deposit skipped")
    a.wait_for(lambda: settled(a, sim, 2), 60, "A's buys")
    for bot in bots:  # each had its chance to deposit (again)
        bot.wait_loops(2, what="after the deposits")
    assert book(a)["deposited"] == 100 and book(a)["funded"] == 1100
    assert book(a)["last_deposit"] == slots[0]
    assert book(b).get("deposited", 0) == 0 and book(b)["last_deposit"] == slots[1]
    assert said(b, DEPOSITED) == 0 and said(b, "is skipped") == 1
    why = "available_capital = 1000 is this bot's share" if live else "beyond the portfolio"
    assert why in b.log()
    if live:
        exchange_matches_freqtrade(bots, sim, ["BTC", "ETH", "SOL"])
