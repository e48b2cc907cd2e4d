"""The ``rebalance`` section of config.json (docs/configuration.md#the-rebalance-section): parsing,
defaults, templates and the refusal of every bad input with a message that names the field and
the offending value."""

import math

import pytest

from rebalance_plugin.core.config import (
    TEMPLATES,
    ConfigError,
    Level,
    check_investment_clears_minimums,
    parse_rebalance_config,
)

SPEC_SECTION = {
    "coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15},
    "investment": 1000,
    "trigger": "threshold",
    "threshold": 5,
    "interval": "7d",
    "interval_min_drift": 0.5,
    "on_stop": "sell_all",
    "trigger_price": None,
    "stop_loss": None,
    "take_profit": None,
}


def section(**changes):
    """The example section of docs/configuration.md#the-rebalance-section (with ``on_stop``
    ``"sell_all"``), some keys replaced."""
    return {**SPEC_SECTION, **changes}


def refused(raw, stake_currency="USDT") -> str:
    with pytest.raises(ConfigError) as err:
        parse_rebalance_config(raw, stake_currency)
    return str(err.value)


# --- valid configs ------------------------------------------------------------------------------


def test_spec_example_section_parses():
    cfg = parse_rebalance_config(SPEC_SECTION)
    assert cfg.coins == (("BTC", 40.0), ("ETH", 30.0), ("BNB", 15.0), ("SOL", 15.0))
    # 40% -> 0.40 etc.
    assert cfg.weights == {"BTC": 0.40, "ETH": 0.30, "BNB": 0.15, "SOL": 0.15}
    assert cfg.investment == 1000.0
    assert cfg.trigger == "threshold" and cfg.threshold == 5
    assert cfg.interval == "7d" and cfg.interval_seconds == 604800  # 7 * 86400
    assert cfg.on_stop == "sell_all"
    assert cfg.pairs == ["BTC/USDT", "ETH/USDT", "BNB/USDT", "SOL/USDT"]
    assert cfg.drift_limit == 5


def test_minimal_section_gets_the_documented_defaults():
    cfg = parse_rebalance_config({"coins": {"BTC": 60, "ETH": 40}, "investment": 500})
    assert cfg.trigger == "threshold"
    assert cfg.threshold == 5
    assert cfg.interval == "7d"
    assert cfg.interval_min_drift == 0.5
    # As on Binance, selling all on stop is opt-in (docs/configuration.md#the-rebalance-section).
    assert cfg.on_stop == "keep"
    assert (cfg.trigger_price, cfg.stop_loss, cfg.take_profit) == (None, None, None)


def test_interval_trigger_uses_interval_min_drift_as_its_limit():
    cfg = parse_rebalance_config(section(trigger="interval", interval="1d", interval_min_drift=2))
    assert cfg.interval_seconds == 86400
    assert cfg.drift_limit == 2


def test_other_stake_currency_builds_pairs_in_it():
    cfg = parse_rebalance_config({"coins": {"BTC": 50, "ETH": 50}, "investment": 100}, "USDC")
    assert cfg.pairs == ["BTC/USDC", "ETH/USDC"]


def test_lowercase_coin_names_are_normalised():
    cfg = parse_rebalance_config({"coins": {"btc": 50, "eth": 50}, "investment": 100})
    assert cfg.coin_names == ("BTC", "ETH")


def test_fractional_weights_summing_to_100_are_accepted():
    # 33.3 + 33.3 + 33.4 = 100 (the float sum is within rounding of 100)
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 33.3, "ETH": 33.3, "BNB": 33.4}, "investment": 100}
    )
    assert [w for _, w in cfg.coins] == [33.3, 33.3, 33.4]


def test_ten_coins_are_accepted():
    coins = {f"C{i}": 10 for i in range(10)}  # 10 x 10 = 100
    assert len(parse_rebalance_config({"coins": coins, "investment": 100}).coins) == 10


@pytest.mark.parametrize("threshold", [0.5, 1, 2, 5, 10, 20, 30, 50])
def test_every_allowed_threshold_is_accepted(threshold):
    assert parse_rebalance_config(section(threshold=threshold)).threshold == threshold


@pytest.mark.parametrize(
    "interval, seconds",
    [
        ("30m", 1800),
        ("1h", 3600),
        ("4h", 14400),
        ("8h", 28800),
        ("12h", 43200),
        ("1d", 86400),
        ("3d", 259200),
        ("7d", 604800),
        ("14d", 1209600),
        ("28d", 2419200),
    ],
)
def test_every_allowed_interval_is_accepted(interval, seconds):
    cfg = parse_rebalance_config(section(trigger="interval", interval=interval))
    assert cfg.interval_seconds == seconds


def test_on_stop_keep_is_accepted():
    assert parse_rebalance_config(section(on_stop="keep")).on_stop == "keep"


# --- templates ------------------------------------------------------------------------------------


def test_blue_chip_template():
    cfg = parse_rebalance_config({"coins": TEMPLATES["blue-chip"], "investment": 1000})
    assert cfg.coins == (("BTC", 60.0), ("ETH", 40.0))


def test_balanced_growth_template():
    cfg = parse_rebalance_config({"coins": TEMPLATES["balanced-growth"], "investment": 1000})
    assert dict(cfg.coins) == {"BTC": 40.0, "ETH": 30.0, "BNB": 15.0, "SOL": 15.0}


def test_diversified_template():
    cfg = parse_rebalance_config({"coins": TEMPLATES["diversified"], "investment": 1000})
    coins = dict(cfg.coins)
    assert {c: coins[c] for c in ("BTC", "ETH", "BNB", "SOL")} == {
        "BTC": 30.0,
        "ETH": 25.0,
        "BNB": 10.0,
        "SOL": 10.0,
    }
    # "25 split across other coins": 100 - 30 - 25 - 10 - 10 = 25
    others = {c: w for c, w in coins.items() if c not in ("BTC", "ETH", "BNB", "SOL")}
    assert others and sum(others.values()) == 25
    assert len(coins) <= 10


@pytest.mark.parametrize("name", ["blue-chip", "balanced-growth", "diversified"])
def test_every_template_sums_to_100(name):
    assert math.fsum(TEMPLATES[name].values()) == 100
    parse_rebalance_config({"coins": TEMPLATES[name], "investment": 1000})


# --- bad input: the coins -------------------------------------------------------------------------


def test_one_coin_is_refused():
    msg = refused(section(coins={"BTC": 100}))
    assert "rebalance.coins" in msg and "2 to 10" in msg and "got 1" in msg and "BTC" in msg


def test_no_coins_are_refused():
    msg = refused(section(coins={}))
    assert "rebalance.coins" in msg and "got 0" in msg


def test_eleven_coins_are_refused():
    coins = {f"C{i}": 10 for i in range(10)} | {"C10": 0.0}
    msg = refused(section(coins=coins))
    assert "rebalance.coins" in msg and "2 to 10" in msg and "got 11" in msg


def test_same_coin_twice_in_different_case_is_refused():
    msg = refused(section(coins={"btc": 50, "BTC": 50}))
    assert "rebalance.coins" in msg and "BTC" in msg and "twice" in msg
    assert "'btc'" in msg and "'BTC'" in msg


def test_same_coin_twice_with_whitespace_is_refused():
    msg = refused(section(coins={"ETH": 50, " eth ": 50}))
    assert "ETH" in msg and "twice" in msg


def test_pair_instead_of_coin_name_is_refused():
    msg = refused(section(coins={"BTC/USDT": 50, "ETH": 50}))
    assert "rebalance.coins" in msg and "'BTC/USDT'" in msg


def test_stake_currency_listed_as_a_coin_is_refused():
    msg = refused(section(coins={"BTC": 50, "USDT": 50}), "USDT")
    assert "rebalance.coins" in msg and "'USDT'" in msg and "stake currency" in msg


def test_stake_currency_listed_in_lowercase_is_refused():
    msg = refused(section(coins={"BTC": 50, "usdt": 50}), "USDT")
    assert "'usdt'" in msg and "stake currency" in msg


def test_coins_not_an_object_is_refused():
    msg = refused(section(coins=["BTC", "ETH"]))
    assert "rebalance.coins" in msg and "['BTC', 'ETH']" in msg


# --- bad input: the weights -----------------------------------------------------------------------


def test_weight_zero_is_refused():
    msg = refused(section(coins={"BTC": 0, "ETH": 100}))
    assert "weight of BTC" in msg and "greater than 0" in msg and "got 0" in msg


def test_negative_weight_is_refused():
    msg = refused(section(coins={"BTC": -10, "ETH": 110}))
    assert "weight of BTC" in msg and "got -10" in msg


def test_string_weight_is_refused():
    msg = refused(section(coins={"BTC": "50", "ETH": 50}))
    assert "weight of BTC" in msg and "number" in msg and "'50'" in msg


def test_nan_weight_is_refused():
    msg = refused(section(coins={"BTC": float("nan"), "ETH": 50}))
    assert "weight of BTC" in msg and "nan" in msg


def test_infinite_weight_is_refused():
    msg = refused(section(coins={"BTC": float("inf"), "ETH": 50}))
    assert "weight of BTC" in msg and "inf" in msg


def test_bool_weight_is_refused():
    # True is an int in Python (== 1): it must not pass as a weight
    msg = refused(section(coins={"BTC": True, "ETH": 99}))
    assert "weight of BTC" in msg and "True" in msg


def test_weights_summing_to_99_are_refused_with_the_sum():
    # 49 + 50 = 99
    msg = refused(section(coins={"BTC": 49, "ETH": 50}))
    assert "sum to 100" in msg and "got 99" in msg and "BTC 49" in msg and "ETH 50" in msg


def test_weights_summing_to_101_are_refused_with_the_sum():
    # 40 + 30 + 16 + 15 = 101
    msg = refused(section(coins={"BTC": 40, "ETH": 30, "BNB": 16, "SOL": 15}))
    assert "sum to 100" in msg and "got 101" in msg and "BNB 16" in msg


# --- bad input: the other keys --------------------------------------------------------------------


def test_threshold_not_in_the_list_is_refused():
    msg = refused(section(threshold=3))
    assert "rebalance.threshold" in msg and "got 3" in msg and "0.5, 1, 2, 5" in msg


def test_threshold_as_string_is_refused():
    msg = refused(section(threshold="5"))
    assert "rebalance.threshold" in msg and "'5'" in msg


def test_unknown_interval_is_refused():
    msg = refused(section(trigger="interval", interval="2h"))
    assert "rebalance.interval" in msg and "'2h'" in msg and "30m" in msg and "28d" in msg


def test_interval_given_as_a_list_is_refused_with_config_error():
    msg = refused(section(trigger="interval", interval=["7d"]))
    assert "rebalance.interval" in msg


def test_unknown_trigger_is_refused():
    msg = refused(section(trigger="daily"))
    assert (
        "rebalance.trigger" in msg and "'daily'" in msg and "threshold" in msg and "interval" in msg
    )


def test_unknown_on_stop_is_refused():
    msg = refused(section(on_stop="liquidate"))
    assert (
        "rebalance.on_stop" in msg and "'liquidate'" in msg and "sell_all" in msg and "keep" in msg
    )


def test_negative_interval_min_drift_is_refused():
    msg = refused(section(interval_min_drift=-1))
    assert "rebalance.interval_min_drift" in msg and "-1" in msg


def test_investment_zero_is_refused():
    msg = refused(section(investment=0))
    assert "rebalance.investment" in msg and "got 0" in msg


def test_negative_investment_is_refused():
    msg = refused(section(investment=-100))
    assert "rebalance.investment" in msg and "got -100" in msg


def test_string_investment_is_refused():
    msg = refused(section(investment="1000"))
    assert "rebalance.investment" in msg and "'1000'" in msg


def test_bool_investment_is_refused():
    msg = refused(section(investment=True))
    assert "rebalance.investment" in msg and "True" in msg


def test_missing_investment_is_refused():
    raw = dict(SPEC_SECTION)
    del raw["investment"]
    msg = refused(raw)
    assert "rebalance.investment" in msg and "missing" in msg


def test_missing_coins_is_refused():
    raw = dict(SPEC_SECTION)
    del raw["coins"]
    msg = refused(raw)
    assert "rebalance.coins" in msg and "missing" in msg


def test_missing_rebalance_section_is_refused():
    msg = refused(None)
    assert '"rebalance"' in msg and "no" in msg


def test_rebalance_section_not_an_object_is_refused():
    msg = refused([1, 2])
    assert '"rebalance"' in msg and "[1, 2]" in msg


def test_unknown_key_typo_is_refused():
    raw = {"coins": {"BTC": 50, "ETH": 50}, "investment": 100, "treshold": 1}
    msg = refused(raw)
    assert "unknown key" in msg and "treshold" in msg and "threshold" in msg


def test_price_levels_number_means_portfolio_value_or_first_coin():
    # section() is BTC 40 / ETH 30 / BNB 15 / SOL 15 with investment 1000
    cfg = parse_rebalance_config(section(stop_loss=800, take_profit=1500, trigger_price=42000))
    assert cfg.stop_loss == Level(800.0, None)  # portfolio value
    assert cfg.take_profit == Level(1500.0, None)
    assert cfg.trigger_price == Level(42000.0, "BTC")  # the first coin listed


def test_price_level_may_name_a_coin():
    cfg = parse_rebalance_config(section(stop_loss={"eth": 1500}, trigger_price={"SOL": 90}))
    assert cfg.stop_loss == Level(1500.0, "ETH")
    assert cfg.trigger_price == Level(90.0, "SOL")


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("stop_loss", 1000, ["stop_loss", "below", "investment"]),
        ("take_profit", 999, ["take_profit", "above", "investment"]),
        ("stop_loss", {"DOGE": 1}, ["stop_loss", "DOGE", "not one of"]),
        ("trigger_price", -5, ["trigger_price", "greater than 0"]),
        ("take_profit", "1500", ["take_profit", "'1500'"]),
        ("trigger_price", {"BTC": 1, "ETH": 2}, ["trigger_price"]),
    ],
)
def test_bad_price_levels_are_refused_by_name(key, value, words):
    msg = refused(section(**{key: value}))
    for word in words:
        assert word in msg


def test_stop_loss_must_be_below_take_profit_on_the_same_measure():
    msg = refused(section(stop_loss={"BTC": 50000}, take_profit={"BTC": 40000}))
    assert "stop_loss" in msg and "take_profit" in msg


# --- investment vs. exchange minimums ------------------------------------------------------------


def test_investment_too_small_for_a_coin_names_the_coin():
    # BTC gets 1% of 100 = 1.00 USDT < 5 minimum; needs 5 / 1% = 500
    cfg = parse_rebalance_config({"coins": {"BTC": 1, "ETH": 99}, "investment": 100})
    with pytest.raises(ConfigError) as err:
        check_investment_clears_minimums(cfg, {"BTC": 5.0, "ETH": 5.0})
    msg = str(err.value)
    assert "rebalance.investment" in msg and "100" in msg
    assert "BTC" in msg and "1.00" in msg and "5.00" in msg and "BTC/USDT" in msg
    assert "500.00" in msg
    assert "ETH" not in msg  # ETH gets 99 >= 5


def test_investment_large_enough_for_every_coin_is_accepted():
    # 1% of 500 = 5.00 == 5 minimum (inclusive), 99% of 500 = 495
    cfg = parse_rebalance_config({"coins": {"BTC": 1, "ETH": 99}, "investment": 500})
    check_investment_clears_minimums(cfg, {"BTC": 5.0, "ETH": 5.0})


def test_investment_check_ignores_coins_without_a_known_minimum():
    cfg = parse_rebalance_config({"coins": {"BTC": 1, "ETH": 99}, "investment": 100})
    check_investment_clears_minimums(cfg, {"ETH": 5.0})  # 99 >= 5; BTC has no minimum listed


def test_investment_too_small_names_the_real_minimum_not_the_first_coins():
    # The case: BTC 40 / ETH 30 / BNB 15 / SOL 15 with a 7.51 minimum each (5 x 1.5
    # reserve x 1.001 fee). BTC needs 7.51 / 40% = 18.78, BNB and SOL 7.51 / 15% = 50.07: an
    # investment of 20 must be told 50.07, not BTC's or the first failing coin's figure.
    cfg = parse_rebalance_config(
        {"coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, "investment": 20}
    )
    with pytest.raises(ConfigError) as err:
        check_investment_clears_minimums(cfg, dict.fromkeys(("BTC", "ETH", "BNB", "SOL"), 7.51))
    assert "needs at least 50.07 USDT for every coin's first buy" in str(err.value)


def test_weights_just_outside_the_tolerance_are_refused_with_their_real_sum():
    # 33.33333 + 33.33333 + 33.33333 = 99.99999: 1e-5 off, over the 1e-6 tolerance. The
    # message must not round it to "100" while refusing it.
    msg = refused(section(coins={"BTC": 33.33333, "ETH": 33.33333, "BNB": 33.33333}))
    assert "must sum to 100 (within 1e-06), got 99.99999" in msg
    # 1e-7 off is inside the tolerance: accepted.
    parse_rebalance_config(section(coins={"BTC": 33.3333333, "ETH": 33.3333334, "BNB": 33.3333333}))


@pytest.mark.parametrize("value", [100, 150])
def test_interval_min_drift_of_100_points_or_more_is_refused(value):
    msg = refused(section(trigger="interval", interval_min_drift=value))
    assert "rebalance.interval_min_drift must be at least 0 and below 100" in msg
    assert f"got {value!r}" in msg


# --- threshold_mode and rebalance_to (issue 9) ---------------------------------------------------


def test_threshold_mode_and_rebalance_to_default_to_todays_behaviour():
    cfg = parse_rebalance_config(SPEC_SECTION)  # the docs' example section has neither key
    assert (cfg.threshold_mode, cfg.rebalance_to) == ("absolute", "target")
    assert not cfg.relative


@pytest.mark.parametrize("mode", ["absolute", "relative"])
@pytest.mark.parametrize("to", ["target", "band"])
def test_threshold_mode_and_rebalance_to_accept_their_values(mode, to):
    cfg = parse_rebalance_config(section(threshold_mode=mode, rebalance_to=to, threshold=20))
    assert (cfg.threshold_mode, cfg.rebalance_to, cfg.threshold) == (mode, to, 20)
    assert cfg.relative is (mode == "relative")


@pytest.mark.parametrize("value", ["percent", "Relative", "", None, 1, ["relative"]])
def test_a_bad_threshold_mode_is_refused_naming_key_value_and_choices(value):
    assert refused(section(threshold_mode=value)) == (
        f"rebalance.threshold_mode must be one of absolute, relative, got {value!r}"
    )


@pytest.mark.parametrize("value", ["edge", "targets", None, True])
def test_a_bad_rebalance_to_is_refused_naming_key_value_and_choices(value):
    assert refused(section(rebalance_to=value)) == (
        f"rebalance.rebalance_to must be one of target, band, got {value!r}"
    )


def test_relative_thresholds_are_the_same_list_in_percent_of_the_target():
    # relative allows the same values: 20 relative on a 15% coin is a band of 12%-18%
    for t in (0.5, 1, 2, 5, 10, 20, 30, 50):
        assert parse_rebalance_config(section(threshold_mode="relative", threshold=t)).threshold
    assert refused(section(threshold_mode="relative", threshold=15)) == (
        "rebalance.threshold must be one of 0.5, 1, 2, 5, 10, 20, 30, 50 "
        "(percent of each coin's target), got 15"
    )


def test_relative_interval_min_drift_is_in_percent_of_the_target():
    cfg = parse_rebalance_config(
        section(trigger="interval", threshold_mode="relative", interval_min_drift=10)
    )
    assert cfg.drift_limit == 10  # 10% of each target: a 30% coin may move 27% to 33%
    assert refused(section(threshold_mode="relative", interval_min_drift=100)) == (
        "rebalance.interval_min_drift must be at least 0 and below 100 (percent of each coin's "
        "target, threshold_mode relative), got 100.0"
    )


# ---- with_trigger: the trigger keys replaced (hyperopt's values, a parameter file's) ----------


def test_with_trigger_replaces_the_trigger_keys_only():
    from rebalance_plugin.core.config import with_trigger

    cfg = parse_rebalance_config(SPEC_SECTION)
    out = with_trigger(cfg, {"trigger": "interval", "interval": "1d", "interval_min_drift": 2.5})
    assert (out.trigger, out.threshold, out.interval, out.interval_min_drift) == (
        "interval",
        5,
        "1d",
        2.5,
    )
    assert out.coins == cfg.coins and out.on_stop == cfg.on_stop and out.investment == 1000
    # Nothing to change: the same object (the glue tells a change by identity).
    assert with_trigger(cfg, {}) is cfg and with_trigger(cfg, {"threshold": 5}) is cfg


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"threshold": 7}, "rebalance.threshold must be one of 0.5, 1, 2, 5, 10, 20, 30, 50"),
        ({"threshold": True}, "rebalance.threshold must be a number, got True"),
        ({"interval": "2d"}, "rebalance.interval must be one of 30m, 1h"),
        ({"trigger": "drift"}, "rebalance.trigger must be one of threshold, interval"),
        ({"interval_min_drift": 100}, "rebalance.interval_min_drift must be at least 0"),
        ({"coins": {"BTC": 100}}, "rebalance: coins is not a trigger key"),
    ],
)
def test_with_trigger_refuses_what_the_section_refuses(values, words):
    from rebalance_plugin.core.config import with_trigger

    with pytest.raises(ConfigError) as err:
        with_trigger(parse_rebalance_config(SPEC_SECTION), values)
    assert words in str(err.value)
