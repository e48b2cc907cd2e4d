"""Freqtrade settings that would take the portfolio out of the rebalancer's hands are refused at
start-up, before any order, with the setting, its value, where it came from and the fix.

Each case runs the real backtesting start-up (config, strategy with Freqtrade's own overrides
and parameter-file loading, exchange, data). Before this check, ``minimal_roi {"0": 0.01}`` gave
19 ROI exits in 2 days and ``stoploss -0.05`` 10 stop-loss exits, ``position_adjustment_enable:
false`` placed no rebalance order, ``max_entry_position_adjustment: 0`` only the sells,
``tradable_balance_ratio: 0.5`` bought two coins of four, and a parameter file written by
``freqtrade hyperopt --spaces roi stoploss`` turned every later run into a ROI trader. The file
``hyperopt --spaces buy`` writes (the trigger, and the strategy's own "never exit" values) runs.
"""

from __future__ import annotations

import json

import pytest
from freqtrade.exceptions import FreqtradeException

from tests.helpers.ftrun import (
    NO_SHARED_DATA,
    SHARED_DATA,
    make_config,
    run_backtest,
    with_strategy_copy,
)

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

RANGE = "20240101-20240103"


def _with(tmp_path, **settings):
    path = make_config(tmp_path)
    cfg = json.loads(path.read_text())
    cfg.update(settings)
    path.write_text(json.dumps(cfg))
    return path


def _refused(path, *needles, **kwargs) -> str:
    with pytest.raises(FreqtradeException) as err:
        run_backtest(path, RANGE, **kwargs)
    text = str(err.value)
    assert text.startswith("Refusing to start"), text
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.parametrize(
    ("setting", "value", "needles"),
    [
        (
            "minimal_roi",
            {"0": 0.01},
            ['minimal_roi = {"0": 0.01} in config.json', '"minimal_roi": {}'],
        ),
        ("stoploss", -0.05, ["stoploss = -0.05 in config.json", '"stoploss": -1']),
        ("trailing_stop", True, ["trailing_stop = true in config.json", '"trailing_stop": false']),
        (
            "position_adjustment_enable",
            False,
            ["position_adjustment_enable = false in config.json", "none of the rebalance orders"],
        ),
        (
            "max_entry_position_adjustment",
            0,
            [
                "max_entry_position_adjustment = 0 in config.json",
                '"max_entry_position_adjustment": -1',
            ],
        ),
        ("tradable_balance_ratio", 0.5, ["tradable_balance_ratio = 0.5", "available_capital"]),
        ("stake_amount", 100, ["stake_amount = 100", '"stake_amount": "unlimited"']),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_a_conflicting_setting_in_config_json_is_refused(tmp_path, setting, value, needles):
    _refused(_with(tmp_path, **{setting: value}), *needles)


def test_every_conflict_is_named_at_once(tmp_path):
    text = _refused(_with(tmp_path, minimal_roi={"0": 0.02}, stoploss=-0.1))
    assert 'minimal_roi = {"0": 0.02}' in text and "stoploss = -0.1" in text


def _with_params_file(tmp_path, params):
    """config.json beside a copy of the strategy folder holding a parameter file."""
    path = make_config(tmp_path)
    strategies = with_strategy_copy(path)
    (strategies / "RebalanceStrategy.json").write_text(
        json.dumps({"strategy_name": "RebalanceStrategy", "params": params, "ft_stratparam_v": 1})
    )
    return path


#: What `freqtrade hyperopt --spaces buy` writes: the trigger it found, and the strategy's own
#: values of the spaces it did not search (tests/backtest/test_hyperopt.py checks a real one).
BUY_SPACE_FILE = {
    "roi": {},
    "stoploss": {"stoploss": -1.0},
    "trailing": {
        "trailing_stop": False,
        "trailing_stop_positive": None,
        "trailing_stop_positive_offset": 0.0,
        "trailing_only_offset_is_reached": False,
    },
    "max_open_trades": {"max_open_trades": 10},
    "buy": {"interval": "1d", "interval_min_drift": 1.5, "threshold": 10, "trigger": "interval"},
}


def test_the_parameter_file_of_the_buy_space_is_accepted_and_sets_the_trigger(tmp_path):
    run = run_backtest(_with_params_file(tmp_path, BUY_SPACE_FILE), RANGE)
    cfg = run.strategy.rebalance
    assert (cfg.trigger, cfg.threshold, cfg.interval, cfg.interval_min_drift) == (
        "interval",
        10,
        "1d",
        1.5,
    )
    assert run.strategy.minimal_roi == {} and run.strategy.stoploss == -1.0
    assert len(run.trades) == 4 and set(run.trades["exit_reason"]) == {"force_exit"}


def test_a_parameter_file_with_the_trigger_and_a_real_exit_is_refused(tmp_path):
    params = {**BUY_SPACE_FILE, "roi": {"0": 0.05}, "trailing": {"trailing_stop": True}}
    _refused(
        _with_params_file(tmp_path, params),
        'minimal_roi = {"0": 0.05} in RebalanceStrategy.json (written by freqtrade hyperopt',
        "trailing_stop = true in RebalanceStrategy.json",
    )


def test_a_parameter_file_with_a_trigger_the_section_refuses_is_refused(tmp_path):
    params = {**BUY_SPACE_FILE, "buy": {"threshold": 7}}
    _refused(
        _with_params_file(tmp_path, params),
        '"threshold": 7 in RebalanceStrategy.json (buy parameters, written by freqtrade '
        "hyperopt): rebalance.threshold must be one of 0.5, 1, 2, 5, 10, 20, 30, 50",
    )


def test_a_hyperopt_parameter_file_with_roi_and_stoploss_is_refused(tmp_path):
    # What `freqtrade hyperopt --spaces roi stoploss` leaves beside the strategy file.
    path = _with_params_file(
        tmp_path, {"roi": {"0": 0.03, "60": 0.01}, "stoploss": {"stoploss": -0.08}}
    )
    _refused(
        path,
        'minimal_roi = {"0": 0.03, "60": 0.01} in RebalanceStrategy.json (written by freqtrade '
        "hyperopt; delete that file)",
        "stoploss = -0.08 in RebalanceStrategy.json",
    )


def test_the_shipped_settings_start_and_trade(tmp_path):
    run = run_backtest(make_config(tmp_path), RANGE)
    assert len(run.trades) == 4  # one trade per coin, force-exited at the end only
