"""End to end, Binance's limits (issue 20, item 3): an IP ban in the middle of a rebalance is
waited out, not hammered; new orders refused for the account's order-count limit (-1015) are
sent again later, never lost or doubled. Real ``freqtrade trade`` processes against the Binance
stand-in (binance_standin/orderlimits.py, weights.py), prices frozen and moved explicitly, as in
tests/e2e/test_e2e_faults.py."""

from __future__ import annotations

import time

from tests.helpers.flows import (
    COINS,
    exchange_matches_freqtrade,
    freeze,
    near_targets,
    now_ms,
    settled,
    sim_orders_since,
)

BAN_S = 20


def filled(orders: list[dict]) -> list[dict]:
    return [o for o in orders if o["executedQty"] > 0]


def test_an_ip_ban_mid_rebalance_is_waited_out_then_the_rebalance_finishes(fresh_sim, make_bot):
    """Banned for 20 s between the rebalance's sell and its buys (they come a loop, 5 s,
    later): the bot sends one request, answered 418, then nothing until the ban ends, and then
    buys by itself, each coin once."""
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
    sim.multiply("SOLUSDT", 1.6)  # SOL 15 -> 22%: sell SOL, buy the three others
    deadline = time.monotonic() + 60
    while not sim_orders_since(sim, t0, "SELL") and time.monotonic() < deadline:
        time.sleep(0.05)
    ban = sim.ban(BAN_S)
    ban_end = ban["banned_until_ms"]
    ban_start = ban_end - BAN_S * 1000
    assert sim_orders_since(sim, t0, "SELL"), "no sell within 60 s"
    assert sim_orders_since(sim, t0, "BUY") == [], "banned too late: the buys were already sent"
    bot.wait_for(
        lambda: now_ms(sim) > ban_end and settled(bot, sim, 4) and near_targets(sim, COINS, 0.6),
        120,
        "the rebalance finished after the ban",
    )
    # During the ban: exactly one request reached the exchange (it had its chance: a loop every
    # 5 s), the one answered 418; every request answered 418 or 429 is in the stand-in's record.
    during = [r for r in sim.limits()["refusals"] if ban_start <= r["time"] < ban_end]
    assert [r["status"] for r in during] == [418], during
    # Then the buys, after the ban, each coin once; the one sell; nothing unknown to Freqtrade.
    buys = sim_orders_since(sim, t0, "BUY")
    assert all(o["time"] >= ban_end for o in buys), buys
    assert sorted(o["symbol"] for o in filled(buys)) == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    assert len(filled(sim_orders_since(sim, t0, "SELL"))) == 1
    exchange_matches_freqtrade(bot, sim, COINS)
    said = bot.log_path.read_text()  # Freqtrade's log (bot.log() adds its stdout/stderr too)
    assert said.count("answered with an IP ban (HTTP 418)") == 1
    assert said.count("the wait is over (an IP ban (HTTP 418))") == 1


#: One new order per 10 s for the account, every order counted (the stand-in's cautious mode:
#: Binance gives an order's count back at its first fill, which the bot's orders, all trading at
#: once, would always get). Four orders in one loop meet -1015 however they fall on the windows.
ONE_ORDER_PER_10S = ["--order-limit-10s", "1", "--order-count-no-fill-credit"]


def order_limited(fresh_sim, make_bot):
    """A bot whose four first buys met the order-count limit, once they are all bought: each
    refused buy sent again in a later window, none twice, the bot holding its new orders until
    the window ends (at most one refusal per window)."""
    sim = fresh_sim(balances={"USDT": 1000}, extra_args=ONE_ORDER_PER_10S)
    freeze(sim, COINS)
    bot = make_bot("live", sim=sim, dry_run=False, rebalance={"coins": COINS})
    bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 1.0), 150, "the first buys"
    )
    limits = sim.limits()["orders"]
    assert limits["refused"] >= 1, limits  # the limit was met
    assert limits["max_new_10s"] == 1
    assert all(w["refused"] <= 1 for w in limits["windows"]), limits["windows"]
    buys = filled(sim_orders_since(sim, 0, "BUY"))
    assert sorted(o["symbol"] for o in buys) == ["BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT"]
    exchange_matches_freqtrade(bot, sim, COINS)
    return sim, bot


def test_first_buys_refused_for_too_many_new_orders_are_sent_again_never_twice(fresh_sim, make_bot):
    order_limited(fresh_sim, make_bot)


def test_rebalance_legs_refused_for_too_many_new_orders_are_sent_again(fresh_sim, make_bot):
    """The rebalance of four legs (a sell, three buys) under the same limit: every leg is
    sent again in a later window until it fills, each once, and the portfolio ends at its
    targets."""
    sim, bot = order_limited(fresh_sim, make_bot)
    refused = sim.limits()["orders"]["refused"]
    t1 = now_ms(sim)
    sim.multiply("SOLUSDT", 1.6)  # SOL 15 -> 22%: sell SOL, buy the three others
    bot.wait_for(lambda: sim_orders_since(sim, t1, "BUY"), 60, "the first rebalance buy")
    bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 1.0), 150, "the rebalance"
    )
    limits = sim.limits()["orders"]
    assert limits["refused"] > refused, limits  # the rebalance met the limit too
    assert all(w["refused"] <= 1 for w in limits["windows"]), limits["windows"]
    assert len(filled(sim_orders_since(sim, t1, "SELL"))) == 1
    rebuys = filled(sim_orders_since(sim, t1, "BUY"))
    assert sorted(o["symbol"] for o in rebuys) == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    exchange_matches_freqtrade(bot, sim, COINS)
