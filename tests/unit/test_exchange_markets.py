"""A portfolio whose coins have no market on the chosen exchange is refused at start-up with the
pairs named and what the exchange trades instead (rebalance_plugin/ft/startup.py check_markets),
on the markets ccxt builds for Kraken (../shared/ccxt-static/markets/kraken.json): USDT pairs
for BTC, ETH, ADA, LTC, XRP and DOGE; USD pairs for BTC and XRP only; no SOL, no EUR."""

from __future__ import annotations

import json

import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.ft.context import Context
from rebalance_plugin.ft.markets import Markets
from rebalance_plugin.ft.startup import Refusal
from tests.helpers.paths import CCXT_STATIC
from tests.unit.ft_fakes import FakeDataProvider, FakeStrategy, FakeWallets


def kraken_markets(stake: str, coins: dict[str, float]) -> Markets:
    markets = json.loads((CCXT_STATIC / "markets" / "kraken.json").read_text())
    config = {"stake_currency": stake, "exchange": {"name": "kraken"}, "fee": 0.0026}
    strategy = FakeStrategy(config, FakeDataProvider(markets=markets), FakeWallets())
    cfg = parse_rebalance_config({"coins": coins, "investment": 1000}, stake)
    return Markets(Context(strategy, cfg, backtest=True))


def test_coins_missing_on_kraken_are_named_all_at_once():
    mk = kraken_markets("USDT", {"BTC": 50, "SOL": 25, "BNB": 25})
    with pytest.raises(Refusal) as err:
        mk.check(mk.ctx.cfg)
    text = str(err.value)
    assert "no spot market on kraken for SOL/USDT, BNB/USDT" in text
    assert "fix: choose coins that kraken trades against USDT" in text


def test_a_stake_currency_kraken_lacks_is_refused_with_the_one_it_has():
    mk = kraken_markets("EUR", {"BTC": 60, "XRP": 40})
    with pytest.raises(Refusal) as err:
        mk.check(mk.ctx.cfg)
    text = str(err.value)
    assert "no spot market on kraken for BTC/EUR, XRP/EUR" in text
    assert "BTC trades against USDT, USD there; XRP trades against USDT, USD there" in text
    assert "set stake_currency to USD or USDT" in text


def test_coins_kraken_lists_pass():
    mk = kraken_markets("USDT", {"BTC": 40, "ETH": 30, "ADA": 15, "XRP": 15})
    mk.check(mk.ctx.cfg)  # no refusal: every pair is an active spot market
    assert mk.missing(["BTC", "ETH", "ADA", "XRP"]) == []


def test_a_first_buy_under_krakens_minimum_quantity_is_refused_at_its_price():
    """Kraken counts ETH/USDT's minimum in the coin (info.ordermin 0.01 ETH; its minimum value,
    info.costmin, is only 0.5 USDT). At 2340 USDT, 0.01 ETH is worth 23.40; Freqtrade wants
    1.5 x that for a first buy = 35.10, x (1 + 0.26% fee) = 35.19126. 60 USDT x 25% = 15 USDT
    of ETH is too small: Freqtrade would never open it. The investment that clears it:
    35.19126 / 25% = 140.77 USDT."""
    mk = kraken_markets("USDT", {"BTC": 25, "ETH": 25, "ADA": 25, "XRP": 25})
    mk.ctx.cfg = parse_rebalance_config(
        {"coins": {"BTC": 25, "ETH": 25, "ADA": 25, "XRP": 25}, "investment": 60}, "USDT"
    )
    mk.check(mk.ctx.cfg)  # without prices only the 0.5 USDT minimum values are known: passes
    prices = {"BTC": 40000.0, "ETH": 2340.0, "ADA": 0.5, "XRP": 0.5}
    with pytest.raises(Refusal) as err:
        mk.check(mk.ctx.cfg, prices)
    text = str(err.value)
    # BTC: 0.0001 x 40000 = 4 -> 4 x 1.5 x 1.0026 = 6.0156; ADA 20 x 0.5 = 10 -> 15.039;
    # XRP 10 x 0.5 = 5 -> 7.5195. ETH's is the largest: the message names it and 140.77.
    assert "ETH gets 25% = 15.00 USDT, below the exchange minimum of 35.19 USDT" in text
    assert "needs at least 140.77 USDT" in text
