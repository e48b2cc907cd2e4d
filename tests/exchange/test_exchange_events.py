"""What real exchanges do to a running portfolio (issue 20): a coin that stops
trading, maintenance and the clock, rules that change, hands on the account. Real ``freqtrade
trade`` bots (live, the stand-in's keys) against the Binance stand-in, prices frozen and moved
explicitly (same set-up as tests/e2e/test_e2e_faults.py). The bot's words are read in its log,
where Freqtrade also writes what it sends to Telegram."""

from __future__ import annotations

import re

import pytest

from tests.helpers.flows import (
    book,
    exchange_matches_freqtrade,
    freeze,
    live_bot,
    near_targets,
    now_ms,
    order_requests,
    said,
    settled,
    sim_orders_since,
    values,
)


def test_a_coin_sold_by_hand_is_said_once_counted_as_held_and_adopted_on_reload(
    fresh_sim, make_bot
):
    coins = {"BTC": 50, "SOL": 50}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    sol_before = sim.balances()["SOL"]
    booked = next(t["amount"] for t in bot.open_trades() if t["pair"] == "SOL/USDT")
    # The user takes 40% of the SOL out of the account (a withdrawal, or a sale by hand whose
    # USDT the user then withdrew): the account holds 0.6 of what the bot bought.
    taken = round(0.4 * sol_before, 2)
    sim.deposit("SOL", -taken)
    t0 = now_ms(sim)
    bot.wait_for(lambda: said(bot, "left the account outside the bot") >= 1, 180, "the hands said")
    # Counted as the account holds it, SOL is ~37.5% of the portfolio (0.6 x 50 against 50):
    # 12.5 points off, beyond the 2-point threshold: BTC is sold and SOL bought back to 50/50
    # of what is really there. Every weight below is the account's, from the stand-in.
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, coins, 1.0),
        120,
        "rebalanced on the account's holdings",
    )
    assert sim_orders_since(sim, t0, "SELL", "SOLUSDT") == []  # SOL was short: only bought
    assert sim_orders_since(sim, t0, "SELL", "BTCUSDT")
    bot.wait_loops(2)
    assert said(bot, "left the account outside the bot") == 1
    words = next(
        line for line in bot.log().splitlines() if "left the account outside the bot" in line
    )
    # Said when a second comparison a minute later agreed, maybe after the rebalance's SOL
    # buy: the difference is what was taken (plus the fee the exchange took in SOL of that buy,
    # 0.1% of it, which Freqtrade's amount does not count).
    found = re.search(
        r"The account holds ([\d.]+) SOL, the portfolio's book ([\d.]+) SOL: ([\d.]+) SOL left "
        r"the account outside the bot",
        words,
    )
    assert found, words
    account, held, gone = (float(x) for x in found.groups())
    assert gone == pytest.approx(held - account, abs=1e-5)
    assert gone == pytest.approx(booked - (sol_before - taken), abs=0.002 * booked)
    # /reload_config adopts the account's amount: the record keeps the difference to
    # Freqtrade's trade, and the portfolio stays at its targets without another order.
    n_orders = len(sim.orders())
    bot.client.reload_config()
    bot.wait_for(lambda: said(bot, "Holdings adopted from the account: SOL") == 1, 90, "adopted")
    bot.wait_loops(2)
    adopted = book(bot).get("adopted", {})
    trade_sol = next(t["amount"] for t in bot.open_trades() if t["pair"] == "SOL/USDT")
    assert trade_sol + adopted["SOL"] == pytest.approx(sim.balances()["SOL"], rel=5e-3)
    assert adopted["SOL"] == pytest.approx(-taken, rel=0.02)
    assert len(sim.orders()) == n_orders
    assert near_targets(sim, coins, 1.0)
    assert values(sim, coins)[1] < 10  # the cash was spent, not more


def test_a_halted_coin_is_held_while_the_rest_rebalance_and_rejoins_when_it_trades(
    fresh_sim, make_bot
):
    coins = {"BTC": 40, "ETH": 30, "SOL": 30}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    sol = sim.balances()["SOL"]
    booked = next(t["amount"] for t in bot.open_trades() if t["pair"] == "SOL/USDT")
    # Binance halts SOL (status BREAK); the bot's markets still say it trades (Freqtrade reads
    # them hourly). ETH rises 30%: the rebalance sells ETH and buys BTC and SOL; SOL's buy is
    # refused ("Market is closed."), which tells the bot.
    sim.symbol_status("SOLUSDT", "BREAK")
    t0 = now_ms(sim)
    sim.multiply("ETHUSDT", 1.3)
    bot.wait_for(lambda: said(bot, "SOL cannot trade") == 1, 90, "the halt said")

    # From then on SOL is held as it is; BTC and ETH share the rest 40:30, the cash the
    # refused buy left included.
    def btc_eth_at_their_share():
        vals, cash = values(sim, coins)
        share = vals["BTC"] + vals["ETH"] + cash
        ok = (
            settled(bot, sim, 3)
            and abs(vals["BTC"] / share - 40 / 70) < 0.01
            and abs(vals["ETH"] / share - 30 / 70) < 0.01
            and cash < 0.01 * share
        )
        return (vals, cash) if ok else None

    bot.wait_for(btc_eth_at_their_share, 120, "BTC and ETH rebalanced among themselves")
    bot.wait_loops(3)
    assert btc_eth_at_their_share()
    assert sim.balances()["SOL"] == sol  # nothing sold or bought of the halted coin
    assert [o for o in sim_orders_since(sim, t0, symbol="SOLUSDT") if o["executedQty"]] == []
    words = next(line for line in bot.log().splitlines() if "SOL cannot trade" in line)
    assert f"The portfolio holds {booked:g} SOL (about " in words
    assert "freqtrade-rebalance init --coins BTC ETH NEWCOIN" in words
    assert said(bot, "SOL cannot trade") == 1
    # SOL trades again: the bot reads the markets once a minute while a coin is halted; SOL
    # rejoins and the three coins go back to 40/30/30.
    sim.symbol_status("SOLUSDT", "TRADING")
    bot.wait_for(lambda: said(bot, "SOL trades again") == 1, 120, "the return said")
    bot.wait_for(
        lambda: settled(bot, sim, 3) and near_targets(sim, coins, 1.0),
        120,
        "the three coins back at their targets",
    )
    assert said(bot, "SOL cannot trade") == 1 and said(bot, "SOL trades again") == 1
    assert [o for o in sim_orders_since(sim, t0, symbol="SOLUSDT") if o["executedQty"]]


def test_an_order_refused_by_a_rule_changed_mid_run_is_resized_not_repeated(fresh_sim, make_bot):
    coins = {"BTC": 50, "SOL": 50}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    old_step = sim.lot_step("SOLUSDT")
    # Binance raises SOL's amount step to 0.1; the bot's markets still have the old one.
    sim.set_rules("SOLUSDT", stepSize=0.1)
    # SOL rises so that the rebalance sells ~0.55 SOL: the sell of 50/50 of the total,
    # (m x SOL - BTC) / 2 at the new price m x P, is 0.55 SOL for m = BTC / (SOL - 1.1 P).
    vals, _ = values(sim, coins)
    price = sim.prices()["SOLUSDT"]
    m = vals["BTC"] / (vals["SOL"] - 2 * price * 0.55)
    t0 = len(order_requests(sim, "SOLUSDT"))
    sim.multiply("SOLUSDT", m)
    bot.wait_for(
        lambda: said(bot, "binance changed the rules of SOL/USDT") == 1, 90, "the new rules said"
    )
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, coins, 1.5),
        120,
        "the rebalance done with the new step",
    )
    bot.wait_loops(2)
    sol_orders = order_requests(sim, "SOLUSDT")[t0:]
    refused = [o for o in sol_orders if o["status"] != 200]
    assert len(refused) == 1, sol_orders  # the sell sized by the old step, once
    assert abs(float(refused[0]["quantity"]) - 0.55) < 0.02
    later = sol_orders[sol_orders.index(refused[0]) + 1 :]
    assert later and all(o["status"] == 200 for o in later), sol_orders
    for o in later:  # re-sized: whole steps of 0.1
        qty = float(o["quantity"])
        assert abs(qty / 0.1 - round(qty / 0.1)) < 1e-6, sol_orders
    words = next(line for line in bot.log().splitlines() if "changed the rules of SOL" in line)
    assert f"amount step {old_step:g} -> 0.1" in words


@pytest.mark.parametrize(
    "kind, words",
    [
        ("maintenance", "OnMaintenance"),  # every request: HTTP 503 "System is under maintenance."
        ("clock", "InvalidNonce"),  # signed requests: -1021, outside the recvWindow
    ],
)
def test_minutes_of_maintenance_or_a_wrong_clock_lose_no_order_and_are_said_once(
    fresh_sim, make_bot, kind, words
):
    coins = {"BTC": 50, "SOL": 50}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    t0 = now_ms(sim)
    # 50 s of the exchange answering nothing but errors, while SOL rises 30%: a rebalance is
    # due at once, and can go through only after the window.
    sim.fault(kind, seconds=50)
    sim.multiply("SOLUSDT", 1.3)
    bot.wait_for(lambda: said(bot, "binance is not answering since") == 1, 90, "the outage said")
    bot.wait_for(lambda: said(bot, "binance answers again after") == 1, 120, "the return said")
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, coins, 1.0),
        120,
        "the rebalance done after the window",
    )
    bot.wait_loops(3)
    assert said(bot, "binance is not answering since") == 1
    assert said(bot, "binance answers again after") == 1
    line = next(ln for ln in bot.log().splitlines() if "binance is not answering since" in ln)
    assert words in line
    sells = sim_orders_since(sim, t0, "SELL")
    assert [o["symbol"] for o in sells] == ["SOLUSDT"]  # once: nothing sent twice
    exchange_matches_freqtrade(bot, sim, coins)


def test_a_delisted_coin_is_held_and_the_rest_rebalance_among_themselves(fresh_sim, make_bot):
    coins = {"BTC": 40, "ETH": 30, "SOL": 30}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    sol = sim.balances()["SOL"]
    # Binance delists SOL/USDT: the symbol leaves exchangeInfo and every request naming it is
    # refused ("Invalid symbol."), the bot's loop ticker request of its three pairs included.
    sim.symbol_status("SOLUSDT", "REMOVED")
    bot.wait_for(lambda: said(bot, "SOL cannot trade") == 1, 90, "the delisting said")
    words = next(line for line in bot.log().splitlines() if "SOL cannot trade" in line)
    assert "SOL/USDT is no longer listed on binance" in words
    sim.multiply("ETHUSDT", 1.3)  # BTC and ETH rebalance among themselves, 40:30

    def btc_eth_at_their_share():
        vals, cash = values(sim, {"BTC": 40, "ETH": 30})
        share = vals["BTC"] + vals["ETH"] + cash
        return (
            settled(bot, sim, 3)
            and abs(vals["BTC"] / share - 40 / 70) < 0.01
            and abs(vals["ETH"] / share - 30 / 70) < 0.01
        )

    bot.wait_for(btc_eth_at_their_share, 120, "BTC and ETH rebalanced among themselves")
    bot.wait_loops(3)
    assert sim.balances()["SOL"] == sol
    assert said(bot, "SOL cannot trade") == 1
    assert said(bot, "binance is not answering") == 0  # a delisting is not an outage
