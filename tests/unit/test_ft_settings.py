"""Freqtrade settings checked where a backtest cannot show them: live-only order settings and
the hyperopt command line (the backtest cases are in tests/backtest/test_freqtrade_settings.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from freqtrade.enums import RunMode

from rebalance_plugin.ft.settings import conflicts

SHIPPED = {"stake_amount": "unlimited", "tradable_balance_ratio": 1.0, "trading_mode": "spot"}


def strategy(**changes):
    attrs = {
        "minimal_roi": {},
        "stoploss": -1.0,
        "trailing_stop": False,
        "position_adjustment_enable": True,
        "max_entry_position_adjustment": -1,
        "order_types": {"entry": "limit", "exit": "limit", "stoploss_on_exchange": False},
        "_ft_params_from_file": {},
        "__file__": "/x/strategies/RebalanceStrategy.py",
    }
    return SimpleNamespace(**{**attrs, **changes})


def test_the_shipped_settings_have_no_conflict():
    assert conflicts(strategy(), dict(SHIPPED), frozenset()) == []


def test_stoploss_on_exchange_live_is_refused():
    order_types = {"entry": "limit", "exit": "limit", "stoploss_on_exchange": True}
    found = conflicts(strategy(order_types=order_types), dict(SHIPPED), frozenset())
    assert found == [
        "order_types.stoploss_on_exchange = true in config.json: Freqtrade would place "
        "stop-loss orders at the exchange; fix: set it to false"
    ]


def test_hyperopt_over_exit_spaces_is_refused_and_other_modes_ignore_spaces():
    config = {**SHIPPED, "spaces": ["default"], "runmode": RunMode.HYPEROPT}
    (found,) = conflicts(strategy(), config, frozenset())
    assert found.startswith("freqtrade hyperopt --spaces default: it would search ROI")
    assert "RebalanceStrategy.json" in found
    config["runmode"] = RunMode.BACKTEST
    assert conflicts(strategy(), config, frozenset()) == []


def test_futures_trading_is_refused():
    (found,) = conflicts(strategy(), {**SHIPPED, "trading_mode": "futures"}, frozenset())
    assert found.startswith('trading_mode = "futures" in config.json')


# ---- the trigger values of a parameter file (its buy space: rebalance_plugin/ft/params.py) ----
SECTION = {"coins": {"BTC": 60, "ETH": 40}, "investment": 1000, "threshold": 5}


def with_file(buy):
    from rebalance_plugin.core.config import parse_rebalance_config

    return strategy(
        _ft_params_from_file={"buy": buy, "roi": {}, "stoploss": {"stoploss": -1.0}},
        rebalance=parse_rebalance_config(SECTION),
    )


@pytest.mark.parametrize("runmode", [RunMode.DRY_RUN, RunMode.LIVE])
def test_a_bot_refuses_a_parameter_file_whose_trigger_differs_from_config_json(runmode):
    buy = {"trigger": "threshold", "threshold": 10, "interval": "7d"}
    (found,) = conflicts(with_file(buy), {**SHIPPED, "runmode": runmode}, frozenset())
    assert found == (
        "RebalanceStrategy.json (written by freqtrade hyperopt) sets threshold = 10 "
        "(config.json: 5): a bot trades on config.json's rebalance section only; fix: copy "
        '"trigger": "threshold", "threshold": 10, "interval": "7d" into the rebalance section '
        "of config.json, or delete RebalanceStrategy.json"
    )


def test_a_bot_accepts_a_parameter_file_that_agrees_and_a_backtest_any_allowed_one():
    agreeing = {"trigger": "threshold", "threshold": 5, "interval_min_drift": 0.5}
    assert conflicts(with_file(agreeing), {**SHIPPED, "runmode": RunMode.LIVE}, frozenset()) == []
    differing = {"threshold": 20, "trigger": "interval", "interval": "1d"}
    for mode in (RunMode.BACKTEST, RunMode.HYPEROPT):
        assert conflicts(with_file(differing), {**SHIPPED, "runmode": mode}, frozenset()) == []


@pytest.mark.parametrize("runmode", [RunMode.BACKTEST, RunMode.HYPEROPT, RunMode.DRY_RUN])
def test_a_trigger_value_the_section_would_refuse_is_refused_in_every_mode(runmode):
    (found,) = conflicts(with_file({"threshold": 7}), {**SHIPPED, "runmode": runmode}, frozenset())
    assert found == (
        '"threshold": 7 in RebalanceStrategy.json (buy parameters, written by freqtrade '
        "hyperopt): rebalance.threshold must be one of 0.5, 1, 2, 5, 10, 20, 30, 50 (percentage "
        "points), got 7; fix: correct or delete that file"
    )


def test_hyperopt_over_exit_spaces_points_to_the_buy_space():
    config = {**SHIPPED, "spaces": ["roi"], "runmode": RunMode.HYPEROPT}
    (found,) = conflicts(strategy(), config, frozenset())
    assert found.endswith(
        "fix: leave these spaces out (--spaces buy searches the rebalance trigger)"
    )
    config["spaces"] = ["buy"]
    assert conflicts(strategy(), config, frozenset()) == []
