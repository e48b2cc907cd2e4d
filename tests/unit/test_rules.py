"""Exchange trading rules (docs/how-it-works.md#exchange-rules): quantity step, minimum quantity,
minimum order value.

Every expected number is worked out by hand in the comments; none is produced by the code
under test.
"""

import math

import pytest

from rebalance_plugin.core.rules import NO_RULES, MarketRules

BTC = MarketRules(qty_step=1e-05, min_qty=1e-05, min_notional=5.0, price_tick=0.01)


# --- rounding down to the step ------------------------------------------------------------


def test_quantity_is_rounded_down_to_the_step_exactly():
    # 0.123456789 BTC with a 0.00001 step: 12345 whole steps (12345.6789 -> 12345) = 0.12345
    assert BTC.floor_qty(0.123456789) == 0.12345


def test_rounding_never_rounds_up_even_just_below_the_next_step():
    # 0.0099999 is 999.99 steps of 0.00001 -> 999 steps = 0.00999, never 0.01
    assert BTC.floor_qty(0.0099999) == 0.00999


@pytest.mark.parametrize(
    "qty, step, expected",
    [
        # In binary floats 0.3 / 0.1 == 2.9999999999999996, so a naive floor(qty/step)*step
        # gives 0.2. The quantity is exactly 3 steps: 0.3.
        (0.3, 0.1, 0.3),
        # 0.29 / 0.01 == 28.999999999999996 in floats; exactly 29 steps -> 0.29
        (0.29, 0.01, 0.29),
        # 0.00007 / 0.00001 == 6.999999999999999 in floats; exactly 7 steps -> 0.00007
        (0.00007, 1e-05, 0.00007),
        # 0.00058 / 0.00001 == 57.99999999999999 in floats; exactly 58 steps -> 0.00058
        (0.00058, 1e-05, 0.00058),
        # 1.15 / 0.00001 == 114999.99999999999 in floats; exactly 115000 steps -> 1.15
        (1.15, 1e-05, 1.15),
        # 0.0003 / 0.00001 == 29.999999999999996 in floats; exactly 30 steps -> 0.0003
        (0.0003, 1e-05, 0.0003),
    ],
)
def test_a_quantity_already_on_the_step_is_not_lost_to_float_error(qty, step, expected):
    # Sanity: these really are float traps for the naive computation.
    assert math.floor(qty / step) * step < expected
    assert MarketRules(qty_step=step).floor_qty(qty) == expected


def test_whole_number_step():
    # DOGE-like step of 1: 1234.999 -> 1234
    assert MarketRules(qty_step=1.0).floor_qty(1234.999) == 1234.0


def test_no_step_keeps_the_quantity():
    assert NO_RULES.floor_qty(0.123456789) == 0.123456789


@pytest.mark.parametrize("qty", [0.0, -0.5])
def test_zero_or_negative_quantity_rounds_to_zero(qty):
    assert BTC.floor_qty(qty) == 0.0


def test_quantity_below_one_step_rounds_to_zero_and_is_refused():
    # 0.000009 BTC is 0.9 of a 0.00001 step -> 0 steps
    qty = BTC.floor_qty(0.000009)
    assert qty == 0.0
    assert "rounds to 0" in BTC.refusal(qty, 50000.0)


# --- refusals -------------------------------------------------------------------------------


def test_below_minimum_quantity_is_refused_with_both_numbers():
    rules = MarketRules(qty_step=0.001, min_qty=0.01, min_notional=0.0)
    reason = rules.refusal(0.005, 500.0)  # 0.005 < 0.01
    assert reason is not None
    assert "minimum quantity" in reason
    assert "0.005" in reason and "0.01" in reason


def test_below_minimum_order_value_is_refused_with_both_numbers():
    rules = MarketRules(min_notional=10.0)
    # 0.0001 BTC at 50000 = 5.00 USDT < 10
    reason = rules.refusal(0.0001, 50000.0)
    assert reason is not None
    assert "minimum order value" in reason
    assert "5.00" in reason and "10" in reason


def test_order_exactly_at_the_minimums_is_accepted():
    rules = MarketRules(qty_step=0.001, min_qty=0.01, min_notional=10.0)
    # 0.01 (== min qty) at price 1000 = 10.0 (== min notional): the limits are inclusive
    assert rules.refusal(0.01, 1000.0) is None


def test_order_above_the_minimums_is_accepted():
    # 0.001 BTC at 50000 = 50 USDT >= 5, 0.001 >= 0.00001
    assert BTC.refusal(0.001, 50000.0) is None


def test_no_rules_accept_any_positive_quantity():
    assert NO_RULES.refusal(1e-12, 1.0) is None
    assert NO_RULES.refusal(0.0, 1.0) is not None


# --- from a ccxt market -----------------------------------------------------------------------


def test_rules_from_a_binance_ccxt_market():
    market = {
        "symbol": "BTC/USDT",
        "precision": {"amount": 1e-05, "price": 0.01},
        "limits": {
            "amount": {"min": 1e-05, "max": 9000.0},
            "cost": {"min": 5.0, "max": 9000000.0},
            "price": {"min": 0.01, "max": 1000000.0},
        },
    }
    rules = MarketRules.from_ccxt_market(market)
    assert rules == MarketRules(qty_step=1e-05, min_qty=1e-05, min_notional=5.0, price_tick=0.01)
    # and they act on orders: 0.00004 BTC at 50000 = 2 USDT < 5 -> refused
    assert rules.refusal(0.00004, 50000.0) is not None


def test_rules_from_a_market_with_missing_limits_mean_no_limit():
    market = {"precision": {"amount": None, "price": None}, "limits": {"amount": {"min": None}}}
    rules = MarketRules.from_ccxt_market(market)
    assert rules == MarketRules(0.0, 0.0, 0.0, 0.0)
    assert MarketRules.from_ccxt_market({}) == MarketRules(0.0, 0.0, 0.0, 0.0)
