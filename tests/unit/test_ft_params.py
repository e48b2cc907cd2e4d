"""The trigger as hyperopt parameters (rebalance_plugin/ft/params.py) on the real strategy class:
the search space is what the rebalance section allows, the defaults are the config's section,
a parameter file's values run a backtest (and are said), and each hyperopt epoch starts from a
fresh portfolio with that epoch's values."""

from __future__ import annotations

import importlib.util
import logging
from datetime import UTC, datetime

import pytest
from freqtrade.enums import RunMode
from freqtrade.strategy.hyper import detect_all_parameters

from rebalance_plugin.core.config import (
    DEFAULTS,
    INTERVALS,
    THRESHOLDS,
    TRIGGERS,
    parse_rebalance_config,
    with_trigger,
)
from rebalance_plugin.ft import params
from tests.helpers.ftrun import base_config
from tests.helpers.paths import STRATEGIES

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def strategy_class():
    spec = importlib.util.spec_from_file_location("rs", STRATEGIES / "RebalanceStrategy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RebalanceStrategy


def strategy(runmode=RunMode.BACKTEST, spaces=None, **section):
    config = base_config()
    config["rebalance"].update(section)
    config.update(runmode=runmode, spaces=spaces or [])
    return strategy_class()(config)


def searched(strat):
    """The buy space as Freqtrade's hyperopt finds it on the instance."""
    return detect_all_parameters(strat)["buy"]


def test_the_buy_space_is_the_trigger_with_exactly_the_values_the_section_allows():
    space = searched(strategy())
    assert sorted(space) == ["interval", "interval_min_drift", "threshold", "trigger"]
    assert tuple(space["trigger"].opt_range) == TRIGGERS
    assert tuple(space["threshold"].opt_range) == THRESHOLDS
    assert tuple(space["interval"].opt_range) == tuple(INTERVALS)
    drift = space["interval_min_drift"]
    assert (drift.low, drift.high, drift.decimals) == (0.0, 10.0, 1)
    # Every point of the search is a section the validation accepts: no epoch can be invalid.
    grid = [round(i / 10, 1) for i in range(101)]  # 0.0, 0.1, ... 10.0: the decimal space
    cfg = parse_rebalance_config(base_config()["rebalance"])
    for value in grid:
        with_trigger(cfg, {"trigger": "interval", "interval_min_drift": value})
    for trigger in TRIGGERS:
        for threshold in THRESHOLDS:
            for interval in INTERVALS:
                with_trigger(
                    cfg, {"trigger": trigger, "threshold": threshold, "interval": interval}
                )


def test_the_defaults_are_the_config_s_rebalance_section():
    strat = strategy(trigger="interval", threshold=10, interval="1d", interval_min_drift=2.5)
    strat.ft_load_hyper_params(False)  # Freqtrade, after bot_start: no parameter file
    space = searched(strat)
    assert {k: p.value for k, p in space.items()} == {
        "trigger": "interval",
        "threshold": 10,
        "interval": "1d",
        "interval_min_drift": 2.5,
    }
    # Another config's instance has its own defaults; the class keeps the documented ones.
    other = strategy(threshold=20)
    assert searched(other)["threshold"].value == 20 and searched(strat)["threshold"].value == 10
    cls = strategy_class()
    assert cls.threshold.value == DEFAULTS["threshold"] and cls.trigger.value == "threshold"


def test_a_min_drift_beyond_the_search_widens_it_and_runs_unrounded():
    strat = strategy(trigger="interval", interval_min_drift=12.34)
    assert searched(strat)["interval_min_drift"].high == 12.4
    # Without a parameter file a run takes every value from the section, as it is written
    # (the parameter's 0.1 precision does not round it).
    strat.ft_load_hyper_params(False)
    strat.rb.loop(T0)
    assert strat.rb.ctx.cfg.interval_min_drift == 12.34
    assert strat.rb.ctx.cfg is strat.rb.ctx.section  # nothing replaced: exactly as before


def test_a_parameter_file_sets_a_backtest_s_trigger_and_the_log_says_so(caplog):
    strat = strategy()
    strat.__file__ = "/somewhere/strategies/RebalanceStrategy.py"
    strat._ft_params_from_file = {"buy": {"threshold": 20, "trigger": "threshold"}}
    strat.ft_load_hyper_params(False)
    with caplog.at_level(logging.WARNING, logger="rebalance_plugin.ft"):
        strat.rb.loop(T0)
    assert strat.rebalance.threshold == 20 and strat.rb.ctx.cfg.threshold == 20
    (said,) = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert "from the parameter file RebalanceStrategy.json" in said
    assert "rebalance.threshold = 20 (RebalanceStrategy.json, config.json says 5)" in said
    assert 'rebalance.trigger = "threshold" (RebalanceStrategy.json)' in said
    assert 'rebalance.interval = "7d" (config.json)' in said
    assert "freqtrade trade refuses to start while RebalanceStrategy.json differs" in said


def test_each_hyperopt_epoch_starts_a_fresh_portfolio_with_its_values():
    strat = strategy(runmode=RunMode.HYPEROPT, spaces=["buy"])
    strat.ft_load_hyper_params(True)  # as Freqtrade does in hyperopt: the buy space searched
    assert all(p.in_space for p in searched(strat).values())
    rb = strat.rb
    rb.reader.opens = {"BTC/USDT": {int(T0.timestamp()): 42000.0}}  # candles, read once
    strat.trigger.value, strat.threshold.value = "threshold", 0.5  # epoch 1
    rb.loop(T0)
    rb.loop(datetime(2024, 1, 2, tzinfo=UTC))
    first = rb.store
    rb.store.update(started=T0.timestamp(), triggered=True)  # epoch 1 bought its coins
    strat.trigger.value, strat.interval.value = "interval", "3d"  # epoch 2
    strat.interval_min_drift.value = 1.5
    rb.loop(T0)  # the next backtest starts again at the first candle
    assert rb.store is not first and rb.book.started is None  # a fresh portfolio
    assert rb.reader.opens == {"BTC/USDT": {int(T0.timestamp()): 42000.0}}
    cfg = rb.ctx.cfg
    assert (cfg.trigger, cfg.threshold, cfg.interval, cfg.interval_min_drift) == (
        "interval",
        0.5,
        "3d",
        1.5,
    )
    assert rb.notifier.journal is None and rb.notifier.quiet  # hyperopt writes no journal


@pytest.mark.parametrize("runmode", [RunMode.BACKTEST, RunMode.HYPEROPT])
def test_only_a_backtest_writes_the_journal(runmode):
    from rebalance_plugin.ft.context import Context

    ctx = Context.of(
        object(), parse_rebalance_config(base_config()["rebalance"]), {"runmode": runmode}
    )
    assert ctx.journal == (runmode == RunMode.BACKTEST) and ctx.checked


def test_file_values_are_the_buy_space_of_the_file_over_buy_params():
    class S:
        buy_params = {"threshold": 2, "interval": "1d"}
        _ft_params_from_file = {"buy": {"threshold": 10, "other": 1}, "roi": {}}

    assert params.file_values(S()) == {"threshold": 10, "interval": "1d"}
    assert params.for_run(S(), hyperopt=False) == (
        {"threshold": 10, "interval": "1d"},
        {"threshold": params.FROM_FILE, "interval": params.FROM_FILE},
    )
