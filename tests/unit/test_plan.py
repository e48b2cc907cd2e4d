"""The rebalance plan (docs/how-it-works.md#the-plan, #exchange-rules, #worked-examples): which
coins are sold and bought, how much, and what the portfolio holds after the trades.

The expected numbers are worked out by hand in the comments. ``execute`` below is the test's own
model of the exchange: a sell of q coins at price p adds q*p*(1-fee) cash, a buy of q coins costs
q*p*(1+fee).
"""

import math

import pytest

from rebalance_plugin.core.funds import FundsError, check_fund_change
from rebalance_plugin.core.plan import (
    freed,
    plan_deposit,
    plan_rebalance,
    plan_withdrawal,
    post_fee_total,
    size_buys,
)
from rebalance_plugin.core.portfolio import Portfolio
from rebalance_plugin.core.rules import MarketRules
from rebalance_plugin.core.texts import SKIP_MESSAGE

SPEC_MESSAGE = (
    "The order value is less than the minimum value, and is unable to rebalance this time."
)
HALF_HALF = {"BTC": 0.5, "BNB": 0.5}
ONE = {"BTC": 1.0, "BNB": 1.0}
BINANCE = {"BTC": MarketRules(qty_step=1e-05), "BNB": MarketRules(qty_step=0.001)}


def execute(portfolio: Portfolio, plan, fee: float = 0.0) -> tuple[dict, float]:
    """Fill the plan's sells then buys at their prices: (quantities after, cash after)."""
    qty = dict(portfolio.quantities)
    cash = portfolio.cash
    for leg in plan.sells:
        assert leg.side == "sell"
        assert leg.qty <= qty[leg.coin], f"sells {leg.qty} {leg.coin}, holds {qty[leg.coin]}"
        qty[leg.coin] -= leg.qty
        cash += leg.qty * leg.price * (1 - fee)
    for leg in plan.buys:
        assert leg.side == "buy"
        qty[leg.coin] = qty.get(leg.coin, 0.0) + leg.qty
        cash -= leg.qty * leg.price * (1 + fee)
    return qty, cash


def legs(plan) -> dict:
    return {(leg.coin, leg.side): leg.qty for leg in plan.legs}


# --- threshold example (docs/how-it-works.md#worked-examples) -------------------------------------


def test_spec_threshold_example_sells_bnb_buys_btc_both_end_at_500():
    # BTC 450 / BNB 550, target 50/50 of 1000 = 500 each:
    # sell 550-500 = 50 BNB, buy 500-450 = 50 BTC
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    plan = plan_rebalance(p, HALF_HALF)
    assert legs(plan) == {("BNB", "sell"): 50.0, ("BTC", "buy"): 50.0}
    assert plan.turnover == 100.0  # 50 + 50: only the difference is traded
    assert plan.message is None and plan.skipped == ()
    qty, cash = execute(p, plan)
    assert qty == {"BTC": 500.0, "BNB": 500.0}
    assert cash == 0.0


def test_sells_come_before_buys():
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    plan = plan_rebalance(p, HALF_HALF)
    assert [leg.side for leg in plan.legs] == ["sell", "buy"]


def test_spec_threshold_example_with_real_prices_and_binance_steps():
    # 0.009 BTC at 50000 = 450; 1.1 BNB at 500 = 550.
    # Sell 50 / 500 = 0.1 BNB (100 steps of 0.001); buy 50 / 50000 = 0.001 BTC (100 steps of 1e-5)
    p = Portfolio({"BTC": 0.009, "BNB": 1.1}, {"BTC": 50000.0, "BNB": 500.0})
    plan = plan_rebalance(p, HALF_HALF, BINANCE)
    assert legs(plan) == {("BNB", "sell"): 0.1, ("BTC", "buy"): 0.001}
    qty, cash = execute(p, plan)
    # BTC 0.009 + 0.001 = 0.01 (500), BNB 1.1 - 0.1 = 1.0 (500), cash 50 - 50 = 0
    assert qty["BTC"] == pytest.approx(0.01, abs=1e-12)
    assert qty["BNB"] == pytest.approx(1.0, abs=1e-12)
    assert cash == pytest.approx(0.0, abs=1e-9)


def test_threshold_example_with_uneven_prices_rounds_every_leg_down_to_its_step():
    # BTC 0.01 at 43210.5 = 432.105; BNB 1.8 at 312.7 = 562.86; total 994.965, target 497.4825 each.
    # Sell BNB: 562.86 - 497.4825 = 65.3775 -> 65.3775 / 312.7 = 0.20907... -> 0.209 BNB
    #   (312.7 * 0.209 = 65.3543; 312.7 * 0.210 = 65.667 > 65.3775).
    # Buy BTC: wants 497.4825 - 432.105 = 65.3775 but only 65.3543 came in -> 65.3543 / 43210.5
    #   = 0.0015124... -> 0.00151 BTC (43210.5 * 0.00151 = 65.247855; * 0.00152 = 65.67996).
    p = Portfolio({"BTC": 0.01, "BNB": 1.8}, {"BTC": 43210.5, "BNB": 312.7})
    plan = plan_rebalance(p, HALF_HALF, BINANCE)
    assert legs(plan) == {("BNB", "sell"): 0.209, ("BTC", "buy"): 0.00151}
    qty, cash = execute(p, plan)
    # BTC 0.01 + 0.00151 = 0.01151; BNB 1.8 - 0.209 = 1.591; cash 65.3543 - 65.247855 = 0.106445
    assert qty["BTC"] == pytest.approx(0.01151, abs=1e-12)
    assert qty["BNB"] == pytest.approx(1.591, abs=1e-12)
    assert cash == pytest.approx(0.106445, abs=1e-9)


def test_real_prices_buy_the_exact_number_of_steps():
    # 0.00875 BTC at 40000 = 350; 1.3 BNB at 500 = 650; target 500 each.
    # Sell 150 / 500 = 0.3 BNB; buy 150 / 40000 = 0.00375 BTC (exactly 375 steps of 1e-5)
    p = Portfolio({"BTC": 0.00875, "BNB": 1.3}, {"BTC": 40000.0, "BNB": 500.0})
    plan = plan_rebalance(p, HALF_HALF, BINANCE)
    assert legs(plan) == {("BNB", "sell"): 0.3, ("BTC", "buy"): 0.00375}


def test_portfolio_on_target_plans_nothing():
    p = Portfolio({"BTC": 500.0, "BNB": 500.0}, ONE)
    plan = plan_rebalance(p, HALF_HALF)
    assert plan.legs == () and plan.skipped == () and plan.message is None


# --- fees -----------------------------------------------------------------------------------------


def test_spec_example_with_fee_ends_with_equal_coins_and_no_cash():
    # fee f = 0.001. Sell q (value) of BNB, spend all proceeds q(1-f) on BTC, which buys
    # b = q(1-f)/(1+f) of BTC. Equal end values: 550 - q = 450 + q(1-f)/(1+f)
    #   -> 100 = q (1 + (1-f)/(1+f)) = q * 2/(1+f) -> q = 50 (1+f) = 50.05
    #   -> b = 50.05 * 0.999 / 1.001 = 50 * 0.999 = 49.95
    # Both end at 550 - 50.05 = 450 + 49.95 = 499.95; fees 0.05005 + 0.04995 = 0.1 = 1000 - 999.9
    fee = 0.001
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    plan = plan_rebalance(p, HALF_HALF, fee=fee)
    got = legs(plan)
    assert got[("BNB", "sell")] == pytest.approx(50.05, abs=1e-9)
    assert got[("BTC", "buy")] == pytest.approx(49.95, abs=1e-9)
    qty, cash = execute(p, plan, fee)
    assert qty["BTC"] == pytest.approx(499.95, abs=1e-9)
    assert qty["BNB"] == pytest.approx(499.95, abs=1e-9)
    assert cash == pytest.approx(0.0, abs=1e-9)
    assert cash >= -1e-9  # never overspends


def test_fee_with_a_rounded_down_sell_never_overspends_the_proceeds():
    # Spec example, fee 0.001, BNB step 1, BTC step 0.001 (price 1).
    # Post-fee total 999.9 -> 499.95 each: sell 550 - 499.95 = 50.05 BNB -> floored to 50 BNB.
    # Proceeds 50 * 0.999 = 49.95. BTC wants 49.95, which would cost 49.95 * 1.001 = 49.99995 >
    # 49.95, so it is scaled to what 49.95 pays for: 49.95 / 1.001 = 49.9000999 -> 49.9 BTC.
    # Cost 49.9 * 1.001 = 49.9499 -> 0.0001 cash left; BTC 450 + 49.9 = 499.9, BNB 500.
    fee = 0.001
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    rules = {"BNB": MarketRules(qty_step=1.0), "BTC": MarketRules(qty_step=0.001)}
    plan = plan_rebalance(p, HALF_HALF, rules, fee)
    assert legs(plan) == {("BNB", "sell"): 50.0, ("BTC", "buy"): 49.9}
    qty, cash = execute(p, plan, fee)
    assert qty["BTC"] == pytest.approx(499.9, abs=1e-9)
    assert qty["BNB"] == 500.0
    assert cash == pytest.approx(0.0001, abs=1e-9)


def test_post_fee_total_of_the_spec_example():
    # T' = 1000 - 0.001 * (|0.5T' - 450| + |0.5T' - 550|) = 1000 - 0.001 * 100 = 999.9
    assert post_fee_total(1000.0, {"BTC": 450.0, "BNB": 550.0}, HALF_HALF, 0.001) == pytest.approx(
        999.9, abs=1e-9
    )


def test_initial_buy_with_fee_spends_exactly_the_investment():
    # Empty portfolio, 1000 cash, weights 40/30/15/15, fee 0.001: every coin gets w * 1000/1.001
    # and the buys cost sum(w) * 1000/1.001 * 1.001 = 1000.
    #   BTC 400/1.001 = 399.6003996..., ETH 300/1.001 = 299.7002997...,
    #   BNB = SOL = 150/1.001 = 149.8501498...
    fee = 0.001
    prices = {"BTC": 50000.0, "ETH": 2500.0, "BNB": 500.0, "SOL": 100.0}
    targets = {"BTC": 0.40, "ETH": 0.30, "BNB": 0.15, "SOL": 0.15}
    p = Portfolio({}, prices, cash=1000.0)
    plan = plan_rebalance(p, targets, fee=fee)
    assert plan.sells == ()
    got = legs(plan)
    assert got[("BTC", "buy")] == pytest.approx(400 / 1.001 / 50000, rel=1e-12)
    assert got[("ETH", "buy")] == pytest.approx(300 / 1.001 / 2500, rel=1e-12)
    assert got[("BNB", "buy")] == pytest.approx(150 / 1.001 / 500, rel=1e-12)
    assert got[("SOL", "buy")] == pytest.approx(150 / 1.001 / 100, rel=1e-12)
    qty, cash = execute(p, plan, fee)
    assert cash == pytest.approx(0.0, abs=1e-9)
    assert cash >= -1e-9


def test_initial_buy_with_fee_and_binance_steps():
    # As above, then each quantity floored to its step:
    #   BTC 399.6003996 / 50000 = 0.0079920... -> 0.00799 (step 1e-5)
    #   ETH 299.7002997 / 2500  = 0.1198801... -> 0.1198  (step 1e-4)
    #   BNB 149.8501498 / 500   = 0.2997002... -> 0.299   (step 1e-3)
    #   SOL 149.8501498 / 100   = 1.4985014... -> 1.498   (step 1e-3)
    # Cost (399.5 + 299.5 + 149.5 + 149.8) * 1.001 = 998.3 * 1.001 = 999.2983 -> 0.7017 cash left
    fee = 0.001
    prices = {"BTC": 50000.0, "ETH": 2500.0, "BNB": 500.0, "SOL": 100.0}
    targets = {"BTC": 0.40, "ETH": 0.30, "BNB": 0.15, "SOL": 0.15}
    rules = {
        "BTC": MarketRules(qty_step=1e-05, min_notional=5),
        "ETH": MarketRules(qty_step=1e-04, min_notional=5),
        "BNB": MarketRules(qty_step=1e-03, min_notional=5),
        "SOL": MarketRules(qty_step=1e-03, min_notional=5),
    }
    p = Portfolio({}, prices, cash=1000.0)
    plan = plan_rebalance(p, targets, rules, fee)
    assert legs(plan) == {
        ("BTC", "buy"): 0.00799,
        ("ETH", "buy"): 0.1198,
        ("BNB", "buy"): 0.299,
        ("SOL", "buy"): 1.498,
    }
    _, cash = execute(p, plan, fee)
    assert cash == pytest.approx(0.7017, abs=1e-9)


def test_rebalance_with_fee_brings_every_coin_to_its_target_share_of_what_is_left():
    # 4 coins far off target, fee 0.1%: after the trades every coin holds exactly its target
    # share of the post-fee portfolio, and no cash is left.
    # Values: A 100, B 500, C 250, D 150 (total 1000); targets 25/25/25/25.
    fee = 0.001
    p = Portfolio(
        {"A": 100.0, "B": 500.0, "C": 250.0, "D": 150.0}, {"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0}
    )
    targets = {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}
    plan = plan_rebalance(p, targets, fee=fee)
    qty, cash = execute(p, plan, fee)
    # Post-fee total T' = 1000 - f * sum|T'/4 - V|. Guess T'/4 just under 250:
    #   sum = (T'/4 - 100) + (500 - T'/4) + (250 - T'/4) + (T'/4 - 150) = 500 (T' cancels)
    #   -> T' = 1000 - 0.001 * 500 = 999.5, each coin 999.5 / 4 = 249.875 (< 250: guess holds)
    for coin in targets:
        assert qty[coin] == pytest.approx(249.875, abs=1e-9), coin
    assert cash == pytest.approx(0.0, abs=1e-9)


# --- funds (docs/how-it-works.md#worked-examples) -------------------------------------------------


def test_spec_add_funds_example():
    # BTC 450 / BNB 550 + 1000 USDT = 2000 -> 1000 each: buy 550 BTC and 450 BNB, sell nothing
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    plan = plan_deposit(p, HALF_HALF, 1000.0)
    assert plan.sells == ()
    assert legs(plan) == {("BTC", "buy"): 550.0, ("BNB", "buy"): 450.0}
    grown = Portfolio(p.quantities, p.prices, cash=1000.0)
    qty, cash = execute(grown, plan)
    assert qty == {"BTC": 1000.0, "BNB": 1000.0}
    assert cash == 0.0


def test_add_funds_also_invests_cash_already_there():
    # BTC 450 / BNB 540 / cash 10 + 1000 added = 2000 -> 1000 each: buy 550 BTC, 460 BNB
    p = Portfolio({"BTC": 450.0, "BNB": 540.0}, ONE, cash=10.0)
    plan = plan_deposit(p, HALF_HALF, 1000.0)
    assert legs(plan) == {("BTC", "buy"): 550.0, ("BNB", "buy"): 460.0}
    qty, cash = execute(Portfolio(p.quantities, p.prices, cash=1010.0), plan)
    assert qty == {"BTC": 1000.0, "BNB": 1000.0}
    assert cash == 0.0


def test_spec_remove_funds_example_skips_the_small_leg():
    # Targets XRP 5, ETH 25, BNB 70; remove 50 -> XRP 2.5, ETH 12.5, BNB 35.
    # With a 10 USDT minimum, XRP 2.5 < 10 is skipped: 12.5 + 35 = 47.5 freed.
    p = Portfolio({"XRP": 10.0, "ETH": 100.0, "BNB": 280.0}, {"XRP": 1.0, "ETH": 1.0, "BNB": 1.0})
    targets = {"XRP": 0.05, "ETH": 0.25, "BNB": 0.70}
    rules = {c: MarketRules(min_notional=10.0) for c in targets}
    plan = plan_withdrawal(p, targets, 50.0, rules)
    assert plan.buys == ()
    assert legs(plan) == {("BNB", "sell"): 35.0, ("ETH", "sell"): 12.5}
    assert len(plan.skipped) == 1
    skipped = plan.skipped[0]
    assert (skipped.coin, skipped.side) == ("XRP", "sell")
    assert skipped.value == pytest.approx(2.5)
    assert "minimum order value" in skipped.reason
    assert freed(plan) == 47.5
    qty, cash = execute(p, plan)
    # XRP 10 untouched, ETH 100 - 12.5 = 87.5, BNB 280 - 35 = 245
    assert qty == {"XRP": 10.0, "ETH": 87.5, "BNB": 245.0}
    assert cash == 47.5


def test_remove_funds_freed_is_net_of_fees():
    # 47.5 sold, fee 0.1% -> 47.5 * 0.999 = 47.4525 freed
    p = Portfolio({"XRP": 10.0, "ETH": 100.0, "BNB": 280.0}, {"XRP": 1.0, "ETH": 1.0, "BNB": 1.0})
    targets = {"XRP": 0.05, "ETH": 0.25, "BNB": 0.70}
    rules = {c: MarketRules(min_notional=10.0) for c in targets}
    plan = plan_withdrawal(p, targets, 50.0, rules, fee=0.001)
    assert freed(plan, 0.001) == pytest.approx(47.4525, abs=1e-9)


def test_remove_funds_never_sells_more_than_held():
    # targets 50/50, remove 60 -> 30 each; A holds only 10 -> sells its 10, B sells 30: 40 freed
    p = Portfolio({"A": 10.0, "B": 100.0}, {"A": 1.0, "B": 1.0})
    plan = plan_withdrawal(p, {"A": 0.5, "B": 0.5}, 60.0)
    assert legs(plan) == {("A", "sell"): 10.0, ("B", "sell"): 30.0}
    assert freed(plan) == 40.0


def test_remove_funds_sells_the_exact_number_of_steps():
    # DOGE 70% at 0.07, step 1; remove 50 -> 35 USDT of DOGE = 35 / 0.07 = exactly 500 DOGE
    # BTC 30% -> 15 USDT at 50000 = 0.0003 BTC
    p = Portfolio({"DOGE": 10000.0, "BTC": 0.01}, {"DOGE": 0.07, "BTC": 50000.0})
    rules = {"DOGE": MarketRules(qty_step=1.0), "BTC": MarketRules(qty_step=1e-05)}
    plan = plan_withdrawal(p, {"DOGE": 0.7, "BTC": 0.3}, 50.0, rules)
    assert legs(plan) == {("DOGE", "sell"): 500.0, ("BTC", "sell"): 0.0003}


def test_change_coins_sells_the_removed_one_and_buys_the_new_one():
    # BTC 500 / ETH 500 -> new targets BTC 50 / SOL 50: ETH sold entirely (500), SOL bought 500,
    # BTC already at 500 is not traded.
    p = Portfolio({"BTC": 500.0, "ETH": 500.0}, {"BTC": 1.0, "ETH": 1.0, "SOL": 1.0})
    plan = plan_rebalance(p, {"BTC": 0.5, "SOL": 0.5})
    assert legs(plan) == {("ETH", "sell"): 500.0, ("SOL", "buy"): 500.0}
    qty, cash = execute(p, plan)
    assert qty == {"BTC": 500.0, "ETH": 0.0, "SOL": 500.0}
    assert cash == 0.0


def test_coin_held_but_not_targeted_is_sold_entirely_with_real_prices():
    # BTC 0.01 at 50000 = 500, ETH 0.2 at 2500 = 500, DOGE 1000 at 0.1 = 100; total 1100.
    # Targets BTC/ETH 50/50 -> 550 each: sell all 1000 DOGE (100), buy 50/50000 = 0.001 BTC and
    # 50/2500 = 0.02 ETH.
    p = Portfolio(
        {"BTC": 0.01, "ETH": 0.2, "DOGE": 1000.0}, {"BTC": 50000.0, "ETH": 2500.0, "DOGE": 0.1}
    )
    rules = {
        "BTC": MarketRules(qty_step=1e-05),
        "ETH": MarketRules(qty_step=1e-04),
        "DOGE": MarketRules(qty_step=1.0),
    }
    plan = plan_rebalance(p, {"BTC": 0.5, "ETH": 0.5}, rules)
    assert legs(plan) == {("DOGE", "sell"): 1000.0, ("BTC", "buy"): 0.001, ("ETH", "buy"): 0.02}
    qty, cash = execute(p, plan)
    assert qty["DOGE"] == 0.0
    assert qty["BTC"] == pytest.approx(0.011, abs=1e-12)
    assert qty["ETH"] == pytest.approx(0.22, abs=1e-12)
    assert cash == pytest.approx(0.0, abs=1e-9)


def test_selling_a_whole_holding_off_the_step_is_rounded_down_to_the_step():
    # DOGE 1000.5 held (dust from a fee), no longer targeted -> sell floor(1000.5) = 1000 DOGE
    p = Portfolio({"BTC": 0.01, "DOGE": 1000.5}, {"BTC": 50000.0, "DOGE": 0.1})
    rules = {"BTC": MarketRules(qty_step=1e-05), "DOGE": MarketRules(qty_step=1.0)}
    plan = plan_rebalance(p, {"BTC": 1.0}, rules)
    assert legs(plan)[("DOGE", "sell")] == 1000.0


# --- exchange minimums (docs/how-it-works.md#exchange-rules) --------------------------------------


def test_spec_gal_rdnt_example_nothing_trades_and_the_message_is_shown():
    # GAL 50.6 / RDNT 49.0 / cash 0.4 = 100; targets 50/50 -> sell 0.6 GAL, buy 1.0 RDNT (only 0.4
    # of cash + 0 from the skipped sell is available). Both < 10 USDT minimum -> nothing trades.
    p = Portfolio({"GAL": 50.6, "RDNT": 49.0}, {"GAL": 1.0, "RDNT": 1.0}, cash=0.4)
    rules = {"GAL": MarketRules(min_notional=10.0), "RDNT": MarketRules(min_notional=10.0)}
    plan = plan_rebalance(p, {"GAL": 0.5, "RDNT": 0.5}, rules)
    assert plan.legs == ()
    assert {(s.coin, s.side) for s in plan.skipped} == {("GAL", "sell"), ("RDNT", "buy")}
    assert plan.message == SPEC_MESSAGE
    assert SKIP_MESSAGE == SPEC_MESSAGE


def test_no_message_when_some_leg_trades():
    # XRP 2.5 skipped but BNB and ETH trade: a partial rebalance, not the "unable" message
    p = Portfolio({"XRP": 10.0, "ETH": 100.0, "BNB": 280.0}, {"XRP": 1.0, "ETH": 1.0, "BNB": 1.0})
    targets = {"XRP": 0.05, "ETH": 0.25, "BNB": 0.70}
    plan = plan_withdrawal(p, targets, 50.0, {c: MarketRules(min_notional=10.0) for c in targets})
    assert plan.message is None


def test_sell_under_min_qty_is_skipped_and_its_buy_is_funded_only_by_cash():
    # BTC 450 / BNB 550 at 1, BNB min qty 100: selling 50 BNB is refused -> no proceeds, no cash ->
    # the 50 BTC buy scales to 0 and is refused too -> nothing trades, message shown.
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, ONE)
    rules = {"BNB": MarketRules(min_qty=100.0), "BTC": MarketRules(qty_step=1.0)}
    plan = plan_rebalance(p, HALF_HALF, rules)
    assert plan.legs == ()
    bnb = [s for s in plan.skipped if s.coin == "BNB"][0]
    assert bnb.side == "sell" and "minimum quantity" in bnb.reason
    assert plan.message == SPEC_MESSAGE


def test_skipped_sell_scales_the_buys_down_to_the_cash_available():
    # A 0, B 0, C 5 (untargeted) at 1, cash 95; targets A/B 50/50 -> total 100, 50 each wanted.
    # Selling C (5 < 10 minimum) is skipped -> budget 95 -> each buy scaled by 95/100 -> 47.5 each.
    p = Portfolio({"A": 0.0, "B": 0.0, "C": 5.0}, {"A": 1.0, "B": 1.0, "C": 1.0}, cash=95.0)
    rules = {"C": MarketRules(min_notional=10.0)}
    plan = plan_rebalance(p, {"A": 0.5, "B": 0.5}, rules)
    assert legs(plan) == {("A", "buy"): 47.5, ("B", "buy"): 47.5}
    assert [(s.coin, s.side) for s in plan.skipped] == [("C", "sell")]
    qty, cash = execute(p, plan)
    assert qty["C"] == 5.0
    assert cash == 0.0


def test_buy_under_min_notional_is_skipped_while_the_others_trade():
    # cash 100, targets A 96 / B 4, min notional 5 -> A 96 bought, B 4 < 5 skipped
    p = Portfolio({}, {"A": 1.0, "B": 1.0}, cash=100.0)
    rules = {"A": MarketRules(min_notional=5.0), "B": MarketRules(min_notional=5.0)}
    plan = plan_rebalance(p, {"A": 0.96, "B": 0.04}, rules)
    assert legs(plan) == {("A", "buy"): 96.0}
    assert [(s.coin, s.side) for s in plan.skipped] == [("B", "buy")]
    assert "minimum order value" in plan.skipped[0].reason
    assert plan.message is None


# --- size_buys ---------------------------------------------------------------------------------


def test_size_buys_within_budget_buys_what_is_wanted():
    # 30 of A at 2 = 15 coins; 20 of B at 4 = 5 coins; cost 50 <= budget 60
    buys, skipped = size_buys({"A": 30.0, "B": 20.0}, {"A": 2.0, "B": 4.0}, 60.0, {}, 0.0)
    assert {leg.coin: leg.qty for leg in buys} == {"A": 15.0, "B": 5.0}
    assert skipped == ()


def test_size_buys_short_budget_scales_down_pro_rata():
    # wanted A 60 + B 40 = 100, budget 50 -> half each: A 30, B 20 (price 1)
    buys, skipped = size_buys({"A": 60.0, "B": 40.0}, {"A": 1.0, "B": 1.0}, 50.0, {}, 0.0)
    assert {leg.coin: leg.qty for leg in buys} == {"A": 30.0, "B": 20.0}
    assert skipped == ()


def test_size_buys_short_budget_with_fee_never_costs_more_than_the_budget():
    # wanted 100 costs 100 * 1.001 = 100.1 > 50 -> scale 50/100.1: A = 60*50/100.1 = 29.97003
    # B = 40*50/100.1 = 19.98002; cost (29.97003 + 19.98002) * 1.001 = 50
    fee = 0.001
    buys, _ = size_buys({"A": 60.0, "B": 40.0}, {"A": 1.0, "B": 1.0}, 50.0, {}, fee)
    got = {leg.coin: leg.qty for leg in buys}
    assert got["A"] == pytest.approx(29.970029970029970, rel=1e-12)
    assert got["B"] == pytest.approx(19.980019980019980, rel=1e-12)
    assert math.fsum(q * (1 + fee) for q in got.values()) <= 50.0 + 1e-9


def test_size_buys_with_steps_rounds_down_after_scaling():
    # wanted BTC 100 at 30000, budget 70 -> 70 / 30000 = 0.0023333 -> 0.00233 (cost 69.9)
    buys, _ = size_buys(
        {"BTC": 100.0}, {"BTC": 30000.0}, 70.0, {"BTC": MarketRules(qty_step=1e-05)}, 0.0
    )
    assert [(leg.coin, leg.qty) for leg in buys] == [("BTC", 0.00233)]
    assert buys[0].qty * 30000.0 <= 70.0


def test_size_buys_with_no_budget_buys_nothing():
    buys, skipped = size_buys({"A": 10.0}, {"A": 1.0}, 0.0, {}, 0.0)
    assert buys == ()
    assert [(s.coin, s.side) for s in skipped] == [("A", "buy")]


# --- add / remove funds limits -------------------------------------------------------------------


def test_fund_change_within_limits_is_accepted():
    check_fund_change("add", 100.0, 10.0, 10000.0)
    check_fund_change("remove", 10.0, 10.0, 10000.0)  # == minimum: allowed
    check_fund_change("add", 10000.0, 10.0, 10000.0)  # == maximum: allowed


def test_fund_change_below_minimum_is_refused():
    with pytest.raises(FundsError) as err:
        check_fund_change("add", 5.0, 10.0, 10000.0)
    msg = str(err.value)
    assert "add funds" in msg and "5 USDT" in msg and "below the minimum of 10 USDT" in msg


def test_fund_change_above_maximum_is_refused():
    with pytest.raises(FundsError) as err:
        check_fund_change("remove", 20000.0, 10.0, 10000.0, "USDC")
    msg = str(err.value)
    assert (
        "remove funds" in msg and "20000 USDC" in msg and "above the maximum of 10000 USDC" in msg
    )


@pytest.mark.parametrize(
    "amount, shown",
    [(0, "0"), (-50.0, "-50.0"), (float("nan"), "nan"), (float("inf"), "inf"), ("100", "'100'")],
)
def test_fund_change_non_positive_or_not_a_number_is_refused(amount, shown):
    with pytest.raises(FundsError) as err:
        check_fund_change("add", amount, 0.0, 10000.0)
    msg = str(err.value)
    assert "positive number" in msg and f"got {shown}" in msg


def test_fund_change_bool_amount_is_refused():
    with pytest.raises(FundsError):
        check_fund_change("add", True, 0.0, 10000.0)


# --- start-up advice: skipped rebalances likely ----------------------------------------------
def test_skip_risk_warns_when_a_leg_at_the_threshold_is_under_the_minimum():
    from rebalance_plugin.core.config import parse_rebalance_config
    from rebalance_plugin.core.plan import skip_risk

    # The case: BTC 50 / ETH 50, 20 USDT, 0.5-point threshold. A leg at the threshold
    # is 20 x 0.5 / 100 / (2 - 1) = 0.10 USDT against a 5.25 minimum. Fix: 5.25 x 100 / 0.5 =
    # 1050 USDT, or a threshold of 5.25 x 100 / 20 = 26.25 points.
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 50, "ETH": 50}, "investment": 20, "threshold": 0.5}
    )
    assert skip_risk(cfg, {"BTC": 5.25, "ETH": 5.25}) == (
        "Skipped rebalances are likely: with rebalance.investment = 20 and "
        "rebalance.threshold = 0.5, a rebalance leg is about 0.10 USDT, under the exchange "
        "minimum order of 5.25 USDT; raise rebalance.investment to about 1050 USDT or "
        "rebalance.threshold to about 26.2"
    )


def test_skip_risk_is_quiet_for_the_shipped_portfolio():
    from rebalance_plugin.core.config import parse_rebalance_config
    from rebalance_plugin.core.plan import skip_risk

    # 1000 USDT, 4 coins, 5 points: 1000 x 5 / 100 / 3 = 16.67 USDT a leg, over 5.25.
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, "investment": 1000}
    )
    assert skip_risk(cfg, dict.fromkeys(("BTC", "ETH", "BNB", "SOL"), 5.25)) is None


def test_skip_risk_in_relative_mode_measures_the_smallest_targets_band():
    from rebalance_plugin.core.config import parse_rebalance_config
    from rebalance_plugin.core.plan import skip_risk

    # Balanced growth, 1000 USDT, threshold 5 relative: the narrowest band is 5% of the 15%
    # coins' target = 0.75 point; a leg is about 1000 x 0.75 / 100 / 3 = 2.50 USDT, under 5.25.
    # Fix: 5.25 x 100 x 3 / 0.75 = 2100 USDT, or a threshold of 5.25 x 100 x 3 / 1000 / 0.15
    # = 10.5 (% of target).
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15},
            "investment": 1000,
            "threshold_mode": "relative",
        }
    )
    assert skip_risk(cfg, dict.fromkeys(("BTC", "ETH", "BNB", "SOL"), 5.25)) == (
        "Skipped rebalances are likely: with rebalance.investment = 1000 and "
        "rebalance.threshold = 5 (% of target, threshold_mode relative), a rebalance leg is "
        "about 2.50 USDT, under the exchange "
        "minimum order of 5.25 USDT; raise rebalance.investment to about 2100 USDT or "
        "rebalance.threshold to about 10.5"
    )
