"""The stand-in's Kraken dialect (binance_standin/kraken) against ccxt's own record of Kraken.

1. Shapes: every answer the dialect gives for an endpoint ccxt recorded a real Kraken answer
   of (``ccxt-static/response/kraken.json``) has the same keys and value types, field for field;
   the ``AssetPairs`` and ``Assets`` entries have those of the raw entries in ccxt's unified
   markets and currencies (``markets/kraken.json``, ``currencies/kraken.json``, their ``info``);
   every recorded spot request (``request/kraken.json``) of a served endpoint is accepted.
2. The real ``ccxt.kraken`` pointed at the stand-in loads the markets with Kraken's rules (the
   fixture's, pair by pair), reads the balance, places, queries and cancels orders, and gets
   Kraken's errors as the exception classes it raises for Kraken.

The stand-in runs in-process on a tiny datadir written here: flat prices (BTC 50000, ...), so
every figure below is worked out by hand. With the default spread 0.0005: BTC's best ask =
ceil(50000 x 1.00025, tick 0.1) = 50012.5, best bid = floor(50000 x 0.99975) = 49987.5.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import ccxt
import pytest
import requests

from binance_standin import start_server
from binance_standin.kraken import DEFAULT_SECRET, PAIRS, ccxt_overrides, txid
from rebalance_plugin.marketdata import offline
from tests.helpers.candles import write_flat_candles
from tests.helpers.paths import CCXT_STATIC

KEY = "simkey"
#: Flat prices of the tiny datadir, per Kraken pair.
PRICES = {"BTC": 50000.0, "ETH": 2500.0, "ADA": 0.5, "LTC": 70.0, "XRP": 0.5, "DOGE": 0.08}
SYMBOLS = {"BTC/USDT", "ETH/USDT", "ADA/USDT", "LTC/USDT", "XRP/USDT", "DOGE/USDT"}
START = "2024-01-05"


def fixture(kind: str) -> Any:
    return json.loads((CCXT_STATIC / kind / "kraken.json").read_text())


def recorded(method: str, description: str | None = None) -> dict[str, Any]:
    """The raw answer ccxt recorded for ``method`` (the entry with ``description``)."""
    entries = fixture("response")["methods"][method]
    entry = next(e for e in entries if description is None or e["description"] == description)
    return entry["httpResponse"]


def shape(value: Any) -> Any:
    """Keys and value types: a dict's keys with their shapes; a list's element shape when the
    elements agree (a list of rows, of prices), else each position's (an OHLC row)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = [shape(v) for v in value]
        if shapes and all(s == shapes[0] for s in shapes):
            return ["list of", shapes[0]]
        return shapes
    return type(value).__name__


# ------------------------------------------------------------------------------ the stand-in
@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    return write_flat_candles(tmp_path_factory.mktemp("krakendata"), PRICES, 10, 100.0)


@pytest.fixture(autouse=True)
def _real_ccxt():
    """Other tests may have installed offline markets for kraken (they only answer ids that are
    installed): talk to the stand-in through ccxt's own code, restore afterwards."""
    installed = getattr(offline, "_INSTALLED", {})
    saved = installed.pop("kraken", None)
    yield
    if saved is not None:
        installed["kraken"] = saved


@pytest.fixture
def stand_in(datadir):
    server, url = start_server(
        0, datadir, dialect="kraken", start=START, balances={"USDT": 10000, "LTC": 5}
    )
    server.test_url = url
    yield server
    server.shutdown()


@pytest.fixture
def ex(stand_in) -> ccxt.kraken:
    api = ccxt.kraken(
        {
            **ccxt_overrides(stand_in.test_url),
            "apiKey": KEY,
            "secret": DEFAULT_SECRET,
            "enableRateLimit": False,
        }
    )
    api.load_markets()
    return api


class Raw:
    """Kraken's REST API by hand: public GETs, and private POSTs signed as Kraken documents."""

    def __init__(self, url: str, secret: str = DEFAULT_SECRET, key: str = KEY) -> None:
        self.url, self.key, self.secret = url, key, base64.b64decode(secret)
        self.nonce = int(time.time() * 1000)

    def public(self, method: str, **params: Any) -> dict[str, Any]:
        return requests.get(f"{self.url}/0/public/{method}", params=params, timeout=10).json()

    def sign(self, path: str, body: str, nonce: str) -> str:
        message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
        return base64.b64encode(hmac.new(self.secret, message, hashlib.sha512).digest()).decode()

    def private(self, method: str, nonce: int | None = None, **params: Any) -> dict[str, Any]:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        body = urlencode({"nonce": nonce, **params})
        path = f"/0/private/{method}"
        headers = {
            "API-Key": self.key,
            "API-Sign": self.sign(path, body, str(nonce)),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return requests.post(self.url + path, data=body, headers=headers, timeout=10).json()


def ok(answer: dict[str, Any]) -> Any:
    assert answer["error"] == [], answer
    return answer["result"]


# ------------------------------------------------------------------------------ 1. shapes
def test_ticker_ohlc_and_new_order_answers_have_the_recorded_shapes(stand_in):
    raw = Raw(stand_in.test_url)
    ticker = raw.public("Ticker", pair="XBTUSDT")
    assert shape(ticker) == shape(recorded("fetchTicker"))
    ohlc = raw.public("OHLC", pair="XBTUSDT", interval=60, since=0)
    assert shape(ohlc) == shape(recorded("fetchOHLCV"))
    new = raw.private("AddOrder", pair="LTCUSDT", type="buy", ordertype="market", volume="0.1")
    assert shape(new) == shape(recorded("createOrder"))


def test_order_answers_have_the_recorded_shapes(stand_in):
    """QueryOrders of an open limit order and of a closed market order, and OpenOrders: the
    recorded answers' keys and value types (the recorded open orders are stop and take-profit
    orders, which have the same fields as an open limit order)."""
    raw = Raw(stand_in.test_url)
    resting = ok(
        raw.private(
            "AddOrder",
            pair="LTCUSDT",
            type="buy",
            ordertype="limit",
            volume="0.1",
            price="50",
            oflags="post",
        )
    )["txid"][0]
    market = ok(
        raw.private("AddOrder", pair="LTCUSDT", type="buy", ordertype="market", volume="0.1")
    )["txid"][0]

    def query(order_id: str) -> dict[str, Any]:
        answer = raw.private("QueryOrders", txid=order_id, trades="true")
        return shape(ok(answer)[order_id])

    (open_recorded,) = recorded("fetchOrder", "fetch spot limit order")["result"].values()
    (closed_recorded,) = recorded("fetchOrder", "closed market order")["result"].values()
    assert query(resting) == shape(open_recorded)
    assert query(market) == shape(closed_recorded)
    listed = ok(raw.private("OpenOrders"))["open"]
    assert list(listed) == [resting]
    for description in ("open take-profit market order", "open stop-loss-limit order"):
        (entry,) = recorded("fetchOpenOrders", description)["result"]["open"].values()
        assert shape(listed[resting]) == shape(entry), description


def test_asset_pairs_and_assets_have_the_raw_entries_ccxt_recorded(stand_in):
    """AssetPairs: each served pair's entry has the keys and types of the raw entry inside
    ccxt's unified market (``info``), and the same values but the fee tiers (BTC/USDT's
    recorded taker tiers go further down than the other pairs'); Assets: those of ccxt's
    currencies' ``info`` (DOGE is not in that fixture)."""
    raw = Raw(stand_in.test_url)
    pairs = ok(raw.public("AssetPairs"))
    markets = fixture("markets")
    by_id = {m["id"]: m for m in markets.values()}
    assert set(pairs) == {m["id"] for m in markets.values() if m["symbol"] in SYMBOLS}
    for pair_id, entry in pairs.items():
        info = by_id[pair_id]["info"]
        assert shape(entry) == shape(info), pair_id
        for key in set(info) - {"fees", "fees_maker"}:
            assert entry[key] == info[key], (pair_id, key)
        assert entry["fees"][0] == info["fees"][0] and entry["fees_maker"] == info["fees_maker"]
    assets = ok(raw.public("Assets"))
    currencies = {c["id"]: c for c in fixture("currencies").values()}
    assert set(assets) == {"XXBT", "XETH", "ADA", "XLTC", "XXRP", "XXDG", "USDT"}
    for asset, entry in assets.items():
        if asset in currencies:
            assert entry == currencies[asset]["info"], asset


def _recorded_requests() -> list[tuple[str, str, str | None]]:
    """The recorded spot requests of served endpoints: (description, url, body)."""
    served = {"AddOrder", "OpenOrders", "ClosedOrders", "TradesHistory", "BalanceEx",
              "CancelOrder", "CancelAll", "OHLC", "Time", "Depth", "Ticker"}  # fmt: skip
    out = []
    for method, entries in fixture("request")["methods"].items():
        for e in entries:
            path = urlsplit(e["url"]).path
            if path.rsplit("/", 1)[-1] in served and "swap" not in e["description"].lower():
                out.append((f"{method}: {e['description']}", e["url"], e.get("output")))
    return out


@pytest.mark.parametrize(("what", "url", "body"), _recorded_requests(), ids=lambda v: str(v)[:40])
def test_recorded_spot_requests_are_understood(stand_in, what, url, body):
    """Every recorded request is taken as Kraken takes it: answered, or refused for what it
    asks (an order type the stand-in does not simulate, margin, an order it never saw), never
    for its form. The recorded nonce is replaced by a fresh one (it must increase)."""
    raw = Raw(stand_in.test_url)
    parts = urlsplit(url)
    if body is None:
        params = dict(parse_qsl(parts.query))
        answer = raw.public(parts.path.rsplit("/", 1)[-1], **params)
    else:
        params = dict(parse_qsl(body))
        params.pop("nonce")
        answer = raw.private(parts.path.rsplit("/", 1)[-1], **params)
    refused = [  # in the order Kraken checks: the pair, then the order type
        ("ZUSD", "EQuery:Unknown asset pair"),  # USD pairs are not served
        ("ordertype=stop-loss", "EGeneral:Invalid arguments:ordertype"),
        ("ordertype=take-profit", "EGeneral:Invalid arguments:ordertype"),
        ("CancelOrder", "EOrder:Unknown order"),  # an order of the recording's account
    ]
    expected = [e for k, e in refused if k in (body or "") or k in url]
    assert answer["error"] == expected[:1], (what, answer)


# ------------------------------------------------------------------------------ 2. real ccxt
def test_ccxt_loads_kraken_markets_with_the_fixtures_rules(ex):
    recorded_markets = fixture("markets")
    assert set(ex.markets) == SYMBOLS
    for symbol in SYMBOLS:
        mine, theirs = ex.markets[symbol], recorded_markets[symbol]
        # (baseId/quoteId: the recorded markets' ccxt kept Kraken's asset ids there, today's
        # ccxt the codes; the asset ids are in info, checked below)
        for key in ("id", "base", "quote", "altname", "wsId", "taker", "maker", "precision",
                    "active", "spot"):  # fmt: skip
            assert mine[key] == theirs[key], (symbol, key)
        assert (mine["info"]["base"], mine["info"]["quote"]) == (
            theirs["baseId"],
            theirs["quoteId"],
        )
        assert mine["limits"]["amount"]["min"] == theirs["limits"]["amount"]["min"]
        # Kraken's minimum order value: ccxt reads it from costmin
        assert mine["limits"]["cost"]["min"] == float(theirs["info"]["costmin"]) == 0.5
    assert ex.currencies["BTC"]["id"] == "XXBT" and ex.currencies["DOGE"]["id"] == "XXDG"


def test_ccxt_places_queries_and_cancels_orders(stand_in, ex):
    assert ex.fetch_balance()["total"]["USDT"] == 10000
    book = ex.fetch_order_book("BTC/USDT", 5)
    assert book["asks"][0][0] == 50012.5 and book["bids"][0][0] == 49987.5
    # An IOC limit buy of 0.01 BTC at the ask fills at 50012.5: cost 500.125, fee 0.26% in
    # USDT = 1.300325 (Kraken reports it truncated to the pair's 5 cost decimals).
    placed = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50012.5, {"timeInForce": "IOC"})
    order = ex.fetch_order(placed["id"])
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.01, 50012.5)
    assert order["cost"] == pytest.approx(500.125)
    assert order["fee"]["currency"] == "USDT" and float(order["fee"]["cost"]) == 1.30032
    balance = ex.fetch_balance()
    assert balance["total"]["BTC"] == 0.01  # the whole quantity: the fee was paid in USDT
    assert balance["total"]["USDT"] == pytest.approx(10000 - 500.125 - 1.300325, abs=1e-9)
    # A GTC limit buy of 0.1 ETH at 2000 rests and holds its cost plus the fee it may pay.
    resting = ex.create_order("ETH/USDT", "limit", "buy", 0.1, 2000)
    assert [o["id"] for o in ex.fetch_open_orders()] == [resting["id"]]
    assert ex.fetch_balance()["used"]["USDT"] == pytest.approx(200 * 1.0026)
    ex.cancel_order(resting["id"])
    assert ex.fetch_order(resting["id"])["status"] == "canceled"
    assert ex.fetch_open_orders() == []
    assert ex.fetch_balance()["used"]["USDT"] == 0
    # The account's records: Kraken's id of the stand-in's order 1001 is its txid.
    assert placed["id"] == txid(stand_in.sim.state()["orders"][0]["orderId"])
    closed = ex.fetch_closed_orders()
    assert {o["id"] for o in closed} == {placed["id"], resting["id"]}
    (trade,) = ex.fetch_my_trades("BTC/USDT")
    assert (trade["order"], trade["amount"], trade["price"]) == (placed["id"], 0.01, 50012.5)
    assert trade["fee"]["currency"] == "USDT" and trade["fee"]["cost"] == pytest.approx(1.30032)
    # QueryTrades of the trade ids QueryOrders listed
    (same,) = ex.fetch_order_trades(placed["id"], params={"trades": order["trades"]})
    assert (same["id"], same["amount"], same["cost"]) == (trade["id"], 0.01, 500.125)
    fees = ex.fetch_trading_fee("BTC/USDT")  # TradeVolume: the account's first tier
    assert (fees["taker"], fees["maker"]) == (0.0026, 0.0016)


def test_an_ioc_order_that_cannot_fill_is_canceled_and_a_market_sell_pays_the_fee_in_usdt(ex):
    below = ex.create_order("LTC/USDT", "limit", "buy", 1, 60, {"timeInForce": "IOC"})
    order = ex.fetch_order(below["id"])
    assert (order["status"], order["filled"]) == ("canceled", 0)
    assert order["info"]["reason"] == "Insufficient liquidity"
    # A market sell of 1 LTC at the bid floor(70 x 0.99975, 0.00001) = 69.9825: the account
    # gets 69.9825 less 0.26%.
    sold = ex.fetch_order(ex.create_order("LTC/USDT", "market", "sell", 1)["id"])
    assert (sold["status"], sold["average"]) == ("closed", 69.9825)
    assert ex.fetch_balance()["total"]["USDT"] == pytest.approx(10000 + 69.9825 * (1 - 0.0026))


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("ETH/USDT", "limit", "buy", 0.009, 2400), ccxt.InvalidOrder, "Order minimum not met"),
        (("ADA/USDT", "limit", "buy", 20, 0.02), ccxt.ExchangeError, "Cost minimum not met"),
        (("BTC/USDT", "limit", "buy", 0.3, 50000), ccxt.InsufficientFunds, "Insufficient funds"),
        (("XRP/USDT", "market", "sell", 10), ccxt.InsufficientFunds, "Insufficient funds"),
    ],
)
def test_kraken_refusals_reach_ccxt_as_krakens_errors(ex, args, error, message):
    """ETH's minimum volume is 0.01; 20 ADA at 0.02 cost 0.40 < 0.50; 0.3 BTC at 50000 cost
    15000 > the 10000 USDT; the account has no XRP."""
    with pytest.raises(error, match=message):
        ex.create_order(*args)


def test_authentication_key_signature_and_nonce(stand_in):
    raw = Raw(stand_in.test_url)
    assert ok(raw.private("Balance"))["USDT"] == "10000.00000000"
    assert raw.private("Balance", nonce=raw.nonce)["error"] == ["EAPI:Invalid nonce"]  # again
    assert raw.private("Balance", nonce=raw.nonce - 5)["error"] == ["EAPI:Invalid nonce"]
    wrong = Raw(stand_in.test_url, secret=base64.b64encode(b"other").decode())
    assert wrong.private("Balance")["error"] == ["EAPI:Invalid signature"]
    stranger = Raw(stand_in.test_url, key="nobody")
    assert stranger.private("Balance")["error"] == ["EAPI:Invalid key"]
    ccxt_kraken = ccxt.kraken(
        {
            **ccxt_overrides(stand_in.test_url),
            "apiKey": "nobody",
            "secret": DEFAULT_SECRET,
            "enableRateLimit": False,
        }
    )
    with pytest.raises(ccxt.AuthenticationError):
        ccxt_kraken.fetch_balance()


def test_ohlc_serves_at_most_720_candles_and_since_only_filters_them(stand_in):
    raw = Raw(stand_in.test_url)
    rows = ok(raw.public("OHLC", pair="XBTUSDT", interval=5))["XBTUSDT"]
    assert len(rows) == 720  # 5m candles split from the 1h ones, the 720 most recent
    assert [b[0] - a[0] for a, b in zip(rows, rows[1:])] == [300] * 719
    old = ok(raw.public("OHLC", pair="XBTUSDT", interval=5, since=rows[0][0] - 86400 * 30))
    assert [r[0] for r in old["XBTUSDT"]] == [r[0] for r in rows]  # no older history
    recent = ok(raw.public("OHLC", pair="XBTUSDT", interval=5, since=rows[-3][0]))
    assert [r[0] for r in recent["XBTUSDT"]] == [rows[-2][0], rows[-1][0]]
    assert recent["last"] == str(rows[-2][0])  # the last complete candle
    assert raw.public("OHLC", pair="XBTUSDT", interval=7)["error"] == [
        "EGeneral:Invalid arguments:interval"
    ]


def test_pairs_table_matches_the_fixture_names():
    """The stand-in's names of each pair: its symbol (the candle files'), Kraken's pair id and
    base asset, as in ccxt's unified markets."""
    recorded_markets = fixture("markets")
    for symbol, pair in PAIRS.items():
        market = recorded_markets[f"{symbol.removesuffix('USDT')}/USDT"]
        assert (pair.pair_id, pair.base, pair.quote) == (
            market["id"],
            market["baseId"],
            market["quoteId"],
        )
        assert Decimal(pair.tick_size) == Decimal(str(market["precision"]["price"]))
