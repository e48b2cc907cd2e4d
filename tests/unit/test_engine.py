"""The two-phase decision loop (engine.step): sells first, buys once they have filled."""

from __future__ import annotations

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.engine import Snapshot, State, step
from rebalance_plugin.core.messages import SKIP_MESSAGE, describe
from rebalance_plugin.core.portfolio import Portfolio
from rebalance_plugin.core.rules import MarketRules

CFG = parse_rebalance_config({"coins": {"BTC": 50, "BNB": 50}, "investment": 1000, "threshold": 1})
RULES = {"BTC": MarketRules(min_notional=10), "BNB": MarketRules(min_notional=10)}
ONE = {"BTC": 1.0, "BNB": 1.0}


def snap(qty, cash, now=3600.0, busy=False, prices=None):
    return Snapshot(
        now=now,
        portfolio=Portfolio(qty, prices or {"BTC": 1.0, "BNB": 1.0}, cash),
        rules=RULES,
        fee=0.0,
        first_buy=0.0,
        busy=busy,
    )


def test_sells_first_then_buys_with_what_the_sells_freed():
    # BTC 450 / BNB 550, no fee: drift 5 > 1 -> sell 50 BNB now, buy BTC only next step.
    first = step(CFG, State(), snap({"BTC": 450, "BNB": 550}, 0.0))
    assert {c: (leg.side, leg.qty) for c, leg in first.orders.items()} == {"BNB": ("sell", 50)}
    assert first.state.phase == "selling" and first.state.rebalances == 1
    # While the sell is still open nothing else is sent.
    waiting = step(CFG, first.state, snap({"BTC": 450, "BNB": 550}, 0.0, busy=True))
    assert waiting.orders == {} and waiting.state == first.state
    # The sell filled: 50 cash. BTC's price rose 2% meanwhile: 50 cash buys 49.0196 BTC.
    second = step(
        CFG, first.state, snap({"BTC": 450, "BNB": 500}, 50.0, prices={"BTC": 1.02, "BNB": 1.0})
    )
    leg = second.orders["BTC"]
    assert (leg.side, leg.qty) == ("buy", pytest.approx(50 / 1.02))
    assert second.state.phase == "idle" and second.state.last_rebalance == 3600.0
    assert [e.kind for e in second.events] == ["buys"]


def test_no_leg_can_trade_reports_the_spec_message_once_per_episode():
    # 50.6 / 49.0 with 0.4 cash, 0.5-point threshold (BNB is 1 point off): a 0.6 sell and a
    # 1.0 buy, both under the 10 minimum.
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 50, "BNB": 50}, "investment": 100, "threshold": 0.5}
    )
    stuck = {"BTC": 50.6, "BNB": 49.0}
    out = step(cfg, State(), snap(stuck, 0.4))
    assert out.orders == {}
    (event,) = out.events
    assert event.kind == "skipped" and event.message == SKIP_MESSAGE
    # What would unblock it: the sell of 0.6 BTC needs 10 / 0.6 = 16.7x; the buy, sized from
    # the 0.4 cash there is (the sell being skipped), 10 / 0.4 = 25x. The nearest is the sell;
    # the portfolio is 50.6 + 49.0 + 0.4 = 100, so 100 x 16.67 = 1667.
    assert event.hint == (
        "The nearest leg, sell BTC for 0.60 USDT, needs 10.00 USDT: it trades once the drift is "
        "about 16.7x larger, or at this drift with a portfolio of about 1667 USDT (now 100 USDT)."
    )
    assert out.state.skipped_rebalances == 1
    # The next loops: the same legs are still too small. Nothing is said, nothing changes.
    for now in (3605.0, 3610.0, 7200.0):
        again = step(cfg, out.state, snap(stuck, 0.4, now=now))
        assert again.events == () and again.orders == {} and again.state == out.state
    # The drift falls under the threshold: the episode ends ...
    calm = step(cfg, out.state, snap({"BTC": 50.0, "BNB": 49.6}, 0.4, now=7300.0))
    assert calm.events == () and calm.state.skipping is None
    # ... and a new one is said again.
    later = step(cfg, calm.state, snap(stuck, 0.4, now=7400.0))
    assert [e.kind for e in later.events] == ["skipped"]
    assert later.state.skipped_rebalances == 2


def test_a_skip_with_other_legs_is_news():
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 50, "BNB": 50}, "investment": 100, "threshold": 0.5}
    )
    out = step(cfg, State(), snap({"BTC": 50.6, "BNB": 49.0}, 0.4))
    # BNB now overweight instead: sell BNB, buy BTC: other legs, said again.
    other = step(cfg, out.state, snap({"BTC": 49.0, "BNB": 50.6}, 0.4, now=3605.0))
    assert [e.kind for e in other.events] == ["skipped"]
    assert {(s.side, s.coin) for s in other.events[0].skipped} == {("sell", "BNB"), ("buy", "BTC")}


def test_a_skipped_buy_is_reported_once_when_the_buys_are_sized():
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 49, "ETH": 2, "BNB": 49}, "investment": 1000, "threshold": 1}
    )
    rules = {c: MarketRules(min_notional=10) for c in ("BTC", "ETH", "BNB")}
    # values 440 / 15 / 545 of 1000: BNB sells 55, BTC wants 50, ETH wants 5 (< 10: skipped).
    s1 = Snapshot(
        3600.0,
        Portfolio({"BTC": 440, "ETH": 15, "BNB": 545}, {"BTC": 1.0, "ETH": 1.0, "BNB": 1.0}, 0.0),
        rules,
        0.0,
        0.0,
    )
    first = step(cfg, State(), s1)
    assert first.events[0].skipped == ()  # buys not sized yet
    s2 = Snapshot(
        7200.0,
        Portfolio({"BTC": 440, "ETH": 15, "BNB": 490}, {"BTC": 1.0, "ETH": 1.0, "BNB": 1.0}, 55.0),
        rules,
        0.0,
        0.0,
    )
    second = step(cfg, first.state, s2)
    assert [(s.coin, s.side) for s in second.events[0].skipped] == [("ETH", "buy")]
    assert second.orders["BTC"].qty == pytest.approx(50)


def test_nothing_happens_before_the_first_buy_or_under_the_threshold():
    assert step(CFG, State(), Snapshot(0, Portfolio({}, {}, 1000), RULES, 0.0, None)).orders == {}
    out = step(CFG, State(), snap({"BTC": 495, "BNB": 505}, 0.0))  # drift 0.5 <= 1
    assert out.orders == {} and out.events == ()


def test_force_rebalances_under_the_threshold_and_invests_added_cash():
    # BTC 495 / BNB 505 is under the 1-point threshold; 1000 USDT were just added. Forced, the
    # plan buys BTC 1000 - 495 = 505 and BNB 1000 - 505 = 495 (no fee): the add funds example
    # of docs/how-it-works.md#worked-examples.
    out = step(
        CFG,
        State(),
        Snapshot(
            3600.0, Portfolio({"BTC": 495, "BNB": 505}, ONE, 1000.0), RULES, 0.0, 0.0, force=True
        ),
    )
    assert {c: (leg.side, round(leg.qty, 6)) for c, leg in out.orders.items()} == {
        "BTC": ("buy", 505.0),
        "BNB": ("buy", 495.0),
    }
    assert out.state.last_rebalance == 3600.0


def test_force_at_the_targets_does_nothing():
    out = step(
        CFG,
        State(),
        Snapshot(
            3600.0, Portfolio({"BTC": 500, "BNB": 500}, ONE, 0.0), RULES, 0.0, 0.0, force=True
        ),
    )
    assert out.orders == {} and out.events == ()


def test_withdrawal_sells_target_shares_then_reports_what_was_freed():
    # docs/how-it-works.md#worked-examples: targets XRP 5 / ETH 25 / BNB 70, holdings
    # 10 / 100 / 280, remove 50 -> sell BNB 35, ETH 12.5; XRP's 2.5 is under the 10 minimum and
    # skipped: 47.5 freed.
    cfg = parse_rebalance_config({"coins": {"XRP": 5, "ETH": 25, "BNB": 70}, "investment": 400})
    rules = {c: MarketRules(min_notional=10) for c in ("XRP", "ETH", "BNB")}
    prices = {"XRP": 1.0, "ETH": 1.0, "BNB": 1.0}
    first = step(
        cfg,
        State(),
        Snapshot(
            10.0,
            Portfolio({"XRP": 10, "ETH": 100, "BNB": 280}, prices, 3.0),
            rules,
            0.0,
            0.0,
            withdraw=50.0,
        ),
    )
    assert {c: leg.qty for c, leg in first.orders.items()} == {"ETH": 12.5, "BNB": 35.0}
    assert [(s.coin, s.side) for s in first.events[0].skipped] == [("XRP", "sell")]
    assert first.state.phase == "withdrawing"
    busy = step(
        cfg,
        first.state,
        Snapshot(
            11.0,
            Portfolio({"XRP": 10, "ETH": 100, "BNB": 280}, prices, 3.0),
            rules,
            0.0,
            0.0,
            busy=True,
        ),
    )
    assert busy.orders == {} and busy.withdrawn == 0.0
    done = step(
        cfg,
        first.state,
        Snapshot(
            12.0, Portfolio({"XRP": 10, "ETH": 87.5, "BNB": 245}, prices, 50.5), rules, 0.0, 0.0
        ),
    )
    assert done.withdrawn == pytest.approx(47.5) and done.state.phase == "idle"
    assert done.events[0].kind == "withdrawn"


def test_state_round_trips_through_plain_data():
    import json

    state = State(
        phase="selling",
        last_check=5.0,
        last_rebalance=4.0,
        pending_buys={"BTC": 12.5},
        rebalances=3,
        skipped_rebalances=1,
    )
    assert State.from_dict(json.loads(json.dumps(state.to_dict()))) == state


# --- threshold_mode and rebalance_to (issue 9) ---------------------------------------------------
DOGE_COINS = {"BTC": 60, "ETH": 35, "DOGE": 5}
DOGE_PRICES = {"BTC": 1.0, "ETH": 1.0, "DOGE": 1.0}
DOGE_RULES = {c: MarketRules(min_notional=5) for c in DOGE_COINS}


def doge_snap(qty, cash=0.0, now=3600.0, force=False):
    return Snapshot(now, Portfolio(qty, DOGE_PRICES, cash), DOGE_RULES, 0.0, 0.0, force=force)


def test_relative_threshold_rebalances_a_small_coin_that_absolute_lets_fall():
    # Targets 60/35/5 of 1000; DOGE fell from 50 to 10, ETH from 350 to 340: BTC 600 / ETH 340
    # / DOGE 10 = 950. Weights 63.16% / 35.79% / 1.05%.
    # absolute 5: drifts +3.16, +0.79, -3.95 points: nothing happens.
    # relative 20: DOGE is -3.95 / 5 = -78.95% of its target: rebalance to target (950 x
    # 60/35/5 = 570 / 332.5 / 47.5): sell BTC 30 and ETH 7.5, buy DOGE 37.5 once they filled.
    section = {"coins": DOGE_COINS, "investment": 1000, "threshold": 20}
    holdings = {"BTC": 600.0, "ETH": 340.0, "DOGE": 10.0}
    absolute = parse_rebalance_config({**section, "threshold": 5})
    assert step(absolute, State(), doge_snap(holdings)).orders == {}
    relative = parse_rebalance_config({**section, "threshold_mode": "relative"})
    out = step(relative, State(), doge_snap(holdings))
    assert {c: (leg.side, leg.qty) for c, leg in out.orders.items()} == {
        "BTC": ("sell", pytest.approx(30.0)),
        "ETH": ("sell", pytest.approx(7.5)),
    }
    assert out.state.pending_buys == {"DOGE": pytest.approx(37.5)}
    (event,) = out.events
    assert event.relative and event.drift == pytest.approx(78.947368, abs=1e-6)
    assert describe(event).startswith("Rebalance (drift 78.95% of target): sell 30 BTC")


def test_relative_band_buys_the_small_coin_back_to_its_lower_edge_only():
    # The same portfolio, relative 20, rebalance_to band: DOGE's band is 5% +- 20% of 5% =
    # 4% to 6%. DOGE buys to 4% of 950 = 38 (28); the 28 come from the coin furthest above its
    # target in relative terms, BTC (+3.16 / 60 = +5.3%; ETH +0.79 / 35 = +2.3%), which sells
    # 28 (to 572, still above its 570). Turnover 56 instead of the target's 75.
    cfg = parse_rebalance_config(
        {
            "coins": DOGE_COINS,
            "investment": 1000,
            "threshold": 20,
            "threshold_mode": "relative",
            "rebalance_to": "band",
        }
    )
    first = step(cfg, State(), doge_snap({"BTC": 600.0, "ETH": 340.0, "DOGE": 10.0}))
    assert {c: (leg.side, leg.qty) for c, leg in first.orders.items()} == {
        "BTC": ("sell", pytest.approx(28.0))
    }
    assert first.state.phase == "selling"
    # the sale filled: 28 cash; phase 2 buys DOGE for it
    second = step(
        cfg, first.state, doge_snap({"BTC": 572.0, "ETH": 340.0, "DOGE": 10.0}, 28.0, 7200.0)
    )
    assert {c: (leg.side, leg.qty) for c, leg in second.orders.items()} == {
        "DOGE": ("buy", pytest.approx(28.0))
    }
    # DOGE 38 of 950: 4%, on its lower edge: the next candle at these prices does nothing
    calm = step(
        cfg, second.state, doge_snap({"BTC": 572.0, "ETH": 340.0, "DOGE": 38.0}, 0.0, 10800.0)
    )
    assert calm.orders == {} and calm.events == ()


BAND_CFG = parse_rebalance_config(
    {"coins": {"BTC": 50, "BNB": 50}, "investment": 1000, "threshold": 1, "rebalance_to": "band"}
)


def test_band_sells_to_the_edge_then_buys_with_what_the_sale_freed():
    # BTC 450 / BNB 550, threshold 1, band: BNB (+5 points) sells to 51% of 1000 = 510 (40);
    # BTC (-5, off too) buys to 49% = 490 (40). Target mode sells 50 and buys 50.
    first = step(BAND_CFG, State(), snap({"BTC": 450, "BNB": 550}, 0.0))
    assert {c: (leg.side, leg.qty) for c, leg in first.orders.items()} == {
        "BNB": ("sell", pytest.approx(40.0))
    }
    assert first.state.pending_buys == {"BTC": pytest.approx(40.0)}
    second = step(BAND_CFG, first.state, snap({"BTC": 450, "BNB": 510}, 40.0, now=7200.0))
    assert second.orders["BTC"].qty == pytest.approx(40.0)


def test_funds_added_still_go_to_the_targets_with_rebalance_to_band():
    # docs/configuration.md#the-rebalance-section (rebalance_to): forced by added funds, a band
    # portfolio invests them at the targets: BTC 495 / BNB 505 + 1000 cash -> buy BTC 505 and
    # BNB 495 (both end at 1000), as in target mode.
    out = step(
        BAND_CFG,
        State(),
        Snapshot(
            3600.0, Portfolio({"BTC": 495, "BNB": 505}, ONE, 1000.0), RULES, 0.0, 0.0, force=True
        ),
    )
    assert {c: (leg.side, round(leg.qty, 6)) for c, leg in out.orders.items()} == {
        "BTC": ("buy", 505.0),
        "BNB": ("buy", 495.0),
    }


def test_an_interval_trigger_with_band_trades_back_to_interval_min_drift():
    # interval 1d, interval_min_drift 2, band: at the first check (first buy + 1 day) BTC 530 /
    # BNB 470 is 3 points off: BTC sells to 52% = 520 (10), BNB buys to 48% = 480 (10).
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 50, "BNB": 50},
            "investment": 1000,
            "trigger": "interval",
            "interval": "1d",
            "interval_min_drift": 2,
            "rebalance_to": "band",
        }
    )
    assert step(cfg, State(), snap({"BTC": 530, "BNB": 470}, 0.0, now=3600.0)).orders == {}
    out = step(cfg, State(), snap({"BTC": 530, "BNB": 470}, 0.0, now=86400.0))
    assert {c: (leg.side, leg.qty) for c, leg in out.orders.items()} == {
        "BTC": ("sell", pytest.approx(10.0))
    }
    assert out.state.pending_buys == {"BNB": pytest.approx(10.0)}


def test_messages_and_journal_say_the_drift_in_the_modes_unit():
    from rebalance_plugin.core.engine import Event
    from rebalance_plugin.core.journal import record

    skipped = Event("skipped", 0.0, 26.0, {}, {}, message=SKIP_MESSAGE, relative=True)
    assert describe(skipped) == f"Rebalance skipped (drift 26.00% of target): {SKIP_MESSAGE}"
    assert record(skipped)["drift_unit"] == "% of target"
    points = Event("skipped", 0.0, 5.2, {}, {}, message=SKIP_MESSAGE)
    assert describe(points) == f"Rebalance skipped (drift 5.20 points): {SKIP_MESSAGE}"
    assert "drift_unit" not in record(points)  # absolute: the record as before
