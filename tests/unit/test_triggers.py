"""When to rebalance (docs/how-it-works.md#when-it-rebalances): the threshold and interval
triggers, and the drift they read (in points, or in percent of each target with
``threshold_mode`` relative)."""

from datetime import UTC, datetime

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.portfolio import (
    Band,
    Portfolio,
    drift_points,
    drift_relative,
    max_drift,
)
from rebalance_plugin.core.triggers import IntervalTrigger, ThresholdTrigger, band_for, trigger_for

HALF_HALF = {"BTC": 0.5, "BNB": 0.5}
DAY = 86400


def ts(*args) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


# --- drift ------------------------------------------------------------------------------------


def test_drift_of_the_spec_example_is_5_points():
    # BTC 450 / BNB 550 of 1000 -> weights 45% / 55%, targets 50/50 -> -5 and +5 points
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, {"BTC": 1.0, "BNB": 1.0})
    drifts = drift_points(p.weights(), HALF_HALF)
    assert drifts["BTC"] == pytest.approx(-5.0)
    assert drifts["BNB"] == pytest.approx(5.0)
    assert max_drift(p, HALF_HALF) == pytest.approx(5.0)


def test_drift_is_measured_on_value_not_quantity():
    # 0.009 BTC at 50000 = 450, 1.1 BNB at 500 = 550 -> same 45/55 split, 5 points
    p = Portfolio({"BTC": 0.009, "BNB": 1.1}, {"BTC": 50000.0, "BNB": 500.0})
    assert max_drift(p, HALF_HALF) == pytest.approx(5.0)


def test_cash_counts_in_the_total():
    # GAL 50.6 + RDNT 49.0 + cash 0.4 = 100 -> GAL 50.6% (+0.6), RDNT 49.0% (-1.0)
    p = Portfolio({"GAL": 50.6, "RDNT": 49.0}, {"GAL": 1.0, "RDNT": 1.0}, cash=0.4)
    drifts = drift_points(p.weights(), {"GAL": 0.5, "RDNT": 0.5})
    assert drifts["GAL"] == pytest.approx(0.6)
    assert drifts["RDNT"] == pytest.approx(-1.0)
    assert max_drift(p, {"GAL": 0.5, "RDNT": 0.5}) == pytest.approx(1.0)


def test_coin_held_but_not_targeted_counts_as_drift():
    # BTC 450, ETH 450, DOGE 100 of 1000; targets BTC/ETH 50/50 -> BTC/ETH -5, DOGE +10 (target 0)
    p = Portfolio(
        {"BTC": 450.0, "ETH": 450.0, "DOGE": 100.0}, {"BTC": 1.0, "ETH": 1.0, "DOGE": 1.0}
    )
    assert max_drift(p, {"BTC": 0.5, "ETH": 0.5}) == pytest.approx(10.0)


def test_portfolio_refuses_a_coin_without_a_valid_price():
    with pytest.raises(ValueError, match="BTC"):
        Portfolio({"BTC": 1.0}, {})
    with pytest.raises(ValueError, match="BTC"):
        Portfolio({"BTC": 1.0}, {"BTC": 0.0})


# --- threshold trigger ---------------------------------------------------------------------------


def test_threshold_spec_example_5_points_over_a_1_point_threshold_rebalances():
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, {"BTC": 1.0, "BNB": 1.0})
    trigger = ThresholdTrigger(1)
    assert trigger.check_due(now=0.0, first_buy=0.0, last_check=None)
    assert trigger.wants(max_drift(p, HALF_HALF))  # 5 > 1


def test_threshold_is_more_than_not_equal():
    trigger = ThresholdTrigger(5)
    assert not trigger.wants(5.0)  # exactly 5 points: not "more than" 5
    assert trigger.wants(5.01)
    assert not trigger.wants(4.99)


def test_threshold_small_drift_does_not_rebalance():
    # BTC 490 / BNB 510 -> 1 point of drift, threshold 2 -> no rebalance
    p = Portfolio({"BTC": 490.0, "BNB": 510.0}, {"BTC": 1.0, "BNB": 1.0})
    assert not ThresholdTrigger(2).wants(max_drift(p, HALF_HALF))


def test_portfolio_exactly_at_the_threshold_does_not_rebalance():
    # BTC 450 / BNB 550: exactly 5 points off, threshold 5 -> must NOT rebalance
    p = Portfolio({"BTC": 450.0, "BNB": 550.0}, {"BTC": 1.0, "BNB": 1.0})
    assert not ThresholdTrigger(5).wants(max_drift(p, HALF_HALF))


# --- interval trigger ----------------------------------------------------------------------------

FIRST_BUY = ts(2024, 1, 1, 10, 0)  # Monday 2024-01-01 10:00 UTC
WEEKLY = IntervalTrigger(seconds=7 * DAY, min_drift=0.5)


def test_interval_first_check_is_one_interval_after_the_first_buy():
    assert WEEKLY.check_due(ts(2024, 1, 8, 10, 0), FIRST_BUY, last_check=None)


def test_interval_no_check_before_it_is_due():
    # one hour early, and at midnight (not aligned on calendar days)
    assert not WEEKLY.check_due(ts(2024, 1, 8, 9, 0), FIRST_BUY, last_check=None)
    assert not WEEKLY.check_due(ts(2024, 1, 8, 0, 0), FIRST_BUY, last_check=None)
    assert not WEEKLY.check_due(ts(2024, 1, 1, 10, 0), FIRST_BUY, last_check=None)


def test_interval_checks_only_once_per_interval():
    # checked at 10:00, at 11:00 the same day no new check is due
    assert not WEEKLY.check_due(ts(2024, 1, 8, 11, 0), FIRST_BUY, last_check=ts(2024, 1, 8, 10, 0))
    # nor just before the next one
    assert not WEEKLY.check_due(ts(2024, 1, 15, 9, 59), FIRST_BUY, last_check=ts(2024, 1, 8, 10, 0))
    # the next one: 2024-01-15 10:00
    assert WEEKLY.check_due(ts(2024, 1, 15, 10, 0), FIRST_BUY, last_check=ts(2024, 1, 8, 10, 0))


def test_interval_a_missed_check_happens_once_when_the_bot_is_back():
    # bot down from 01-08 10:00 to 01-20: the 01-15 check is due once, not again at 01-20 12:00
    assert WEEKLY.check_due(ts(2024, 1, 20, 12, 0), FIRST_BUY, last_check=ts(2024, 1, 8, 10, 0))
    assert not WEEKLY.check_due(
        ts(2024, 1, 20, 13, 0), FIRST_BUY, last_check=ts(2024, 1, 20, 12, 0)
    )


def test_interval_next_check_time():
    # at 2024-01-08 11:00 the next check is 2024-01-15 10:00
    assert WEEKLY.next_check(ts(2024, 1, 8, 11, 0), FIRST_BUY) == ts(2024, 1, 15, 10, 0)
    # just before the first buy's first interval ends, it is 2024-01-08 10:00
    assert WEEKLY.next_check(ts(2024, 1, 3, 0, 0), FIRST_BUY) == ts(2024, 1, 8, 10, 0)


def test_interval_hourly_checks_land_on_every_hour_for_a_month():
    # first buy at an odd instant with a fractional second; checks at first_buy + k hours
    first = ts(2024, 3, 1, 7, 13) + 0.123
    hourly = IntervalTrigger(seconds=3600, min_drift=0.5)
    for k in range(1, 24 * 31):
        check = first + k * 3600
        prev = first + (k - 1) * 3600 if k > 1 else None
        assert hourly.check_due(check, first, last_check=prev), k
        assert not hourly.check_due(check - 1, first, last_check=prev), k


def test_interval_min_drift_is_more_than():
    # interval_min_drift 0.5 -> rebalance only if drift > 0.5
    assert not WEEKLY.wants(0.5)
    assert not WEEKLY.wants(0.4)
    assert WEEKLY.wants(0.6)


def test_interval_spec_example_drift_decides_at_the_check():
    # at the check: BTC 490 / BNB 510 -> 1 point > 0.5 -> rebalance
    p = Portfolio({"BTC": 490.0, "BNB": 510.0}, {"BTC": 1.0, "BNB": 1.0})
    assert WEEKLY.wants(max_drift(p, HALF_HALF))
    # BTC 498 / BNB 502 -> 0.2 point <= 0.5 -> no rebalance
    p = Portfolio({"BTC": 498.0, "BNB": 502.0}, {"BTC": 1.0, "BNB": 1.0})
    assert not WEEKLY.wants(max_drift(p, HALF_HALF))


def test_interval_portfolio_exactly_at_min_drift_does_not_rebalance():
    # BTC 495 / BNB 505 of 1000 -> exactly 0.5 points off; 0.5 is not more than 0.5
    p = Portfolio({"BTC": 495.0, "BNB": 505.0}, {"BTC": 1.0, "BNB": 1.0})
    assert not WEEKLY.wants(max_drift(p, HALF_HALF))


# --- trigger_for ----------------------------------------------------------------------------


def test_trigger_for_interval_config():
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 50, "BNB": 50},
            "investment": 1000,
            "trigger": "interval",
            "interval": "7d",
            "interval_min_drift": 0.5,
        }
    )
    # 7d = 7 * 86400 = 604800 seconds
    assert trigger_for(cfg) == IntervalTrigger(604800, 0.5)


def test_trigger_for_threshold_config():
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 50, "BNB": 50},
            "investment": 1000,
            "trigger": "threshold",
            "threshold": 1,
        }
    )
    trigger = trigger_for(cfg)
    assert trigger == ThresholdTrigger(1)
    assert trigger.check_due(now=123.0, first_buy=0.0, last_check=122.0)  # every candle


def test_trigger_for_a_30m_interval_checks_every_half_hour():
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 50, "BNB": 50},
            "investment": 1000,
            "trigger": "interval",
            "interval": "30m",
        }
    )
    trigger = trigger_for(cfg)
    first = ts(2024, 1, 1, 10, 0)
    assert not trigger.check_due(ts(2024, 1, 1, 10, 29), first, None)
    assert trigger.check_due(ts(2024, 1, 1, 10, 30), first, None)
    assert trigger.wants(0.51) and not trigger.wants(0.5)  # default interval_min_drift 0.5


# --- threshold_mode relative ---------------------------------------------------------------------
# Relative: a coin is off when |weight - target| / target exceeds the threshold, in percent of
# its target (bt's RunIfOutOfBounds, Shrimpy). The trigger objects are the same; the drift they
# read is measured in the mode's unit (max_drift(..., relative=True)).

SMALL_COIN = {"BTC": 0.60, "ETH": 0.35, "DOGE": 0.05}


def test_absolute_never_fires_from_below_for_a_small_weight_relative_does():
    # BTC 600 / ETH 350 / DOGE 50 of 1000 at the targets 60/35/5; DOGE then falls 80%: 50 -> 10.
    # Total 600 + 350 + 10 = 960: BTC 600/960 = 62.5%, ETH 350/960 = 36.458%, DOGE 10/960
    # = 1.042%.
    # Absolute (points): BTC +2.5, ETH +1.458, DOGE -3.958: largest 3.958, not more than 5.
    # Even at DOGE = 0 its drift would be -5 points, still not *more* than 5: a 5% coin can
    # vanish without an absolute 5-point threshold noticing.
    # Relative (% of target): BTC 2.5/60 = +4.17%, ETH 1.458/35 = +4.17%, DOGE -3.958/5 =
    # -79.17%: far more than 20.
    p = Portfolio({"BTC": 600.0, "ETH": 350.0, "DOGE": 10.0}, {"BTC": 1.0, "ETH": 1.0, "DOGE": 1.0})
    assert max_drift(p, SMALL_COIN) == pytest.approx(3.958333, abs=1e-6)
    assert max_drift(p, SMALL_COIN, relative=True) == pytest.approx(79.166667, abs=1e-6)
    assert not ThresholdTrigger(5).wants(max_drift(p, SMALL_COIN))
    assert ThresholdTrigger(20).wants(max_drift(p, SMALL_COIN, relative=True))


def test_relative_20_on_a_10_percent_target_is_a_band_from_8_to_12_percent():
    # targets BTC 90 / ETH 10; threshold 20 relative: ETH is off below 8% or above 12%.
    targets = {"BTC": 0.9, "ETH": 0.1}
    trigger = ThresholdTrigger(20)
    for eth, fires in ((120.0, False), (121.0, True), (80.0, False), (79.0, True)):
        # ETH 120 of 1000 = 12%: (12 - 10) / 10 = 20% (not more); 12.1%: 21%; 8%: -20%; 7.9%: -21%
        p = Portfolio({"BTC": 1000.0 - eth, "ETH": eth}, {"BTC": 1.0, "ETH": 1.0})
        assert trigger.wants(max_drift(p, targets, relative=True)) is fires, eth
        # the same portfolios in points: 2, 2.1, -2, -2.1: never over a 5-point threshold
        assert not ThresholdTrigger(5).wants(max_drift(p, targets))


def test_relative_drift_per_coin():
    # GAL 50.6 / RDNT 49.0 / cash 0.4 of 100, targets 50/50: +0.6 and -1 points,
    # i.e. +0.6/50 = +1.2% and -1/50 = -2% of target.
    p = Portfolio({"GAL": 50.6, "RDNT": 49.0}, {"GAL": 1.0, "RDNT": 1.0}, cash=0.4)
    got = drift_relative(p.weights(), {"GAL": 0.5, "RDNT": 0.5})
    assert got == {"GAL": pytest.approx(1.2), "RDNT": pytest.approx(-2.0)}


def test_a_held_coin_without_target_counts_in_points_in_relative_mode():
    # BTC 495 / ETH 495 / DOGE 10 of 1000, targets BTC/ETH 50/50: DOGE has no target (no
    # relative measure): its 1% weight counts as 1 (point); BTC and ETH are -0.5/50 = -1%.
    p = Portfolio({"BTC": 495.0, "ETH": 495.0, "DOGE": 10.0}, {"BTC": 1.0, "ETH": 1.0, "DOGE": 1.0})
    assert max_drift(p, {"BTC": 0.5, "ETH": 0.5}, relative=True) == pytest.approx(1.0)


def test_relative_interval_min_drift_is_in_percent_of_target_too():
    # targets 90/10, interval 1d, interval_min_drift 5 relative: at the check ETH at 10.4% is
    # +4% of its target (no rebalance), at 10.6% +6% (rebalance). In points both are under 1.
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 90, "ETH": 10},
            "investment": 1000,
            "trigger": "interval",
            "interval": "1d",
            "interval_min_drift": 5,
            "threshold_mode": "relative",
        }
    )
    trigger = trigger_for(cfg)
    assert trigger == IntervalTrigger(86400, 5)
    targets = cfg.weights
    calm = Portfolio({"BTC": 896.0, "ETH": 104.0}, {"BTC": 1.0, "ETH": 1.0})
    off = Portfolio({"BTC": 894.0, "ETH": 106.0}, {"BTC": 1.0, "ETH": 1.0})
    assert max_drift(calm, targets, relative=True) == pytest.approx(4.0)
    assert not trigger.wants(max_drift(calm, targets, relative=True))
    assert trigger.wants(max_drift(off, targets, relative=True))


def test_band_for_follows_the_active_trigger_and_mode():
    base = {"coins": {"BTC": 50, "BNB": 50}, "investment": 1000, "threshold": 2}
    assert band_for(parse_rebalance_config(base)) is None  # rebalance_to target: no band
    cfg = parse_rebalance_config({**base, "rebalance_to": "band"})
    assert band_for(cfg) == Band(2, relative=False)
    cfg = parse_rebalance_config(
        {**base, "rebalance_to": "band", "threshold_mode": "relative", "trigger": "interval"}
    )
    assert band_for(cfg) == Band(0.5, relative=True)  # interval: interval_min_drift (0.5)
