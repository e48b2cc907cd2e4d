"""The HTTP side of the Kraken dialect: ``/0/public/<method>`` and ``/0/private/<method>``,
Kraken's authentication (``API-Key``, ``API-Sign``, a nonce that must increase per key), the
faults of ``/sim/fault``, and the ccxt config that points ccxt's ``kraken`` at the stand-in.

The control API (``/sim/...``), the request log and the account are the Binance stand-in's,
unchanged: symbols there keep the stand-in's names (``BTCUSDT``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from binance_standin.common import HOST
from binance_standin.exchange import SimExchange
from binance_standin.faults import NET_FAULTS, answer_net_fault
from binance_standin.kraken.api import KrakenAPI
from binance_standin.kraken.formats import KrakenError
from binance_standin.kraken.pairs import MAKER_FEE, TAKER_FEE, exchange_info
from binance_standin.routes import Handler
from binance_standin.server import SimHTTPServer
from binance_standin.weights import CLIENT_HEADER

log = logging.getLogger(__name__)

#: The endpoints served: (public or private, Kraken's method) -> the KrakenAPI method.
ROUTES: dict[tuple[str, str], str] = {
    ("public", "Time"): "time",
    ("public", "SystemStatus"): "system_status",
    ("public", "Assets"): "assets",
    ("public", "AssetPairs"): "asset_pairs",
    ("public", "Ticker"): "ticker",
    ("public", "Depth"): "depth",
    ("public", "OHLC"): "ohlc",
    ("private", "Balance"): "balance",
    ("private", "BalanceEx"): "balance_ex",
    ("private", "TradeVolume"): "trade_volume",
    ("private", "AddOrder"): "add_order",
    ("private", "QueryOrders"): "query_orders",
    ("private", "OpenOrders"): "open_orders",
    ("private", "ClosedOrders"): "closed_orders",
    ("private", "CancelOrder"): "cancel_order",
    ("private", "CancelAll"): "cancel_all",
    ("private", "TradesHistory"): "trades_history",
    ("private", "QueryTrades"): "query_trades",
}
ADD_ORDER = "/0/private/AddOrder"
#: The path an order fault armed without one waits for (the Binance dialect's order
#: placement; here it means ``AddOrder``).
DEFAULT_ORDER_PATH = "/api/v3/order"
#: The base64 secret of the stand-in's default key pair (``simsecret`` encoded).
DEFAULT_SECRET = base64.b64encode(b"simsecret").decode()


class Auth:
    """Kraken's private-request checks for one key pair: the key, the signature
    ``base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + POST body)))``, and a
    nonce greater than the last one accepted for the key (``EAPI:Invalid key``,
    ``EAPI:Invalid signature``, ``EAPI:Invalid nonce``)."""

    def __init__(self, key: str, secret: str) -> None:
        try:
            self.secret = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"kraken: the API secret must be base64, not {secret!r}") from None
        self.key = key
        self.last_nonce: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, headers: Any, path: str, body: str, params: dict[str, str]) -> None:
        key = headers.get("API-Key")
        if not key or key != self.key:
            raise KrakenError("EAPI:Invalid key")
        nonce = params.get("nonce", "")
        message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
        expected = base64.b64encode(hmac.new(self.secret, message, hashlib.sha512).digest())
        if not hmac.compare_digest(expected, (headers.get("API-Sign") or "").encode()):
            raise KrakenError("EAPI:Invalid signature")
        if not nonce.isdigit():
            raise KrakenError("EAPI:Invalid nonce")
        with self._lock:
            if int(nonce) <= self.last_nonce.get(key, 0):
                raise KrakenError("EAPI:Invalid nonce")
            self.last_nonce[key] = int(nonce)


def _route(method: str, path: str) -> tuple[str, str] | None:
    """(``public``/``private``, Kraken's method) of a served request, else None."""
    parts = path.split("/")
    if len(parts) != 4 or parts[:2] != ["", "0"]:
        return None
    key = (parts[2], parts[3])
    if key not in ROUTES or (key[0] == "private" and method != "POST"):
        return None
    if method not in ("GET", "POST"):
        return None
    return key


def _params(query: str, body: str, content_type: str) -> dict[str, str]:
    """The request's parameters: the query string, then the body (form or JSON)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    if body and "json" in content_type.lower():
        data = json.loads(body)
        if isinstance(data, dict):
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    elif body:
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


def _fault_params(api: KrakenAPI, params: dict[str, str]) -> dict[str, str]:
    """A request's symbol and side as the fault filters know them (``BTCUSDT``, ``BUY``)."""
    out: dict[str, str] = {}
    if params.get("pair"):
        try:
            out["symbol"] = api.pair(params["pair"]).symbol
        except KrakenError:
            pass
    if params.get("type") in ("buy", "sell"):
        out["side"] = params["type"].upper()
    return out


class KrakenHandler(Handler):
    """The Binance stand-in's request handler (control API, logging, faults) answering
    Kraken's REST API instead of Binance's."""

    server: KrakenHTTPServer

    def _api(
        self, method: str, path: str, query: str, body: str
    ) -> tuple[int, Any, dict[str, str], str]:
        sim, api = self.server.sim, self.server.kraken
        route = _route(method, path)
        if route is None:
            sim.controls.note_unexpected(method, path)
            msg = (
                f"UNEXPECTED request {method} {path}: the Kraken dialect serves /0/public and "
                "/0/private methods (see binance_standin/kraken/__init__.py)"
            )
            return 404, msg, {}, "UNEXPECTED (not served by the sim)"
        try:
            params = _params(query, body, self.headers.get("Content-Type") or "")
        except ValueError:
            return 200, {"error": ["EGeneral:Invalid arguments"], "result": {}}, {}, ""
        verdict = sim.limiter.admit(1, f"{method} {path}", self.headers.get(CLIENT_HEADER))
        if verdict.status != 200:
            return 200, {"error": ["EAPI:Rate limit exceeded"], "result": {}}, {}, "LIMIT"
        targets = {**params, **_fault_params(api, params)}
        claimed = sim.controls.claim_fault(method, path, targets, NET_FAULTS)
        if claimed is None:
            status, payload = self._kraken_run(route, path, body, params, targets)
            return status, payload, {}, _note(payload)
        fault, fired = claimed
        return answer_net_fault(
            fault, fired, lambda: self._kraken_run(route, path, body, params, targets), {}
        )

    def _claim(
        self, path: str, targets: dict[str, str]
    ) -> Callable[[tuple[str, ...], Callable[[dict], bool] | None], Any]:
        """A fault claimer for the request: its own path, or (AddOrder) the default path of
        an order fault armed without one."""
        controls = self.server.sim.controls

        def claim(kinds: tuple[str, ...], applies: Callable[[dict], bool] | None) -> Any:
            claimed = controls.claim_fault("POST", path, targets, kinds, applies)
            if claimed is None and path == ADD_ORDER:
                claimed = controls.claim_fault("POST", DEFAULT_ORDER_PATH, targets, kinds, applies)
            return claimed

        return claim

    def _kraken_run(
        self,
        route: tuple[str, str],
        path: str,
        body: str,
        params: dict[str, str],
        targets: dict[str, str],
    ) -> tuple[int, Any]:
        api = self.server.kraken
        try:
            if route[0] == "private":
                self.server.auth.check(self.headers, path, body, params)
                claimed = self._claim(path, targets)(("reject",), None)
                if claimed is not None:
                    fault, fired = claimed
                    message = fault["msg"] if str(fault["msg"]).startswith("E") else None
                    error = KrakenError(message or "EOrder:Insufficient funds")
                    fired["effect"] = f"refused with {error.message}"
                    raise error
            self.server.sim.trading.tick()
            name = ROUTES[route]
            if name == "add_order":
                result = api.add_order(params, self._claim(path, targets))
            else:
                result = getattr(api, name)(params)
            return 200, {"error": [], "result": result}
        except KrakenError as err:
            return 200, {"error": [err.message], "result": {}}


def _note(payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("error"):
        return "error=" + ",".join(payload["error"])
    return ""


class KrakenHTTPServer(SimHTTPServer):
    """The HTTP front of a :class:`SimExchange` speaking Kraken (``.kraken``: the endpoints,
    ``.auth``: the key pair's checks)."""

    def __init__(self, address: tuple[str, int], sim: SimExchange) -> None:
        auth = Auth(sim.key, sim.secret)  # before binding: a bad secret is refused first
        super().__init__(address, sim)
        self.RequestHandlerClass = KrakenHandler
        self.kraken = KrakenAPI(sim)
        self.auth = auth


def kraken_exchange(
    datadir: str | Path,
    *,
    fee: float | None = None,
    maker_fee: float | None = None,
    secret: str | None = None,
    **options: Any,
) -> SimExchange:
    """A :class:`SimExchange` with Kraken's pairs and rules and its way of charging fees:
    ``fee`` (default 0.26%) on taker fills, ``maker_fee`` (default 0.16%) on maker fills, both
    in the quote coin (``fciq``, the recorded orders' flag); ``secret`` is base64."""
    options.pop("exchange_info", None)
    sim = SimExchange(
        datadir,
        exchange_info=exchange_info(),
        fee=float(TAKER_FEE) if fee is None else fee,
        secret=DEFAULT_SECRET if secret is None else secret,
        **options,
    )
    sim.ledger.fee_in_quote = True
    sim.ledger.maker_fee = MAKER_FEE if maker_fee is None else Decimal(str(maker_fee))
    return sim


def kraken_server(port: int, datadir: str | Path, **options: Any) -> KrakenHTTPServer:
    """The Kraken dialect's server on 127.0.0.1:``port`` (not yet serving)."""
    return KrakenHTTPServer((HOST, int(port)), kraken_exchange(datadir, **options))


# ---------------------------------------------------------------------------- ccxt side
def ccxt_overrides(base_url: str) -> dict[str, Any]:
    """ccxt config for ``kraken`` against the stand-in at ``base_url`` (JSON-serialisable): its
    public and private API at the stand-in; every other URL (``zendesk``, ccxt.pro's
    websockets) at ``/<original host>/<path>`` or ``ws://.../ws-not-served/...``, which the
    stand-in answers with a logged 404. For Freqtrade put it into ``exchange.ccxt_config`` and
    ``exchange.ccxt_async_config`` (and set ``exchange.enable_ws`` false)."""
    import ccxt  # lazily: the stand-in process itself does not need ccxt

    base = base_url.rstrip("/")
    ws_base = "ws://" + urlsplit(base).netloc
    urls: dict[str, Any] = {}
    sources = [ccxt.kraken().urls]
    try:
        import ccxt.pro

        sources.append(ccxt.pro.kraken().urls)
    except Exception:  # pragma: no cover - ccxt without pro
        pass
    for src in sources:
        urls.update(_redirect(src["api"], base, ws_base))
    urls["public"], urls["private"] = base, base
    return {"urls": {"api": urls}}


def _redirect(value: Any, base: str, ws_base: str) -> Any:
    if isinstance(value, dict):
        return {k: _redirect(v, base, ws_base) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("ws", "wss"):
        return f"{ws_base}/ws-not-served/{parts.netloc}{parts.path}"
    if parts.scheme in ("http", "https"):
        return f"{base}/{parts.netloc}{parts.path}"
    return value
