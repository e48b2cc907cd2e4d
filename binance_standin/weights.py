"""Binance's request weights and its per-IP limit: what each request costs, and the 429 / 418
answers once the limit is passed.

Weights, as Binance documents them for the spot REST API (``binance/binance-spot-api-docs``,
``rest-api.md``: section "LIMITS" and each endpoint's "Weight", the values in force since the
limit was raised from 1 200 to 6 000 per minute in August 2023; the testnet copy
``testnet/rest-api.md`` carries the same table):

=====================================  ============================================================
``GET /api/v3/ping``, ``/time``        1
``GET /api/v3/exchangeInfo``           20
``GET /api/v3/depth``                  by ``limit`` (default 100): 1-100 -> 5, 101-500 -> 25,
                                       501-1000 -> 50, 1001-5000 -> 250
``GET /api/v3/klines``, ``uiKlines``   2
``GET /api/v3/avgPrice``               2
``GET /api/v3/ticker/24hr``            ``symbol``: 2; ``symbols``: 1-20 -> 2, 21-100 -> 40,
                                       101+ -> 80; neither: 80
``GET /api/v3/ticker/price``           ``symbol``: 2; ``symbols`` or neither: 4
``GET /api/v3/ticker/bookTicker``      ``symbol``: 2; ``symbols`` or neither: 4
``POST /api/v3/order``, ``order/test`` 1 (``order/test`` with ``computeCommissionRates``: 20)
``GET /api/v3/order``                  4
``DELETE /api/v3/order``               1
``GET /api/v3/openOrders``             6 with ``symbol``, 80 without
``DELETE /api/v3/openOrders``          1
``GET /api/v3/allOrders``              20
``GET /api/v3/account``                20
``GET /api/v3/myTrades``               20; 5 with ``orderId``
=====================================  ============================================================

The ``/sapi`` odds and ends the stand-in answers are weighed as Binance's wallet API documents
them (delist schedule 100, ``capital/config/getall`` 10, ``margin/allPairs`` 1,
``margin/isolated/allPairs`` 10, ``asset/tradeFee`` 1, ``system/status`` 1); they count against
the same IP budget here.

The limit (``LIMITS`` / "IP Limits"): ``REQUEST_WEIGHT`` 6 000 per minute per IP. "Every request
will contain ``X-MBX-USED-WEIGHT-1M``"; a request beyond the limit is answered HTTP 429
(``-1003``, with ``Retry-After``); "failing to back off after receiving 429s will result in an
automated IP ban (HTTP status 418)", "from 2 minutes to 3 days" for repeat offenders, with
``Retry-After`` until the ban ends. The messages are those of ``errors.md`` (``-1003
TOO_MANY_REQUESTS``).

The window: Binance counts weight per *calendar* minute (the ``1M`` counter restarts at every
whole UTC minute: the interval of ``rateLimits`` is ``MINUTE``, ``intervalNum`` 1), and so does
this module for its 429 decision. It also records the largest weight seen in any *rolling*
60 seconds, which is what a client spreading its requests over a minute boundary can reach
(up to twice the limit in 60 s without a 429): tests that want a margin assert on that one.
Every request is counted, answered 429/418 or not (what Binance does with refused requests is
not documented; counting them is the cautious reading).

A ban here lasts 2 minutes, doubled at each new ban (up to 3 days). Requests during a ban are
answered 418 and are not counted. A test can start one at once for a chosen time (``POST
/sim/ban {"seconds": 20}``, :meth:`WeightLimiter.ban`). Every request answered 418 or 429, by
this limit, the order-count limit (``orderlimits.py``) or a fault, is recorded with its time
(:meth:`WeightLimiter.refusals`, ``GET /sim/limits``).

Weight per client: the stand-in has one IP (127.0.0.1) for every client, so it also books each
request under the value of the ``X-Sim-Client`` header (ccxt sends it when its config has
``"headers": {"X-Sim-Client": "bot-3"}``), for tests that measure one bot among many.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from binance_standin.common import MINUTE, SECOND, iso, wall_ms

DEFAULT_LIMIT = 6000
#: The header that names the client a request is booked under (tests only; not Binance's).
CLIENT_HEADER = "X-Sim-Client"
FIRST_BAN_MS = 2 * MINUTE
LONGEST_BAN_MS = 3 * 24 * 60 * MINUTE
#: Minutes of history kept (a day).
HISTORY_MINUTES = 24 * 60
#: Requests answered 418/429 kept in the record (the latest).
REFUSALS_KEPT = 10_000

#: (method, path) -> weight, or a function of the request's parameters.
_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/uiKlines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/sapi/v1/spot/delist-schedule"): 100,
    ("GET", "/sapi/v1/capital/config/getall"): 10,
    ("GET", "/sapi/v1/margin/allPairs"): 1,
    ("GET", "/sapi/v1/margin/isolated/allPairs"): 10,
    ("GET", "/sapi/v1/asset/tradeFee"): 1,
    ("GET", "/sapi/v1/system/status"): 1,
}


def _count_symbols(params: dict[str, str]) -> int | None:
    """The number of symbols in ``symbols=[...]``, None when the parameter is absent."""
    raw = params.get("symbols")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return 1
    return len(value) if isinstance(value, list) else 1


def _depth(params: dict[str, str]) -> int:
    try:
        limit = int(params.get("limit") or 100)
    except ValueError:
        limit = 100
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _ticker_24hr(params: dict[str, str]) -> int:
    if params.get("symbol"):
        return 2
    n = _count_symbols(params)
    if n is None or n > 100:
        return 80
    return 2 if n <= 20 else 40


def _one_or_many(params: dict[str, str]) -> int:
    """``ticker/price`` and ``ticker/bookTicker``: 2 for one symbol, else 4."""
    return 2 if params.get("symbol") else 4


_BY_PARAMS: dict[tuple[str, str], Callable[[dict[str, str]], int]] = {
    ("GET", "/api/v3/depth"): _depth,
    ("GET", "/api/v3/ticker/24hr"): _ticker_24hr,
    ("GET", "/api/v3/ticker/price"): _one_or_many,
    ("GET", "/api/v3/ticker/bookTicker"): _one_or_many,
    ("GET", "/api/v3/openOrders"): lambda p: 6 if p.get("symbol") else 80,
    ("GET", "/api/v3/myTrades"): lambda p: 5 if p.get("orderId") else 20,
    ("POST", "/api/v3/order/test"): (
        lambda p: 20 if str(p.get("computeCommissionRates", "")).lower() == "true" else 1
    ),
}


def request_weight(method: str, path: str, params: dict[str, str]) -> int:
    """Binance's documented weight of one request (1 for an endpoint not listed)."""
    rule = _BY_PARAMS.get((method, path))
    if rule is not None:
        return rule(params)
    return _FIXED.get((method, path), 1)


@dataclass
class Minute:
    """One calendar minute's requests."""

    start: int
    weight: int = 0
    requests: int = 0
    by_client: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "start_ms": self.start,
            "weight": self.weight,
            "requests": self.requests,
            "by_client": dict(self.by_client),
            "by_endpoint": dict(self.by_endpoint),
        }


@dataclass(frozen=True)
class Verdict:
    """What a request gets: 200 (go on), 429 or 418, the weight used this minute, and the
    answer's body and ``Retry-After`` when refused."""

    status: int
    used: int
    retry_after: int = 0
    body: dict[str, Any] | None = None

    @property
    def headers(self) -> dict[str, str]:
        out = {"X-MBX-USED-WEIGHT-1M": str(self.used)}
        if self.status in (418, 429):
            out["Retry-After"] = str(self.retry_after)
        return out


class WeightLimiter:
    """Binance's ``REQUEST_WEIGHT`` limit for one IP: counts every request's weight per
    calendar minute, answers 429 beyond the limit and 418 (a ban) to a client that goes on
    sending after a 429. Thread-safe. ``clock`` gives wall-clock milliseconds."""

    def __init__(self, limit: int = DEFAULT_LIMIT, clock: Callable[[], int] | None = None) -> None:
        self.clock = clock or wall_ms
        self._lock = threading.Lock()
        self.reset(limit)

    def reset(self, limit: int | None = None) -> None:
        """Forget every count and ban (and set a new limit)."""
        with self._lock:
            if limit is not None:
                if limit < 1:
                    raise ValueError("the weight limit must be >= 1")
                self.limit = int(limit)
            self.minutes: deque[Minute] = deque(maxlen=HISTORY_MINUTES)
            self._recent: deque[tuple[int, int]] = deque()  # (ms, weight) of the last 60 s
            self._rolling = 0
            self.max_rolling = 0
            # per client: its requests of the last 60 s, their sum, the largest sum seen
            self._client_recent: dict[str, deque[tuple[int, int, str]]] = {}
            self._client_rolling: dict[str, int] = {}
            self.max_rolling_by_client: dict[str, int] = {}
            # per client: what its busiest 60 s were made of (start, weight per endpoint)
            self.max_window_by_client: dict[str, dict[str, Any]] = {}
            self.answered_429 = 0
            self.answered_418 = 0
            self.bans = 0
            self.banned_until: int | None = None
            self._warned_in: int | None = None  # the minute a 429 was answered in
            self.requests = 0
            self._refusals: deque[dict[str, Any]] = deque(maxlen=REFUSALS_KEPT)

    def _minute(self, now: int) -> Minute:
        start = now - now % MINUTE
        if not self.minutes or self.minutes[-1].start != start:
            self.minutes.append(Minute(start))
        return self.minutes[-1]

    def admit(self, weight: int, endpoint: str, client: str | None = None) -> Verdict:
        """Count one request of ``weight``; say whether it may be served."""
        with self._lock:
            now = int(self.clock())
            minute = self._minute(now)
            if self.banned_until is not None and now < self.banned_until:
                self.answered_418 += 1
                return self._ban_answer(now, minute.weight)
            self.requests += 1
            minute.weight += weight
            minute.requests += 1
            minute.by_endpoint[endpoint] = minute.by_endpoint.get(endpoint, 0) + weight
            tag = client or "-"
            minute.by_client[tag] = minute.by_client.get(tag, 0) + weight
            self._recent.append((now, weight))
            self._rolling += weight
            while self._recent and self._recent[0][0] <= now - MINUTE:
                self._rolling -= self._recent.popleft()[1]
            self.max_rolling = max(self.max_rolling, self._rolling)
            recent = self._client_recent.setdefault(tag, deque())
            recent.append((now, weight, endpoint))
            rolling = self._client_rolling.get(tag, 0) + weight
            while recent[0][0] <= now - MINUTE:
                rolling -= recent.popleft()[1]
            self._client_rolling[tag] = rolling
            if rolling > self.max_rolling_by_client.get(tag, 0):
                self.max_rolling_by_client[tag] = rolling
                parts: dict[str, int] = {}
                for _, w, ep in recent:
                    parts[ep] = parts.get(ep, 0) + w
                self.max_window_by_client[tag] = {"from": iso(recent[0][0]), "weights": parts}
            if minute.weight <= self.limit:
                return Verdict(200, minute.weight)
            if self._warned_in == minute.start:  # went on sending after a 429: banned
                self.bans += 1
                ban = min(FIRST_BAN_MS * 2 ** (self.bans - 1), LONGEST_BAN_MS)
                self.banned_until = now + ban
                self.answered_418 += 1
                return self._ban_answer(now, minute.weight)
            self._warned_in = minute.start
            self.answered_429 += 1
            retry = -(-(minute.start + MINUTE - now) // SECOND)  # to the next minute, rounded up
            return Verdict(
                429,
                minute.weight,
                max(1, retry),
                {
                    "code": -1003,
                    "msg": f"Too much request weight used; current limit is {self.limit} "
                    "request weight per 1 MINUTE. Please use WebSocket Streams for live "
                    "updates to avoid polling the API.",
                },
            )

    def ban(self, seconds: float) -> dict[str, Any]:
        """Ban the IP from now for ``seconds`` (a test's ban, without the hammering that earns
        one): every request is answered 418 until then, with ``Retry-After`` the seconds left.
        Counted as a ban (the next automatic one lasts twice as long)."""
        if seconds <= 0:
            raise ValueError("a ban lasts > 0 seconds")
        with self._lock:
            now = int(self.clock())
            self.bans += 1
            self.banned_until = now + int(seconds * SECOND)
            return {"banned_until": iso(self.banned_until), "banned_until_ms": self.banned_until}

    def note_refused(
        self, method: str, path: str, status: int, code: Any, client: str | None
    ) -> None:
        """Record one request answered 418 or 429, whatever answered it (this limit, the order
        count, a fault)."""
        with self._lock:
            now = int(self.clock())
            self._refusals.append(
                {
                    "time": now,
                    "at": iso(now),
                    "method": method,
                    "path": path,
                    "status": status,
                    "code": code,
                    "client": client or "-",
                }
            )

    def refusals(self) -> list[dict[str, Any]]:
        """Every request answered 418 or 429, oldest first (the last ``REFUSALS_KEPT``)."""
        with self._lock:
            return list(self._refusals)

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()

    def _ban_answer(self, now: int, used: int) -> Verdict:
        assert self.banned_until is not None
        return Verdict(
            418,
            used,
            max(1, -(-(self.banned_until - now) // SECOND)),
            {
                "code": -1003,
                "msg": f"Way too much request weight used; IP banned until {self.banned_until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
            },
        )

    def summary(self) -> dict[str, Any]:
        """The counts a test asserts on (``/sim/state`` ``weights``)."""
        with self._lock:
            now = int(self.clock())
            current = self.minutes[-1] if self.minutes else None
            this_minute = current.weight if current and current.start == now - now % MINUTE else 0
            return {
                "limit": self.limit,
                "window": "calendar minute (UTC)",
                "used_this_minute": this_minute,
                "max_minute": max((m.weight for m in self.minutes), default=0),
                "max_rolling_60s": self.max_rolling,
                "max_rolling_60s_by_client": dict(self.max_rolling_by_client),
                "busiest_60s_by_client": dict(self.max_window_by_client),
                "requests": self.requests,
                "answered_429": self.answered_429,
                "answered_418": self.answered_418,
                "bans": self.bans,
                "banned_until": iso(self.banned_until) if self.banned_until else None,
                "refusals": len(self._refusals),
            }

    def history(self) -> dict[str, Any]:
        """The summary and every minute's weight, requests, per client and per endpoint
        (``GET /sim/weights``)."""
        out = self.summary()
        with self._lock:
            out["minutes"] = [m.as_dict() for m in self.minutes]
        return out
