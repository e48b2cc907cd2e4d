"""Which orders go to which exchange (rebalance_plugin/ft/ordertypes.py): limit IOC where
Freqtrade declares IOC for the exchange, else limit GTC; and the strategy's
``order_time_in_force`` as Freqtrade copies it into its config and checks it at start-up."""

from __future__ import annotations

import pytest

from rebalance_plugin.ft.ordertypes import order_style
from rebalance_plugin.ft.privates import time_in_force

# Freqtrade 2026.9's exchange classes (freqtrade/exchange/*.py, _ft_has["order_time_in_force"]):
# binance, binanceus (a Binance subclass), bybit, bitget FOK/IOC/PO; kraken IOC/PO; kucoin
# FOK/IOC; gate IOC; okx, htx and coinbase (no class of their own) only the generic GTC.
IOC = ["binance", "binanceus", "bybit", "bitget", "kraken", "kucoin", "gate", "gateio"]
GTC_ONLY = ["okx", "htx", "huobi", "coinbase"]


@pytest.mark.parametrize("name", IOC)
def test_exchanges_with_ioc_get_limit_ioc(name):
    assert "IOC" in time_in_force(name)
    style = order_style({"exchange": {"name": name}})
    assert style.limit == ({"entry": "limit", "exit": "limit"}, {"entry": "IOC", "exit": "IOC"})


@pytest.mark.parametrize("name", GTC_ONLY)
def test_exchanges_without_ioc_get_limit_gtc(name):
    assert time_in_force(name) == ["GTC"]
    style = order_style({"exchange": {"name": name}, "unfilledtimeout": {"entry": 1}})
    assert style.limit == ({"entry": "limit", "exit": "limit"}, {"entry": "GTC", "exit": "GTC"})
    assert "cancelled after 1 minutes (unfilledtimeout)" in style.describe(
        {"unfilledtimeout": {"entry": 1}}
    )


def test_a_time_in_force_the_user_set_is_kept():
    style = order_style({"exchange": {"name": "binance"}, "order_time_in_force": {"entry": "gtc"}})
    assert style.tif == "GTC"


def test_the_strategy_hands_freqtrade_the_exchanges_time_in_force(tmp_path):
    """Freqtrade copies the strategy's order_time_in_force into its config before it builds the
    exchange, which refuses an unsupported one: on OKX the config must read GTC."""
    from freqtrade.resolvers import StrategyResolver

    from tests.helpers.paths import ROOT

    for name, tif in (("okx", "GTC"), ("kraken", "IOC")):
        config = {
            "strategy": "RebalanceStrategy",
            "strategy_path": str(ROOT / "strategies"),
            "user_data_dir": tmp_path,
            "stake_currency": "USDT",
            "stake_amount": "unlimited",
            "dry_run": True,
            "dry_run_wallet": 1000,
            "timeframe": "1h",
            "max_open_trades": 2,
            "runmode": None,
            "exchange": {"name": name, "pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
            "entry_pricing": {"price_side": "other"},
            "exit_pricing": {"price_side": "other"},
            "rebalance": {"coins": {"BTC": 50, "ETH": 50}, "investment": 1000},
        }
        StrategyResolver.load_strategy(config)
        assert config["order_time_in_force"] == {"entry": tif, "exit": tif}
