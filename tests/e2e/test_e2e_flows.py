"""End to end: real ``freqtrade trade`` processes against the local Binance stand-in
(``binance_standin``, 127.0.0.1 only: no real exchange is reachable here), driven through
Freqtrade's REST API with ``freqtrade-client``. Holdings are read from the stand-in's account
(what the exchange really holds), orders from the stand-in and from Freqtrade.

Prices are frozen at the start of each test (the stand-in otherwise replays real candles in real
time) and moved explicitly, so every expected figure below follows from those numbers:
weights are ``coin balance x price / (sum of coin values + USDT)``, the account holding only this
portfolio's money.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3

import pytest

from tests.helpers.flows import (
    COINS,
    STEP,
    book,
    exchange_matches_freqtrade,
    freeze,
    live_bot,
    near_targets,
    now_ms,
    settled,
    sim_orders_since,
    values,
    weights,
)


def test_start_and_a_price_move_rebalance_live(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim)
    start = weights(sim, COINS)
    for coin, target in COINS.items():  # first buys: weight x 1000 / (1 + fee), to the step
        assert start[coin] == pytest.approx(target, abs=0.6), start
    # SOL x 1.6: its weight goes from 15 to 15 x 1.6 / 1.09 = 22.0%, 7 points over a 5-point
    # threshold: sell SOL, then buy the others.
    t0 = now_ms(sim)
    sim.multiply("SOLUSDT", 1.6)
    bot.wait_for(lambda: sim_orders_since(sim, t0, "BUY"), 60, "the rebalance's buys")
    final = bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 0.6),
        60,
        "weights back at the targets",
    )
    sells = sim_orders_since(sim, t0, "SELL")
    buys = sim_orders_since(sim, t0, "BUY")
    assert {o["symbol"] for o in sells} == {"SOLUSDT"}
    assert {o["symbol"] for o in buys} == {"BTCUSDT", "ETHUSDT", "BNBUSDT"}
    assert max(o["time"] for o in sells) < min(o["time"] for o in buys)  # sells first
    assert all(o["type"] == "LIMIT" and o["timeInForce"] == "IOC" for o in sells + buys)
    exchange_matches_freqtrade(bot, sim, COINS)
    assert "Rebalance (drift" in bot.log() and "Weights" in bot.log(), final


def test_dry_run_rebalances_on_a_price_move(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 0})
    freeze(sim, COINS)
    bot = make_bot("dry", sim=sim, dry_run=True, rebalance={"coins": COINS})
    bot.wait_for(lambda: settled(bot, sim, 4), 90, "4 coins bought (dry-run)")
    sim.multiply("SOLUSDT", 1.6)
    trades = bot.wait_for(
        lambda: [
            t
            for t in bot.open_trades()
            if t["pair"] == "SOL/USDT" and any(o["ft_order_side"] == "sell" for o in t["orders"])
        ],
        60,
        "a dry-run SOL sell",
    )
    assert trades and not sim.orders()  # dry-run: nothing ever reaches the exchange
    assert "Rebalance buys" in bot.wait_for(
        lambda: "Rebalance buys" in bot.log() and bot.log(), 60, "the buys"
    )


def test_interval_check_after_a_restart(fresh_sim, make_bot):
    """A 30m interval counted from the first buy. Nobody waits 30 minutes in a test: the bot is
    stopped, its record's first-buy time moved back 31 minutes, and restarted: the check is due
    at once, and the rebalance follows (drift 7 > interval_min_drift 0.5)."""
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim, trigger="interval", interval="30m")
    t0 = now_ms(sim)
    sim.multiply("SOLUSDT", 1.6)
    bot.wait_loops(3, what="with SOL moved")  # the check is not due: nothing is sent
    assert sim_orders_since(sim, t0) == []
    bot.stop()
    record = book(bot)
    record["started"] -= 31 * 60
    with sqlite3.connect(bot.db_path) as db:
        db.execute(
            "update KeyValueStore set string_value=? where key='rebalance_state'",
            (json.dumps(record),),
        )
    bot.start()
    bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 0.6), 60, "the interval rebalance"
    )
    assert {o["symbol"] for o in sim_orders_since(sim, t0, "SELL")} == {"SOLUSDT"}
    assert book(bot)["engine"]["last_check"] is not None


def test_add_funds_by_reload_config(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim)
    before, _ = values(sim, COINS)
    sim.deposit("USDT", 500)
    bot.edit_config(rebalance={"investment": 1500})
    bot.client.reload_config()
    # Every coin ends at its weight of ~1500 (the portfolio was ~999 after the first fees).
    bot.wait_for(
        lambda: settled(bot, sim, 4) and sum(values(sim, COINS)[0].values()) > 1480,
        90,
        "the new money invested",
    )
    after, cash = values(sim, COINS)
    total = sum(after.values()) + cash
    for coin, w in COINS.items():
        assert after[coin] == pytest.approx(w / 100 * total, abs=0.006 * total), (coin, after)
        assert after[coin] > before[coin]  # only bought
    assert cash < 10
    assert "Adding 500 USDT" in bot.log()
    exchange_matches_freqtrade(bot, sim, COINS)


def test_add_funds_beyond_the_account_is_refused(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim)
    t0 = now_ms(sim)
    bot.edit_config(rebalance={"investment": 1500})  # no deposit
    bot.client.reload_config()
    bot.wait_for(lambda: "Config change refused" in bot.log(), 60, "the refusal")
    bot.wait_loops(2, what="after the refusal")
    assert sim_orders_since(sim, t0) == []
    assert "deposit the funds on the exchange first" in bot.log()
    assert book(bot)["investment"] == 1000
    # /reload_config again, nothing deposited: checked again, same reason, not said again.
    bot.client.reload_config()
    bot.wait_for(
        lambda: bot.log().count("from RELOAD_CONFIG to: RUNNING") >= 2 or None, 30, "the reload"
    )
    bot.wait_loops(3, what="after the second reload")
    said = bot.log_path.read_text().count("rebalance_plugin.ft - INFO - Config change refused")
    assert said == 1
    # The user does what the message said, deposits, and reloads the same config: accepted.
    sim.deposit("USDT", 500)
    bot.client.reload_config()
    bot.wait_for(lambda: "Adding 500 USDT" in bot.log(), 60, "the change accepted")
    bot.wait_for(
        lambda: settled(bot, sim, 4) and sum(values(sim, COINS)[0].values()) > 1480,
        90,
        "the new money invested",
    )
    assert book(bot)["investment"] == 1500


def test_remove_funds_skips_a_leg_under_the_minimum(fresh_sim, make_bot):
    # BTC 48 / ETH 48 / BNB 4 of 1000. Remove 100: BTC and ETH sell 48 each, BNB's 4 USDT is
    # under Binance's 5 USDT minimum (x1.05): skipped, so about 96 - fees is freed, not 100.
    coins = {"BTC": 48, "ETH": 48, "BNB": 4}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins)
    vals0, cash0 = values(sim, coins)
    bnb0 = sim.balances()["BNB"]
    t0 = now_ms(sim)
    bot.edit_config(rebalance={"investment": 900})
    bot.client.reload_config()
    bot.wait_for(lambda: "Funds removed" in bot.log(), 60, "the withdrawal")
    vals1, cash1 = values(sim, coins)
    assert {o["symbol"] for o in sim_orders_since(sim, t0)} == {"BTCUSDT", "ETHUSDT"}
    assert sim.balances()["BNB"] == bnb0
    freed = cash1 - cash0
    assert 95.0 < freed < 96.0, freed  # 96 less fees and step rounding
    assert vals0["BTC"] - vals1["BTC"] == pytest.approx(48, abs=1.0)
    assert "sell BNB" in bot.log() and "Skipped" in bot.log()
    bot.wait_loops(3, what="after the withdrawal")  # the freed cash has left the portfolio:
    assert sim_orders_since(sim, t0, "BUY") == []  # it is not bought back
    assert book(bot)["funded"] == pytest.approx(1000 - freed, abs=0.01)


def test_change_coins_by_reload_config(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, {"BTC": 0, "ETH": 0, "BNB": 0})
    bot = live_bot(make_bot, sim, coins={"BTC": 50, "ETH": 50})
    bot.edit_config(rebalance={"coins": {"BTC": 50, "BNB": 50}})
    bot.client.reload_config()
    new = {"BTC": 50, "BNB": 50}
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, new, 1.0), 90, "ETH sold, BNB bought"
    )
    assert sim.balances().get("ETH", 0.0) * sim.prices()["ETHUSDT"] < 1.0  # dust at most
    pairs = sorted(t["pair"] for t in bot.open_trades())
    assert pairs == ["BNB/USDT", "BTC/USDT"]
    assert "New allocation BTC 50%, BNB 50%" in bot.log()
    # The quantity announced is the quantity bought, though Freqtrade buys at the ask, above
    # the last price the plan was made at (sized at the last price, 0.1.0 bought one step less).
    announced = float(re.search(r"buy ([0-9.]+) BNB", bot.log()).group(1))
    bought = math.fsum(float(o["executedQty"]) for o in sim_orders_since(sim, 0, "BUY", "BNBUSDT"))
    assert bought == pytest.approx(announced, abs=1e-9), (announced, bought)


def test_stop_sell_all_then_start_again(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim, on_stop="sell_all")
    bot.client.stopbuy()  # Telegram /stopentry, FreqUI "Pause"
    bot.wait_for(
        lambda: not bot.open_trades() and not sim.state()["open_orders"], 60, "every coin sold"
    )
    bal = sim.balances()
    for coin in COINS:  # what is left is dust under one quantity step: unsellable
        assert bal.get(coin, 0.0) < STEP[coin], (coin, bal)
    assert 996 < bal["USDT"] < 1000  # two fees of 0.1% on 1000, and the spread
    sells = [o for o in sim.orders() if o["side"] == "SELL"]
    assert {o["type"] for o in sells} == {"MARKET"}
    assert bot.client.show_config()["state"] == "paused"
    assert "Portfolio stopped" in bot.log()
    bot.restart()  # the stopped state survives a restart: still paused, nothing bought
    bot.wait_loops(2, what="after the restart")
    assert not bot.open_trades() and bot.client.show_config()["state"] == "paused"
    bot.client.start()
    bot.wait_for(lambda: settled(bot, sim, 4), 90, "the portfolio bought again")


def test_stop_keep_leaves_the_coins(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim, on_stop="keep")
    bal0 = sim.balances()
    t0 = now_ms(sim)
    bot.client.stopbuy()
    bot.wait_for(lambda: "Portfolio stopped" in bot.log(), 30, "the stop")
    sim.multiply("SOLUSDT", 1.6)  # would rebalance if still managed
    bot.wait_loops(3, what="with SOL moved")
    assert sim_orders_since(sim, t0) == []
    assert sim.balances() == bal0
    assert len(bot.open_trades()) == 4
    bot.client.start()  # resumes managing the kept coins: the drift is rebalanced
    bot.wait_for(lambda: sim_orders_since(sim, t0, "SELL"), 60, "rebalance after /start")


def test_a_bad_config_at_reload_keeps_the_bot_running_on_the_last_good_portfolio(
    fresh_sim, make_bot
):
    """Before: a weight typo or coins changed without the whitelist, then /reload_config, and
    the process exited (FreqUI froze, a Telegram-only user was stranded)."""
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim)
    good = json.loads(json.dumps(bot.config))
    held = sim.balances()

    def write(section: dict) -> None:  # config.json as the user leaves it, whitelist untouched
        bot.config_path.write_text(json.dumps({**good, "rebalance": section}, indent=2))

    def said() -> list[str]:  # Freqtrade's log file (stderr repeats it)
        lines = bot.log_path.read_text().splitlines()
        return [ln for ln in lines if "- INFO - Config refused at /reload_config" in ln]

    mistakes = [
        # weights summing to 99
        ({**good["rebalance"], "coins": {**COINS, "SOL": 14}}, "sum to 100"),
        # a new coin in rebalance.coins, exchange.pair_whitelist not updated
        ({**good["rebalance"], "coins": {"BTC": 40, "ETH": 30, "XRP": 30}}, "Missing: XRP/USDT"),
    ]
    for n, (section, words) in enumerate(mistakes, start=1):
        write(section)
        bot.client.reload_config()
        bot.wait_for(lambda n=n: len(said()) == n, 60, f"refusal {n} said")
        assert bot.running
        assert bot.client.show_config()["state"] == "running"
        last = said()[-1]
        assert words in last, last
        assert "keeps running the last good portfolio, BTC 40%, ETH 30%, BNB 15%, SOL 15% " in last
        assert len(bot.open_trades()) == 4
    # Nothing was traded over the mistakes.
    assert sim.balances() == held
    # The fixed config is taken up again by the next reload: the portfolio carries on.
    write(good["rebalance"])
    bot.client.reload_config()
    bot.wait_for(
        lambda: bot.log_path.read_text().count("- INFO - Rebalance state restored") == 3,
        60,
        "a clean reload",
    )
    assert bot.running and len(bot.open_trades()) == 4
    assert len(said()) == 2
