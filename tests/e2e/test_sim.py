"""The Binance stand-in (binance_standin) seen through the REAL ccxt clients.

Most tests run on a tiny synthetic datadir written here (numbers chosen so every expected
value can be worked out by hand); a few also run on the real candles in ../shared/data/binance
when they exist. Worked numbers for BTCUSDT at the (flat) price 50000 with the defaults
spread 0.0005, depth 50000, 10 levels, fee 0.001 and Binance's real filters (tick 0.01, lot
step 0.00001, min notional 5):

* best bid = floor(50000 * 0.99975, 0.01) = 49987.50, best ask = ceil(50000 * 1.00025) =
  50012.50; levels are max(tick, 1 bp of 50000 = 5.00) apart: asks 50012.50, 50017.50, ...
* quantity per level = floor(50000 / level price, 0.00001): 0.99975 at 50012.50,
  0.99965 at 50017.50, 0.99955 at 50022.50; bids: 1.00025 at 49987.50.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import ccxt
import ccxt.pro
import pandas as pd
import pytest
import requests

from binance_standin import DAY, HOUR, MINUTE, SimExchange, ccxt_overrides, start_server
from rebalance_plugin.marketdata import offline
from tests.helpers.paths import NO_SHARED_DATA, ROOT, SHARED_DATA

KEY, SECRET = "simkey", "simsecret"

T0 = pd.Timestamp("2024-01-01", tz="UTC")
FLAT_FROM = pd.Timestamp("2024-01-08", tz="UTC")  # prices are flat from here on
N_HOURS = 19 * 24  # 2024-01-01 00:00 .. 2024-01-19 23:00
SIM_START = "2024-01-10"  # history at start-up: 2024-01-10 + the current UTC time of day
BTC, ETH = 50000.0, 2500.0
ASK, BID = 50012.50, 49987.50
LEVEL_QTY = 0.99975  # at the best ask


# ------------------------------------------------------------------------------ data
def _hourly(k: int, flat: float, base: float, step: float) -> tuple:
    """Candle k: before FLAT_FROM o = base + step*k, c = o + 10*step; after it o = c = flat."""
    if T0 + pd.Timedelta(hours=k) < FLAT_FROM:
        o = base + step * k
        c = o + 10 * step
        return o, c + 5 * step, o - 5 * step, c, 10.0 + k % 7
    return flat, flat * 1.01, flat * 0.99, flat, 10.0 + k % 7


def _frame(flat: float, base: float, step: float) -> pd.DataFrame:
    rows = [_hourly(k, flat, base, step) for k in range(N_HOURS)]
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
    df.insert(0, "date", pd.date_range(T0, periods=N_HOURS, freq="1h"))
    df["date"] = df["date"].astype("datetime64[ms, UTC]")
    return df


@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("simdata")
    btc = _frame(BTC, 40000.0, 10.0)  # varied part: o = 40000 + 10k, c = o + 100
    eth = _frame(ETH, 2000.0, 1.0)
    btc.to_feather(path / "BTC_USDT-1h.feather")
    eth.to_feather(path / "ETH_USDT-1h.feather")
    daily = (
        btc.set_index("date")
        .resample("1D")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .reset_index()
    )
    daily.to_feather(path / "BTC_USDT-1d.feather")
    (path / "XYZ_USDT-1h.feather").write_bytes((path / "ETH_USDT-1h.feather").read_bytes())
    return path


def _file(datadir: Path, name: str) -> pd.DataFrame:
    df = pd.read_feather(datadir / name)
    df["ts"] = df["date"].astype("datetime64[ms, UTC]").astype("int64")
    return df.set_index("ts")


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(autouse=True)
def _real_ccxt():
    """Other tests may leave rebalance_plugin.marketdata.offline installed (it patches ccxt's
    binance classes to refuse HTTP): talk to the sim with unpatched classes, restore afterwards."""
    installed = bool(offline._ORIGINALS)
    if installed:
        offline.uninstall_offline_markets()
    yield
    if installed:
        offline.install_offline_markets()


@pytest.fixture
def sim(datadir):
    server, url = start_server(0, datadir, start=SIM_START, balances={"USDT": 10000, "BTC": 0.5})
    server.test_url = url
    yield server
    server.shutdown()


def client(url: str, **extra) -> ccxt.binance:
    return ccxt.binance(
        {**ccxt_overrides(url), "apiKey": KEY, "secret": SECRET, "enableRateLimit": False, **extra}
    )


@pytest.fixture
def ex(sim):
    api = client(sim.test_url)
    api.load_markets()
    return api


def control(url: str, path: str, body: dict | None = None) -> dict:
    resp = (
        requests.post(url + path, json=body or {}, timeout=5)
        if body is not None
        else requests.get(url + path, timeout=5)
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def state(url: str) -> dict:
    return control(url, "/sim/state")


def totals(url: str) -> dict[str, float]:
    return {a: b["free"] + b["locked"] for a, b in state(url)["balances"].items()}


def free(url: str) -> dict[str, float]:
    return {a: b["free"] for a, b in state(url)["balances"].items()}


# ------------------------------------------------------------------------------ market data
def test_markets_carry_binances_real_filters(sim, ex):
    assert sorted(ex.markets) == ["BTC/USDT", "ETH/USDT"]  # XYZUSDT: no exchangeInfo entry
    btc = ex.markets["BTC/USDT"]
    assert btc["precision"]["amount"] == 1e-05
    assert btc["precision"]["price"] == 0.01
    assert btc["limits"]["amount"]["min"] == 1e-05
    assert btc["limits"]["cost"]["min"] == 5
    assert btc["active"] is True and btc["spot"] is True
    resp = requests.get(sim.test_url + "/api/v3/exchangeInfo", timeout=5)
    assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    info = resp.json()
    assert {"timezone", "serverTime", "rateLimits", "exchangeFilters"} <= set(info)
    assert {s["status"] for s in info["symbols"]} == {"TRADING"}
    assert "_provenance" not in info
    assert state(sim.test_url)["unexpected_requests"] == []


def test_ohlcv_is_the_files_candles_shifted_to_now(sim, ex, datadir):
    offset = state(sim.test_url)["clock"]["offset_ms"]
    assert offset % DAY == 0
    hourly = _file(datadir, "BTC_USDT-1h.feather")
    before = int(time.time() * 1000)
    candles = ex.fetch_ohlcv("BTC/USDT", "1h", limit=200)
    after = int(time.time() * 1000)
    assert len(candles) == 200
    # the current, partial candle: of the hour the request was served in (an hour may have
    # begun while it was)
    assert candles[-1][0] in {before // HOUR * HOUR, after // HOUR * HOUR}
    assert all(b[0] - a[0] == HOUR for a, b in zip(candles, candles[1:]))
    for ts, o, h, low, c, v in candles[:-1]:
        row = hourly.loc[ts - offset]
        assert (o, h, low, c, v) == (row.open, row.high, row.low, row.close, row.volume)
    # varied candles of the first week are in there too (history now is >= 2024-01-10)
    assert any(c[1] != BTC for c in candles[:-1])
    ts, o, h, low, c, _ = candles[-1]
    assert (o, h, low, c) == (BTC, BTC, BTC, BTC)  # flat current candle, price 50000

    since = candles[10][0]
    page = ex.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=5)
    assert [c[0] for c in page] == [since + i * HOUR for i in range(5)]

    daily = _file(datadir, "BTC_USDT-1d.feather")
    before = int(time.time() * 1000)
    days = ex.fetch_ohlcv("BTC/USDT", "1d", limit=5)
    after = int(time.time() * 1000)
    assert days[-1][0] in {before // DAY * DAY, after // DAY * DAY}
    for ts, o, h, low, c, _v in days[:-1]:
        row = daily.loc[ts - offset]
        assert (o, h, low, c) == (row.open, row.high, row.low, row.close)

    # 4h is not on disk: resampled from 1h
    four = ex.fetch_ohlcv(
        "BTC/USDT", "4h", since=candles[0][0] // (4 * HOUR) * 4 * HOUR + 4 * HOUR, limit=3
    )
    for ts, o, h, low, c, v in four:
        rows = hourly.loc[ts - offset : ts - offset + 3 * HOUR]
        assert (o, h, low, c) == (
            rows.open.iloc[0],
            rows.high.max(),
            rows.low.min(),
            rows.close.iloc[-1],
        )
        assert v == pytest.approx(rows.volume.sum())
    # 15m is finer than anything on disk: the 1h candles split along the price path
    quarters = ex.fetch_ohlcv("BTC/USDT", "15m", since=candles[0][0], limit=8)
    for ts, o, h, low, c, v in quarters:
        row = hourly.loc[ts // HOUR * HOUR - offset]
        k = (ts % HOUR) // (15 * 60_000)
        step = (row.close - row.open) / 4
        assert (o, c) == (
            pytest.approx(row.open + step * k, abs=0.01),
            pytest.approx(row.open + step * (k + 1), abs=0.01),
        )
        assert (h, low) == (max(o, c), min(o, c))
        assert v == pytest.approx(row.volume / 4)
    with pytest.raises(ccxt.BadRequest, match="-1120"):  # not one of Binance's intervals
        ex.fetch_ohlcv("BTC/USDT", "7m")


def test_price_follows_the_candle_path_through_time(datadir):
    """Pure engine with an injected clock: open -> close interpolation, shifted klines."""
    wall_day = pd.Timestamp("2030-06-03", tz="UTC").value // 10**6
    now = [wall_day + 10 * HOUR + 15 * 60_000]  # 10:15 UTC
    sim = SimExchange(datadir, start="2024-01-05", clock=lambda: now[0])
    assert sim.hist_ms() == pd.Timestamp("2024-01-05 10:15", tz="UTC").value // 10**6
    # candle k = 4*24 + 10 = 106: open 40000 + 1060 = 41060, close 41160
    assert float(sim.price("BTCUSDT")) == 41085.0  # 25 % of the way
    ts, o, h, low, c, v = sim.klines("BTCUSDT", "1h", limit=3)[-1][:6]
    assert ts == wall_day + 10 * HOUR
    assert (o, h, low, c) == (
        "41060.00000000",
        "41085.00000000",
        "41060.00000000",
        "41085.00000000",
    )
    assert float(v) == pytest.approx((10 + 106 % 7) * 0.25)
    # 4h bucket 08:00-12:00 so far: candles 104, 105 complete + 106 partial
    ts, o, h, low, c, v = sim.klines("BTCUSDT", "4h", limit=1)[-1][:6]
    assert ts == wall_day + 8 * HOUR
    assert (float(o), float(h), float(low), float(c)) == (41040.0, 41200.0, 40990.0, 41085.0)
    now[0] += 30 * 60_000  # 10:45
    assert float(sim.price("BTCUSDT")) == 41135.0
    week = sim.klines("BTCUSDT", "1w", limit=2)
    assert [pd.Timestamp(k[0], unit="ms").day_name() for k in week] == ["Monday"] * 2
    # default start: 30 days before the end of the data (2024-01-20), i.e. before the data
    default = SimExchange(datadir, clock=lambda: now[0])
    assert default.start_ms == pd.Timestamp("2023-12-21", tz="UTC").value // 10**6
    assert float(default.price("BTCUSDT")) == 40000.0  # not listed yet: the first open
    # past the end of the data: flat at the last close
    late = SimExchange(datadir, start="2024-03-01", clock=lambda: now[0])
    assert float(late.price("BTCUSDT")) == BTC
    assert late.klines("BTCUSDT", "1h", limit=2)[0][1:6] == [f"{BTC:.8f}"] * 4 + ["0.00000000"]


def test_ticker_and_book_follow_price_and_overrides(sim, ex):
    ticker = ex.fetch_ticker("BTC/USDT")
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (BTC, BID, ASK)
    book = ex.fetch_order_book("BTC/USDT", 5)
    assert book["asks"][:3] == [[50012.5, 0.99975], [50017.5, 0.99965], [50022.5, 0.99955]]
    assert book["bids"][0] == [49987.5, 1.00025] and len(book["bids"]) == 5
    assert len(ex.fetch_order_book("BTC/USDT")["asks"]) == 10
    assert set(ex.fetch_tickers()) == {"BTC/USDT", "ETH/USDT"}
    assert set(ex.fetch_tickers(["ETH/USDT"])) == {"ETH/USDT"}
    assert ex.fetch_bids_asks(["BTC/USDT"])["BTC/USDT"]["ask"] == ASK
    assert ex.fetch_last_prices(["ETH/USDT"])["ETH/USDT"]["price"] == ETH
    assert ex.public_get_avgprice({"symbol": "BTCUSDT"})["price"] == "50000.00000000"

    control(sim.test_url, "/sim/price", {"symbol": "BTC/USDT", "price": 40000})
    ticker = ex.fetch_ticker("BTC/USDT")
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (40000, 39990, 40010)
    assert ex.fetch_order_book("BTC/USDT", 1)["asks"][0][0] == 40010
    ts, o, h, low, c, _ = ex.fetch_ohlcv("BTC/USDT", "1h", limit=2)[-1]
    assert (o, h, low, c) == (BTC, BTC, 40000, 40000)  # current candle shows the override
    assert ex.fetch_ticker("ETH/USDT")["last"] == ETH  # other symbols untouched

    control(sim.test_url, "/sim/price", {"multiplier": {"BTCUSDT": 1.1}})
    assert ex.fetch_ticker("BTC/USDT")["last"] == 55000
    control(sim.test_url, "/sim/price", {"clear": True})
    assert ex.fetch_ticker("BTC/USDT")["last"] == BTC
    assert state(sim.test_url)["prices"]["BTCUSDT"]["price"] == BTC


# ------------------------------------------------------------------------------ trading
def test_limit_ioc_buy_at_the_ask_fills_and_pays_fee_in_base(sim, ex):
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, ASK, {"timeInForce": "IOC"})
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert order["average"] == ASK and order["cost"] == pytest.approx(500.125)
    assert order["fee"] == {"currency": "BTC", "cost": 0.00001}
    bal = ex.fetch_balance()
    assert bal["USDT"]["total"] == pytest.approx(10000 - 0.01 * ASK)  # 9499.875
    assert bal["BTC"]["total"] == pytest.approx(0.5 + 0.01 - 0.00001)  # 0.50999
    assert bal["USDT"]["used"] == 0


def test_oversize_ioc_fills_the_first_level_and_expires_the_rest(sim, ex):
    control(sim.test_url, "/sim/balance", {"asset": "USDT", "delta": 190000})
    order = ex.create_order("BTC/USDT", "limit", "buy", 2, ASK, {"timeInForce": "IOC"})
    assert order["status"] == "expired"
    assert order["filled"] == LEVEL_QTY and order["remaining"] == pytest.approx(2 - LEVEL_QTY)
    assert totals(sim.test_url)["USDT"] == pytest.approx(200000 - LEVEL_QTY * ASK)
    assert free(sim.test_url)["USDT"] == totals(sim.test_url)["USDT"]  # nothing stays locked
    # FOK of the same size: all or nothing
    fok = ex.create_order("BTC/USDT", "limit", "buy", 2, ASK, {"timeInForce": "FOK"})
    assert fok["status"] == "expired" and fok["filled"] == 0


def test_market_orders_walk_the_book(sim, ex):
    control(sim.test_url, "/sim/balance", {"asset": "USDT", "delta": 100000})
    buy = ex.create_order("BTC/USDT", "market", "buy", 0.02)
    assert buy["status"] == "closed" and buy["average"] == ASK
    assert buy["cost"] == pytest.approx(1000.25)
    sell = ex.create_order("BTC/USDT", "market", "sell", 0.1)
    assert sell["average"] == BID and sell["fee"]["currency"] == "USDT"
    assert sell["fee"]["cost"] == pytest.approx(0.1 * BID * 0.001)  # 4.99875
    big = ex.create_order("BTC/USDT", "market", "buy", 2)
    levels = [(50012.5, 0.99975), (50017.5, 0.99965), (50022.5, 2 - 0.99975 - 0.99965)]
    assert [(t["price"], t["amount"]) for t in big["trades"]] == [
        (p, pytest.approx(q)) for p, q in levels
    ]
    assert big["cost"] == pytest.approx(sum(p * q for p, q in levels))
    by_cost = ex.create_market_buy_order_with_cost("BTC/USDT", 1000)
    assert by_cost["filled"] == 0.01999  # floor(1000 / 50012.5, 0.00001)
    assert by_cost["cost"] == pytest.approx(0.01999 * ASK)
    usdt = 110000 - 1000.25 + 0.1 * BID * 0.999 - big["cost"] - by_cost["cost"]
    btc = 0.5 + 0.02 * 0.999 - 0.1 + 2 * 0.999 + 0.01999 * 0.999
    assert totals(sim.test_url)["USDT"] == pytest.approx(usdt)
    assert totals(sim.test_url)["BTC"] == pytest.approx(btc)


def test_gtc_rests_locks_funds_and_fills_when_the_price_moves_through(sim, ex):
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 49000)
    assert order["status"] == "open" and order["filled"] == 0
    bal = ex.fetch_balance()
    assert bal["USDT"]["used"] == pytest.approx(490) and bal["USDT"]["free"] == pytest.approx(9510)
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    sell = ex.create_order("BTC/USDT", "limit", "sell", 0.1, 51000)
    assert ex.fetch_balance()["BTC"]["used"] == pytest.approx(0.1)

    control(sim.test_url, "/sim/price", {"symbol": "BTCUSDT", "price": 48500})
    filled = ex.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed" and filled["average"] == 49000  # at its limit
    trade = ex.fetch_my_trades("BTC/USDT")[-1]
    assert trade["takerOrMaker"] == "maker" and trade["fee"]["currency"] == "BTC"
    assert ex.fetch_order(sell["id"], "BTC/USDT")["status"] == "open"
    control(sim.test_url, "/sim/price", {"symbol": "BTCUSDT", "price": 51000.01})
    assert ex.fetch_order(sell["id"], "BTC/USDT")["status"] == "closed"
    assert totals(sim.test_url)["USDT"] == pytest.approx(10000 - 490 + 5100 * 0.999)
    assert totals(sim.test_url)["BTC"] == pytest.approx(0.5 + 0.00999 - 0.1)
    assert state(sim.test_url)["open_orders"] == []


def test_cancel_open_orders_and_history(sim, ex):
    buy = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 45000)
    sell = ex.create_order("BTC/USDT", "limit", "sell", 0.01, 55000)
    assert {o["id"] for o in ex.fetch_open_orders("BTC/USDT")} == {buy["id"], sell["id"]}
    canceled = ex.cancel_order(buy["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):  # -2011 Unknown order sent.
        ex.cancel_order(buy["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):  # -2013 Order does not exist.
        ex.fetch_order("999999", "BTC/USDT")
    by_client_id = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": sell["clientOrderId"]})
    assert by_client_id["id"] == sell["id"]
    ex.cancel_all_orders("BTC/USDT")
    assert ex.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(ccxt.OrderNotFound):  # nothing left to cancel
        ex.cancel_all_orders("BTC/USDT")
    assert [o["status"] for o in ex.fetch_orders("BTC/USDT")] == ["canceled", "canceled"]
    assert len(ex.fetch_canceled_orders("BTC/USDT")) == 2
    assert totals(sim.test_url) == {"BTC": 0.5, "USDT": 10000}
    assert free(sim.test_url) == {"BTC": 0.5, "USDT": 10000}


def test_my_trades(sim, ex):
    first = ex.create_order("BTC/USDT", "market", "buy", 0.01)
    second = ex.create_order("BTC/USDT", "market", "sell", 0.005)
    trades = ex.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["side"], t["amount"]) for t in trades] == [
        (first["id"], "buy", 0.01),
        (second["id"], "sell", 0.005),
    ]
    assert [t["fee"]["currency"] for t in trades] == ["BTC", "USDT"]
    assert trades[1]["fee"]["cost"] == pytest.approx(0.005 * BID * 0.001)
    assert (
        ex.fetch_my_trades("BTC/USDT", params={"orderId": second["id"]})[0]["order"] == second["id"]
    )
    assert ex.fetch_my_trades("ETH/USDT") == []
    st = state(sim.test_url)
    assert [t["orderId"] for t in st["trades"]] == [int(first["id"]), int(second["id"])]


def test_new_order_response_types(sim, ex):
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    ack = ex.private_post_order({**order, "newOrderRespType": "ACK"})
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = ex.private_post_order(
        {**order, "newOrderRespType": "RESULT", "newClientOrderId": "my-id-1"}
    )
    assert result["status"] == "FILLED" and "fills" not in result
    assert result["clientOrderId"] == "my-id-1" and result["executedQty"] == "0.00100000"
    full = ex.private_post_order({**order, "newOrderRespType": "FULL"})
    assert full["fills"] == [
        {
            "price": "50012.50000000",
            "qty": "0.00100000",
            "commission": "0.00000100",
            "commissionAsset": "BTC",
            "tradeId": 3,
        }
    ]


# ------------------------------------------------------------------------------ refusals
def test_orders_breaking_filters_or_funds_are_refused_and_change_nothing(sim, ex):
    before = state(sim.test_url)["balances"]
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):  # below minQty 0.00001
        ex.private_post_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.000001",
                "price": "40000",
            }
        )
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):  # off the 0.01 tick
        ex.private_post_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "40000.005",
            }
        )
    # 0.00001 BTC * 40000 = 0.4 USDT < 5: Binance answers -1013 "Filter failure: NOTIONAL",
    # which ccxt (like for real Binance) raises as BadRequest, not InvalidOrder
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 40000)
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):  # applyMinToMarket
        ex.create_order("BTC/USDT", "market", "sell", 0.00005)
    with pytest.raises(ccxt.InsufficientFunds):  # 1 BTC * 50012.5 > 10000 USDT
        ex.create_order("BTC/USDT", "limit", "buy", 1, ASK)
    with pytest.raises(ccxt.InsufficientFunds):  # 0.6 BTC > 0.5 BTC
        ex.create_order("BTC/USDT", "market", "sell", 0.6)
    with pytest.raises(ccxt.InsufficientFunds):  # 0.3 BTC at market costs ~15000 USDT
        ex.create_order("BTC/USDT", "market", "buy", 0.3)
    with pytest.raises(ccxt.BadSymbol):
        ex.private_post_order(
            {"symbol": "XYZUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        )
    with pytest.raises(ccxt.InvalidOrder):  # not simulated: -1014
        ex.private_post_order(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_LOSS_LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "40000",
                "stopPrice": "40000",
            }
        )
    after = state(sim.test_url)
    assert after["balances"] == before and after["orders"] == [] and after["trades"] == []
    assert (
        ex.private_post_order_test(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        )
        == {}
    )


def test_signed_requests_need_the_right_key_and_signature(sim):
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        client(sim.test_url, secret="wrong").fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        client(sim.test_url, apiKey="wrong").fetch_balance()
    resp = requests.get(sim.test_url + "/api/v3/account", params={"timestamp": 1}, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == -2014
    stale = client(sim.test_url)
    stale.options["recvWindow"] = 1000
    stale.nonce = lambda: int(time.time() * 1000) - 5000
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        stale.fetch_balance()


# ------------------------------------------------------------------------------ faults
def fault(url: str, kind: str, **params) -> dict:
    return control(url, "/sim/fault", {"kind": kind, **params})


def test_reject_fault(sim, ex):
    fault(sim.test_url, "reject")
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "market", "buy", 0.01)
    fault(sim.test_url, "reject", code=-1013, msg="Filter failure: LOT_SIZE")
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        ex.create_order("BTC/USDT", "market", "buy", 0.01)
    st = state(sim.test_url)
    assert st["orders"] == [] and st["balances"]["USDT"]["free"] == 10000
    assert [f["effect"] for f in st["faults_fired"]] == [
        "refused with -2010 Account has insufficient balance for requested action.",
        "refused with -1013 Filter failure: LOT_SIZE",
    ]
    assert ex.create_order("BTC/USDT", "market", "buy", 0.01)["status"] == "closed"


def test_partial_fault(sim, ex):
    fault(sim.test_url, "partial", fraction=0.4)
    market = ex.create_order("BTC/USDT", "market", "buy", 0.05)
    assert market["status"] == "expired" and market["filled"] == 0.02
    fault(sim.test_url, "partial", fraction=0.4, side="BUY")
    gtc = ex.create_order("BTC/USDT", "limit", "buy", 0.05, 49000)  # would not cross
    assert gtc["status"] == "open" and gtc["filled"] == 0.02 and gtc["average"] == 49000
    assert ex.fetch_balance()["USDT"]["used"] == pytest.approx(0.03 * 49000)
    # held open: the stand-in matches resting orders on every request (this one included)
    assert ex.fetch_order(gtc["id"], "BTC/USDT")["filled"] == 0.02
    control(sim.test_url, "/sim/price", {"symbol": "BTCUSDT", "price": 48000})
    done = ex.fetch_order(gtc["id"], "BTC/USDT")
    assert done["status"] == "closed" and done["filled"] == 0.05
    fired = state(sim.test_url)["faults_fired"]
    assert "filled 0.02000000, status EXPIRED" in fired[0]["effect"]
    assert "status PARTIALLY_FILLED (rest held open)" in fired[1]["effect"]


def test_expire_fault(sim, ex):
    fault(sim.test_url, "expire")
    gtc = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 45000)  # GTC: not consumed
    assert gtc["status"] == "open"
    ioc = ex.create_order("BTC/USDT", "limit", "buy", 0.01, ASK, {"timeInForce": "IOC"})
    assert ioc["status"] == "expired" and ioc["filled"] == 0
    assert totals(sim.test_url) == {"BTC": 0.5, "USDT": 10000}
    assert state(sim.test_url)["faults_pending"] == []


def test_http_faults_map_to_ccxt_network_errors(sim, ex):
    fault(sim.test_url, "http429", path="/api/v3/order")
    with pytest.raises(ccxt.DDoSProtection):
        ex.create_order("BTC/USDT", "market", "buy", 0.01)
    fault(sim.test_url, "http5xx", path="/api/v3/ticker/24hr")
    with pytest.raises(ccxt.ExchangeNotAvailable):  # 503, plain-text body
        ex.fetch_ticker("BTC/USDT")
    fault(sim.test_url, "http5xx", status=500, method="GET")
    with pytest.raises(ccxt.OperationFailed, match="-1001"):
        ex.fetch_balance()
    assert state(sim.test_url)["orders"] == []
    # the order is executed although the client sees a 503
    fault(sim.test_url, "http5xx", path="/api/v3/order", process=True)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.create_order("BTC/USDT", "market", "buy", 0.01)
    assert [o["status"] for o in state(sim.test_url)["orders"]] == ["FILLED"]
    assert totals(sim.test_url)["BTC"] == pytest.approx(0.50999)


def test_the_request_weight_limit_answers_429_then_bans_with_418(sim, ex):
    """Binance's documented weights, per calendar minute for the IP: beyond the limit a 429,
    and a client that goes on sending is banned (418); ccxt raises DDoSProtection for both.
    The limiter's clock is held 30 s into a minute: every request falls in that one minute,
    whatever the wall clock's second (a minute starting mid-test would reset the count)."""
    held = int(time.time() * 1000) // MINUTE * MINUTE + 30_000
    sim.sim.limiter.clock = lambda: held
    control(sim.test_url, "/sim/weights", {"reset": True, "limit": 70})
    ex.fetch_order_book("BTC/USDT", 5)  # depth, limit 5: weight 5
    ex.fetch_balance()  # account: 20
    ex.fetch_tickers(["BTC/USDT", "ETH/USDT"])  # ticker/24hr with 2 symbols: 2
    ex.fetch_ticker("BTC/USDT")  # ticker/24hr, one symbol: 2
    resp = requests.get(sim.test_url + "/api/v3/ticker/bookTicker", timeout=5)  # all: 4
    assert resp.headers["X-MBX-USED-WEIGHT-1M"] == "33"
    control(sim.test_url, "/sim/weights", {"reset": True})
    for _ in range(3):
        ex.fetch_balance()  # 60
    with pytest.raises(ccxt.DDoSProtection, match="429 .*current limit is 70 request weight"):
        ex.fetch_balance()
    with pytest.raises(ccxt.DDoSProtection, match="418 .*IP banned until"):
        ex.fetch_time()
    resp = requests.get(sim.test_url + "/api/v3/ping", timeout=5)
    assert resp.status_code == 418 and resp.headers["Retry-After"] == "120"  # a first ban: 2 min
    weights = control(sim.test_url, "/sim/weights")
    assert (weights["answered_429"], weights["answered_418"], weights["bans"]) == (1, 2, 1)
    assert weights["limit"] == 70 and weights["minutes"][-1]["by_endpoint"]["GET /api/v3/account"]
    assert state(sim.test_url)["weights"]["banned_until"] is not None
    control(sim.test_url, "/sim/weights", {"reset": True, "limit": 6000})
    ex.fetch_time()  # the ban is lifted with the reset


def test_timeout_fault(sim):
    impatient = client(sim.test_url, timeout=200)
    impatient.load_markets()
    fault(sim.test_url, "timeout", seconds=0.6, path="/api/v3/order")
    with pytest.raises(ccxt.RequestTimeout):
        impatient.create_order("BTC/USDT", "market", "buy", 0.01)
    assert state(sim.test_url)["orders"] == []
    fault(sim.test_url, "timeout", seconds=0.6, path="/api/v3/order", process=True)
    with pytest.raises(ccxt.RequestTimeout):
        impatient.create_order("BTC/USDT", "market", "buy", 0.01)
    st = state(sim.test_url)
    assert [o["status"] for o in st["orders"]] == ["FILLED"]  # placed despite the timeout
    assert [f["kind"] for f in st["faults_fired"]] == ["timeout", "timeout"]


def test_async_ccxt_pro_client(sim):
    async def run() -> tuple:
        api = ccxt.pro.binance(
            {
                **ccxt_overrides(sim.test_url),
                "apiKey": KEY,
                "secret": SECRET,
                "enableRateLimit": False,
            }
        )
        try:
            await api.load_markets()
            candles = await api.fetch_ohlcv("ETH/USDT", "1h", limit=3)
            ticker = await api.fetch_ticker("ETH/USDT")
            order = await api.create_order(
                "ETH/USDT", "limit", "buy", 0.1, 2600, {"timeInForce": "IOC"}
            )
            balance = await api.fetch_balance()
            fault(sim.test_url, "http429")
            try:
                await api.fetch_ticker("ETH/USDT")
                raised = None
            except ccxt.DDoSProtection as err:
                raised = err
            return candles, ticker, order, balance, raised
        finally:
            await api.close()

    candles, ticker, order, balance, raised = asyncio.run(run())
    assert [c[4] for c in candles] == [ETH] * 3 and ticker["last"] == ETH
    assert order["status"] == "closed" and order["average"] == 2500.63  # ceil(2500 * 1.00025, 0.01)
    assert balance["ETH"]["total"] == pytest.approx(0.1 * 0.999)
    assert isinstance(raised, ccxt.DDoSProtection)


# ------------------------------------------------------------------------------ plumbing
def test_every_ccxt_url_points_at_the_sim(sim, ex):
    overrides = ccxt_overrides(sim.test_url)
    json.dumps(overrides)  # goes into Freqtrade's JSON config

    def leaves(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from leaves(value)
        else:
            yield node

    assert all(
        u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")) for u in leaves(ex.urls["api"])
    )
    with pytest.raises(ccxt.ExchangeNotAvailable, match="UNEXPECTED"):
        ex.fapiPublicGetPing()
    assert state(sim.test_url)["unexpected_requests"][0]["path"] == "/fapi.binance.com/fapi/v1/ping"


def test_control_endpoints_refuse_nonsense(sim):
    url = sim.test_url
    resp = requests.post(url + "/sim/balance", json={"asset": "USDT", "delta": -10001}, timeout=5)
    assert resp.status_code == 400
    assert control(url, "/sim/balance", {"asset": "USDT", "delta": -10000})["free"] == 0
    assert requests.post(url + "/sim/fault", json={"kind": "nope"}, timeout=5).status_code == 400
    assert (
        requests.post(
            url + "/sim/price", json={"symbol": "NOPE", "price": 1}, timeout=5
        ).status_code
        == 400
    )
    control(url, "/sim/reset", {"balances": {"USDT": 5}})
    assert state(url)["balances"] == {"USDT": {"free": 5.0, "locked": 0.0}}


def test_cli_runs_and_stops(datadir):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "binance_standin",
            "--port",
            "0",
            "--datadir",
            str(datadir),
            "--start",
            SIM_START,
            "--balance",
            "USDT=1000",
            "--balance",
            "BTC=0.1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("sim listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        assert requests.get(url + "/api/v3/ping", timeout=5).json() == {}
        assert state(url)["balances"] == {
            "BTC": {"free": 0.1, "locked": 0.0},
            "USDT": {"free": 1000.0, "locked": 0.0},
        }
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "GET /api/v3/ping -> 200" in err


# ------------------------------------------------------------------------------ real data
@pytest.mark.skipif(not (SHARED_DATA / "BTC_USDT-1h.feather").exists(), reason=NO_SHARED_DATA)
def test_real_data_is_served_as_recorded():
    server, url = start_server(0, SHARED_DATA, start="2024-01-01")
    try:
        api = client(url)
        api.load_markets()
        assert len(api.markets) == 12
        offset = state(url)["clock"]["offset_ms"]
        for name, tf in (("BTC_USDT-1h.feather", "1h"), ("ETH_USDT-1d.feather", "1d")):
            recorded = _file(SHARED_DATA, name)
            candles = api.fetch_ohlcv(name.split("-")[0].replace("_", "/"), tf, limit=200)
            for ts, o, h, low, c, _v in candles[:-1]:
                row = recorded.loc[ts - offset]
                assert (o, h, low, c) == (row.open, row.high, row.low, row.close)
            assert api.fetch_ticker("BTC/USDT")["last"] > 0
    finally:
        server.shutdown()
