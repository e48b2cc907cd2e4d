"""The soak's seeded schedule and its invariants (tests/soak/events.py, invariants.py), without
processes: a seed always draws the same world and events, every kind the stand-in serves is
drawn and a new kind is one entry, the faults drawn are ones the stand-in accepts, and each
invariant finds what it must (and nothing else) on hand-made answers."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from binance_standin.faults import FaultBook
from rebalance_plugin.core.config import THRESHOLDS
from tests.soak import invariants as inv
from tests.soak.events import COINS, EVENTS, Kind, Schedule, served, world


@pytest.mark.parametrize("seed", [1, 2, 3, 17, 1234])
def test_a_seed_fixes_the_world(seed):
    w = world(seed)
    assert w == world(seed)
    assert 2 <= len(w.plans) <= 3
    coins = w.coins
    assert len(coins) == len(set(coins)) and set(coins) <= set(COINS)  # no coin in two
    for plan in w.plans:
        assert 2 <= len(plan.coins) <= 4
        assert sum(plan.coins.values()) == 100 and min(plan.coins.values()) >= 15
        assert 800 <= plan.capital <= 2000 and plan.capital - 100 <= plan.investment
        assert plan.investment <= plan.capital and plan.threshold in THRESHOLDS
    assert "2021-06-01" <= w.start <= "2025-09-30"


def test_a_seed_replays_the_same_events():
    first = Schedule(world(5))
    again = Schedule(world(5))
    other = Schedule(world(6))
    events = [first.next() for _ in range(60)]
    assert events == [again.next() for _ in range(60)]
    assert events != [other.next() for _ in range(60)]
    assert [e.index for e in events] == list(range(1, 61))


def test_every_kind_served_is_drawn_in_proportion():
    schedule = Schedule(world(7))
    drawn = Counter(schedule.next().kind for _ in range(4000))
    kinds = {name for name, kind in EVENTS.items() if served(kind)}
    assert set(drawn) == kinds
    # jumps weigh 15 of the total weight: about that share of the draws
    total = sum(EVENTS[k].weight for k in kinds)
    assert drawn["jump"] / 4000 == pytest.approx(15 / total, abs=0.03)


def test_a_new_kind_is_one_entry_and_unserved_ones_are_not_drawn():
    said: list[dict] = []
    kinds = dict(EVENTS)
    kinds["withdraw"] = Kind(
        1000, lambda rng, w: {"usdt": rng.choice((10, 20))}, lambda soak, p: str(p)
    )
    kinds["future_fault"] = Kind(1000, lambda rng, w: {}, lambda soak, p: "", needs="nosuch")
    kinds["future_control"] = Kind(
        1000, lambda rng, w: {}, lambda soak, p: "", needs=("POST", "/sim/nosuch")
    )
    schedule = Schedule(world(8), kinds)
    drawn = [schedule.next() for _ in range(200)]
    names = {e.kind for e in drawn}
    assert "withdraw" in names and not names & {"future_fault", "future_control"}
    event = next(e for e in drawn if e.kind == "withdraw")
    assert schedule.run(said, event) == str(event.params)  # type: ignore[arg-type]


def test_the_faults_drawn_are_ones_the_stand_in_accepts():
    schedule = Schedule(world(9))
    book = FaultBook(lambda: 1_000_000)
    armed = Counter()
    for _ in range(3000):
        event = schedule.next()
        if event.kind.startswith("fault:"):
            kind = event.kind.removeprefix("fault:")
            stored = book.add({"kind": kind, **event.params["fault"]})
            armed[stored["kind"]] += 1
            for coin, factor in event.params.get("moves", {}).items():
                assert coin in world(9).coins and (0.6 <= factor <= 0.85 or 1.15 <= factor <= 1.6)
    assert set(armed) == {k.removeprefix("fault:") for k in EVENTS if k.startswith("fault:")}


# ---------------------------------------------------------------- the invariants
def _order(oid, pair, side, filled, cost):
    return {"order_id": oid, "pair": pair, "ft_order_side": side, "filled": filled, "cost": cost}


def test_the_account_must_hold_what_the_orders_hold():
    # p0 bought 2 SOL for 200 USDT (fee 0.002 SOL) and sold 0.5 for 60 (fee 0.06 USDT): it
    # holds 1.498 SOL and 1000 - 200 + 59.94 = 859.94 USDT; 300 USDT are no one's.
    orders = [_order("1", "SOL/USDT", "buy", 2.0, 200.0), _order("2", "SOL/USDT", "sell", 0.5, 60)]
    books = {"p0": inv.ledger(1000.0, orders)}
    owners = {"SOL": "p0"}
    fills = {"SOL": 2}
    good = {"SOL": 1.498, "USDT": 1159.94}
    assert inv.account_matches_books(good, books, owners, 300.0, fills) == []
    assert inv.account_matches_books(good | {"SOL": 1.49800002}, books, owners, 300.0, fills) == []
    (short,) = inv.account_matches_books(good | {"SOL": 1.4979}, books, owners, 300.0, fills)
    assert "1.49790000 SOL" in short and "-0.00010000" in short
    (cash,) = inv.account_matches_books(good | {"USDT": 1159.0}, books, owners, 300.0, fills)
    assert "off by -0.94000000" in cash


def test_freqtrades_trades_may_differ_from_the_account_by_dust_only():
    books = {"p0": inv.ledger(1000.0, [_order("1", "SOL/USDT", "buy", 2.0, 200.0)])}
    owners, steps = {"SOL": "p0"}, {"SOL": 0.01}
    account = {"SOL": 1.998}
    # Freqtrade rounded the net amount down to the step: 1.99 (0.008 less, within a step)
    assert inv.trades_match_account(account, {"SOL": 1.99}, books, owners, steps) == []
    # or booked the fill before its fee: 2.0 (0.002 more, the fee)
    assert inv.trades_match_account(account, {"SOL": 2.0}, books, owners, steps) == []
    assert inv.trades_match_account(account, {"SOL": 1.97}, books, owners, steps)
    assert inv.trades_match_account(account, {"SOL": 2.01}, books, owners, steps)


def test_every_filled_order_is_one_bots_once():
    ex = [
        {"orderId": 1, "symbol": "SOLUSDT", "side": "BUY", "executedQty": 2.0},
        {"orderId": 2, "symbol": "SOLUSDT", "side": "SELL", "executedQty": 0.0},  # expired
        {"orderId": 3, "symbol": "BTCUSDT", "side": "BUY", "executedQty": 0.01},
    ]
    known = {
        "p0": [_order("1", "SOL/USDT", "buy", 2.0, 1)],
        "p1": [_order("3", "BTC/USDT", "buy", 0.01, 1)],
    }
    assert inv.orders_known_once(ex, known) == []
    (lost,) = inv.orders_known_once(ex, {"p0": known["p0"]})
    assert "order 3" in lost and "no bot's" in lost
    (twice,) = inv.orders_known_once(ex, known | {"p2": known["p1"]})
    assert "claimed by ['p1', 'p2']" in twice
    (booked,) = inv.orders_known_once(ex, known | {"p0": [_order("1", "SOL/USDT", "buy", 1.5, 1)]})
    assert "booked 1.5 filled" in booked


LOG = """\
2026-12-07 19:44:48,353 - rebalance_plugin.ft - INFO - Rebalance (drift 6.56 points): sell 2.61 DOT (57.13 USDT). Weights LINK 26.4% DOT 46.6% -> LINK 30.0% DOT 40.0%
2026-12-07 19:44:49,982 - rebalance_plugin.ft - INFO - DOT: 0 of 2.61 filled by the limit order; the remaining 2.61 goes at market
2026-12-07 19:44:51,752 - rebalance_plugin.ft - INFO - Rebalance buys (drift 4.26 points): buy 2.23 LINK (31.26 USDT), buy 1e-05 BTC (0.50 USDT). Weights x -> y. Skipped: sell DOT (order value 2.94 is below the minimum order value 5.25)
2026-12-07 19:44:52,000 - freqtrade.freqtradebot - INFO - sell 3 DOT (1.00 USDT) is not the plugin's
"""  # noqa: E501


def _ms(clock: str) -> int:
    import datetime as dt

    return int(
        dt.datetime.strptime(f"2026-12-07 {clock}", "%Y-%m-%d %H:%M:%S,%f").timestamp() * 1000
    )


def test_the_legs_announced_are_read_from_the_log():
    assert inv.legs(LOG) == [
        inv.Leg(_ms("19:44:48,353"), "DOT", "SELL", 2.61),
        inv.Leg(_ms("19:44:51,752"), "LINK", "BUY", 2.23),
        inv.Leg(_ms("19:44:51,752"), "BTC", "BUY", 1e-05),
    ]


def test_an_order_filled_beyond_its_announced_leg_was_sent_twice():
    said = inv.legs(LOG)
    t = _ms("19:44:48,353")

    def order(oid, dt_ms, side, qty, symbol="DOTUSDT"):
        return {
            "orderId": oid,
            "symbol": symbol,
            "side": side,
            "executedQty": qty,
            "time": t + dt_ms,
        }

    first_buy = order(1, -5000, "BUY", 10.0)  # before the leg: the first buys
    ioc, rest = order(2, 100, "SELL", 1.0), order(3, 1700, "SELL", 1.61)  # 2.61 in two orders
    assert inv.sent_twice([first_buy, ioc, rest], said, {"DOT": 0.01}) == []
    (again,) = inv.sent_twice(
        [first_buy, ioc, rest, order(4, 2000, "SELL", 1.61)], said, {"DOT": 0.01}
    )
    assert "order 4 sent twice" in again and "4.22 filled" in again
    (wrong,) = inv.sent_twice([ioc, order(5, 300, "BUY", 0.5)], said, {})
    assert "order 5 BUY 0.5 DOT against the announced sell 2.61" in wrong
    # no leg read while the portfolio traded beyond its first buys: the check says so
    coins = {"DOT": 50, "LINK": 50}
    orders = [order(i, i, "SELL", 1.0) for i in range(5)]
    assert inv.legs_unread(orders[:4], [], coins) == []  # two orders a coin: the first buys
    (unread,) = inv.legs_unread(orders, [], coins)
    assert unread == "5 orders of ['DOT', 'LINK'] but no leg announced in the log"
    assert inv.legs_unread(orders, said, coins) == []


SIM_LOG = """\
2026-12-07 19:46:01,000 sim INFO POST /api/v3/order [symbol=SOLUSDT side=SELL type=LIMIT] -> 400 (2 ms) code=-2010 Account has insufficient balance for requested action. client=p1
2026-12-07 19:46:02,000 sim INFO POST /api/v3/order [symbol=SOLUSDT side=SELL type=LIMIT] -> 400 (2 ms) code=-2010 Account has insufficient balance for requested action. client=p1
2026-12-07 19:46:03,000 sim INFO POST /api/v3/order [symbol=BTCUSDT side=BUY type=LIMIT] -> 400 (1 ms) code=-1013 Filter failure: LOT_SIZE client=p0
2026-12-07 19:46:04,000 sim INFO POST /api/v3/order [symbol=BTCUSDT side=BUY type=MARKET] -> 200 (1 ms) client=p0
"""  # noqa: E501


def test_a_balance_refusal_needs_a_reject_fault_armed_for_it():
    refused = inv.refusals(SIM_LOG)
    assert [(r["symbol"], r["code"], r["client"]) for r in refused] == [
        ("SOLUSDT", "-2010", "p1"),
        ("SOLUSDT", "-2010", "p1"),
        ("BTCUSDT", "-1013", "p0"),
    ]
    fault = {"kind": "reject", "symbol": "SOLUSDT", "effect": "refused with -2010 Account ..."}
    (one,) = inv.balance_refusals(refused, [fault])  # one excused, the other not
    assert one.startswith("p1's SOLUSDT order refused")
    assert inv.balance_refusals(refused, [fault, fault]) == []
    other = dict(fault, symbol="BTCUSDT")
    assert len(inv.balance_refusals(refused, [other])) == 2


def test_drift_and_the_threshold():
    # 1 SOL at 60 and 40 USDT: SOL 60% against 50, 10 points over
    drift = inv.drifts(
        {"SOL": 50.0, "BTC": 50.0}, {"SOL": 1.0, "BTC": 0.0}, {"SOL": 60.0, "BTC": 1.0}, 40.0
    )
    assert drift == pytest.approx({"SOL": 10.0, "BTC": -50.0})
    assert inv.beyond_threshold("p0", {"SOL": 2.05, "BTC": -2.05}, 2.0) == []
    (bad,) = inv.beyond_threshold("p0", {"SOL": 2.2, "BTC": -2.2}, 2.0)
    assert "BTC -2.20, SOL +2.20" in bad


def test_a_message_said_twice_in_a_row_within_a_run():
    line = "2026-12-07 19:46:{:02d},000 - {} - INFO - {}"
    log = "\n".join(
        [
            line.format(1, "rebalance_plugin.ft", "Exchange unavailable"),
            line.format(2, "freqtrade.exchange", "retrying"),  # not the plugin's
            line.format(3, "rebalance_plugin.ft", "Exchange unavailable"),
            "  a continuation line",
            line.format(4, "freqtrade.loggers", "Logfile configured"),  # a restart
            line.format(5, "rebalance_plugin.ft", "Exchange unavailable"),
            line.format(6, "rebalance_plugin.ft", "Exchange back"),
            line.format(7, "rebalance_plugin.ft", "Exchange unavailable"),
        ]
    )
    assert inv.plugin_messages(log) == [
        ["Exchange unavailable", "Exchange unavailable\n  a continuation line"],
        ["Exchange unavailable", "Exchange back", "Exchange unavailable"],
    ]
    assert inv.repeated_messages("p0", log) == []  # the continuation makes it another text
    twice = log.replace("\n  a continuation line", "")
    (said,) = inv.repeated_messages("p0", twice)
    assert said == "p0 said twice in a row: 'Exchange unavailable'"


def test_the_schedule_draws_from_the_seed_alone():
    # the world's draws and the schedule's use their own generators: drawing more worlds in
    # between changes nothing
    a = Schedule(world(11))
    random.seed(0)
    world(12)
    b = Schedule(world(11))
    assert [a.next() for _ in range(20)] == [b.next() for _ in range(20)]


def test_an_error_in_a_bots_log_is_found_once():
    line = "2026-12-07 20:05:{:02d},000 - {} - {} - {}"
    log = "\n".join(
        [
            line.format(1, "freqtrade.strategy.strategy_wrapper", "ERROR", "Unexpected error X"),
            "Traceback (most recent call last):",
            line.format(2, "freqtrade.strategy.strategy_wrapper", "ERROR", "Unexpected error X"),
            line.format(
                3,
                "freqtrade.rpc.api_server.webserver",
                "ERROR",
                "API Error calling: Bot is not in the correct state",
            ),
            line.format(4, "freqtrade", "ERROR", "Could not load markets, therefore cannot start."),
            line.format(5, "rebalance_plugin.ft", "WARNING", "Could not fetch the tickers"),
        ]
    )
    assert inv.errors_logged("p0", log) == [
        "p0 logged freqtrade.strategy.strategy_wrapper ERROR: Unexpected error X"
    ]
