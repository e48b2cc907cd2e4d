"""Offline Binance markets for Freqtrade (rebalance_plugin.marketdata.offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest

from rebalance_plugin.marketdata import offline
from tests.helpers.paths import ROOT as REPO_ROOT
from tests.helpers.paths import SHARED_DATA

# Binance spot filters as published in the source exchangeInfo dump
# (preangelleo/Expenditure_bot binance_exchange_info.json, serverTime 2023-12-11):
# symbol: (LOT_SIZE stepSize, PRICE_FILTER tickSize, LOT_SIZE minQty, LOT_SIZE maxQty,
#          NOTIONAL minNotional)
EXPECTED = {
    "BTC/USDT": (0.00001, 0.01, 0.00001, 9000, 5),
    "ETH/USDT": (0.0001, 0.01, 0.0001, 9000, 5),
    "BNB/USDT": (0.001, 0.1, 0.001, 900000, 5),
    "SOL/USDT": (0.01, 0.01, 0.01, 90000, 5),
    "XRP/USDT": (1, 0.0001, 1, 9222449, 5),
    "ADA/USDT": (0.1, 0.0001, 0.1, 900000, 5),
    "DOGE/USDT": (1, 0.00001, 1, 9000000, 5),
    "LINK/USDT": (0.01, 0.001, 0.01, 90000, 5),
    "LTC/USDT": (0.001, 0.01, 0.001, 90000, 5),
    "TRX/USDT": (0.1, 0.00001, 0.1, 9000000, 5),
    "AVAX/USDT": (0.01, 0.01, 0.01, 90000, 5),
    "DOT/USDT": (0.01, 0.001, 0.01, 90000, 5),
}

TRIVIAL_STRATEGY = """
from freqtrade.strategy import IStrategy


class OfflineTrivialStrategy(IStrategy):
    timeframe = "1h"
    minimal_roi = {"0": 10}
    stoploss = -0.5

    def populate_indicators(self, dataframe, metadata):
        return dataframe

    def populate_entry_trend(self, dataframe, metadata):
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe, metadata):
        dataframe["exit_long"] = 0
        return dataframe
"""


@pytest.fixture
def offline_markets():
    offline.install_offline_markets()
    yield
    offline.uninstall_offline_markets()


def _filters(raw_symbol: dict) -> dict:
    return {f["filterType"]: f for f in raw_symbol["filters"]}


def _minimal_config(tmp_path: Path) -> dict:
    (tmp_path / "user_data").mkdir(exist_ok=True)  # freqtrade refuses a missing user_data_dir
    return {
        "max_open_trades": 12,
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "dry_run": True,
        "dry_run_wallet": 1000,
        "timeframe": "1h",
        "fee": 0.001,
        "dataformat_ohlcv": "feather",
        "trading_mode": "spot",
        "margin_mode": "",
        "exchange": {"name": "binance", "key": "", "secret": "", "pair_whitelist": list(EXPECTED)},
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": False, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": False, "order_book_top": 1},
        "user_data_dir": str(tmp_path / "user_data"),  # data: user_data/data/binance (empty)
    }


def _run_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rebalance_plugin.marketdata.offline", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- (a) the snapshot holds Binance's real filters ---------------------------------------


@pytest.mark.parametrize("symbol", list(EXPECTED))
def test_snapshot_has_binance_filters(symbol):
    step, tick, min_qty, max_qty, min_cost = EXPECTED[symbol]
    market = offline.load_markets_snapshot()[symbol]

    assert market["precision"]["amount"] == pytest.approx(step, rel=0, abs=1e-15)
    assert market["precision"]["price"] == pytest.approx(tick, rel=0, abs=1e-15)
    assert market["limits"]["amount"]["min"] == pytest.approx(min_qty, rel=0, abs=1e-15)
    assert market["limits"]["amount"]["max"] == max_qty
    assert market["limits"]["cost"]["min"] == min_cost

    # the raw Binance filters travel along in 'info', and match the raw exchangeInfo file
    raw = _filters(market["info"])
    assert float(raw["LOT_SIZE"]["stepSize"]) == step
    assert float(raw["PRICE_FILTER"]["tickSize"]) == tick
    assert float(raw["NOTIONAL"]["minNotional"]) == min_cost
    raw_by_id = {s["symbol"]: s for s in offline.load_exchange_info()["symbols"]}
    assert raw_by_id[market["id"]] == market["info"]


def test_snapshot_covers_exactly_the_pairs_and_cites_its_source():
    assert set(offline.load_markets_snapshot()) == set(EXPECTED)
    markets_doc = json.loads(offline._data_path(offline.MARKETS_FILE).read_text())
    info = offline.load_exchange_info()
    for doc in (markets_doc["_provenance"]["raw_data_provenance"], info["_provenance"]):
        assert doc["source"]["repository"] == "preangelleo/Expenditure_bot"
        assert doc["source"]["serverTime"] == info["serverTime"]
        assert set(doc["per_symbol"]) == {s.replace("/", "") for s in EXPECTED}


def test_snapshot_is_exactly_what_ccxt_parses_from_the_raw_exchange_info():
    parsed = offline.build_markets_from_exchange_info(offline.load_exchange_info())
    # JSON round trip: the snapshot file stores what ccxt produced
    assert json.loads(json.dumps(parsed)) == offline.load_markets_snapshot(), (
        "regenerate: python -c 'import rebalance_plugin.marketdata.offline as o; "
        "o.write_markets_snapshot()'"
    )
    btc = offline.load_markets_snapshot()["BTC/USDT"]
    assert ccxt.binance().precisionMode == ccxt.TICK_SIZE
    expected_fields = {
        "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
        "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True, "margin": True,
        "swap": False, "future": False, "option": False, "active": True, "contract": False,
        "linear": None, "inverse": None, "taker": 0.001, "maker": 0.001,
        "contractSize": None, "expiry": None, "settle": None,
    }  # fmt: skip
    assert {k: btc[k] for k in expected_fields} == expected_fields
    assert btc["limits"]["price"] == {"min": 0.01, "max": 1000000}


# --- (b) in-process: Freqtrade's exchange loads markets from the snapshot -----------------


def test_install_is_idempotent_and_restorable():
    offline.uninstall_offline_markets()  # other tests may have left it installed
    original = ccxt.binance.__dict__["fetch_markets"]
    offline.install_offline_markets()
    patched = ccxt.binance.__dict__["fetch_markets"]
    offline.install_offline_markets()
    try:
        assert patched is not original
        assert ccxt.binance.__dict__["fetch_markets"] is patched
        api = ccxt.binance()
        assert set(api.load_markets()) == set(EXPECTED)
        assert api.fetch_currencies() == {}
    finally:
        offline.uninstall_offline_markets()
    assert ccxt.binance.__dict__["fetch_markets"] is original


def test_freqtrade_exchange_loads_snapshot_in_process(offline_markets, tmp_path):
    from freqtrade.constants import DEFAULT_AMOUNT_RESERVE_PERCENT
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import ExchangeResolver

    config = _minimal_config(tmp_path)
    config["runmode"] = RunMode.BACKTEST
    exchange = ExchangeResolver.load_exchange(config, validate=True)
    try:
        assert set(exchange.markets) == set(EXPECTED)
        btc = exchange.markets["BTC/USDT"]
        assert btc["precision"]["amount"] == 0.00001
        assert btc["precision"]["price"] == 0.01
        assert btc["limits"]["amount"]["min"] == 0.00001
        assert btc["limits"]["cost"]["min"] == 5
        assert exchange.amount_to_precision("BTC/USDT", 0.123456789) == 0.12345
        assert exchange.price_to_precision("BTC/USDT", 50000.126) == 50000.13

        # freqtrade: max(min_cost * stoploss_reserve, min_amount * price * amount_reserve)
        amount_reserve = 1 + DEFAULT_AMOUNT_RESERVE_PERCENT
        stoploss_reserve = amount_reserve / (1 - 0.1)
        expected = max(5 * stoploss_reserve, 0.00001 * 50000 * amount_reserve)
        assert exchange.get_min_pair_stake_amount("BTC/USDT", 50000, -0.1) == pytest.approx(
            expected
        )
        assert expected == pytest.approx(5.8333333)

        # anything that would need Binance fails at once instead of touching the network
        with pytest.raises(offline.OfflineModeError):
            exchange._api.fetch_order_book("BTC/USDT")
    finally:
        exchange.close()


# --- (c) the CLI wrapper: `python -m rebalance_plugin.marketdata.offline <freqtrade command>` ---


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
def test_cli_list_pairs_offline(tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(_minimal_config(tmp_path)))

    result = _run_cli("list-pairs", "--config", str(config_file), "--quote", "USDT", "-1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(result.stdout.split()) == set(EXPECTED)
    assert "Could not load markets" not in result.stderr


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
def test_cli_propagates_freqtrade_exit_code_after_loading_markets(tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "OfflineTrivialStrategy.py").write_text(TRIVIAL_STRATEGY)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(_minimal_config(tmp_path)))  # empty datadir

    result = _run_cli(
        "backtesting", "--config", str(config_file),
        "--strategy", "OfflineTrivialStrategy", "--strategy-path", str(tmp_path / "strategies"),
        "--timerange", "20240101-20240103", "--export", "none",
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert "Could not load markets" not in output
    assert "No data found" in output  # got past exchange/market loading, then freqtrade stops
    assert result.returncode == 2


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
@pytest.mark.skipif(
    not (SHARED_DATA / "BTC_USDT-1h.feather").exists(), reason="no local Binance candles"
)
def test_cli_backtesting_runs_offline_on_local_candles(tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "OfflineTrivialStrategy.py").write_text(TRIVIAL_STRATEGY)
    config = _minimal_config(tmp_path)
    config["exchange"]["pair_whitelist"] = ["BTC/USDT", "ETH/USDT"]
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    result = _run_cli(
        "backtesting", "--config", str(config_file),
        "--strategy", "OfflineTrivialStrategy", "--strategy-path", str(tmp_path / "strategies"),
        "--datadir", str(SHARED_DATA), "--timerange", "20240101-20240108", "--export", "none",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OfflineTrivialStrategy" in result.stdout
