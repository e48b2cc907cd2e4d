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
import sqlite3
import time

import pytest

COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
FEE = 0.001


# ---- helpers -----------------------------------------------------------------------------------
def freeze(sim, coins) -> dict[str, float]:
    """Fix every coin's price at its current value; returns {coin: price}."""
    prices = sim.prices()
    out = {}
    for coin in coins:
        out[coin] = prices[f"{coin}USDT"]
        sim.set_price(f"{coin}USDT", out[coin])
    return out


def values(sim, coins) -> tuple[dict[str, float], float]:
    bal, prices = sim.balances(), sim.prices()
    return {c: bal.get(c, 0.0) * prices[f"{c}USDT"] for c in coins}, bal.get("USDT", 0.0)


def weights(sim, coins) -> dict[str, float]:
    vals, cash = values(sim, coins)
    total = sum(vals.values()) + cash
    return {c: 100.0 * v / total for c, v in vals.items()}


def settled(bot, sim, n: int):
    """n open trades, none with an open order, nothing open at the exchange."""
    trades = bot.open_trades()
    if len(trades) != n or any(t.get("has_open_orders") or t["amount"] <= 0 for t in trades):
        return None
    if sim.state()["open_orders"]:
        return None
    return trades


def near_targets(sim, targets, tol):
    w = weights(sim, targets)
    return w if all(abs(w[c] - t) <= tol for c, t in targets.items()) else None


def book(bot) -> dict:
    """The portfolio's record in the bot's database."""
    with sqlite3.connect(bot.db_path) as db:
        row = db.execute(
            "select string_value from KeyValueStore where key='rebalance_state'"
        ).fetchone()
    return json.loads(row[0]) if row else {}


def sim_orders_since(sim, t0_ms, side=None, symbol=None):
    return [
        o
        for o in sim.orders()
        if o["time"] >= t0_ms
        and (side is None or o["side"] == side)
        and (symbol is None or o["symbol"] == symbol)
    ]


def now_ms(sim) -> int:
    return sim.state()["clock"]["now"]


STEP = {"BTC": 1e-05, "ETH": 1e-04, "BNB": 1e-03, "SOL": 1e-02}  # Binance's LOT_SIZE steps


def exchange_matches_freqtrade(bot, sim, coins) -> None:
    """Nothing lost: the exchange holds what Freqtrade's trades hold, give or take dust:
    Binance takes the buy fee in the coin; Freqtrade mostly rounds the net amount down to the
    step (leaving up to a step per buy at the exchange) and sometimes books a fill before its
    fee (holding 0.1% more than the exchange; it sells what the wallet has). And every filled
    order at the exchange is an order Freqtrade knows."""
    bots = bot if isinstance(bot, (list, tuple)) else [bot]
    bal = sim.balances()
    held: dict[str, float] = {}
    for one in bots:
        for t in one.open_trades():
            coin = t["pair"].split("/")[0]
            held[coin] = held.get(coin, 0.0) + t["amount"]
    for coin in coins:
        buys = [o for o in sim.orders(f"{coin}USDT") if o["side"] == "BUY" and o["executedQty"]]
        dust = bal.get(coin, 0.0) - held.get(coin, 0.0)
        low = -FEE * held.get(coin, 0.0) - 1e-9
        assert low <= dust <= len(buys) * STEP[coin] + 1e-9, (coin, bal.get(coin), held)
    known = {
        str(o.get("order_id"))
        for one in bots
        for t in one.all_trades()
        for o in t.get("orders", [])
    }
    filled = [o for o in sim.orders() if o["executedQty"] > 0]
    unknown = [o for o in filled if str(o["orderId"]) not in known]
    assert not unknown, f"orders at the exchange Freqtrade does not know: {unknown}"
    assert bal.get("USDT", 0.0) >= 0


def live_bot(make_bot, sim, name="live", coins=COINS, investment=1000, **rebalance):
    bot = make_bot(
        name,
        sim=sim,
        dry_run=False,
        rebalance={"coins": coins, "investment": investment, **rebalance},
    )
    bot.wait_for(lambda: settled(bot, sim, len(coins)), 90, f"{len(coins)} coins bought")
    return bot


# ---- tests -------------------------------------------------------------------------------------
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
    time.sleep(4)  # several loops: the check is not due, nothing is sent
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
    time.sleep(3)
    assert sim_orders_since(sim, t0) == []
    assert "deposit the funds on the exchange first" in bot.log()
    assert book(bot)["investment"] == 1000


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
    time.sleep(4)  # the freed cash has left the portfolio: it is not bought back
    assert sim_orders_since(sim, t0, "BUY") == []
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


def test_stop_sell_all_then_start_again(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = live_bot(make_bot, sim)
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
    time.sleep(3)
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
    time.sleep(5)
    assert sim_orders_since(sim, t0) == []
    assert sim.balances() == bal0
    assert len(bot.open_trades()) == 4
    bot.client.start()  # resumes managing the kept coins: the drift is rebalanced
    bot.wait_for(lambda: sim_orders_since(sim, t0, "SELL"), 60, "rebalance after /start")


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
    time.sleep(2)
    assert sim_orders_since(sim, t1) == []
