"""core.presets: weights from market caps (capped, floored, rounded to sum exactly 100) and the
returns of a daily-rebalanced portfolio, on numbers worked out by hand in the comments."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.presets import (
    PRESETS,
    History,
    PresetError,
    annualise,
    build_preset,
    capped_weights,
    daily_returns,
    excluded_reason,
    period_return,
    portfolio_returns,
    preset_rule,
    rank_by_market_cap,
    round_weights,
)


def test_cap_then_floor_then_round_by_hand():
    # Ten coins with market caps 600, 200, 100, 50, 20, 10, 8, 6, 4, 2 (sum 1000).
    # Proportional: 60, 20, 10, 5, 2, 1, 0.8, 0.6, 0.4, 0.2.
    # Cap: the first is above 50 -> fixed at 50; the other 50 shared over 400: s/8 ->
    #      25, 12.5, 6.25, 2.5, 1.25, 1, 0.75, 0.5, 0.25 (none above 50).
    # Floor: 0.75, 0.5, 0.25 (caps 6, 4, 2) -> fixed at 1; 47 left over 388: 47 s/388 ->
    #      24.23, 12.11, 6.06, 2.42, 1.21, 0.969 (cap 8 is under 1) -> fixed at 1;
    #      46 left over 380: 46 s/380 -> 24.2105, 12.1053, 6.0526, 2.4211, 1.2105. Done:
    #      w = min(50, max(1, lambda x s)) with lambda = 46/380, and the weights sum to 100.
    caps = [600, 200, 100, 50, 20, 10, 8, 6, 4, 2]
    weights = capped_weights(caps)
    expected = [50, 46 * 200 / 380, 46 * 100 / 380, 46 * 50 / 380, 46 * 20 / 380, 46 * 10 / 380]
    assert weights == pytest.approx(expected + [1, 1, 1, 1])
    # Rounding to hundredths: floors 5000 2421 1210 605 242 121 100 100 100 100 = 9999
    # hundredths; the one missing goes to the largest remainder, 1210.53 -> 12.11.
    assert round_weights(weights) == [50, 24.21, 12.11, 6.05, 2.42, 1.21, 1, 1, 1, 1]
    assert sum(round(w * 100) for w in round_weights(weights)) == 10000


def test_the_floor_can_take_from_coins_at_the_cap():
    # Two giants and eight dwarfs (scores 1e6, 1e6, 1 x 8): the dwarfs need 1 each (8), so the
    # giants share the other 92 equally: 46 each, under the cap. Sum 100.
    assert capped_weights([1e6, 1e6] + [1.0] * 8) == pytest.approx([46, 46] + [1] * 8)
    # Two coins: both at the cap, whatever their scores.
    assert capped_weights([9.0, 1.0]) == [50, 50]


def test_square_root_and_equal_weights_by_hand():
    # sqrt(10000, 2500, 100) = 100, 50, 10 (sum 160): 62.5, 31.25, 6.25 -> the first capped
    # at 50, the other 50 over 60: 41.667, 8.333 -> hundredths 4166.67, 833.33: floors 4166
    # + 833 + 5000 = 9999, the missing one to the larger remainder (.67): 41.67, 8.33.
    rule = preset_rule("top10-sqrt-mcap")
    preset = build_preset(rule, [("A", 10000.0), ("B", 2500.0), ("C", 100.0)])
    assert preset.weights == {"A": 50, "B": 41.67, "C": 8.33}
    assert preset.short == 7  # three coins where ten were asked for, said by the caller
    # Three equal coins: 33.333... each; floors 3333 x 3 = 9999; the tie goes to the first.
    equal = build_preset(preset_rule("top10-equal"), [("A", 3.0), ("B", 2.0), ("C", 1.0)])
    assert equal.weights == {"A": 33.34, "B": 33.33, "C": 33.33}


def test_every_preset_is_a_valid_portfolio_within_the_limits():
    # Twelve coins whose caps fall by half each time: every preset passes the bot's own
    # validation, each weight within 1..50 and at most two decimals.
    ranked = [(f"C{i}", 2.0 ** (20 - i)) for i in range(12)]
    for rule in PRESETS:
        preset = build_preset(rule, ranked)
        assert len(preset.coins) == rule.top
        parse_rebalance_config({"coins": preset.weights, "investment": 1000})
        for w in preset.weights.values():
            assert 1 <= w <= 50 and round(w, 2) == w


def test_top3_by_market_cap_by_hand():
    # BTC 1000, ETH 300, BNB 100 (sum 1400): BTC 71.4 -> 50; ETH and BNB share 50 as 3:1.
    preset = build_preset(preset_rule("top3-mcap"), [("BTC", 1e3), ("ETH", 3e2), ("BNB", 1e2)])
    assert preset.weights == {"BTC": 50, "ETH": 37.5, "BNB": 12.5}


def test_fewer_than_two_coins_is_refused_by_name():
    with pytest.raises(PresetError, match=r"top3-mcap: only 1 eligible coin\(s\) \(BTC\)"):
        build_preset(preset_rule("top3-mcap"), [("BTC", 1e12)])
    with pytest.raises(PresetError, match="unknown preset 'top4'; the presets are top3-mcap"):
        preset_rule("top4")


def test_stablecoins_and_wrapped_coins_are_excluded():
    assert excluded_reason("USDT") == "stablecoin"
    assert excluded_reason("fdusd") == "stablecoin"
    assert excluded_reason("WBTC") == "wrapped or staked copy of another coin"
    assert excluded_reason("stETH") == "wrapped or staked copy of another coin"
    assert excluded_reason("BTC") is None
    # Ranking: largest first, non-positive caps dropped.
    assert rank_by_market_cap({"eth": 3.0, "BTC": 5.0, "X": 0.0}) == [("BTC", 5.0), ("ETH", 3.0)]


def test_daily_returns_and_annualisation_by_hand():
    # A 60 %, B 40 %; closes A 100, 110, 99 and B 10, 10, 12.
    # r1 = 0.6 x 110/100 + 0.4 x 10/10 - 1 = 0.66 + 0.40 - 1 = 0.06
    # r2 = 0.6 x 99/110  + 0.4 x 12/10 - 1 = 0.54 + 0.48 - 1 = 0.02
    # R = 1.06 x 1.02 - 1 = 0.0812; simple = 0.0812 x 365 / 2 = 14.819
    closes = {"A": [100.0, 110.0, 99.0], "B": [10.0, 10.0, 12.0]}
    assert daily_returns({"A": 60, "B": 40}, closes) == pytest.approx([0.06, 0.02])
    r = period_return({"A": 60, "B": 40}, closes)
    assert (r.days, r.total, r.simple) == (2, pytest.approx(0.0812), pytest.approx(14.819))
    assert r.compound == pytest.approx(1.0812 ** (365 / 2) - 1)
    # A year of +10 %: both annualisations are 10 %. Two years of +21 %: simple 10.5 %,
    # compound sqrt(1.21) - 1 = 10 %.
    assert annualise(0.10, 365) == pytest.approx((0.10, 0.10))
    assert annualise(0.21, 730) == pytest.approx((0.105, 0.10))


def _history(coin: str, first: date, days: int, start: float, daily: float) -> History:
    dates = tuple(first + timedelta(days=k) for k in range(days))
    return History(coin, dates, tuple(start * daily**k for k in range(days)))


def test_returns_end_at_the_latest_common_day_and_say_why_a_period_is_missing():
    # A rises 1 % a day from 2025-01-01, B falls 2 % a day; C starts 2025-06-01 and both A
    # and B end on 2025-07-04, C a day earlier: the common last day is 2025-07-03.
    a = _history("A", date(2025, 1, 1), 185, 100.0, 1.01)
    b = _history("B", date(2025, 1, 1), 185, 10.0, 0.98)
    c = _history("C", date(2025, 6, 1), 33, 1.0, 1.0)
    # A/B 60/40 every day: r = 0.6 x 1.01 + 0.4 x 0.98 - 1 = -0.002; R7 = 0.998^7 - 1.
    ab = portfolio_returns({"A": 60, "B": 40}, {"A": a, "B": b})
    assert ab.as_of == date(2025, 7, 4)
    assert ab.get(7).total == pytest.approx(0.998**7 - 1)
    assert ab.get(180).total == pytest.approx(0.998**180 - 1)
    abc = portfolio_returns({"A": 50, "B": 25, "C": 25}, {"A": a, "B": b, "C": c})
    assert abc.as_of == date(2025, 7, 3)
    assert abc.get(30) is not None and abc.get(180) is None
    assert abc.reason(180) == (
        "C has 33 daily closes up to 2025-07-03 (first candle 2025-06-01); 181 are needed, "
        "from 2025-01-04"
    )
    missing = portfolio_returns({"A": 50, "Z": 50}, {"A": a})
    assert missing.as_of is None and missing.reason(7) == "Z: no daily candles"


def test_a_missing_day_inside_the_window_is_named():
    a = _history("A", date(2025, 1, 1), 40, 100.0, 1.0)
    gap = History("B", a.dates[:35] + a.dates[36:], a.closes[:35] + a.closes[36:])
    r = portfolio_returns({"A": 50, "B": 50}, {"A": a, "B": gap})
    assert r.get(30) is None and r.reason(30) == "B has no daily close on 2025-02-05"
    assert r.get(7) is None  # 2025-02-05 is also inside the last 8 closes (to 2025-02-09)
    assert math.isclose(sum(round_weights([100 / 3] * 3)), 100)


def test_weights_always_sum_to_100_within_the_bounds():
    # 2000 seeded random sets of 2..10 market caps spanning 15 orders of magnitude.
    rng = random.Random(9)
    for _ in range(2000):
        caps = [10 ** rng.uniform(-3, 12) for _ in range(rng.randint(2, 10))]
        weights = round_weights(capped_weights(caps))
        assert sum(round(w * 100) for w in weights) == 10000, caps
        assert all(1 <= w <= 50 for w in weights), caps
        # Larger cap, never a smaller weight.
        order = sorted(range(len(caps)), key=caps.__getitem__)
        assert [weights[i] for i in order] == sorted(weights), caps
