"""The HTTP side of the stand-in: Binance's routes, the SIGNED checks, the request weight limit
(``weights.py``) and the order-count limit (``orderlimits.py``), and the request handler that
answers Binance API and control requests and logs each one."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from binance_standin.common import wall_ms
from binance_standin.control import control
from binance_standin.errors import BinanceError, int_param, mandatory, symbols_param
from binance_standin.exchange import SimExchange
from binance_standin.faults import FIRST_FAULTS, answer_net_fault
from binance_standin.orderlimits import NEW_ORDER, order_traded
from binance_standin.weights import CLIENT_HEADER, request_weight

if TYPE_CHECKING:
    from binance_standin.server import SimHTTPServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """A Binance endpoint: the :func:`api_call` handler, SIGNED or not (its request weight:
    :func:`~binance_standin.weights.request_weight`)."""

    handler: str
    signed: bool


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/ping"): Route("ping", False),
    ("GET", "/api/v3/time"): Route("time", False),
    ("GET", "/api/v3/exchangeInfo"): Route("exchange_info", False),
    ("GET", "/api/v3/klines"): Route("klines", False),
    ("GET", "/api/v3/uiKlines"): Route("klines", False),
    ("GET", "/api/v3/ticker/24hr"): Route("ticker_24hr", False),
    ("GET", "/api/v3/ticker/price"): Route("ticker_price", False),
    ("GET", "/api/v3/ticker/bookTicker"): Route("book_ticker", False),
    ("GET", "/api/v3/depth"): Route("depth", False),
    ("GET", "/api/v3/avgPrice"): Route("avg_price", False),
    ("GET", "/api/v3/account"): Route("account", True),
    ("POST", "/api/v3/order"): Route("new_order", True),
    ("POST", "/api/v3/order/test"): Route("test_order", True),
    ("GET", "/api/v3/order"): Route("query_order", True),
    ("DELETE", "/api/v3/order"): Route("cancel_order", True),
    ("GET", "/api/v3/openOrders"): Route("open_orders", True),
    ("DELETE", "/api/v3/openOrders"): Route("cancel_open_orders", True),
    ("GET", "/api/v3/allOrders"): Route("all_orders", True),
    ("GET", "/api/v3/myTrades"): Route("my_trades", True),
    ("GET", "/sapi/v1/spot/delist-schedule"): Route("empty_list", True),
    ("GET", "/sapi/v1/capital/config/getall"): Route("empty_list", True),
    ("GET", "/sapi/v1/margin/allPairs"): Route("empty_list", True),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): Route("empty_list", True),
    ("GET", "/sapi/v1/asset/tradeFee"): Route("trade_fee", True),
    ("GET", "/sapi/v1/system/status"): Route("system_status", False),
}

#: request parameters worth a mention in the one-line request log
LOGGED_PARAMS = (
    "symbol",
    "interval",
    "limit",
    "side",
    "type",
    "timeInForce",
    "quantity",
    "quoteOrderQty",
    "price",
    "orderId",
)


@dataclass(frozen=True)
class Call:
    """One Binance API request as its handler sees it (``symbol``/``symbols`` parsed first,
    so that a malformed ``symbols`` is refused whatever the endpoint)."""

    params: dict[str, str]
    method: str
    path: str
    symbol: str | None
    symbols: list[str] | None

    @classmethod
    def of(cls, params: dict[str, str], method: str, path: str) -> Call:
        symbol = params.get("symbol") or None
        symbols = symbols_param(params["symbols"]) if params.get("symbols") else None
        return cls(params, method, path, symbol, symbols)

    def served(self, sim: SimExchange) -> str:
        """The request's symbol, served by the sim (Binance's error otherwise)."""
        return sim.symbol_rules(self.symbol).symbol

    def limit(self, default: int) -> int:
        return int_param(self.params, "limit", default) or default


def _klines(sim: SimExchange, call: Call) -> Any:
    if not call.params.get("interval"):
        raise mandatory("interval")
    return sim.public.klines(
        call.served(sim),
        call.params["interval"],
        int_param(call.params, "startTime"),
        int_param(call.params, "endTime"),
        call.limit(500),
    )


#: The handler of each :class:`Route`: (the sim, the request) -> the JSON answer.
HANDLERS: dict[str, Callable[[SimExchange, Call], Any]] = {
    "ping": lambda sim, call: {},
    "time": lambda sim, call: {"serverTime": sim.now_ms()},
    "exchange_info": lambda sim, call: _with_limits(
        sim, sim.public.exchange_info(call.symbol, call.symbols)
    ),
    "klines": _klines,
    "ticker_24hr": lambda sim, call: sim.public.ticker_24hr(call.symbol, call.symbols),
    "ticker_price": lambda sim, call: sim.public.ticker_price(call.symbol, call.symbols),
    "book_ticker": lambda sim, call: sim.public.book_ticker(call.symbol, call.symbols),
    "depth": lambda sim, call: sim.public.depth(call.served(sim), call.limit(100)),
    "avg_price": lambda sim, call: sim.public.avg_price(call.served(sim)),
    "account": lambda sim, call: sim.trading.account(
        call.params.get("omitZeroBalances", "").lower() == "true"
    ),
    "new_order": lambda sim, call: sim.trading.new_order(
        call.params, method=call.method, path=call.path
    ),
    "test_order": lambda sim, call: sim.trading.test_order(call.params),
    "query_order": lambda sim, call: sim.trading.query_order(call.params),
    "cancel_order": lambda sim, call: sim.trading.cancel_order(call.params),
    "open_orders": lambda sim, call: sim.trading.open_orders(call.symbol),
    "cancel_open_orders": lambda sim, call: sim.trading.cancel_open_orders(call.symbol),
    "all_orders": lambda sim, call: sim.trading.all_orders(call.params),
    "my_trades": lambda sim, call: sim.trading.my_trades(call.params),
    "empty_list": lambda sim, call: [],
    "trade_fee": lambda sim, call: sim.trading.trade_fees(call.symbol),
    "system_status": lambda sim, call: {"status": 0, "msg": "normal"},
}


def _with_limits(sim: SimExchange, info: dict[str, Any]) -> dict[str, Any]:
    """``exchangeInfo`` with the ``rateLimits`` the stand-in enforces: its request weight limit
    and its order-count limits (``RAW_REQUESTS`` as Binance's, not enforced)."""
    limits = [
        {**entry, "limit": sim.limiter.limit}
        if entry.get("rateLimitType") == "REQUEST_WEIGHT"
        else dict(entry)
        for entry in info.get("rateLimits", [])
        if entry.get("rateLimitType") != "ORDERS"
    ]
    return {**info, "rateLimits": limits + sim.order_limiter.rate_limits()}


def api_call(sim: SimExchange, handler: str, params: dict[str, str], method: str, path: str) -> Any:
    """Run one Binance endpoint on ``sim`` (raises :class:`BinanceError`)."""
    call = Call.of(params, method, path)
    answer = HANDLERS.get(handler)
    if answer is None:
        raise RuntimeError(f"no handler {handler}")
    return answer(sim, call)


def _reject_fault(sim: SimExchange, method: str, path: str, params: dict[str, str]) -> None:
    """A pending ``reject`` fault for this request: raised as the Binance error it names."""
    claimed = sim.controls.claim_fault(method, path, params, ("reject",))
    if claimed is not None:
        fault, fired = claimed
        fired["effect"] = f"refused with {fault['code']} {fault['msg']}"
        raise BinanceError(fault["code"], fault["msg"])


def check_signed(
    sim: SimExchange, headers: Any, query: str, body: str, params: dict[str, str]
) -> None:
    """Binance's SIGNED checks: API key, HMAC-SHA256 signature, timestamp/recvWindow."""
    key = headers.get("X-MBX-APIKEY")
    if not key:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    if key != sim.key:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    signature = params.get("signature")
    if not signature:
        raise mandatory("signature")

    def strip(raw: str) -> str:
        return "&".join(
            part for part in raw.split("&") if part and not part.startswith("signature=")
        )

    payload = strip(query) + strip(body)  # Binance: totalParams = query string + body
    expected = hmac.new(sim.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    timestamp = int_param(params, "timestamp")
    if timestamp is None:
        raise mandatory("timestamp")
    recv_window = int_param(params, "recvWindow", 5000) or 5000
    if recv_window > 60000:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    now = wall_ms()
    if timestamp > now + 1000:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Binance
    disable_nagle_algorithm = True  # else keep-alive answers wait ~40 ms for delayed ACKs
    server_version = "rebalance-sim"
    sys_version = ""
    server: SimHTTPServer

    def do_GET(self) -> None:  # (names and signatures: the http.server API)
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def log_message(self, format: str, *args: Any) -> None:  # we log one line of our own
        pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
            ctype = "application/json;charset=UTF-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    def _handle(self, method: str) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        path = url.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        note = ""
        self._order_headers: dict[str, str] = {}  # a new order's X-MBX-ORDER-COUNT-*
        try:
            if path.startswith("/sim/") or path == "/sim":
                status, payload, headers = control(self.server.sim, method, path, body)
            else:
                status, payload, headers, note = self._api(method, path, url.query, body)
        except Exception as exc:  # a bug in the sim: say so loudly, answer like Binance
            log.error("sim internal error on %s %s:\n%s", method, path, traceback.format_exc())
            status, payload, headers = (
                500,
                {"code": -1000, "msg": f"sim internal error: {exc!r}"},
                {},
            )
        self._send(status, payload, {**headers, **self._order_headers})
        code = payload.get("code") if isinstance(payload, dict) else None
        if isinstance(code, int) and status >= 400:
            note = f"{note} code={code} {payload.get('msg', '')}".strip()
        client = self.headers.get(CLIENT_HEADER)
        if status in (418, 429) and not path.startswith("/sim"):
            self.server.sim.limiter.note_refused(method, path, status, code, client)
        params = dict(parse_qsl(url.query)) | (
            dict(parse_qsl(body)) if not path.startswith("/sim") else {}
        )
        shown = " ".join(f"{k}={params[k]}" for k in LOGGED_PARAMS if k in params)
        level = logging.WARNING if status == 404 else logging.INFO
        log.log(
            level,
            "%s %s%s -> %d (%.0f ms)%s%s",
            method,
            path,
            f" [{shown}]" if shown else "",
            status,
            (time.monotonic() - started) * 1000,
            f" {note}" if note else "",
            f" client={client}" if client else "",
        )

    # ------------------------------------------------------------------ Binance API
    def _api(
        self, method: str, path: str, query: str, body: str
    ) -> tuple[int, Any, dict[str, str], str]:
        sim = self.server.sim
        route = ROUTES.get((method, path))
        if route is None:
            sim.controls.note_unexpected(method, path)
            msg = (
                f"UNEXPECTED request {method} {path}: binance_standin serves Binance "
                "spot /api/v3 only (see its module docstring)"
            )
            return 404, msg, {}, "UNEXPECTED (not served by the sim)"
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        verdict = sim.limiter.admit(
            request_weight(method, path, params),
            f"{method} {path}",
            self.headers.get(CLIENT_HEADER),
        )
        weight_headers = verdict.headers
        if verdict.status != 200:  # over the limit (429), or banned (418)
            return verdict.status, verdict.body, weight_headers, f"LIMIT used={verdict.used}"
        claimed = sim.controls.claim_fault(method, path, params, FIRST_FAULTS)
        if claimed is None:
            status, payload = self._run(route, method, path, query, body, params)
            return status, payload, weight_headers, ""
        fault, fired = claimed
        return answer_net_fault(
            fault,
            fired,
            lambda: self._run(route, method, path, query, body, params),
            weight_headers,
        )

    def _run(
        self, route: Route, method: str, path: str, query: str, body: str, params: dict[str, str]
    ) -> tuple[int, Any]:
        sim = self.server.sim
        try:
            if route.signed:
                check_signed(sim, self.headers, query, body, params)
                sim.controls.clock_fault(method, path, params)  # -1021 under a clock fault
            if (method, path) == NEW_ORDER:
                return self._new_order(route, method, path, params)
            _reject_fault(sim, method, path, params)
            sim.trading.tick()
            with sim.controls.stale_view(method, path, params):  # market data of a stale fault
                return 200, api_call(sim, route.handler, params, method, path)
        except BinanceError as err:
            return err.status, err.body()

    def _new_order(
        self, route: Route, method: str, path: str, params: dict[str, str]
    ) -> tuple[int, Any]:
        """A new order under the account's order-count limits (``orderlimits.py``): refused
        429 ``-1015`` beyond them (no ``Retry-After``), else run and, once accepted, counted;
        the ``X-MBX-ORDER-COUNT-*`` headers either way (sent by :meth:`_send` through
        ``_order_headers``)."""
        sim = self.server.sim
        limiter = sim.order_limiter
        limiter.settle(order_traded(sim))
        ticket, refusal = limiter.admit(self.headers.get(CLIENT_HEADER))
        self._order_headers = limiter.headers()
        if ticket is None:
            return 429, refusal
        try:
            _reject_fault(sim, method, path, params)
            sim.trading.tick()
            answer = api_call(sim, route.handler, params, method, path)
        except BaseException:
            limiter.refused_by_exchange(ticket)
            self._order_headers = limiter.headers()
            raise
        order = sim.orders.get(int(answer["orderId"]))
        self._order_headers = limiter.placed(
            int(answer["orderId"]), order is not None and order.executed > 0
        )
        return 200, answer
