"""When to rebalance (SPEC §2): the threshold and interval triggers, and the drift they read."""

from datetime import UTC, datetime

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.portfolio import Portfolio, drift_points, max_drift
from rebalance_plugin.core.triggers import IntervalTrigger, ThresholdTrigger, trigger_for

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
