"""The stand-in's request weights and its per-IP limit (binance_standin/weights.py): Binance's
documented weight per endpoint, the calendar-minute window, 429 then 418."""

from __future__ import annotations

import json

import pytest

from binance_standin.common import MINUTE
from binance_standin.weights import WeightLimiter, request_weight


@pytest.mark.parametrize(
    ("method", "path", "params", "weight"),
    [
        ("GET", "/api/v3/ping", {}, 1),
        ("GET", "/api/v3/time", {}, 1),
        ("GET", "/api/v3/exchangeInfo", {}, 20),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}, 5),  # default limit 100
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5"}, 5),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "101"}, 25),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}, 50),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5000"}, 250),
        ("GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"}, 2),
        ("GET", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("GET", "/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","ETHUSDT"]'}, 2),
        ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps([f"S{i}" for i in range(21)])}, 40),
        ("GET", "/api/v3/ticker/24hr", {}, 80),
        ("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
        ("GET", "/api/v3/ticker/price", {}, 4),
        ("GET", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}, 2),
        ("GET", "/api/v3/ticker/bookTicker", {"symbols": '["BTCUSDT"]'}, 4),
        ("GET", "/api/v3/account", {}, 20),
        ("POST", "/api/v3/order", {}, 1),
        ("GET", "/api/v3/order", {}, 4),
        ("DELETE", "/api/v3/order", {}, 1),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
        ("GET", "/api/v3/openOrders", {}, 80),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": "7"}, 5),
    ],
)
def test_binances_documented_weights(method, path, params, weight):
    assert request_weight(method, path, params) == weight


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_weight_is_counted_per_calendar_minute_then_429_then_a_ban():
    clock = Clock(10 * MINUTE + 50_000)  # 50 s into a minute
    limiter = WeightLimiter(100, clock)
    for _ in range(5):
        assert limiter.admit(20, "GET /api/v3/account").status == 200
    clock.now += 9_000  # still the same minute: 120 > 100
    over = limiter.admit(20, "GET /api/v3/account", "bot-1")
    assert over.status == 429 and over.body["code"] == -1003
    assert "current limit is 100 request weight per 1 MINUTE" in over.body["msg"]
    assert over.headers["Retry-After"] == "1" and over.headers["X-MBX-USED-WEIGHT-1M"] == "120"
    # A new calendar minute starts from zero (Binance's 1M counter)...
    clock.now += 2_000
    assert limiter.admit(20, "GET /api/v3/account").status == 200
    # ...but the rolling 60 s saw 140.
    assert limiter.summary()["max_rolling_60s"] == 140
    assert limiter.summary()["max_minute"] == 120
    # Over the limit again, and sending on after the 429: banned for 2 minutes.
    for _ in range(4):
        limiter.admit(20, "GET /api/v3/account")
    assert limiter.admit(20, "GET /api/v3/account").status == 429
    banned = limiter.admit(1, "GET /api/v3/ping")
    assert banned.status == 418 and "IP banned until" in banned.body["msg"]
    assert int(banned.headers["Retry-After"]) == 120
    clock.now += 60_000
    assert limiter.admit(1, "GET /api/v3/ping").status == 418  # still banned
    clock.now += 61_000
    assert limiter.admit(1, "GET /api/v3/ping").status == 200
    summary = limiter.summary()
    assert (summary["answered_429"], summary["answered_418"], summary["bans"]) == (2, 2, 1)


def test_history_books_weight_per_client_and_endpoint():
    clock = Clock(3 * MINUTE)
    limiter = WeightLimiter(6000, clock)
    limiter.admit(5, "GET /api/v3/depth", "a")
    limiter.admit(5, "GET /api/v3/depth", "b")
    limiter.admit(20, "GET /api/v3/account", "a")
    clock.now += MINUTE
    limiter.admit(2, "GET /api/v3/klines")
    minutes = limiter.history()["minutes"]
    assert [m["weight"] for m in minutes] == [30, 2]
    assert minutes[0]["by_client"] == {"a": 25, "b": 5}
    assert minutes[0]["by_endpoint"] == {"GET /api/v3/depth": 10, "GET /api/v3/account": 20}
    assert minutes[1]["by_client"] == {"-": 2}
    assert limiter.summary()["max_rolling_60s_by_client"] == {"a": 25, "b": 5, "-": 2}
    limiter.reset(limit=50)
    assert limiter.summary()["limit"] == 50 and limiter.history()["minutes"] == []
