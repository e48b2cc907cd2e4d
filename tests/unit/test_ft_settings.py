"""Freqtrade settings checked where a backtest cannot show them: live-only order settings and
the hyperopt command line (the backtest cases are in tests/backtest/test_freqtrade_settings.py)."""

from __future__ import annotations

from types import SimpleNamespace

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
