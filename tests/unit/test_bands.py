"""``rebalance_to: "band"`` (issue 9): a triggered rebalance trades only the coins off their band,
back to its edge, and balances the money with the coins furthest from their targets.

Every expected number is worked out by hand in the comments (prices 1 unless said, so values are
quantities). ``execute`` is the test's own model of the exchange, as in test_plan.py: a sell of q
at p adds q*p*(1-fee) cash, a buy costs q*p*(1+fee).
"""

from __future__ import annotations

import random

import pytest

from rebalance_plugin.core.plan import BandLimits, band_limits, band_values, plan_rebalance
from rebalance_plugin.core.portfolio import Band, Portfolio
from rebalance_plugin.core.rules import MarketRules

BALANCED = {"BTC": 0.40, "ETH": 0.30, "BNB": 0.15, "SOL": 0.15}
ONE = dict.fromkeys(("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE"), 1.0)


def legs(plan) -> dict:
    return {(leg.coin, leg.side): pytest.approx(leg.qty, abs=1e-9) for leg in plan.legs}


def execute(portfolio: Portfolio, plan, fee: float = 0.0) -> tuple[dict, float]:
    qty = dict(portfolio.quantities)
    cash = portfolio.cash
    for leg in plan.sells:
        assert leg.qty <= qty[leg.coin]
        qty[leg.coin] -= leg.qty
        cash += leg.qty * leg.price * (1 - fee)
    for leg in plan.buys:
        qty[leg.coin] = qty.get(leg.coin, 0.0) + leg.qty
        cash -= leg.qty * leg.price * (1 + fee)
    return qty, cash


# --- the worked example: band turnover against target turnover -----------------------------------


def test_band_sells_only_back_to_the_edge_a_sixth_of_the_target_turnover():
    # Balanced growth 40/30/15/15, 1000 USDT: BTC 380 / ETH 290 / BNB 120 / SOL 210.
    # Drift (points): BTC -2, ETH -1, BNB -3, SOL +6: SOL is off a 5-point threshold.
    p = Portfolio({"BTC": 380.0, "ETH": 290.0, "BNB": 120.0, "SOL": 210.0}, ONE)
    # target: SOL sells 210 - 150 = 60; BTC buys 20, ETH 10, BNB 30. Turnover 60 + 60 = 120.
    to_target = plan_rebalance(p, BALANCED)
    assert legs(to_target) == {
        ("SOL", "sell"): 60.0,
        ("BTC", "buy"): 20.0,
        ("ETH", "buy"): 10.0,
        ("BNB", "buy"): 30.0,
    }
    assert to_target.turnover == pytest.approx(120.0)
    # band: SOL sells only to the edge, 15 + 5 = 20% of 1000 = 200: 10. The 10 freed buy the
    # coin furthest below its target, BNB (-3 points), up to at most its target (room 30):
    # BNB 130. BTC and ETH, inside the band, are left alone. Turnover 10 + 10 = 20.
    to_band = plan_rebalance(p, BALANCED, band=Band(5))
    assert legs(to_band) == {("SOL", "sell"): 10.0, ("BNB", "buy"): 10.0}
    assert to_band.turnover == pytest.approx(20.0)
    qty, cash = execute(p, to_band)
    assert qty == {"BTC": 380.0, "ETH": 290.0, "BNB": 130.0, "SOL": 200.0} and cash == 0.0


def test_relative_band_edge_is_a_share_of_the_target():
    # The same portfolio, threshold 20 relative: bands BTC 32-48, ETH 24-36, BNB 12-18,
    # SOL 12-18 (%). Drift (% of target): BTC -2/40 = -5%, ETH -1/30 = -3.3%, BNB -3/15 = -20%
    # (exactly at the edge: in the band), SOL +6/15 = +40%: SOL is off.
    # SOL sells to 18% = 180: 30. The 30 buy the coin furthest below in relative terms, BNB
    # (-20%), up to its target 150 (room 30). Turnover 60, half of the target's 120.
    p = Portfolio({"BTC": 380.0, "ETH": 290.0, "BNB": 120.0, "SOL": 210.0}, ONE)
    plan = plan_rebalance(p, BALANCED, band=Band(20, relative=True))
    assert legs(plan) == {("SOL", "sell"): 30.0, ("BNB", "buy"): 30.0}
    assert plan.turnover == pytest.approx(60.0)


def test_an_underweight_coin_is_bought_to_the_lower_edge_with_the_furthest_coin_above():
    # BTC 415 / ETH 325 / BNB 170 / SOL 90: +1.5, +2.5, +2, -6 points: SOL is off below.
    # target: SOL buys 60; BTC sells 15, ETH 25, BNB 20: turnover 120.
    # band: SOL buys to 15 - 5 = 10% = 100: 10, paid by the coin furthest above, ETH (+2.5),
    # which sells 10 (to 315, still above its 300). Turnover 20.
    p = Portfolio({"BTC": 415.0, "ETH": 325.0, "BNB": 170.0, "SOL": 90.0}, ONE)
    assert plan_rebalance(p, BALANCED).turnover == pytest.approx(120.0)
    plan = plan_rebalance(p, BALANCED, band=Band(5))
    assert legs(plan) == {("ETH", "sell"): 10.0, ("SOL", "buy"): 10.0}
    assert [leg.side for leg in plan.legs] == ["sell", "buy"]  # sells first, as ever


def test_money_left_after_the_edges_goes_to_the_coins_furthest_below_up_to_their_target():
    # Four coins at 25%, threshold 5: A 360 (+11), B 190 (-6), C 190 (-6), D 260 (+1).
    # Edges: A sells to 30% = 300 (60); B and C buy to 20% = 200 (10 each). 60 - 20 = 40 left:
    # the coins below target, furthest first (B and C tie at -6: config order, B first), up
    # to the target: B room 250 - 200 = 50 >= 40 -> B buys 40 more, 50 in all (B 240 = 24%).
    # Turnover 60 + 50 + 10 = 120; to target: A -110, D -10, B +60, C +60 = 240.
    targets = dict.fromkeys("ABCD", 0.25)
    p = Portfolio({"A": 360.0, "B": 190.0, "C": 190.0, "D": 260.0}, dict.fromkeys("ABCD", 1.0))
    plan = plan_rebalance(p, targets, band=Band(5))
    assert legs(plan) == {("A", "sell"): 60.0, ("B", "buy"): 50.0, ("C", "buy"): 10.0}
    assert plan.turnover == pytest.approx(120.0)
    assert plan_rebalance(p, targets).turnover == pytest.approx(240.0)


def test_band_with_fees_ends_at_the_edge_of_the_portfolio_after_fees_and_spends_all():
    # The first example with a 0.1% fee. The portfolio after fees is T'; SOL ends at 0.20 T'
    # and BNB takes what is left: 0.8 T' - (380 + 290 + 120) = 0.8 T' - 790.
    # Turnover = (210 - 0.2 T') + (0.8 T' - 790) = 0.6 T' - 580, and T' = 1000 - 0.001 x
    # turnover -> T' = (1000 + 0.58) / 1.0006 = 999.980012 -> SOL sells 210 - 199.996002 =
    # 10.003998, BNB buys 799.984010 - 790 = 9.984010.
    # Cash: 10.003998 x 0.999 - 9.984010 x 1.001 = 9.993994 - 9.993994 = 0.
    fee = 0.001
    p = Portfolio({"BTC": 380.0, "ETH": 290.0, "BNB": 120.0, "SOL": 210.0}, ONE)
    plan = plan_rebalance(p, BALANCED, fee=fee, band=Band(5))
    got = {(leg.coin, leg.side): leg.qty for leg in plan.legs}
    assert got == {
        ("SOL", "sell"): pytest.approx(10.003998, abs=1e-6),
        ("BNB", "buy"): pytest.approx(9.984010, abs=1e-6),
    }
    qty, cash = execute(p, plan, fee)
    assert cash == pytest.approx(0.0, abs=1e-9)
    # SOL is exactly at its edge of the portfolio after fees: 200 - 0.004 of 999.98 = 20.00%
    assert qty["SOL"] / (sum(qty.values()) + cash) == pytest.approx(0.20, abs=1e-12)


def test_a_held_coin_without_target_is_sold_and_its_money_fills_the_coins_below():
    # BTC 450 / ETH 450 / DOGE 100, targets BTC/ETH 50/50, band 5: DOGE (target 0) is sold
    # entirely; BTC and ETH (-5 points: at the edge, not off) take the 100, BTC first (tie,
    # config order) up to its target (room 50), then ETH (50).
    p = Portfolio({"BTC": 450.0, "ETH": 450.0, "DOGE": 100.0}, ONE)
    plan = plan_rebalance(p, {"BTC": 0.5, "ETH": 0.5}, band=Band(5))
    assert legs(plan) == {("DOGE", "sell"): 100.0, ("BTC", "buy"): 50.0, ("ETH", "buy"): 50.0}


# --- exchange minimums ---------------------------------------------------------------------------


def test_band_limits_from_binance_rules():
    # BTC at 64000: step 1e-5 (0.64 USDT), min quantity 1.05e-5 (0.672 USDT), min 5.25 USDT.
    # SOL at 169: step 0.01 (1.69 USDT), min quantity 0.0105 (1.7745 USDT), min 5.25 USDT.
    # least = 5.25, largest step = 1.69: min_leg = 5.25 + 1.69 = 6.94;
    # min_trade = (5.25 + 2 x 1.69) x 1.001 / 0.999 = 8.63 x 1.002002 = 8.647277.
    rules = {
        "BTC": MarketRules(qty_step=1e-5, min_qty=1.05e-5, min_notional=5.25),
        "SOL": MarketRules(qty_step=0.01, min_qty=0.0105, min_notional=5.25),
    }
    limits = band_limits(["BTC", "SOL"], {"BTC": 64000.0, "SOL": 169.0}, rules, 0.001)
    assert limits.min_leg == pytest.approx(6.94)
    assert limits.min_trade == pytest.approx(8.647277, abs=1e-6)
    assert limits.step == {"BTC": pytest.approx(0.64), "SOL": pytest.approx(1.69)}
    assert band_limits(["BTC"], {"BTC": 64000.0}, {}, 0.001) == BandLimits(0.0, 0.0, {"BTC": 0.0})


RULES_5 = {c: MarketRules(qty_step=0.01, min_notional=5) for c in ONE}


def test_a_leg_to_the_edge_under_the_minimum_trades_the_minimum_instead():
    # Minimum order 5, step 0.01, no fee: min_trade = 5 + 2 x 0.01 = 5.02, min_leg 5.01.
    # BTC 385 / ETH 292 / BNB 120 / SOL 203: SOL +5.3 points, off. To one step inside the edge
    # (200 - 0.01) it would sell 3.01, under the minimum: skipped, and again at every tick past
    # the edge. Instead it sells 5.02 (to 197.98, inside); BNB (-3, furthest below) buys 5.02.
    p = Portfolio({"BTC": 385.0, "ETH": 292.0, "BNB": 120.0, "SOL": 203.0}, ONE)
    plan = plan_rebalance(p, BALANCED, RULES_5, band=Band(5))
    assert legs(plan) == {("SOL", "sell"): 5.02, ("BNB", "buy"): 5.02}
    assert plan.skipped == ()


def test_never_past_the_target_even_when_that_leg_is_under_the_minimum():
    # Band 0.1 point: BTC 399.4 (-0.06) / ETH 299.3 (-0.07) / BNB 149.3 (-0.07) / SOL 152
    # (+0.2: off). SOL would sell 5.02, but 2 take it to its target 150: it sells 2 and stops.
    # The 2 freed are less than min_leg (5.01) for any buy: they would stay cash. And the sale
    # itself is under the minimum order of 5: skipped, with the message of
    # docs/how-it-works.md#exchange-rules.
    q = Portfolio({"BTC": 399.4, "ETH": 299.3, "BNB": 149.3, "SOL": 152.0}, ONE)
    plan = plan_rebalance(q, BALANCED, RULES_5, band=Band(0.1))
    assert plan.legs == () and [(s.coin, s.side) for s in plan.skipped] == [("SOL", "sell")]
    assert plan.skipped[0].value == pytest.approx(2.0)
    assert plan.message is not None


def test_a_coin_with_less_room_than_a_leg_is_passed_over():
    # Relative band 20; targets BTC 40 / ETH 30 / SOL 25 / XRP 5; rules as above.
    # BTC 370 (-7.5%), ETH 280 (-6.7%), SOL 305 (+22%: off, edge 30% = 300), XRP 45 (-10%).
    # SOL sells max(5, 5.02) = 5.02. The coin furthest below is XRP (-10%), but its room to
    # target is 50 - 45 = 5 < min_leg 5.01: a 5-USDT leg would not clear the minimum once
    # rounded. Next is BTC (-7.5%, room 30): it buys the 5.02.
    targets = {"BTC": 0.40, "ETH": 0.30, "SOL": 0.25, "XRP": 0.05}
    p = Portfolio({"BTC": 370.0, "ETH": 280.0, "SOL": 305.0, "XRP": 45.0}, ONE)
    plan = plan_rebalance(p, targets, RULES_5, band=Band(20, relative=True))
    assert legs(plan) == {("SOL", "sell"): 5.02, ("BTC", "buy"): 5.02}


def test_cash_goes_to_the_coin_below_and_a_short_sale_is_raised_to_the_minimum():
    # Rules as above (min_trade 5.02, min_leg 5.01, step 0.01), band 5.
    # (a) BTC 412 / ETH 300 / BNB 150 / SOL 96, cash 42 (1000 in all): SOL is -5.4 points,
    # off: it buys to max(edge + step 100.01, 96 + 5.02) = 101.02. The rest, 1000 - (412 +
    # 300 + 150 + 101.02) = 36.98, is money over: it goes to the coins below target, furthest
    # first; only SOL is below (ETH and BNB are at target): SOL takes it too, 42 in all (138).
    p = Portfolio({"BTC": 412.0, "ETH": 300.0, "BNB": 150.0, "SOL": 96.0}, ONE, cash=42.0)
    assert legs(plan_rebalance(p, BALANCED, RULES_5, band=Band(5))) == {("SOL", "buy"): 42.0}
    # (b) BTC 445 (+4.5) / ETH 300 / BNB 157 (+0.7) / SOL 96 (-5.4), cash 2. SOL buys 5.02;
    # rest = 1000 - (445 + 300 + 157 + 101.02) = -3.02: money short (the cash pays 2 of the
    # 5.02). The coin furthest above, BTC, sells max(3.02, min_leg 5.01) = 5.01: a sale of
    # 3.02 would be under the minimum. 2 + 5.01 - 5.02 = 1.99 stays cash.
    r = Portfolio({"BTC": 445.0, "ETH": 300.0, "BNB": 157.0, "SOL": 96.0}, ONE, cash=2.0)
    plan = plan_rebalance(r, BALANCED, RULES_5, band=Band(5))
    assert legs(plan) == {("BTC", "sell"): 5.01, ("SOL", "buy"): 5.02}
    _, cash = execute(r, plan)
    assert cash == pytest.approx(1.99)


# --- what a band rebalance never does ------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
def test_no_coin_crosses_its_target_or_leaves_the_band(relative):
    """500 random portfolios of five coins (seeded): after a band rebalance without exchange
    rules (a 0.1% fee), every coin off its band is at its edge, every coin in the band stays
    in it and moves only towards its target, and the coins add up to the portfolio after fees."""
    rng = random.Random(9)
    targets = {"A": 0.35, "B": 0.25, "C": 0.2, "D": 0.15, "E": 0.05}
    for _ in range(500):
        width = rng.choice([1, 2, 5, 10, 20])
        band = Band(width, relative)
        values = {c: rng.uniform(0.3, 1.7) * t * 1000 for c, t in targets.items()}
        total = sum(values.values())
        t_after = total * (1 - rng.uniform(0, 0.002))
        end = band_values(values, targets, total, t_after, band)
        assert sum(end.values()) == pytest.approx(t_after, rel=1e-9)
        for c, t in targets.items():
            lo, hi = (t - band.half(t)) * t_after, (t + band.half(t)) * t_after
            before = band.drift(values[c] / total, t)
            v, e = values[c], end[c]
            if before > width + 1e-9:  # off above: at most at the edge, never under target
                assert t * t_after - 1e-6 <= e <= max(hi, t * t_after) + 1e-6
                assert e <= v + 1e-9
            elif before < -width - 1e-9:  # off below
                assert min(lo, t * t_after) - 1e-6 <= e <= t * t_after + 1e-6
                assert e >= v - 1e-9
            else:  # in the band: stays, or moves towards the target, never past it
                assert min(v, t * t_after) - 1e-6 <= e <= max(v, t * t_after) + 1e-6


def test_band_with_binance_steps_and_fee_never_overspends():
    # Balanced growth at real-looking prices, SOL up: every leg rounded down, the buys never
    # cost more than the sells freed.
    prices = {"BTC": 43210.5, "ETH": 2345.6, "BNB": 312.7, "SOL": 101.3}
    rules = {
        "BTC": MarketRules(qty_step=1e-5, min_qty=1.05e-5, min_notional=5.25),
        "ETH": MarketRules(qty_step=1e-4, min_qty=1.05e-4, min_notional=5.25),
        "BNB": MarketRules(qty_step=1e-3, min_qty=1.05e-3, min_notional=5.25),
        "SOL": MarketRules(qty_step=1e-2, min_qty=1.05e-2, min_notional=5.25),
    }
    # values: BTC 0.00879 x 43210.5 = 379.82, ETH 0.1236 x 2345.6 = 289.92,
    # BNB 0.384 x 312.7 = 120.08, SOL 2.07 x 101.3 = 209.69 (20.98% of 999.5): SOL is off.
    p = Portfolio({"BTC": 0.00879, "ETH": 0.1236, "BNB": 0.384, "SOL": 2.07}, prices)
    plan = plan_rebalance(p, BALANCED, rules, fee=0.001, band=Band(5))
    assert [(leg.coin, leg.side) for leg in plan.legs] == [("SOL", "sell"), ("BNB", "buy")]
    qty, cash = execute(p, plan, 0.001)
    assert cash >= 0.0
    total = sum(qty[c] * prices[c] for c in qty) + cash
    # SOL aims one step (1.013 USDT, 0.101 point) inside its 20% edge and its sale is rounded
    # down: it ends inside the band, within two steps of the edge (so the next candle does
    # not trigger again at once)
    assert 0.20 - 2 * 1.013 / total <= qty["SOL"] * prices["SOL"] / total < 0.20
