"""End to end, faults and restarts: injected exchange faults and a process killed in the middle
of a rebalance. Same set-up as tests/e2e/test_e2e_flows.py (real ``freqtrade trade`` processes
against the Binance stand-in, prices frozen and moved explicitly)."""

from __future__ import annotations

import time

import pytest

from tests.helpers.flows import (
    COINS,
    book,
    exchange_matches_freqtrade,
    freeze,
    live_bot,
    near_targets,
    now_ms,
    settled,
    sim_orders_since,
)


@pytest.mark.parametrize("moment", ["after the sell", "sell answer in flight"])
def test_killed_between_sells_and_buys_finishes_on_restart(fresh_sim, make_bot, moment):
    """SIGKILL in the middle of a rebalance, then a restart: the rebalance finishes, nothing is
    sent twice. "after the sell": killed once the sell is at the exchange (the buys come a loop,
    5 s, later). "sell answer in flight": the exchange executes the sell but holds its answer;
    the bot is killed while waiting for it, so its database never hears of the order."""
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = make_bot(
        "live",
        sim=sim,
        dry_run=False,
        rebalance={"coins": COINS},
        extra={"internals": {"process_throttle_secs": 5}},
    )
    bot.wait_for(lambda: settled(bot, sim, 4), 90, "4 coins bought")
    t0 = now_ms(sim)
    if moment == "sell answer in flight":
        sim.fault("timeout", count=1, path="/api/v3/order", method="POST", seconds=60, process=True)
    sim.multiply("SOLUSDT", 1.6)
    deadline = time.monotonic() + 60
    while not sim_orders_since(sim, t0, "SELL") and time.monotonic() < deadline:
        time.sleep(0.05)
    bot.kill()
    assert sim_orders_since(sim, t0, "SELL"), "no sell within 60 s"
    assert sim_orders_since(sim, t0, "BUY") == [], "killed too late: buys were already sent"
    assert book(bot)["engine"]["phase"] == "selling"
    bot.start()
    bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 0.6),
        90,
        "the rebalance finished after the restart",
    )
    assert len(sim_orders_since(sim, t0, "SELL")) == 1  # no duplicate
    assert {o["symbol"] for o in sim_orders_since(sim, t0, "BUY")} == {
        "BTCUSDT",
        "ETHUSDT",
        "BNBUSDT",
    }
    exchange_matches_freqtrade(bot, sim, COINS)


FAULTS = {
    # kind: (params, what the first rebalance order does)
    "reject": ({}, "refused with -2010: sent again at market next loop"),
    "partial": ({"fraction": 0.4}, "40% filled: the rest goes at market"),
    "expire": ({}, "IOC expires unfilled: the whole leg goes at market"),
    "http429": ({"path": "/api/v3/order", "method": "POST"}, "rate-limited: market next loop"),
    "http5xx": ({"path": "/api/v3/order", "method": "POST"}, "503: market next loop"),
    "timeout": (
        {"path": "/api/v3/order", "method": "POST", "seconds": 40},
        "no answer, not executed: market next loop",
    ),
    "timeout-executed": (
        {"path": "/api/v3/order", "method": "POST", "seconds": 40, "process": True},
        "no answer but executed: found at the exchange, booked, not re-sent",
    ),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_during_a_rebalance_loses_nothing(fresh_sim, make_bot, kind):
    coins = {"BTC": 50, "SOL": 50}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    t0 = now_ms(sim)
    params, _ = FAULTS[kind]
    sim.fault(kind.split("-")[0], count=1, **params)
    sim.multiply("SOLUSDT", 1.3)  # SOL 50 -> 56.5%: sell SOL, buy BTC
    bot.wait_for(lambda: sim.state()["faults_fired"], 60, f"the {kind} fault to fire")
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, coins, 1.0),
        120,
        f"the rebalance completed despite {kind}",
    )
    exchange_matches_freqtrade(bot, sim, coins)
    sells = sim_orders_since(sim, t0, "SELL")
    sold = sum(o["executedQty"] for o in sells)
    assert sold * sim.prices()["SOLUSDT"] < 0.07 * 1000 * 1.3  # no double sell


def test_two_portfolios_share_one_account_without_spending_each_others_funds(fresh_sim, make_bot):
    # One account of 1000 USDT. Bot A: BTC/ETH 50/50 with 400 (available_capital 400); bot B:
    # BTC/SOL 60/40 with 500 (available_capital 500). 100 USDT belong to neither.
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, {"BTC": 0, "ETH": 0, "SOL": 0})
    a_coins, b_coins = {"BTC": 50, "ETH": 50}, {"BTC": 60, "SOL": 40}
    a = make_bot(
        "a",
        sim=sim,
        dry_run=False,
        extra={"available_capital": 400},
        rebalance={"coins": a_coins, "investment": 400, "threshold": 2},
    )
    b = make_bot(
        "b",
        sim=sim,
        dry_run=False,
        extra={"available_capital": 500},
        rebalance={"coins": b_coins, "investment": 500, "threshold": 2},
    )
    a.wait_for(lambda: settled(a, sim, 2), 90, "A bought")
    b.wait_for(lambda: settled(b, sim, 2), 90, "B bought")
    # 1000 - 900 / 1.001 (each first buy leaves its fee's worth: Binance takes the fee in the
    # coin) plus under a step of rounding per buy.
    assert 100.8 < sim.balances()["USDT"] < 103

    def own_weights(bot, targets):
        prices = sim.prices()
        vals = {
            t["pair"].split("/")[0]: t["amount"] * prices[t["pair"].replace("/", "")]
            for t in bot.open_trades()
        }
        total = sum(vals.values())
        w = {c: 100 * v / total for c, v in vals.items()}
        return w if all(abs(w[c] - t) <= 1.0 for c, t in targets.items()) else None

    t0 = now_ms(sim)
    sim.multiply("BTCUSDT", 1.3)  # both are BTC-heavy now: each sells BTC, buys its other coin
    a.wait_for(
        lambda: (
            settled(a, sim, 2)
            and sim_orders_since(sim, t0, "BUY", "ETHUSDT")
            and own_weights(a, a_coins)
        ),
        90,
        "A rebalanced",
    )
    b.wait_for(
        lambda: (
            settled(b, sim, 2)
            and sim_orders_since(sim, t0, "BUY", "SOLUSDT")
            and own_weights(b, b_coins)
        ),
        90,
        "B rebalanced",
    )
    # Each reinvested only what its own sells freed: the 100 USDT nobody owns are still there.
    usdt = sim.balances()["USDT"]
    assert 100 < usdt < 103 + 0.01 * 900, usdt
    # Both bots' coins add up to what the account holds (dust aside); every order is known.
    exchange_matches_freqtrade([a, b], sim, ["BTC", "ETH", "SOL"])
    # A asks for 300 more that only the unowned 100 (and B's cash) could pay: refused.
    t1 = now_ms(sim)
    a.edit_config(rebalance={"investment": 700}, available_capital=700)
    a.client.reload_config()
    a.wait_for(lambda: "Config change refused" in a.log(), 60, "A's add-funds refusal")
    a.wait_loops(2, what="after the refusal")
    b.wait_loops(1, what="meanwhile")
    assert sim_orders_since(sim, t1) == []
