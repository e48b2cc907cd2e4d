"""Binance's order-count limits in the stand-in (binance_standin/orderlimits.py), its ban control,
and the bot's side: a 418 ban or a 429 is waited out without sending anything meanwhile
(rebalance_plugin/ft/backoff.py, installed on the ccxt clients by privates.wait_out_bans).

The stand-in's limiters run on a test clock here (the 10-second window and the ban's end are
then where the test puts them); ccxt is real and talks HTTP to the stand-in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import requests

from binance_standin import ccxt_overrides, start_server
from binance_standin.common import DAY, SECOND
from binance_standin.orderlimits import OrderLimiter
from rebalance_plugin.ft import privates
from rebalance_plugin.ft.backoff import Gate, interval_end, retry_after
from rebalance_plugin.marketdata import offline
from tests.helpers.candles import write_flat_candles

PRICES = {"BTC": 40000.0, "ETH": 2000.0}
START = "2024-01-01"
#: A moment 1 s into a calendar 10-second window (and 1 s into a UTC day's first window).
T0 = 19_700 * DAY + 1 * SECOND


class Clock:
    """Milliseconds, moved by the test."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def seconds(self) -> float:
        return self.now / 1000


# ------------------------------------------------------------------ the limits themselves
def test_new_orders_are_counted_per_calendar_10_seconds_and_per_utc_day():
    clock = Clock()
    limiter = OrderLimiter(per_10s=3, per_day=5, fill_credit=False, clock=clock)
    for n in (1, 2, 3):
        ticket, refusal = limiter.admit("bot-1")
        assert ticket is not None and refusal is None
        assert limiter.placed(100 + n, filled=True)["X-MBX-ORDER-COUNT-10S"] == str(n)
    ticket, refusal = limiter.admit("bot-1")
    assert ticket is None
    assert refusal == {
        "code": -1015,
        "msg": "Too many new orders; current limit is 3 orders per 10 SECOND.",
    }
    clock.now += 8_999  # 9.999 s into the window: still refused
    assert limiter.admit()[0] is None
    clock.now += 1  # the next window: 3 more, but the day has room for 2
    for n in (4, 5):
        ticket, _ = limiter.admit()
        assert ticket is not None
        assert limiter.placed(100 + n, filled=False)["X-MBX-ORDER-COUNT-1D"] == str(n)
    ticket, refusal = limiter.admit()
    assert ticket is None and refusal is not None
    assert refusal["msg"] == "Too many new orders; current limit is 5 orders per 1 DAY."
    clock.now = T0 - SECOND + DAY  # the next UTC day
    assert limiter.admit()[0] is not None
    summary = limiter.summary()
    assert summary["max_new_10s"] == 3 and summary["max_count_day"] == 5
    assert summary["refused"] == 3 and summary["refused_by_client"] == {"bot-1": 1, "-": 2}
    assert summary["orders"] == 6


def test_an_order_the_exchange_refuses_does_not_count():
    limiter = OrderLimiter(per_10s=1, clock=Clock())
    ticket, _ = limiter.admit()
    assert ticket is not None
    limiter.refused_by_exchange(ticket)  # e.g. -2010 insufficient balance
    assert limiter.headers()["X-MBX-ORDER-COUNT-10S"] == "0"
    assert limiter.admit()[0] is not None
    assert limiter.summary()["orders"] == 1


def test_a_first_fill_gives_one_back_in_every_interval_and_never_below_zero():
    """Binance's "Spot Unfilled Order Count Rules": an order that trades gives its count back
    (a taker at once, after its own answer; a resting order at its first fill); cancels and
    expiries give nothing; no credit below zero."""
    clock = Clock()
    limiter = OrderLimiter(per_10s=2, per_day=100, clock=clock)
    traded: dict[int, bool] = {}
    for order_id in (1, 2):  # two resting orders: the limit
        limiter.admit()
        limiter.placed(order_id, filled=False)
        traded[order_id] = False
    limiter.settle(traded.get)
    assert limiter.admit()[0] is None  # both still unfilled
    traded[1] = True  # the first one fills later
    limiter.settle(traded.get)
    assert limiter.headers() == {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1D": "1"}
    ticket, _ = limiter.admit()
    assert ticket is not None
    headers = limiter.placed(3, filled=True)  # a taker: counted in its answer, then given back
    assert headers["X-MBX-ORDER-COUNT-10S"] == "2"
    assert limiter.headers()["X-MBX-ORDER-COUNT-10S"] == "1"
    limiter.settle(traded.get)  # order 1 credited once only
    assert limiter.headers()["X-MBX-ORDER-COUNT-10S"] == "1"
    clock.now += 10 * SECOND  # a new window: 0; a fill now gives no credit below zero
    traded[2] = True
    limiter.settle(traded.get)
    assert limiter.headers() == {"X-MBX-ORDER-COUNT-10S": "0", "X-MBX-ORDER-COUNT-1D": "0"}
    assert limiter.summary()["credited"] == 3


# ------------------------------------------------------------------ the stand-in over HTTP
@pytest.fixture(scope="module")
def datadir(tmp_path_factory) -> Path:
    return write_flat_candles(tmp_path_factory.mktemp("limitsdata"), PRICES, 5, 1e6, START)


@pytest.fixture(autouse=True)
def _real_ccxt() -> Iterator[None]:
    """Other tests may have installed offline markets for binance (ccxt then refuses every
    HTTP request): talk to the stand-in through ccxt's own code, restore afterwards."""
    installed = getattr(offline, "_INSTALLED", {})
    saved = installed.pop("binance", None)
    yield
    if saved is not None:
        installed["binance"] = saved


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stand_in(datadir, clock) -> Iterator[Any]:
    server, url = start_server(
        0,
        datadir,
        start=START,
        balances={"USDT": 10000},
        order_limit_10s=3,
        order_limit_day=1000,
        order_fill_credit=False,
    )
    server.sim.order_limiter.clock = clock
    server.sim.limiter.clock = clock
    server.test_url = url
    yield server
    server.shutdown()


def binance(url: str, module: Any = ccxt) -> Any:
    api = module.binance(
        {**ccxt_overrides(url), "apiKey": "simkey", "secret": "simsecret", "enableRateLimit": False}
    )
    return api


@pytest.fixture
def api(stand_in) -> Any:
    api = binance(stand_in.test_url)
    api.load_markets()
    return api


def reached(stand_in) -> int:
    """Requests that reached the stand-in's Binance API (served or answered 418)."""
    weights = stand_in.sim.limiter.summary()
    return weights["requests"] + weights["answered_418"]


def test_the_stand_in_refuses_a_new_order_beyond_the_limit_with_429_1015(stand_in, api, clock):
    limits = requests.get(f"{stand_in.test_url}/api/v3/exchangeInfo", timeout=10).json()
    orders = [r for r in limits["rateLimits"] if r["rateLimitType"] == "ORDERS"]
    assert orders == [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 3},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 1000},
    ]
    with pytest.raises(ccxt.InsufficientFunds):  # refused by the exchange: not counted
        api.create_order("BTC/USDT", "market", "buy", 1.0)
    for n in (1, 2, 3):
        api.create_order("ETH/USDT", "market", "buy", 0.01)
        assert api.last_response_headers["X-MBX-ORDER-COUNT-10S"] == str(n)
        assert api.last_response_headers["X-MBX-ORDER-COUNT-1D"] == str(n)
    with pytest.raises(ccxt.DDoSProtection):
        api.create_order("ETH/USDT", "market", "buy", 0.01)
    assert "Retry-After" not in api.last_response_headers  # as Binance: none for -1015
    assert '"code":-1015' in api.last_http_response
    assert "current limit is 3 orders per 10 SECOND" in api.last_http_response
    state = requests.get(f"{stand_in.test_url}/sim/state", timeout=10).json()
    assert len(state["orders"]) == 3  # the refused one was never placed
    assert state["order_counts"]["refused"] == 1 and state["order_counts"]["max_new_10s"] == 3
    clock.now += 9 * SECOND  # the next calendar window
    api.create_order("ETH/USDT", "market", "buy", 0.01)
    assert api.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert api.last_response_headers["X-MBX-ORDER-COUNT-1D"] == "4"
    record = requests.get(f"{stand_in.test_url}/sim/limits", timeout=10).json()
    assert [(r["status"], r["code"], r["path"], r["time"]) for r in record["refusals"]] == [
        (429, -1015, "/api/v3/order", T0)
    ]
    windows = [(w["start_ms"], w["new"], w["refused"]) for w in record["orders"]["windows"]]
    assert windows == [(T0 - SECOND, 3, 1), (T0 - SECOND + 10 * SECOND, 1, 0)]


def test_small_limits_are_set_from_the_command_line_and_the_control_api(stand_in):
    from binance_standin.__main__ import _parser

    args = _parser().parse_args(
        ["--datadir", "x", "--order-limit-10s", "2", "--order-limit-day", "7"]
        + ["--order-count-no-fill-credit"]
    )
    assert (args.order_limit_10s, args.order_limit_day, args.order_count_no_fill_credit) == (
        2,
        7,
        True,
    )
    answer = requests.post(
        f"{stand_in.test_url}/sim/limits", json={"per_10s": 50, "fill_credit": True}, timeout=10
    ).json()
    assert (answer["limit_10s"], answer["limit_day"], answer["fill_credit"]) == (50, 1000, True)
    refused = requests.post(f"{stand_in.test_url}/sim/limits", json={}, timeout=10)
    assert refused.status_code == 400


def test_a_ban_starts_at_once_for_the_seconds_asked(stand_in, clock):
    url = stand_in.test_url
    assert requests.post(f"{url}/sim/ban", json={"seconds": 20}, timeout=10).status_code == 200
    clock.now += 5 * SECOND
    answer = requests.get(f"{url}/api/v3/ping", timeout=10)
    assert answer.status_code == 418 and answer.headers["Retry-After"] == "15"
    assert answer.json()["code"] == -1003
    clock.now += 15 * SECOND
    assert requests.get(f"{url}/api/v3/ping", timeout=10).status_code == 200
    refusals = requests.get(f"{url}/sim/limits", timeout=10).json()["refusals"]
    assert [(r["status"], r["path"], r["time"]) for r in refusals] == [
        (418, "/api/v3/ping", T0 + 5 * SECOND)
    ]
    assert requests.post(f"{url}/sim/ban", json={}, timeout=10).status_code == 400


# ------------------------------------------------------------------ the bot's side
def gated(url: str, clock: Clock, module: Any = ccxt) -> tuple[Any, Gate]:
    api = binance(url, module)
    gate = Gate("Binance", clock=clock.seconds)
    privates.gate_ccxt(api, gate)
    return api, gate


def test_a_ban_is_waited_out_without_a_request_then_requests_go_again(stand_in, clock, caplog):
    caplog.set_level(logging.INFO, logger="rebalance_plugin.ft.backoff")
    api, gate = gated(stand_in.test_url, clock)
    api.load_markets()
    requests.post(f"{stand_in.test_url}/sim/ban", json={"seconds": 20}, timeout=10)
    before = reached(stand_in)
    with pytest.raises(ccxt.DDoSProtection):  # the one request answered 418
        api.fetch_ticker("BTC/USDT")
    assert reached(stand_in) == before + 1
    clock.now += 10 * SECOND
    for _ in range(3):
        with pytest.raises(ccxt.DDoSProtection, match="waiting out an IP ban"):
            api.fetch_ticker("BTC/USDT")
        with pytest.raises(ccxt.DDoSProtection, match=r"until \d\d:\d\d:\d\d UTC \(10 s left\)"):
            api.create_order("ETH/USDT", "market", "buy", 0.01)
    assert reached(stand_in) == before + 1  # nothing sent during the ban
    assert gate.refused == 6
    clock.now += 10 * SECOND  # the ban's end
    assert api.fetch_ticker("BTC/USDT")["last"] == PRICES["BTC"]
    api.create_order("ETH/USDT", "market", "buy", 0.01)
    assert reached(stand_in) == before + 3
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if "answered with an IP ban (HTTP 418)" in m]) == 1, said
    assert len([m for m in said if "the wait is over" in m]) == 1, said


def test_the_async_client_waits_out_the_same_ban(stand_in, clock):
    """Freqtrade's candles and markets go through its async client: the ban one of them heard
    holds both."""
    api, gate = gated(stand_in.test_url, clock)
    sync = binance(stand_in.test_url)
    privates.gate_ccxt(sync, gate)
    sync.load_markets()
    requests.post(f"{stand_in.test_url}/sim/ban", json={"seconds": 30}, timeout=10)
    with pytest.raises(ccxt.DDoSProtection):
        sync.fetch_ticker("BTC/USDT")
    before = reached(stand_in)

    async def candles(moved: int) -> Any:
        client = binance(stand_in.test_url, ccxt_async)
        privates.gate_ccxt(client, gate)
        try:
            with pytest.raises(ccxt.DDoSProtection):
                await client.fetch_ohlcv("BTC/USDT", "1h", limit=3)
            clock.now += moved
            return await client.fetch_ohlcv("BTC/USDT", "1h", limit=3)
        finally:
            await client.close()

    assert len(asyncio.run(candles(30 * SECOND))) == 3
    assert reached(stand_in) == before + 2  # the markets, the candles: after the ban


def test_too_many_new_orders_holds_new_orders_only_until_the_window_ends(stand_in, api, clock):
    api, gate = gated(stand_in.test_url, clock)
    api.load_markets()
    for _ in range(3):
        api.create_order("ETH/USDT", "market", "buy", 0.01)
    with pytest.raises(ccxt.DDoSProtection):
        api.create_order("ETH/USDT", "market", "buy", 0.01)  # 429 -1015
    with pytest.raises(ccxt.DDoSProtection, match="order-count limit"):
        api.create_order("BTC/USDT", "market", "buy", 0.001)  # held here
    assert stand_in.sim.order_limiter.summary()["refused"] == 1
    assert api.fetch_ticker("BTC/USDT")["last"] == PRICES["BTC"]  # other requests go
    clock.now += 9 * SECOND  # the next window
    api.create_order("BTC/USDT", "market", "buy", 0.001)
    assert len(stand_in.sim.orders) == 4


def test_wait_out_bans_puts_one_gate_on_every_ccxt_client_of_the_exchange(stand_in):
    class Exchange:  # Freqtrade's Exchange as far as the gate is concerned
        def __init__(self) -> None:
            self._api = binance(stand_in.test_url)
            self._api_async = binance(stand_in.test_url, ccxt_async)
            self._ws_async = None

    assert privates.BACKOFF_GUARD.changed() == []  # the clients are where the guard read
    exchange = Exchange()
    assert privates.wait_out_bans(exchange)
    gate = privates.gate_of(exchange)
    assert gate is not None and gate.name == "Binance"
    assert privates.wait_out_bans(exchange) and privates.gate_of(exchange) is gate  # once
    gate.answered(418, {"Retry-After": "60"}, "", "GET", "http://x/api/v3/ping")
    with pytest.raises(ccxt.DDoSProtection):
        exchange._api.fetch_time()
    with pytest.raises(ccxt.DDoSProtection):
        asyncio.run(exchange._api_async.fetch_time())
    asyncio.run(exchange._api_async.close())


# ------------------------------------------------------------------ the gate's rules
def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = 1_700_000_000.0
    assert retry_after({"Retry-After": "120"}, now) == 120.0
    assert retry_after({"retry-after": "7"}, now) == 7.0
    assert retry_after({"Retry-After": "Tue, 14 Nov 2023 22:15:20 GMT"}, now) == 120.0
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None and retry_after(None, now) is None


def test_an_order_count_refusal_names_the_interval_it_waits_for():
    now = 1_700_000_003.5  # 3.5 s into a 10-s window
    msg = "Too many new orders; current limit is 50 orders per 10 SECOND."
    assert interval_end(msg, now) == 1_700_000_010.0
    day = "Too many new orders; current limit is 160000 orders per 1 DAY."
    assert interval_end(day, now) == (1_700_000_003.5 // 86_400 + 1) * 86_400
    assert interval_end("Too many new orders.", now) is None


def test_each_episode_is_said_once_with_its_end(caplog):
    caplog.set_level(logging.INFO, logger="rebalance_plugin.ft.backoff")
    clock = Clock(1_700_000_000_000)
    gate = Gate("Binance", clock=clock.seconds)
    url = "https://api.binance.com/api/v3/ticker/24hr"
    assert gate.answered(200, {}, "{}", "GET", url) is None
    gate.answered(429, {"Retry-After": "30"}, '{"code":-1003}', "GET", url)
    gate.answered(429, {"Retry-After": "31"}, '{"code":-1003}', "GET", url)  # the same episode
    assert gate.refusal("GET", url) is not None
    assert gate.refusal("POST", "https://api.binance.com/api/v3/order") is not None
    clock.now += 31_000
    assert gate.refusal("GET", url) is None
    gate.answered(418, {}, "banned", "GET", url)  # a new episode; no Retry-After: 2 minutes
    clock.now += 119_000
    assert gate.refusal("GET", url) is not None
    clock.now += 1_000
    assert gate.refusal("GET", url) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Binance answered with a rate limit (HTTP 429): no request is sent until "
        '22:13:50 UTC (in 30 s); the bot goes on by itself then. {"code":-1003}',
        "Binance answered with an IP ban (HTTP 418): no request is sent until 22:15:51 UTC "
        "(in 120 s); the bot goes on by itself then. banned",
    ]
