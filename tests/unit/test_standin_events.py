"""What real Binance does when the world changes under a bot, in the stand-in (issue 20): a coin
stops trading or is delisted (``/sim/symbol``), its rules change (``/sim/rules``), the exchange
goes into maintenance, the client's clock drifts out of the receive window, or the market data
goes stale (faults ``maintenance``, ``clock``, ``stale`` over a time window, ``"seconds"``).

For each: the stand-in's HTTP answer (status and body, as Binance's documents and clients
record it) and what the real ``ccxt.binance``, pointed at the stand-in, makes of it - the
exception class the bot will see, the market ccxt builds from exchangeInfo.

The stand-in runs in-process with a clock the test moves, over three days of hourly candles
written here: SOL's candle k (from 2024-01-01 00:00) opens at 100 + k and closes at 101 + k, so
its price climbs 1 per hour (the price model runs from open to close across the hour); BTC is
flat at 50000. The clock starts on 2030-06-03 10:00, mapped onto 2024-01-01 10:00: SOL at
110.00, half an hour later 110.50 (SOLUSDT's tick is 0.01). Signed requests are checked against
the real clock, which ccxt signs with, whatever the stand-in's clock says.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import ccxt
import pandas as pd
import pytest
import requests

from binance_standin import HOUR, MINUTE, ccxt_overrides, start_server
from rebalance_plugin.marketdata import offline

pytestmark = pytest.mark.unit

KEY, SECRET = "simkey", "simsecret"
HOURS = 72
WALL_DAY = int(pd.Timestamp("2030-06-03", tz="UTC").value // 10**6)
MAINTENANCE = {"code": 1, "msg": "System is under maintenance."}
CLOSED = {"code": -1013, "msg": "Market is closed."}
UNKNOWN = {"code": -1121, "msg": "Invalid symbol."}
OUT_OF_WINDOW = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}


def sol_price(hours: float) -> float:
    """SOL's price at ``hours`` past midnight of the first day: 100 + hours, on the 0.01 grid."""
    return round(100.0 + hours, 2)


@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eventdata")
    dates = pd.date_range("2024-01-01", periods=HOURS, freq="1h", tz="UTC").astype(
        "datetime64[ms, UTC]"
    )
    opens = [100.0 + k for k in range(HOURS)]
    pd.DataFrame(
        {
            "date": dates,
            "open": opens,
            "high": [o + 1 for o in opens],
            "low": opens,
            "close": [o + 1 for o in opens],
            "volume": 10.0,
        }
    ).to_feather(path / "SOL_USDT-1h.feather")
    pd.DataFrame(
        {"date": dates, "open": 50000.0, "high": 50000.0, "low": 50000.0, "close": 50000.0}
        | {"volume": 1.0}
    ).to_feather(path / "BTC_USDT-1h.feather")
    return path


class Clock:
    """The stand-in's clock, moved by the test (prices, candles, fault windows)."""

    def __init__(self) -> None:
        self.now = WALL_DAY + 10 * HOUR

    def __call__(self) -> int:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * MINUTE)


@pytest.fixture(autouse=True)
def _real_ccxt():
    """Other tests may leave rebalance_plugin.marketdata.offline installed (it patches ccxt's
    binance classes to refuse HTTP): talk to the stand-in with unpatched classes."""
    installed = bool(offline._ORIGINALS)
    if installed:
        offline.uninstall_offline_markets()
    yield
    if installed:
        offline.install_offline_markets()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stand_in(datadir, clock):
    server, url = start_server(
        0, datadir, start="2024-01-01", clock=clock, balances={"USDT": 10000, "SOL": 10}
    )
    server.test_url = url
    yield server
    server.shutdown()


@pytest.fixture
def ex(stand_in) -> ccxt.binance:
    api = ccxt.binance(
        {
            **ccxt_overrides(stand_in.test_url),
            "apiKey": KEY,
            "secret": SECRET,
            "enableRateLimit": False,
        }
    )
    api.load_markets()
    return api


class Raw:
    """Binance's REST API by hand: public and signed requests; (HTTP status, JSON body)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: Any) -> tuple[int, Any]:
        resp = requests.get(self.url + path, params=params, timeout=10)
        return resp.status_code, resp.json()

    def signed(self, method: str, path: str, **params: Any) -> tuple[int, Any]:
        query = urlencode({**params, "timestamp": int(time.time() * 1000)})
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        resp = requests.request(
            method,
            f"{self.url}{path}?{query}&signature={signature}",
            headers={"X-MBX-APIKEY": KEY},
            timeout=10,
        )
        return resp.status_code, resp.json()

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = (
            requests.post(self.url + path, json=body, timeout=10)
            if body is not None
            else requests.get(self.url + path, timeout=10)
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def symbols(self) -> dict[str, dict[str, Any]]:
        """exchangeInfo's symbols by name."""
        status, info = self.get("/api/v3/exchangeInfo")
        assert status == 200
        return {s["symbol"]: s for s in info["symbols"]}


@pytest.fixture
def raw(stand_in) -> Raw:
    return Raw(stand_in.test_url)


def sol_orders(raw: Raw) -> list[dict[str, Any]]:
    return [o for o in raw.control("/sim/state")["orders"] if o["symbol"] == "SOLUSDT"]


# ------------------------------------------------------------------------------ a halted coin
@pytest.mark.parametrize("status", ["BREAK", "HALT"])
def test_a_halted_coin_is_inactive_refuses_orders_and_its_price_stands_still(
    raw, ex, clock, status
):
    resting = ex.create_order("SOL/USDT", "limit", "buy", 1, 105)  # under 110: rests
    doomed = ex.create_order("SOL/USDT", "limit", "buy", 1, 104)
    raw.control("/sim/symbol", {"symbol": "SOLUSDT", "status": status})

    assert raw.symbols()["SOLUSDT"]["status"] == status
    assert raw.symbols()["BTCUSDT"]["status"] == "TRADING"
    ex.load_markets(reload=True)
    assert ex.markets["SOL/USDT"]["active"] is False
    assert ex.markets["BTC/USDT"]["active"] is True

    # new orders: Binance's refusal, ccxt's MarketClosed; nothing reaches the book
    answer = raw.signed(
        "POST", "/api/v3/order", symbol="SOLUSDT", side="BUY", type="MARKET", quantity="1"
    )
    assert answer == (400, CLOSED)
    with pytest.raises(ccxt.MarketClosed):
        ex.create_order("SOL/USDT", "market", "sell", 1)
    assert raw.signed(
        "POST", "/api/v3/order/test", symbol="SOLUSDT", side="SELL", type="MARKET", quantity="1"
    ) == (400, CLOSED)
    assert len(sol_orders(raw)) == 2

    # the price is held at 110.00 while the candles' path goes on to 112.50; a price dropped
    # under the resting buy does not fill it; cancels work
    raw.control("/sim/price", {"symbol": "SOLUSDT", "price": 100})
    clock.advance(150)
    assert ex.fetch_ticker("SOL/USDT")["last"] == sol_price(10)
    assert raw.get("/api/v3/ticker/price", symbol="SOLUSDT")[1]["price"] == "110.00000000"
    assert ex.fetch_order(resting["id"], "SOL/USDT")["status"] == "open"
    assert ex.cancel_order(doomed["id"], "SOL/USDT")["status"] == "canceled"
    # the candle of 11:00, wholly in the halt: flat at the held price, no volume
    candle = next(
        c for c in ex.fetch_ohlcv("SOL/USDT", "1h", limit=5) if c[0] == WALL_DAY + 11 * HOUR
    )
    assert candle[1:] == [sol_price(10)] * 4 + [0.0]

    # trading again: the price set meanwhile applies, the resting buy fills at its limit
    raw.control("/sim/symbol", {"symbol": "SOLUSDT", "status": "TRADING"})
    ex.load_markets(reload=True)
    assert ex.markets["SOL/USDT"]["active"] is True
    assert ex.fetch_ticker("SOL/USDT")["last"] == 100.0
    filled = ex.fetch_order(resting["id"], "SOL/USDT")
    assert (filled["status"], filled["average"]) == ("closed", 105.0)
    # and with the price set cleared, the path at 12:30
    raw.control("/sim/price", {"clear": True})
    assert ex.fetch_ticker("SOL/USDT")["last"] == sol_price(12.5)
    sold = ex.create_order("SOL/USDT", "market", "sell", 1)
    assert sold["status"] == "closed"


def test_a_delisted_coin_is_an_unknown_symbol_until_it_is_listed_again(raw, ex, stand_in):
    resting = ex.create_order("SOL/USDT", "limit", "buy", 1, 105)
    answer = raw.control("/sim/symbol", {"symbol": "SOL/USDT", "status": "REMOVED"})
    assert answer["canceled"] == [int(resting["id"])]  # Binance removes a delisted pair's orders

    assert "SOLUSDT" not in raw.symbols()
    assert raw.get("/api/v3/exchangeInfo", symbol="SOLUSDT") == (400, UNKNOWN)
    assert raw.get("/api/v3/ticker/price", symbol="SOLUSDT") == (400, UNKNOWN)
    assert raw.get("/api/v3/klines", symbol="SOLUSDT", interval="1h") == (400, UNKNOWN)
    status, tickers = raw.get("/api/v3/ticker/24hr")
    assert status == 200 and [t["symbol"] for t in tickers] == ["BTCUSDT"]
    assert raw.signed("GET", "/api/v3/openOrders", symbol="SOLUSDT") == (400, UNKNOWN)

    # ccxt with the markets it had: the stand-in's -1121 is BadSymbol
    with pytest.raises(ccxt.BadSymbol):
        ex.fetch_ticker("SOL/USDT")
    with pytest.raises(ccxt.BadSymbol):
        ex.create_order("SOL/USDT", "market", "sell", 1)
    # after a reload the market is gone; the coin is still in the account, all of it free
    ex.load_markets(reload=True)
    assert "SOL/USDT" not in ex.markets and "BTC/USDT" in ex.markets
    balance = ex.fetch_balance()
    assert (balance["SOL"]["free"], balance["USDT"]["free"]) == (10.0, 10000.0)

    raw.control("/sim/symbol", {"symbol": "SOLUSDT", "status": "TRADING"})
    assert raw.symbols()["SOLUSDT"]["status"] == "TRADING"
    ex.load_markets(reload=True)
    assert ex.markets["SOL/USDT"]["active"] is True
    assert ex.create_order("SOL/USDT", "market", "sell", 1)["status"] == "closed"


def test_the_control_refuses_an_unknown_status_or_symbol(raw):
    for body in (
        {"symbol": "SOLUSDT", "status": "PAUSED"},
        {"symbol": "FOOUSDT", "status": "BREAK"},
    ):
        resp = requests.post(raw.url + "/sim/symbol", json=body, timeout=10)
        assert resp.status_code == 400


# ------------------------------------------------------------------------------ rules change
def test_new_rules_are_served_and_new_orders_are_checked_against_them(raw, ex, stand_in):
    before = raw.symbols()["SOLUSDT"]
    entry = raw.control(
        "/sim/rules", {"symbol": "SOLUSDT", "tickSize": 0.1, "stepSize": "0.1", "minNotional": 20}
    )
    filters = {f["filterType"]: f for f in raw.symbols()["SOLUSDT"]["filters"]}
    assert filters == {f["filterType"]: f for f in entry["filters"]}
    # minPrice and minQty (0.01) move up onto the new grids: 0.1
    assert filters["PRICE_FILTER"] == {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.10000000",
        "maxPrice": "10000.00000000",
        "tickSize": "0.10000000",
    }
    assert (filters["LOT_SIZE"]["stepSize"], filters["LOT_SIZE"]["minQty"]) == (
        "0.10000000",
        "0.10000000",
    )
    assert filters["NOTIONAL"]["minNotional"] == "20.00000000"
    changed = ("PRICE_FILTER", "LOT_SIZE", "NOTIONAL")
    assert [f for f in before["filters"] if f["filterType"] not in changed] == [
        f for f in raw.symbols()["SOLUSDT"]["filters"] if f["filterType"] not in changed
    ]

    assert ex.markets["SOL/USDT"]["precision"]["price"] == 0.01  # ccxt's markets of before
    ex.load_markets(reload=True)
    market = ex.markets["SOL/USDT"]
    assert (market["precision"]["price"], market["precision"]["amount"]) == (0.1, 0.1)
    assert market["limits"]["cost"]["min"] == 20.0

    def order(quantity: str, price: str) -> Any:
        params = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        return params | {"quantity": quantity, "price": price}

    # 110.05 was on the old tick (0.01), not on the new one (0.1)
    answer = raw.signed("POST", "/api/v3/order", **order("0.2", "110.05"))
    assert answer == (400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})
    with pytest.raises(ccxt.InvalidOrder):
        ex.private_post_order(order("0.2", "110.05"))
    assert raw.signed("POST", "/api/v3/order", **order("0.15", "110")) == (
        400,
        {"code": -1013, "msg": "Filter failure: LOT_SIZE"},
    )
    with pytest.raises(ccxt.InvalidOrder):
        ex.private_post_order(order("0.15", "110"))
    # 0.1 x 110 = 11 < 20, enough under the old 5
    assert raw.signed("POST", "/api/v3/order", **order("0.1", "110")) == (
        400,
        {"code": -1013, "msg": "Filter failure: NOTIONAL"},
    )
    with pytest.raises(ccxt.BadRequest):
        ex.private_post_order(order("0.1", "110"))
    # 0.2 x 109.9 = 21.98 >= 20, on both grids: accepted, rests under the price
    placed = ex.create_order("SOL/USDT", "limit", "buy", 0.2, 109.9)
    assert (placed["status"], placed["price"], placed["amount"]) == ("open", 109.9, 0.2)

    # a fresh exchange has the start-up rules again
    raw.control("/sim/reset", {})
    filters = {f["filterType"]: f for f in raw.symbols()["SOLUSDT"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"


def test_the_rules_control_refuses_what_binance_would_not_serve(raw):
    for body in (
        {"symbol": "SOLUSDT", "tickSize": 0},
        {"symbol": "SOLUSDT", "stepSize": "0.000000001"},
        {"symbol": "SOLUSDT", "maxQty": 5},
    ):
        assert requests.post(raw.url + "/sim/rules", json=body, timeout=10).status_code == 400


# ------------------------------------------------------------------------------ maintenance
def test_maintenance_answers_503_for_its_window_and_system_status_says_so(raw, ex, clock):
    raw.control("/sim/fault", {"kind": "maintenance", "seconds": 600})
    assert raw.get("/api/v3/ping") == (503, MAINTENANCE)
    assert raw.signed("GET", "/api/v3/account") == (503, MAINTENANCE)
    assert raw.get("/sapi/v1/system/status") == (200, {"status": 1, "msg": "system maintenance"})
    assert ex.fetch_status()["status"] == "maintenance"
    with pytest.raises(ccxt.OnMaintenance):
        ex.fetch_ticker("BTC/USDT")
    with pytest.raises(ccxt.OnMaintenance):
        ex.create_order("SOL/USDT", "market", "buy", 1)
    assert sol_orders(raw) == []  # unprocessed

    clock.advance(9.9)  # 594 s: still in the window
    assert raw.get("/api/v3/ping")[0] == 503
    state = raw.control("/sim/state")
    fired = [f for f in state["faults_fired"] if f["kind"] == "maintenance"]
    assert len(fired) == 7  # every request of the window, system/status included
    clock.advance(0.2)  # 606 s: over
    assert raw.get("/api/v3/ping") == (200, {})
    assert ex.fetch_status()["status"] == "ok"
    assert ex.create_order("SOL/USDT", "market", "buy", 1)["status"] == "closed"
    assert raw.control("/sim/state")["faults_pending"] == []


def test_a_fault_without_seconds_fires_count_times_as_before(raw):
    raw.control("/sim/fault", {"kind": "maintenance", "count": 2, "path": "/api/v3/ping"})
    assert [raw.get("/api/v3/ping")[0] for _ in range(3)] == [503, 503, 200]
    assert raw.get("/api/v3/time")[0] == 200  # its path only
    # a timeout's "seconds" is still its sleep: one firing, not a window
    fault = raw.control("/sim/fault", {"kind": "timeout", "seconds": 0.05, "process": True})
    assert (fault["count"], fault["until"], fault["seconds"]) == (1, None, 0.05)
    assert [raw.get("/api/v3/ping")[0] for _ in range(2)] == [200, 200]
    fired = raw.control("/sim/state")["faults_fired"]
    assert [f["kind"] for f in fired] == ["maintenance", "maintenance", "timeout"]


def test_an_older_kind_over_a_window_fires_on_every_request_in_it(raw, clock):
    raw.control("/sim/fault", {"kind": "http5xx", "seconds": 60})
    statuses = [requests.get(raw.url + "/api/v3/ping", timeout=10).status_code for _ in range(4)]
    assert statuses == [503] * 4
    clock.advance(1)
    assert raw.get("/api/v3/ping") == (200, {})
    # a timeout's window is "window" (its "seconds" being the sleep)
    raw.control("/sim/fault", {"kind": "timeout", "seconds": 0.01, "window": 60, "process": True})
    assert [raw.get("/api/v3/time")[0] for _ in range(3)] == [200] * 3
    state = raw.control("/sim/state")
    assert [f["kind"] for f in state["faults_fired"]].count("timeout") == 3
    assert [f["kind"] for f in state["faults_pending"]] == ["timeout"]
    clock.advance(1.01)
    assert raw.control("/sim/state")["faults_pending"] == []


# ------------------------------------------------------------------------------ clock
def test_a_clock_fault_refuses_signed_requests_with_1021_for_its_window(raw, ex, clock):
    raw.control("/sim/fault", {"kind": "clock", "seconds": 120})
    assert raw.signed("GET", "/api/v3/account") == (400, OUT_OF_WINDOW)
    with pytest.raises(ccxt.InvalidNonce):
        ex.fetch_balance()
    with pytest.raises(ccxt.InvalidNonce):
        ex.create_order("SOL/USDT", "market", "buy", 1)
    assert sol_orders(raw) == []  # unprocessed
    assert ex.fetch_ticker("SOL/USDT")["last"] == sol_price(10)  # public: untouched
    fired = raw.control("/sim/state")["faults_fired"]
    assert [(f["kind"], f["path"]) for f in fired] == [
        ("clock", "/api/v3/account"),
        ("clock", "/api/v3/account"),
        ("clock", "/api/v3/order"),
    ]
    clock.advance(2.1)
    assert ex.fetch_balance()["USDT"]["free"] == 10000.0
    assert ex.create_order("SOL/USDT", "market", "buy", 1)["status"] == "closed"


# ------------------------------------------------------------------------------ stale data
def test_stale_market_data_is_frozen_at_the_faults_start_while_the_market_moves_on(raw, ex, clock):
    start = clock.now
    _, depth_before = raw.get("/api/v3/depth", symbol="SOLUSDT", limit=5)
    raw.control("/sim/fault", {"kind": "stale", "seconds": 3600})
    clock.advance(30)  # the path: 110.50

    ticker = ex.fetch_ticker("SOL/USDT")
    assert (ticker["last"], ticker["timestamp"]) == (sol_price(10), start)
    assert raw.get("/api/v3/ticker/price", symbol="SOLUSDT")[1]["price"] == "110.00000000"
    # the book around 110 with the default spread 0.0005: 110 x 0.99975 = 109.9725 rounded
    # down to the tick, 110 x 1.00025 = 110.0275 rounded up
    book = raw.get("/api/v3/ticker/bookTicker", symbol="SOLUSDT")[1]
    assert (book["bidPrice"], book["askPrice"]) == ("109.97000000", "110.03000000")
    _, depth = raw.get("/api/v3/depth", symbol="SOLUSDT", limit=5)
    assert depth == depth_before  # the same book, the same update id
    candles = ex.fetch_ohlcv("SOL/USDT", "1h", limit=3)
    assert candles[-1][0] == WALL_DAY + 10 * HOUR and candles[-1][4] == sol_price(10)

    # underneath, the market moved: a market buy pays the real ask
    assert raw.control("/sim/state")["prices"]["SOLUSDT"]["price"] == sol_price(10.5)
    bought = ex.create_order("SOL/USDT", "market", "buy", 1)
    assert bought["average"] == 110.53  # 110.5 x 1.00025 = 110.527625, up to the tick
    fired = [f for f in raw.control("/sim/state")["faults_fired"] if f["kind"] == "stale"]
    assert [f["path"].rsplit("/", 1)[-1] for f in fired] == [
        "24hr",
        "price",
        "bookTicker",
        "depth",
        "klines",
    ]

    clock.advance(31)  # 11:01, past the window: the path again
    assert ex.fetch_ticker("SOL/USDT")["last"] == sol_price(11 + 1 / 60)
    assert raw.get("/api/v3/ticker/price", symbol="SOLUSDT")[1]["price"] == "111.02000000"
    _, depth = raw.get("/api/v3/depth", symbol="SOLUSDT", limit=5)
    assert depth["lastUpdateId"] == depth_before["lastUpdateId"] + 1
