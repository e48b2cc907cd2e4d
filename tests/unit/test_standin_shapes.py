"""The Binance stand-in answers with the fields and value types of Binance's own answers, and
reads every parameter ccxt sends it (issue 19, item 4).

Third-party truth: ccxt's public test fixtures (``../shared/ccxt-static``, PROVENANCE.md
there): ``response/binance.json`` holds raw Binance spot answers ccxt's tests replay,
``request/binance.json`` the raw requests ccxt sends, ``markets/binance.json`` ccxt's markets
with each raw exchangeInfo symbol as ``info``. Every stand-in endpoint with a recorded spot
answer is asked here and its answer compared with the recording: the same keys, recursively (a
key the stand-in adds is a difference too), and the same kind of value at each of them.

How a recording is compared. ccxt's JavaScript build, which recorded these answers, parses
Binance's JSON with ``quoteJsonNumbers`` on: every number that is the value of an object's key
is turned into a string before parsing (``"orderId":9780331417`` is recorded as
``"9780331417"``), numbers inside arrays (the klines rows) are left alone. So the stand-in's
answer goes through that same substitution (:func:`as_recorded`) before the comparison, and a
kind is finer than a JSON type (:func:`kind`): Binance's decimal strings ("241.00000000") must
be decimal strings with as many decimals, its integers (ids, times) integers.

In-process, through ``routes.api_call`` (the handler behind each HTTP route, the answer
serialised as the server does): the same answers without a server, a few milliseconds per test.
The HTTP layer (signatures, weights, status codes) is tested by tests/e2e/test_sim.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest

from binance_standin import SimExchange
from binance_standin.errors import BinanceError
from binance_standin.routes import ROUTES, api_call
from tests.helpers.candles import write_flat_candles
from tests.helpers.paths import ROOT

#: ccxt's public test fixtures, beside the clone like the candles.
CCXT_STATIC = ROOT.parent / "shared" / "ccxt-static"
NO_CCXT_STATIC = "ccxt's fixtures ../shared/ccxt-static are absent on this machine"

pytestmark = pytest.mark.skipif(not CCXT_STATIC.is_dir(), reason=NO_CCXT_STATIC)

#: Flat prices of the served symbols, chosen so that ccxt's recorded requests (SOL bought at
#: 241, LTC at 50, BTC at 55000) rest on the book rather than fill, as they did on Binance.
PRICES = {
    "BTC": 60000.0,
    "ETH": 3000.0,
    "LTC": 70.0,
    "SOL": 250.0,
    "XRP": 0.6,
    "ADA": 0.5,
    "DOGE": 0.1,
    "TRX": 0.1,
}
BALANCES = {"USDT": 100000, "BTC": 1, "ETH": 1, "LTC": 10, "SOL": 1}
NOW_MS = int(pd.Timestamp("2024-03-01 12:34:56", tz="UTC").value // 1_000_000)

#: ccxt's quoteJsonNumbers: a number after ``":`` and before ``,`` or ``}``, quoted.
_QUOTE_NUMBERS = re.compile(r'":([+.0-9eE-]+)([,}])')
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+\.([0-9]+)")
#: parameters of a SIGNED request that the HTTP layer reads (routes.check_signed)
SIGNED_PARAMS = {"timestamp", "recvWindow", "signature"}
#: Order types the stand-in does not simulate (its package doc): refused with -1014.
NOT_SIMULATED = {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}


# ------------------------------------------------------------------------------ comparison
def as_recorded(answer: Any) -> Any:
    """The stand-in's answer as ccxt's recorder would have stored it: serialised as the
    stand-in's server does, then ccxt's quoteJsonNumbers substitution, then parsed."""
    text = json.dumps(answer, separators=(",", ":"))
    return json.loads(_QUOTE_NUMBERS.sub(r'":"\1"\2', text))


def kind(value: Any) -> str:
    """The kind of a JSON value, strings told apart by what Binance puts in them."""
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return "integer string"
        decimal = _DECIMAL.fullmatch(value)
        return f"{len(decimal.group(1))}-decimal string" if decimal else "string"
    return type(value).__name__


def _list_differences(ours: list[Any], theirs: list[Any], where: str) -> list[str]:
    """A row of numbers (a kline, a book level) is compared place by place, its length too; any
    other list (of objects, of names) item by item against the recording's first item (a filter
    against the recording's filter of the same ``filterType``)."""
    if not ours or not theirs:
        return []
    row = all(not isinstance(x, (dict, list)) for x in theirs) and any(
        kind(x) != "string" for x in theirs
    )
    if row and len(ours) != len(theirs):
        return [f"{where}: {len(ours)} places, recorded {len(theirs)}"]
    if row:
        pairs = list(zip(ours, theirs, strict=True))
    else:
        by_type = {x.get("filterType"): x for x in theirs if isinstance(x, dict)}
        pairs = [
            (x, by_type.get(x.get("filterType"), theirs[0]) if isinstance(x, dict) else theirs[0])
            for x in ours
        ]
    out = []
    for i, (mine, recorded) in enumerate(pairs):
        out += differences(mine, recorded, f"{where}[{i}]")
    return out


def differences(ours: Any, theirs: Any, where: str = "$") -> list[str]:
    """Where the stand-in's answer (already :func:`as_recorded`) and the recorded one differ
    in keys or kinds of value; empty when they have the same shape."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = [f"{where}.{k}: missing (recorded {theirs[k]!r})" for k in theirs if k not in ours]
        out += [f"{where}.{k}: not in the recording" for k in ours if k not in theirs]
        for k in ours.keys() & theirs.keys():
            out += differences(ours[k], theirs[k], f"{where}.{k}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list):
        return _list_differences(ours, theirs, where)
    if kind(ours) != kind(theirs):
        return [f"{where}: {ours!r} ({kind(ours)}), recorded {theirs!r} ({kind(theirs)})"]
    return []


def test_the_comparison_sees_each_kind_of_difference():
    """A missing key, an added key, a number where Binance sends a string, a decimal with other
    decimals, an id sent as a string, a row shorter or longer: each is a difference."""
    recorded = {"orderId": "12", "price": "1.50000000", "fills": [], "row": [1, "2.0"]}
    assert (
        differences(
            as_recorded({"orderId": 12, "price": "1.50000000", "fills": [], "row": [1, "2.0"]}),
            recorded,
        )
        == []
    )
    found = differences(
        as_recorded({"orderId": "x7", "price": 1.5, "extra": True, "row": [1, 2.0]}), recorded
    )
    assert sorted(found) == sorted(
        [
            "$.fills: missing (recorded [])",
            "$.extra: not in the recording",
            "$.orderId: 'x7' (string), recorded '12' (integer string)",
            # a number in an object is quoted as ccxt's recorder quoted it: 1.5 -> "1.5"
            "$.price: '1.5' (1-decimal string), recorded '1.50000000' (8-decimal string)",
            "$.row[1]: 2.0 (float), recorded '2.0' (1-decimal string)",
        ]
    )
    assert differences(as_recorded([[1, "2.0"]]), [[1, "2.0", 3]]) == ["$[0]: 2 places, recorded 3"]


# ------------------------------------------------------------------------------ fixtures
def _fixture(folder: str) -> dict[str, Any]:
    """ccxt's ``folder/binance.json`` (response, request or markets)."""
    return json.loads((CCXT_STATIC / folder / "binance.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def responses() -> dict[str, list[dict[str, Any]]]:
    return _fixture("response")["methods"]


def recording(responses: dict[str, list[dict[str, Any]]], method: str, description: str) -> Any:
    """The raw Binance answer ccxt recorded for ``method`` in the case ``description``."""
    return next(c["httpResponse"] for c in responses[method] if c["description"] == description)


def _recorded_requests() -> list[tuple[str, str, str, dict[str, str]]]:
    """ccxt's recorded requests to the endpoints the stand-in serves: (ccxt method and case,
    HTTP method, path, parameters). The fixture keeps no HTTP method: a body means POST, and
    ccxt's cancels are DELETEs."""
    if not CCXT_STATIC.is_dir():
        return []
    out = []
    for name, cases in _fixture("request")["methods"].items():
        for case in cases:
            if case.get("disabled"):
                continue
            url = urlsplit(case["url"])
            body = case.get("output") or ""
            verb = "DELETE" if name.startswith("cancel") else ("POST" if body else "GET")
            if (verb, url.path) in ROUTES:
                params = dict(parse_qsl(url.query)) | dict(parse_qsl(body))
                out.append((f"{name}: {case['description']}", verb, url.path, params))
    return out


@pytest.fixture(scope="module")
def datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Flat hourly candles at :data:`PRICES`, 40 days from 2024-01-01 (the sim starts its
    history at 2024-01-20)."""
    return write_flat_candles(tmp_path_factory.mktemp("shapes"), PRICES, 40, 10.0)


@pytest.fixture
def sim(datadir: Path) -> SimExchange:
    return SimExchange(datadir, start="2024-01-20", balances=BALANCES, clock=lambda: NOW_MS)


def ask(sim: SimExchange, method: str, path: str, **params: Any) -> Any:
    """The stand-in's answer to a request, as ccxt's recorder would have stored it."""
    handler = ROUTES[(method, path)].handler
    return as_recorded(api_call(sim, handler, {k: str(v) for k, v in params.items()}, method, path))


def order(sim: SimExchange, **params: Any) -> Any:
    return ask(sim, "POST", "/api/v3/order", newOrderRespType="FULL", **params)


# ------------------------------------------------------------------------------ market data
def test_ticker_24hr_has_binances_fields(sim, responses):
    recorded = recording(responses, "fetchTicker", "public spot ticker")
    assert differences(ask(sim, "GET", "/api/v3/ticker/24hr", symbol="BTCUSDT"), recorded) == []
    listed = ask(sim, "GET", "/api/v3/ticker/24hr", symbols='["BTCUSDT","LTCUSDT"]')
    assert [t["symbol"] for t in listed] == ["BTCUSDT", "LTCUSDT"]
    assert differences(listed, [recorded]) == []


def test_depth_has_binances_fields(sim, responses):
    recorded = recording(responses, "fetchOrderBook", "spot orderbook")
    book = ask(sim, "GET", "/api/v3/depth", symbol="BTCUSDT", limit=5)
    assert (len(book["bids"]), len(book["asks"])) == (5, 5)
    assert differences(book, recorded) == []


def test_klines_have_binances_fields(sim, responses):
    """Twelve places per row: times and the trade count as JSON numbers, the rest strings."""
    recorded = recording(responses, "fetchOHLCV", "Spot OHLCV with since and limit")
    rows = ask(sim, "GET", "/api/v3/klines", symbol="BTCUSDT", interval="1h", limit=3)
    assert len(rows) == 3 and all(len(row) == 12 for row in rows)
    assert differences(rows, recorded) == []


def test_exchange_info_symbols_have_binances_fields(sim):
    """Each served symbol that ccxt's markets fixture has, against its raw ``info``."""
    markets = _fixture("markets")
    served = ask(sim, "GET", "/api/v3/exchangeInfo")["symbols"]
    compared = 0
    for symbol in served:
        market = markets.get(f"{symbol['baseAsset']}/{symbol['quoteAsset']}")
        if market is not None:
            assert differences(symbol, market["info"], symbol["symbol"]) == []
            compared += 1
    assert compared == 7  # BTC, ETH, ADA, LTC, XRP, DOGE, TRX (no SOL in the fixture)


# ------------------------------------------------------------------------------ account
def test_account_has_binances_fields(sim, responses):
    recorded = recording(responses, "fetchBalance", "Spot balance")
    account = ask(sim, "GET", "/api/v3/account")
    assert differences(account, recorded) == []
    assert {"asset": "LTC", "free": "10.00000000", "locked": "0.00000000"} in account["balances"]
    assert account["commissionRates"]["taker"] == "0.00100000"  # the sim's fee, 0.001


def test_a_new_order_answers_as_binance_did_to_the_same_request(sim, responses):
    """ccxt's recorded request (a SOL limit buy at 241, an iceberg with self-trade prevention
    EXPIRE_MAKER), replayed: the answer has the recorded answer's fields and kinds, and says
    what Binance said of that order - resting, its iceberg part and its STP mode."""
    request = dict(next(p for n, _, _, p in _recorded_requests() if "+iceberg" in n))
    recorded = recording(responses, "createOrder", "spot +selfTradePrevention +iceberg")
    answer = ask(sim, "POST", "/api/v3/order", **request)
    assert differences(answer, recorded) == []
    same = (
        "symbol",
        "price",
        "origQty",
        "executedQty",
        "origQuoteOrderQty",
        "cummulativeQuoteQty",
        "status",
        "timeInForce",
        "type",
        "side",
        "icebergQty",
        "fills",
        "selfTradePreventionMode",
    )
    assert {k: answer[k] for k in same} == {k: recorded[k] for k in same}
    assert answer["clientOrderId"] == request["newClientOrderId"]
    assert answer["workingTime"] == answer["transactTime"] == str(NOW_MS)


def test_a_filled_order_answers_with_binances_fill_fields(sim, responses):
    """A market buy's FULL answer: the recorded answer's fields but ``icebergQty`` (Binance
    sends it only for an iceberg order, which the recorded one was); each fill has the fields
    of the fill in Binance's API documentation (the recorded order had none)."""
    recorded = recording(responses, "createOrder", "spot +selfTradePrevention +iceberg")
    plain = {k: v for k, v in recorded.items() if k != "icebergQty"}
    documented_fill = as_recorded(
        {
            "price": "4000.00000000",
            "qty": "1.00000000",
            "commission": "4.00000000",
            "commissionAsset": "USDT",
            "tradeId": 56,
        }
    )
    answer = order(sim, symbol="LTCUSDT", side="BUY", type="MARKET", quoteOrderQty="10")
    assert answer["status"] == "FILLED" and answer["fills"]
    assert differences(answer, plain) == []
    assert differences(answer["fills"], [documented_fill]) == []


def test_order_query_has_binances_fields(sim, responses):
    """``GET /api/v3/order`` of a filled market sell, as the recorded one."""
    recorded = recording(responses, "fetchOrder", "Fetch spot closed order")
    placed = order(sim, symbol="LTCUSDT", side="SELL", type="MARKET", quantity="0.1")
    answer = ask(sim, "GET", "/api/v3/order", symbol="LTCUSDT", orderId=placed["orderId"])
    assert differences(answer, recorded) == []
    assert (answer["status"], answer["type"], answer["icebergQty"]) == (
        "FILLED",
        "MARKET",
        "0.00000000",
    )


def test_open_orders_have_binances_fields(sim, responses):
    """A post-only buy sent as ccxt sent it, without a self-trade prevention mode: listed as
    Binance listed it, with the symbol's default mode (exchangeInfo: EXPIRE_MAKER)."""
    recorded = recording(responses, "fetchOpenOrders", "Fetch spot open orders")
    order(sim, symbol="LTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.2", price="50")
    listed = ask(sim, "GET", "/api/v3/openOrders", symbol="LTCUSDT")
    assert differences(listed, recorded) == []
    keys = ("type", "status", "price", "origQty", "selfTradePreventionMode")
    assert [{k: o[k] for k in keys} for o in listed] == [{k: recorded[0][k] for k in keys}]


def test_all_orders_have_binances_fields(sim, responses):
    """A canceled limit buy in ``allOrders``, as the recorded one."""
    recorded = recording(responses, "fetchOrders", "fetch spot orders")
    placed = order(
        sim,
        symbol="LTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="50",
    )
    ask(sim, "DELETE", "/api/v3/order", symbol="LTCUSDT", orderId=placed["orderId"])
    listed = ask(sim, "GET", "/api/v3/allOrders", symbol="LTCUSDT")
    assert differences(listed, recorded) == []
    assert [o["status"] for o in listed] == ["CANCELED"]


def test_my_trades_have_binances_fields(sim, responses):
    recorded = recording(responses, "fetchMyTrades", "Spot private trade")
    order(sim, symbol="LTCUSDT", side="SELL", type="MARKET", quantity="0.2")
    trades = ask(sim, "GET", "/api/v3/myTrades", symbol="LTCUSDT")
    assert differences(trades, recorded) == []
    # a market sell: a taker seller, as the recorded trade
    assert [(t["isBuyer"], t["isMaker"]) for t in trades] == [(False, False)]


# ------------------------------------------------------------------------------ iceberg, STP
#: A LIMIT GTC buy of 1 LTC at 50, below the market (70): it rests.
RESTING = {"symbol": "LTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
           "quantity": "1", "price": "50"}  # fmt: skip


def test_iceberg_and_stp_mode_are_kept_in_every_answer(sim):
    """An iceberg order (10 parts of 0.1: LTCUSDT's ICEBERG_PARTS limit is 10) with self-trade
    prevention EXPIRE_BOTH (allowed on LTCUSDT): placement, query and cancel answers say both."""
    placed = order(sim, **RESTING, icebergQty="0.1", selfTradePreventionMode="EXPIRE_BOTH")
    queried = ask(sim, "GET", "/api/v3/order", symbol="LTCUSDT", orderId=placed["orderId"])
    canceled = ask(sim, "DELETE", "/api/v3/order", symbol="LTCUSDT", orderId=placed["orderId"])
    for answer in (placed, queried, canceled):
        assert (answer["icebergQty"], answer["selfTradePreventionMode"]) == (
            "0.10000000",
            "EXPIRE_BOTH",
        )
    assert "icebergQty" not in ask(sim, "DELETE", "/api/v3/order", **_cancel(sim, RESTING))


def _cancel(sim: SimExchange, params: dict[str, str]) -> dict[str, str]:
    """Place an order; the parameters that cancel it."""
    return {"symbol": params["symbol"], "orderId": order(sim, **params)["orderId"]}


@pytest.mark.parametrize(
    ("extra", "code", "msg"),
    [
        ({"icebergQty": "0.09"}, -1013, "Filter failure: ICEBERG_PARTS"),  # 12 parts > 10
        ({"icebergQty": "1"}, -2010, "IcebergQty exceeds QTY."),  # not less than quantity
        ({"icebergQty": "0.5", "timeInForce": "IOC"}, -1014, "Unsupported order combination."),
        (
            {"selfTradePreventionMode": "NONE"},  # not in LTCUSDT's allowed modes
            -1013,
            "This symbol does not allow the specified self-trade prevention mode.",
        ),
        (
            {"selfTradePreventionMode": "LATER"},
            -1130,
            "Data sent for parameter 'selfTradePreventionMode' is not valid.",
        ),
    ],
)
def test_iceberg_and_stp_mode_are_checked_as_binance_checks_them(sim, extra, code, msg):
    with pytest.raises(BinanceError) as refused:
        order(sim, **(RESTING | extra))
    assert (refused.value.code, refused.value.msg) == (code, msg)
    assert sim.orders == {}


def test_a_market_order_cannot_be_an_iceberg(sim):
    with pytest.raises(BinanceError) as refused:
        order(sim, symbol="LTCUSDT", side="BUY", type="MARKET", quantity="1", icebergQty="0.5")
    assert refused.value.code == -1014


# ------------------------------------------------------------------------------ ccxt's requests
class ReadParams(dict[str, str]):
    """Request parameters that note which of them the stand-in read."""

    def __init__(self, params: dict[str, str]) -> None:
        super().__init__(params)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _with_order_ids(sim: SimExchange, params: dict[str, str]) -> dict[str, str]:
    """The recorded ``orderId`` (an order of ccxt's Binance account) replaced by one of the
    stand-in's: an open limit buy on the same symbol."""
    if "orderId" not in params:
        return params
    placed = order(
        sim,
        symbol=params["symbol"],
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="50",
    )
    return params | {"orderId": placed["orderId"]}


REQUESTS = _recorded_requests()


def test_ccxts_recorded_requests_reach_every_served_kind_of_endpoint():
    """The replay below covers orders, cancels, queries, account and market data."""
    paths = {(verb, path) for _, verb, path, _ in REQUESTS}
    assert {
        ("POST", "/api/v3/order"),
        ("POST", "/api/v3/order/test"),
        ("DELETE", "/api/v3/order"),
        ("DELETE", "/api/v3/openOrders"),
        ("GET", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
        ("GET", "/api/v3/allOrders"),
        ("GET", "/api/v3/myTrades"),
        ("GET", "/api/v3/account"),
        ("GET", "/api/v3/klines"),
        ("GET", "/api/v3/depth"),
        ("GET", "/api/v3/ticker/24hr"),
        ("GET", "/api/v3/ticker/price"),
        ("GET", "/api/v3/ticker/bookTicker"),
        ("GET", "/api/v3/time"),
    } <= paths


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [pytest.param(verb, path, params, id=name) for name, verb, path, params in REQUESTS],
)
def test_the_stand_in_reads_every_parameter_ccxt_sends(sim, method, path, params):
    """Each request ccxt's fixtures recorded for a served endpoint is answered, and every
    parameter in it is read - none silently ignored (the SIGNED ones are read by the HTTP
    layer). Orders of the types the stand-in does not simulate are refused as documented."""
    params = _with_order_ids(sim, params)
    if (method, path) == ("DELETE", "/api/v3/openOrders"):  # something to cancel
        order(
            sim,
            symbol=params["symbol"],
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.1",
            price="50",
        )
    sent = ReadParams(params)

    def run() -> Any:
        return api_call(sim, ROUTES[(method, path)].handler, sent, method, path)

    if params.get("type") in NOT_SIMULATED:
        with pytest.raises(BinanceError) as refused:
            run()
        assert refused.value.code == -1014
        return
    run()
    assert set(sent) - SIGNED_PARAMS - sent.read == set()
