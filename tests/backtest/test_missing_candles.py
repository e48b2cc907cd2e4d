"""A coin without candles at the backtest's start: the first buys wait for it, and say so.

Before: Balanced growth over 2020 bought BTC, ETH and BNB on 2020-01-01 and SOL only when its
candles began (Binance listed SOL/USDT in August 2020), seven months later, with 15% of the
money idle and the portfolio never rebalanced meanwhile. Now no coin is bought before every
coin has a price, and the log names the coin and its first candle.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}


def test_first_buys_wait_for_a_coin_listed_after_the_start(tmp_path, caplog):
    sol_first = pd.read_feather(SHARED_DATA / "SOL_USDT-1h.feather")["date"].iloc[0]
    assert sol_first == pd.Timestamp("2020-08-11 06:00", tz="UTC")  # the data's own fact
    caplog.set_level(logging.INFO, logger="rebalance_plugin.ft")

    run = run_backtest(make_config(tmp_path, coins=COINS), "20200701-20200901")

    opens = pd.to_datetime(run.trades["open_date"], utc=True)
    assert sorted(run.trades["pair"]) == ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]
    # The others are bought at SOL's first candle (06:00), nothing earlier. SOL itself two
    # candles later (08:00): Freqtrade takes its first candle as the startup candle and enters
    # a candle after the signal.
    by_pair = dict(zip(run.trades["pair"], opens, strict=True))
    assert [by_pair[p] for p in ("BTC/USDT", "ETH/USDT", "BNB/USDT")] == [sol_first] * 3
    assert by_pair["SOL/USDT"] == sol_first + pd.Timedelta(hours=2)
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    waiting = [m for m in said if m.startswith("Portfolio waiting for candles")]
    assert waiting == [
        "Portfolio waiting for candles of SOL (first candle 2020-08-11 06:00 UTC): the first "
        "buys start when every coin has a price. Download the data, or start the backtest's "
        "--timerange later"
    ]
    assert "Every coin has candles from 2020-08-11 06:00 UTC: buying the portfolio" in said


def test_a_coin_without_any_candle_is_named_and_nothing_is_bought(tmp_path, caplog):
    # The shared data has no 5m candles for LINK (Diversified on 5m used to drop it silently
    # and run on the other coins).
    assert not (SHARED_DATA / "LINK_USDT-5m.feather").exists()
    caplog.set_level(logging.INFO, logger="rebalance_plugin.ft")
    path = make_config(tmp_path, coins={"BTC": 50, "LINK": 50})
    cfg = json.loads(path.read_text())
    cfg["timeframe"] = "5m"
    path.write_text(json.dumps(cfg))

    run = run_backtest(path, "20250101-20250102")

    assert len(run.trades) == 0
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert [m for m in said if m.startswith("Portfolio waiting")] == [
        "Portfolio waiting for candles of LINK (no candles): the first buys start when every "
        "coin has a price. Download the data, or start the backtest's --timerange later"
    ]
