"""Auto-invest end to end: real ``freqtrade trade`` bots against the local Binance stand-in.

The bots run on the wall clock (Freqtrade's loop time; the stand-in replays its candles in real
time), and nobody waits a day in a test: each bot runs a daily schedule at the current UTC
hour, so its first deposit is due tomorrow; it is stopped, its record told that yesterday's
deposit was the last one made, and restarted: today's, missed while it was down, is due at
once. Prices are frozen, so the figures follow from them."""

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
    settled,
    values,
)

DEPOSITED = "Auto-invest: 100 USDT deposited"
MISSED = "was missed while the bot was not running; it is made now, once."


def said(bot, text: str) -> int:
    """How many times the bot said ``text`` (its log; Freqtrade's RPC line repeats it)."""
    return sum(
        1
        for line in bot.log_path.read_text().splitlines()
        if "rebalance_plugin.ft - INFO - " in line and text in line
    )


def today_slot() -> float:
    """This hour's full hour (UTC): the bots' daily deposit time today."""
    now = time.time()
    return now - now % 3600


def schedule(slot: float) -> dict:
    return {"amount": 100, "every": "daily", "hour": int(slot // 3600 % 24)}


def yesterday_was_the_last(bot, slot: float) -> None:
    """The bot stopped; its record says the last deposit was yesterday's: today's is due."""
    bot.stop()
    record = book(bot)
    assert record.get("deposited", 0) == 0 and record.get("last_deposit") is None
    record["last_deposit"] = slot - 86400
    with sqlite3.connect(bot.db_path) as db:
        db.execute(
            "update KeyValueStore set string_value=? where key='rebalance_state'",
            (json.dumps(record),),
        )
    bot.start()


def test_live_a_missed_deposit_is_made_once_and_never_twice(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1100})
    freeze(sim, COINS)
    slot = today_slot()
    bot = live_bot(make_bot, sim, auto_invest=schedule(slot))
    time.sleep(3)  # several loops: tomorrow's deposit is not due
    assert DEPOSITED not in bot.log()
    before, _ = values(sim, COINS)
    yesterday_was_the_last(bot, slot)
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
    bot.restart()  # and again: today's deposit is made, never twice
    time.sleep(4)
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
    slot = today_slot()
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
            rebalance={"coins": coins, "investment": 1000, "auto_invest": schedule(slot)},
            extra=extra,
        )
        bot.wait_for(lambda bot=bot: settled(bot, sim, 2), 90, f"bot {name} bought")
        bots.append(bot)
    a, b = bots
    for bot in bots:
        yesterday_was_the_last(bot, slot)
    a.wait_for(lambda: DEPOSITED in a.log(), 60, "A's deposit")
    b.wait_for(lambda: "is skipped" in b.log(), 60, "B's deposit skipped")
    a.wait_for(lambda: settled(a, sim, 2), 60, "A's buys")
    time.sleep(3)
    assert book(a)["deposited"] == 100 and book(a)["funded"] == 1100
    assert book(b).get("deposited", 0) == 0 and book(b)["last_deposit"] == slot
    assert said(b, DEPOSITED) == 0 and said(b, "is skipped") == 1
    why = "available_capital = 1000 is this bot's share" if live else "beyond the portfolio"
    assert why in b.log()
    if live:
        exchange_matches_freqtrade(bots, sim, ["BTC", "ETH", "SOL"])
