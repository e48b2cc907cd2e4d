"""FastForward.until (rebalance_plugin/ft/fastforward.py): the next candle on which the loop has
something to decide, checked against hand-worked prices and the core's own drift."""

from __future__ import annotations

import math

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.portfolio import Portfolio, max_drift
from rebalance_plugin.ft.fastforward import FastForward

H = 3600


def config(**keys):
    return parse_rebalance_config({"coins": {"BTC": 50, "ETH": 50}, "investment": 1000, **keys})


def test_the_first_candle_past_the_threshold_by_hand():
    # 0.01 BTC and 0.25 ETH, no cash. BTC 50000 and ETH 2000: 500 / 500, weights 50/50.
    # At t=3h BTC 55000: 550 / (550 + 500) = 52.38%: 2.38 points, under 5.
    # At t=4h BTC 61000: 610 / 1110 = 54.95%: 4.95 points, under 5.
    # At t=5h BTC 61200: 612 / 1112 = 55.04%: 5.04 points, over 5: the loop must run then.
    btc = {0: 50000.0, H: 50000.0, 2 * H: 52000.0, 3 * H: 55000.0, 4 * H: 61000.0, 5 * H: 61200.0}
    eth = {t: 2000.0 for t in btc}
    ff = FastForward({"BTC/USDT": btc, "ETH/USDT": eth})
    held = {"BTC": 0.01, "ETH": 0.25}
    assert ff.until(config(threshold=5), 0.0, 0.0, held, 0.0) == 5 * H
    # The core agrees on both sides of that candle.
    cfg = config(threshold=5)
    assert max_drift(Portfolio(held, {"BTC": 61000.0, "ETH": 2000.0}), cfg.weights) < 5
    assert max_drift(Portfolio(held, {"BTC": 61200.0, "ETH": 2000.0}), cfg.weights) > 5
    # From t=5h on (nothing crosses after it within the data): run to the end, no candle.
    assert ff.until(cfg, 5 * H, 0.0, held, 0.0) == math.inf


def test_a_missing_price_stops_it_there():
    btc = {0: 50000.0, H: 50000.0, 3 * H: 50000.0}  # no BTC candle at 2h
    eth = {0: 2000.0, H: 2000.0, 2 * H: 2000.0, 3 * H: 2000.0}
    ff = FastForward({"BTC/USDT": btc, "ETH/USDT": eth})
    assert ff.until(config(threshold=5), 0.0, 0.0, {"BTC": 0.01, "ETH": 0.25}, 0.0) == 2 * H


def test_relative_mode_measures_in_percent_of_the_target():
    # BTC 90 / DOGE 10 at 900 / 100. DOGE falls to 80: 80 / 980 = 8.16%, -18.4% of its
    # target: under 20 relative; to 77: 77 / 977 = 7.88%, -21.2%: over.
    cfg = parse_rebalance_config(
        {
            "coins": {"BTC": 90, "DOGE": 10},
            "investment": 1000,
            "threshold": 20,
            "threshold_mode": "relative",
        }
    )
    btc = {0: 900.0, H: 900.0, 2 * H: 900.0}
    doge = {0: 1.0, H: 0.8, 2 * H: 0.77}
    ff = FastForward({"BTC/USDT": btc, "DOGE/USDT": doge})
    assert ff.until(cfg, 0.0, 0.0, {"BTC": 1.0, "DOGE": 100.0}, 0.0) == 2 * H


def test_an_interval_trigger_runs_at_its_next_check():
    # First buy at 0, checks every 4h: at 4h, 8h, ... From 1h, the next is 4h.
    prices = {t * H: 100.0 for t in range(12)}
    ff = FastForward({"BTC/USDT": prices, "ETH/USDT": prices})
    cfg = config(trigger="interval", interval="4h")
    assert ff.until(cfg, 1 * H, 0.0, {"BTC": 1.0, "ETH": 1.0}, 0.0) == 4 * H
    assert ff.until(cfg, 4 * H, 0.0, {"BTC": 1.0, "ETH": 1.0}, 0.0) == 8 * H
