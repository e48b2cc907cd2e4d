"""Bad input reaching Freqtrade is refused at start-up, before any order, with a clear message.

Each case runs the real backtesting start-up (config, exchange with the offline markets,
strategy, pairlist, data) and must fail with an error naming the field and the value; no trade
is ever opened.
"""

from __future__ import annotations

import json

import pytest
from freqtrade.exceptions import FreqtradeException

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)


def _refused(cfg_path, *needles):
    with pytest.raises(FreqtradeException) as err:
        run_backtest(cfg_path, "20240101-20240110")
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    return str(err.value)


def _edit(path, fn):
    cfg = json.loads(path.read_text())
    fn(cfg)
    path.write_text(json.dumps(cfg))
    return path


def test_whitelist_that_disagrees_with_the_coins_is_refused(tmp_path):
    cfg = make_config(tmp_path)
    _edit(
        cfg,
        lambda c: c["exchange"].update(
            pair_whitelist=["BTC/USDT", "ETH/USDT", "XRP/USDT", "SOL/USDT"]
        ),
    )
    _refused(cfg, "pair_whitelist", "Missing: BNB/USDT", "Not in rebalance.coins: XRP/USDT")


def test_investment_too_small_for_the_exchange_minimum_is_refused(tmp_path):
    # BNB (first of the 15% coins) gets 15% of 30 USDT = 4.50 USDT: below the 5 USDT minimum
    # x Freqtrade's 1.5 first-order reserve = 7.50, x 1.001 for the fee = 7.51 of investment.
    cfg = make_config(tmp_path, investment=30)
    _refused(cfg, "rebalance.investment = 30", "BNB gets 15% = 4.50", "7.51")


def test_coin_without_a_market_is_refused(tmp_path):
    cfg = make_config(tmp_path, coins={"BTC": 50, "NOSUCHCOIN": 50})
    _refused(cfg, "NOSUCHCOIN/USDT")


def test_missing_rebalance_section_is_refused(tmp_path):
    cfg = make_config(tmp_path)
    _edit(cfg, lambda c: c.pop("rebalance"))
    _refused(cfg, 'no "rebalance" section')


def test_weights_not_summing_to_100_are_refused_through_freqtrade(tmp_path):
    cfg = make_config(tmp_path, coins={"BTC": 50, "ETH": 45})
    _refused(cfg, "weights must sum to 100 (within 1e-06), got 95.0 (BTC 50 + ETH 45)")


def test_wallet_smaller_than_the_investment_is_refused(tmp_path):
    cfg = make_config(tmp_path, investment=1000)
    _edit(cfg, lambda c: c.update(dry_run_wallet=500))
    _refused(cfg, "dry_run_wallet = 500", "investment = 1000")


def test_max_open_trades_below_the_number_of_coins_is_refused(tmp_path):
    cfg = make_config(tmp_path)
    _edit(cfg, lambda c: c.update(max_open_trades=3))
    _refused(cfg, "max_open_trades = 3", "set it to 4, one trade per coin")


def test_valid_default_config_starts_and_buys_every_coin(tmp_path):
    run = run_backtest(make_config(tmp_path), "20240101-20240110")
    assert sorted(run.trades["pair"]) == ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]
    # first buys: weight x 1000 / 1.001 of coin each, rounded down to the step (one step of SOL,
    # 0.01 at ~101 USDT, is worth ~1 USDT); with the 0.1% fee (in Freqtrade's order cost) each
    # costs at most weight x 1000: 400 USDT for BTC, 150 for SOL, and at most one step less.
    first = {p: o[0] for p, o in zip(run.trades["pair"], run.trades["orders"])}
    for pair, weight in {"BTC/USDT": 40, "ETH/USDT": 30, "BNB/USDT": 15, "SOL/USDT": 15}.items():
        cost, step_value = (
            first[pair]["cost"],
            first[pair]["safe_price"]
            * {"BTC/USDT": 1e-05, "ETH/USDT": 1e-04, "BNB/USDT": 1e-03, "SOL/USDT": 1e-02}[pair],
        )
        target = weight * 10.0
        assert target - step_value * 1.001 <= cost <= target, (pair, cost, target)


def _strategy(config):
    import importlib.util

    from tests.helpers.ftrun import ROOT

    spec = importlib.util.spec_from_file_location(
        "rs", ROOT / "strategies" / "RebalanceStrategy.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RebalanceStrategy(config)


def test_live_trading_starts_and_the_shipped_config_is_safe():
    from freqtrade.enums import RunMode

    from tests.helpers.ftrun import base_config

    config = base_config()
    # The shipped config: REST API on loopback only, no password or secret in the file.
    api = config["api_server"]
    assert api["listen_ip_address"] == "127.0.0.1"
    assert not api.get("password") and api["jwt_secret_key"].startswith("set-me")
    assert not config["exchange"]["key"] and not config["exchange"]["secret"]
    assert not config["telegram"]["token"]
    config.update(runmode=RunMode.LIVE, dry_run=False)
    config["api_server"]["enabled"] = False
    assert _strategy(config).rebalance.investment == 1000


@pytest.mark.parametrize(
    "api, telegram, needle",
    [
        (
            {
                "enabled": True,
                "listen_ip_address": "127.0.0.1",
                "password": "",
                "jwt_secret_key": "0123456789abcdef",
            },
            {},
            "FREQTRADE__API_SERVER__PASSWORD",
        ),
        (
            {
                "enabled": True,
                "listen_ip_address": "127.0.0.1",
                "password": "a-long-password",
                "jwt_secret_key": "set-me-from-FREQTRADE__API_SERVER__JWT_SECRET_KEY",
            },
            {},
            "FREQTRADE__API_SERVER__JWT_SECRET_KEY",
        ),
        (
            {
                "enabled": True,
                "listen_ip_address": "0.0.0.0",
                "password": "a-long-password",
                "jwt_secret_key": "0123456789abcdef",
            },
            {},
            "listen_ip_address = 0.0.0.0",
        ),
        (
            {"enabled": False},
            {"enabled": True, "token": "123:abc", "chat_id": ""},
            "telegram.chat_id",
        ),
    ],
)
def test_unsafe_api_or_telegram_settings_are_refused(api, telegram, needle):
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import OperationalException

    from tests.helpers.ftrun import base_config

    config = base_config()
    config.update(runmode=RunMode.DRY_RUN, api_server=api)
    config["telegram"].update(telegram)
    with pytest.raises(OperationalException) as err:
        _strategy(config)
    assert needle in str(err.value)
    # Listening on all interfaces is accepted only when asked for explicitly.
    if api.get("listen_ip_address") == "0.0.0.0":
        config["api_server"]["allow_remote_access"] = True
        assert _strategy(config).rebalance.investment == 1000
