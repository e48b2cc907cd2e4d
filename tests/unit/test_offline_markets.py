"""The offline runner on any exchange (rebalance_plugin.marketdata.offline, issue 19): markets
from a file in ccxt's unified format, converted to the loading class's precision mode, patched
into that exchange's ccxt classes only; ``--markets FILE`` taken off the command line.

Expected numbers are copied by hand from ccxt's fixtures (../shared/ccxt-static/markets).
"""

from __future__ import annotations

import asyncio
import json

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from rebalance_plugin.core.rules import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE
from rebalance_plugin.marketdata import offline
from tests.helpers.paths import CCXT_STATIC

MARKETS = CCXT_STATIC / "markets"
pytestmark = pytest.mark.skipif(
    not MARKETS.is_dir(), reason="ccxt fixtures ../shared/ccxt-static absent"
)


@pytest.fixture
def clean_offline():
    """No offline markets during the test; Binance's snapshot back afterwards if it was there
    (other tests and the in-process backtests leave it installed)."""
    was_installed = bool(offline._ORIGINALS)
    offline.uninstall_offline_markets()
    yield
    offline.uninstall_offline_markets()
    if was_installed:
        offline.install_offline_markets()


# --- the file's precision mode and its conversion ---------------------------------------------


def test_old_binance_fixtures_are_decimal_places_and_the_others_tick_size():
    for name in ("binance", "binanceus"):
        markets, declared = offline.read_markets_file(MARKETS / f"{name}.json")
        assert declared is None
        assert offline.file_precision_mode(markets) == DECIMAL_PLACES
    for name in ("kraken", "okx", "bybit", "gate", "kucoin", "bitget", "htx", "coinbase"):
        markets, _ = offline.read_markets_file(MARKETS / f"{name}.json")
        assert offline.file_precision_mode(markets) == TICK_SIZE, name
    assert offline.file_precision_mode(offline.load_markets_snapshot()) == TICK_SIZE


def test_a_declared_precision_mode_wins_and_a_wrong_one_is_refused(tmp_path):
    path = tmp_path / "bitfinex.json"
    path.write_text(json.dumps({"_precisionMode": 3, "A/B": {"precision": {"amount": 5}}}))
    markets, declared = offline.read_markets_file(path)
    assert markets == {"A/B": {"precision": {"amount": 5}}}
    assert offline.file_precision_mode(markets) == DECIMAL_PLACES  # whole numbers alone
    assert offline.file_precision_mode(markets, declared) == SIGNIFICANT_DIGITS
    with pytest.raises(offline.MarketsFileError, match="not 2, 3 or 4"):
        offline.file_precision_mode(markets, 7)


def test_decimal_places_become_ticks():
    markets, _ = offline.read_markets_file(MARKETS / "binance.json")
    ticks = offline.normalise_precision(markets, DECIMAL_PLACES, TICK_SIZE)
    # binance.json BTC/USDT: {"amount": 5, "price": 2, "base": 8, "quote": 8}
    assert ticks["BTC/USDT"]["precision"] == {
        "amount": 1e-05, "price": 0.01, "base": 1e-08, "quote": 1e-08
    }  # fmt: skip
    # XRP/USDT: "amount": 0 is a step of one XRP; "price": 4 a tick of 0.0001
    assert ticks["XRP/USDT"]["precision"]["amount"] == 1.0
    assert ticks["XRP/USDT"]["precision"]["price"] == 0.0001
    assert ticks["BTC/USDT"]["limits"] == markets["BTC/USDT"]["limits"]  # values in any mode
    assert markets["BTC/USDT"]["precision"]["amount"] == 5  # the input is left as it was


def test_ticks_become_decimal_places_when_they_are_powers_of_ten():
    markets, _ = offline.read_markets_file(MARKETS / "kraken.json")
    places = offline.normalise_precision(markets, TICK_SIZE, DECIMAL_PLACES)
    # kraken.json BTC/USDT: {"amount": 1e-08, "price": 0.1}
    assert places["BTC/USDT"]["precision"] == {"amount": 8, "price": 1}
    with pytest.raises(offline.MarketsFileError, match="0.5"):
        offline.normalise_precision(
            {"X/Y": {"precision": {"price": 0.5}}}, TICK_SIZE, DECIMAL_PLACES
        )


def test_significant_digits_are_not_converted():
    with pytest.raises(offline.MarketsFileError, match="significant digits"):
        offline.normalise_precision({}, SIGNIFICANT_DIGITS, TICK_SIZE)


def test_a_file_without_markets_is_refused(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text('{"_provenance": {}}')
    with pytest.raises(offline.MarketsFileError, match="no ccxt unified markets"):
        offline.read_markets_file(empty)
    with pytest.raises(offline.MarketsFileError, match="missing.json"):
        offline.read_markets_file(tmp_path / "missing.json")


def test_a_list_of_markets_reads_like_a_dict(tmp_path):
    listed = tmp_path / "list.json"
    fixture = json.loads((MARKETS / "okx.json").read_text())
    listed.write_text(json.dumps(list(fixture.values())))
    markets, _ = offline.read_markets_file(listed)
    assert markets == fixture


# --- the patch: only the exchange installed, sync, async and pro ------------------------------


def test_kraken_loads_its_fixture_and_other_exchanges_are_untouched(clean_offline):
    okx_fetch_markets = ccxt.okx.__dict__["fetch_markets"]
    offline.install_offline_markets("kraken", MARKETS / "kraken.json")

    api = ccxt.kraken()
    markets = api.load_markets()
    assert markets["ADA/USDT"]["limits"]["amount"]["min"] == 20  # kraken.json: ordermin "20"
    assert markets["ADA/USDT"]["info"]["costmin"] == "0.5"
    with pytest.raises(offline.OfflineModeError, match="kraken"):
        api.fetch_order_book("BTC/USDT")
    assert ccxt.okx.__dict__["fetch_markets"] is okx_fetch_markets  # OKX keeps its own


def test_async_and_pro_classes_load_the_file_too(clean_offline):
    # ccxt.pro.binanceus derives from ccxt.pro.binance, not from ccxt.async_support.binanceus:
    # each class is patched itself.
    assert not issubclass(ccxt_pro.binanceus, ccxt_async.binanceus)
    offline.install_offline_markets("binanceus", MARKETS / "binanceus.json")

    async def load(api):
        try:
            return await api.load_markets()
        finally:
            await api.close()

    for api in (ccxt_async.binanceus(), ccxt_pro.binanceus()):
        markets = asyncio.run(load(api))
        # binanceus.json BTC/USDT "amount": 5 (DECIMAL_PLACES) -> today's ccxt: TICK_SIZE step
        assert markets["BTC/USDT"]["precision"]["amount"] == 1e-05
        assert markets["XRP/USDT"]["precision"]["amount"] == 1.0
    # binance itself (the parent classes) is not patched: only binanceus's instances are offline
    assert not {ccxt.binance, ccxt_async.binance, ccxt_pro.binance} & set(offline._ORIGINALS)


def test_install_is_idempotent_and_uninstall_restores_every_class(clean_offline):
    originals = {
        cls: cls.__dict__.get("fetch_markets")
        for cls in (ccxt.kraken, ccxt_async.kraken, ccxt_pro.kraken)
    }
    offline.install_offline_markets("kraken", MARKETS / "kraken.json")
    patched = ccxt.kraken.__dict__["fetch_markets"]
    offline.install_offline_markets("kraken")  # no file: keeps the markets it has
    assert ccxt.kraken.__dict__["fetch_markets"] is patched
    assert set(ccxt.kraken().load_markets()) == set(
        json.loads((MARKETS / "kraken.json").read_text())
    )
    offline.uninstall_offline_markets()
    assert {cls: cls.__dict__.get("fetch_markets") for cls in originals} == originals
    assert offline._INSTALLED == {}


def test_an_exchange_other_than_binance_needs_a_file(clean_offline):
    with pytest.raises(offline.MarketsFileError, match="give a markets file"):
        offline.install_offline_markets("kraken")
    with pytest.raises(offline.MarketsFileError, match="no exchange 'nosuch'"):
        offline.install_offline_markets("nosuch", MARKETS / "kraken.json")


def test_freqtrade_rounds_with_the_converted_steps_of_an_old_binance_file(clean_offline, tmp_path):
    # Unconverted, Freqtrade (TICK_SIZE, like today's ccxt.binance) would read binance.json's
    # "amount": 5 as a step of 5 BTC.
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import ExchangeResolver

    offline.install_offline_markets("binance", MARKETS / "binance.json")
    (tmp_path / "user_data").mkdir()
    config = {
        "stake_currency": "USDT", "dry_run": True, "timeframe": "1h", "trading_mode": "spot",
        "margin_mode": "", "runmode": RunMode.BACKTEST, "user_data_dir": str(tmp_path),
        "exchange": {"name": "binance", "key": "", "secret": "", "pair_whitelist": ["BTC/USDT"]},
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": False},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
    }  # fmt: skip
    exchange = ExchangeResolver.load_exchange(config, validate=True)
    try:
        assert exchange.amount_to_precision("BTC/USDT", 0.123456789) == 0.12345
        assert exchange.amount_to_precision("XRP/USDT", 123.9) == 123.0
        assert exchange.price_to_precision("BTC/USDT", 50000.126) == 50000.13
        # the fixture's future and option have "precision": null: listed, not a crash
        assert "BTC/USDT" in exchange.get_markets(spot_only=True)
    finally:
        exchange.close()


# --- the command line ---------------------------------------------------------------------------


REST = ["backtesting", "-c", "c.json"]


@pytest.mark.parametrize(
    "argv, markets",
    [
        (["--markets", "okx.json", *REST], "okx.json"),
        (["backtesting", "--markets=okx.json", "-c", "c.json"], "okx.json"),
        (REST, None),
    ],
)
def test_markets_option_is_taken_off_the_arguments(argv, markets):
    assert offline.split_markets_option(argv) == (markets, REST)


def test_markets_option_without_a_file_is_refused():
    with pytest.raises(offline.MarketsFileError, match="needs a file"):
        offline.split_markets_option(["backtesting", "--markets"])


def test_the_exchange_is_the_one_freqtrade_reads_from_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv("FREQTRADE__EXCHANGE__NAME", raising=False)
    main = tmp_path / "config.json"
    main.write_text(json.dumps({"exchange": {"name": "binance"}}))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"exchange": {"name": "OKX"}}))
    assert offline.configured_exchange(["backtesting", "-c", str(main)]) == "binance"
    # a later config file wins, as in Freqtrade; then the environment
    assert offline.configured_exchange(["backtesting", "-c", str(main), "-c", str(extra)]) == "okx"
    monkeypatch.setenv("FREQTRADE__EXCHANGE__NAME", "kraken")
    assert offline.configured_exchange(["backtesting", "-c", str(main)]) == "kraken"
