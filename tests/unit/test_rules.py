"""Exchange trading rules (docs/how-it-works.md#exchange-rules): quantity step, minimum quantity,
minimum order value.

Every expected number is worked out by hand in the comments; none is produced by the code
under test.
"""

import json
import math

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.rules import (
    DECIMAL_PLACES,
    NO_RULES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    MarketRules,
    decimal_step,
    significant_step,
    step_of,
)
from rebalance_plugin.ft.context import Context
from rebalance_plugin.ft.markets import Markets, precision_mode
from tests.helpers.paths import CCXT_STATIC
from tests.unit.ft_fakes import FakeDataProvider, FakeStrategy, FakeWallets

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


# --- real markets of ten exchanges (ccxt's own fixtures) --------------------------------------
# ../shared/ccxt-static/markets/<exchange>.json: the unified markets ccxt builds, read here and
# compared with numbers copied by hand from the same files (BTC/USDT of each):
#   exchange:  (file's precision mode, amount step, min amount, min order value, price tick)
# binance and binanceus are from an older ccxt in DECIMAL_PLACES ("amount": 5 = 5 decimals);
# the others are TICK_SIZE ("amount": 1e-06 is the step). Kraken's "limits.cost" is {}: its
# minimum order value is info.costmin "0.5". OKX has no minimum order value ("cost" holds only
# "max", and OKX's info has only minSz, the minimum amount); Bitget's minimum amount is 0
# ("min": 0, info.minTradeAmount "0").
FIXTURE_BTC = {
    "binance": (DECIMAL_PLACES, 1e-05, 1e-05, 5.0, 0.01),
    "binanceus": (DECIMAL_PLACES, 1e-05, 1e-05, 1.0, 0.01),
    "bitget": (TICK_SIZE, 1e-06, 0.0, 1.0, 0.01),
    "bybit": (TICK_SIZE, 1e-06, 1.1e-05, 5.0, 0.1),
    "coinbase": (TICK_SIZE, 1e-08, 1e-08, 1.0, 0.01),
    "gate": (TICK_SIZE, 1e-06, 1e-06, 3.0, 0.1),
    "htx": (TICK_SIZE, 1e-06, 1e-05, 1.0, 0.01),
    "kraken": (TICK_SIZE, 1e-08, 0.0001, 0.5, 0.1),
    "kucoin": (TICK_SIZE, 1e-08, 1e-05, 0.1, 0.1),
    "okx": (TICK_SIZE, 1e-08, 1e-05, 0.0, 0.1),
}
needs_fixtures = pytest.mark.skipif(
    not (CCXT_STATIC / "markets").is_dir(), reason="ccxt fixtures ../shared/ccxt-static absent"
)


def fixture_market(exchange: str, symbol: str = "BTC/USDT") -> dict:
    return json.loads((CCXT_STATIC / "markets" / f"{exchange}.json").read_text())[symbol]


@needs_fixtures
@pytest.mark.parametrize("exchange", sorted(FIXTURE_BTC))
def test_rules_of_btc_usdt_on_each_exchange(exchange):
    mode, step, min_qty, min_cost, tick = FIXTURE_BTC[exchange]
    rules = MarketRules.from_ccxt_market(fixture_market(exchange), mode)
    assert rules == MarketRules(
        qty_step=step, min_qty=min_qty, min_notional=min_cost, price_tick=tick
    )


@needs_fixtures
@pytest.mark.parametrize("exchange", sorted(FIXTURE_BTC))
def test_the_exchanges_own_fields_give_the_same_rules_without_the_unified_ones(exchange):
    # A markets file of another ccxt era may lack a unified field: the exchange's own names in
    # info (Kraken ordermin/costmin/lot_decimals/tick_size, Bybit's lotSizeFilter, Binance's
    # filters...) give the same numbers as the table above.
    mode, step, min_qty, min_cost, tick = FIXTURE_BTC[exchange]
    market = fixture_market(exchange)
    market["limits"], market["precision"] = {}, {}
    rules = MarketRules.from_ccxt_market(market, mode)
    assert rules == MarketRules(
        qty_step=step, min_qty=min_qty, min_notional=min_cost, price_tick=tick
    )


@needs_fixtures
def test_kraken_minimum_order_value_comes_from_costmin_where_ccxt_gave_none():
    market = fixture_market("kraken", "ADA/USDT")
    assert market["limits"]["cost"] == {}  # the unified minimum is missing in this file
    rules = MarketRules.from_ccxt_market(market, TICK_SIZE)
    # info: ordermin "20" ADA, costmin "0.5" USDT, lot_decimals 8, tick_size "0.000001"
    assert (rules.min_qty, rules.min_notional) == (20.0, 0.5)
    assert (rules.qty_step, rules.price_tick) == (1e-08, 1e-06)
    # 19.99 ADA at 0.40 = 8.00 USDT: above costmin, below ordermin -> refused for the quantity
    assert "minimum quantity 20" in rules.refusal(19.99, 0.40)


@needs_fixtures
def test_decimal_places_read_as_ticks_would_give_absurd_steps():
    # binance.json XRP/USDT: "precision": {"amount": 0, "price": 4} in DECIMAL_PLACES: a step of
    # 1 XRP and a tick of 0.0001. Read as TICK_SIZE the step would be 0 (none) and the tick 4.
    market = fixture_market("binance", "XRP/USDT")
    rules = MarketRules.from_ccxt_market(market, DECIMAL_PLACES)
    assert (rules.qty_step, rules.price_tick) == (1.0, 0.0001)
    assert rules.floor_qty(123.9) == 123.0
    wrong = MarketRules.from_ccxt_market(market, TICK_SIZE)
    assert (wrong.qty_step, wrong.price_tick) == (0.0, 4.0)


# --- precision modes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "places, step", [(8, 1e-08), (5, 1e-05), (2, 0.01), (0, 1.0), (-1, 10.0), (5.0, 1e-05)]
)
def test_decimal_places_step(places, step):
    assert decimal_step(places) == step
    assert step_of(places, DECIMAL_PLACES) == step


def test_a_tick_size_precision_is_the_step_and_significant_digits_have_none():
    assert step_of(0.005, TICK_SIZE) == 0.005
    assert step_of(None, TICK_SIZE) == 0.0
    assert step_of(5, SIGNIFICANT_DIGITS) == 0.0


@pytest.mark.parametrize(
    "value, digits, step",
    [
        (1234.5678, 3, 10.0),  # 1.2345678e3 -> last of 3 digits is the tens: 1230
        (0.0012345678, 3, 1e-05),  # 1.2345678e-3 -> 0.00123
        (99999.9, 3, 100.0),  # 9.99999e4 -> the hundreds: 99900
        (100000.0, 3, 1000.0),  # 1e5 -> 100000 (3 digits: 1.00e5)
        (0.5, 1, 0.1),
        (0.0, 3, 0.0),
    ],
)
def test_significant_digits_step_depends_on_the_value(value, digits, step):
    assert significant_step(value, digits) == step


def test_rules_in_significant_digits_floor_each_quantity_at_its_own_step():
    # Bitfinex-like market: 5 significant digits for amounts and prices (ccxt's bitfinex has
    # precisionMode SIGNIFICANT_DIGITS). No fixed step: each quantity keeps 5 digits.
    market = {"precision": {"amount": 5, "price": 5}, "limits": {"amount": {"min": 0.0002}}}
    rules = MarketRules.from_ccxt_market(market, SIGNIFICANT_DIGITS)
    assert rules == MarketRules(min_qty=0.0002, qty_digits=5, price_digits=5)
    assert rules.floor_qty(1.234567) == 1.2345
    assert rules.floor_qty(123.4567) == 123.45
    assert rules.floor_qty(0.00123456) == 0.0012345
    assert rules.step_at(123.4567) == 0.01


def test_an_unknown_precision_mode_is_refused():
    with pytest.raises(ValueError, match="precision mode 1"):
        MarketRules.from_ccxt_market({}, 1)


# --- the glue: the exchange's precision mode from its ccxt class, rules with the reserves -------


def test_precision_mode_of_an_exchange_comes_from_its_ccxt_class():
    # ccxt 4.5: every exchange Freqtrade supports counts in TICK_SIZE; Bitfinex in
    # SIGNIFICANT_DIGITS; a name ccxt does not know falls back to TICK_SIZE.
    assert precision_mode("kraken") == TICK_SIZE
    assert precision_mode("okx") == TICK_SIZE
    assert precision_mode("bitfinex") == SIGNIFICANT_DIGITS
    assert precision_mode("no-such-exchange") == TICK_SIZE


@needs_fixtures
def test_glue_rules_on_kraken_carry_costmin_and_the_reserve_and_the_markets_fee():
    markets = json.loads((CCXT_STATIC / "markets" / "kraken.json").read_text())
    config = {"stake_currency": "USDT", "exchange": {"name": "kraken"}}  # no "fee": the market's
    strategy = FakeStrategy(config, FakeDataProvider(markets=markets), FakeWallets())
    cfg = parse_rebalance_config({"coins": {"BTC": 50, "ADA": 50}, "investment": 100}, "USDT")
    mk = Markets(Context(strategy, cfg, backtest=True))
    ada = mk.add("ADA")
    # ordermin 20 and costmin 0.5, each x 1.05 (Freqtrade's default amount_reserve_percent)
    assert ada == MarketRules(qty_step=1e-08, min_qty=21.0, min_notional=0.525, price_tick=1e-06)
    assert mk.min_order("ADA") == 0.75  # costmin 0.5 x 1.5, Freqtrade's first-buy reserve
    assert mk.fee("ADA/USDT") == 0.0026  # the market's taker (Kraken: 0.26 %)
