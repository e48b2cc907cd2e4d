"""A local stand-in for Binance's SPOT REST API on 127.0.0.1 - for tests, never for money.

Purpose
-------
Run a real ``freqtrade trade`` process (dry-run, or live with fake API keys) and ccxt's
unmodified ``binance`` client (sync, ``ccxt.async_support`` and ``ccxt.pro``) against a
deterministic exchange on this machine. Point ccxt at it with :func:`ccxt_overrides`, which
is meant for Freqtrade's ``exchange.ccxt_config`` / ``exchange.ccxt_async_config``::

    python -m rebalance_plugin.sim --port 0 --datadir ../shared/data/binance \\
        --timeframe 1h --start 2024-01-01 --balance USDT=10000 --balance BTC=0.5 \\
        [--fee 0.001] [--key simkey --secret simsecret] [--spread 0.0005] [--depth 50000]

prints ``sim listening on http://127.0.0.1:PORT`` once it accepts connections and serves until
SIGTERM/SIGINT. Every request is logged to stderr in one line (method, path, status).
In-process: :func:`start_server` (HTTP in a daemon thread) or :class:`SimExchange` (the
matching engine and account alone, no HTTP).

What it serves (Binance formats; errors as ``{"code": -XXXX, "msg": "..."}`` with Binance's
codes, messages and HTTP statuses, so ccxt raises the exception classes it raises for Binance)
-------------------------------------------------------------------------------------------
* public ``/api/v3``: ``ping``, ``time``, ``exchangeInfo``, ``klines``, ``ticker/24hr``,
  ``ticker/price``, ``ticker/bookTicker`` (one symbol, ``symbols=[..]`` or all), ``depth``,
  ``avgPrice``.
* signed ``/api/v3`` (``X-MBX-APIKEY`` + HMAC-SHA256 ``signature`` of query string + body,
  ``timestamp``/``recvWindow`` checked against the real clock): ``account``, ``order``
  (POST/GET/DELETE), ``order/test``, ``openOrders`` (GET/DELETE), ``allOrders``, ``myTrades``.
* signed ``/sapi/v1`` odds and ends ccxt or Freqtrade may ask for: ``spot/delist-schedule``
  (nothing is delisted), ``asset/tradeFee``, ``capital/config/getall``, ``margin/allPairs``,
  ``margin/isolated/allPairs`` (empty), ``system/status`` (normal).
* ``X-MBX-USED-WEIGHT-1M`` on every answer (approximate Binance weights).
* anything else answers HTTP 404 with a plain-text body and a WARNING log line
  ("UNEXPECTED request"), and is listed in ``/sim/state`` ``unexpected_requests`` - so a
  request that would have gone to a part of Binance the sim does not model is visible.
  :func:`ccxt_overrides` points *every* ccxt binance API URL (futures, options, sapi,
  websockets) at the sim, so nothing can leave 127.0.0.1 (ccxt's testnet/demo URLs are only
  used in sandbox/demo mode, which Freqtrade never enables for Binance).

What it does NOT serve: websockets (ccxt.pro ``watch_*``; run Freqtrade with
``"enable_ws": false``), futures/margin/options, user data streams, stop/take-profit and OCO
orders (answered ``-1014 Unsupported order combination.``), ``trades``/``aggTrades``,
``ticker`` (rolling window), 1M klines, order amendments, self-trade prevention.

Market data: history replayed in the present
--------------------------------------------
``--datadir`` holds Freqtrade feather candles ``{BASE}_{QUOTE}-{timeframe}.feather``
(date/open/high/low/close/volume). Tradable symbols = a candle file AND an entry in
``data/binance_exchange_info.json`` (Binance's real filters; served as-is, status TRADING).

* Clock: historical time = wall time - ``offset``, where ``offset`` is the whole number of days
  that maps ``--start`` onto the moment the sim started (default start: 30 days before the
  earliest "last candle" among the symbols, so every symbol has real data for 30 days). Whole
  days keep candle boundaries where Binance has them (1h candles open on the hour, 1d at
  00:00 UTC); hence history at start-up is ``--start`` plus the current UTC time of day.
* Price of a symbol = linear interpolation from open to close of the ``--timeframe`` candle
  that contains the historical time (the finest timeframe on disk if that one is missing),
  rounded to the tick size. Past the end of a symbol's data it stays at the last close.
* ``klines`` returns the file's candles at shifted times, up to and including the current,
  partial candle: its close is the current price (overrides included), its high/low include
  the path so far, its volume is pro rata. Timeframes not on disk are resampled from the
  coarsest on-disk timeframe that divides them (1h -> 2h/4h/6h/8h/12h, 1d -> 3d/1w);
  otherwise ``-1120 Invalid interval.``. Past the end of the data, candles are flat at the last
  close with volume 0. Finer-than-price timeframes (5m with ``--timeframe 1h``) are served from
  their own file and are not forced onto the interpolated price path (use the finest timeframe
  the strategy needs as ``--timeframe``).
* Test control: a fixed price or a multiplier of the candle price per symbol
  (``POST /sim/price``); applied to tickers, order book, the current kline and matching.

Matching and account: how faithful
----------------------------------
* Synthetic order book around the current price ``p``: best bid = ``p*(1-spread/2)`` rounded
  down to the tick, best ask = ``p*(1+spread/2)`` rounded up (at least one tick apart), then
  ``levels`` (10) levels each side, 1 bp (at least one tick) apart, each holding ``--depth``
  quote value (rounded down to the lot step). The book is stateless: it refills at once.
* Validation before acceptance, in Binance's order: mandatory parameters (-1102), numbers
  (-1100), precision (-1111), PRICE_FILTER, PERCENT_PRICE_BY_SIDE, LOT_SIZE, MARKET_LOT_SIZE,
  NOTIONAL/MIN_NOTIONAL (also for market orders when ``applyMinToMarket``; market notional at
  the current price), MAX_NUM_ORDERS (all -1013 "Filter failure: X"), then balance (-2010
  "Account has insufficient balance for requested action."). ccxt maps LOT_SIZE/PRICE_FILTER to
  ``InvalidOrder``, -2010 with that message to ``InsufficientFunds`` and - as for real Binance -
  "Filter failure: NOTIONAL" (-1013) to ``BadRequest``.
* MARKET (``quantity`` or ``quoteOrderQty``) walks the book and always fills completely (what
  exceeds the book fills at the worst level). LIMIT IOC fills what crosses and EXPIRES the
  rest; FOK fills completely or EXPIRES; GTC fills what crosses, the rest rests (NEW /
  PARTIALLY_FILLED) and locks its balance; LIMIT_MAKER rests or is refused (-2010 "Order would
  immediately match and take."). A resting order fills completely at its limit price (maker)
  as soon as the price moves through it (buy: price <= limit, sell: price >= limit); this is
  checked on every request and on every price change made through ``/sim/price``.
* Fees: ``--fee`` of the RECEIVED asset (Binance without BNB): a buy pays base coin, a sell
  pays quote; reported as ``commission``/``commissionAsset`` in ``fills`` and ``myTrades``,
  rounded to 8 decimals. Balances are exact decimals and can never become negative.
* Not modelled: the real, moving order book (our own orders never appear in ``depth``),
  per-symbol order ids, rate limiting (unless faulted), order-count limits, BNB fee discount.

Control API (JSON, no auth)
---------------------------
* ``GET /sim/state`` -> clock, balances (free/locked), open_orders, orders, trades, prices,
  faults_pending, faults_fired, unexpected_requests.
* ``POST /sim/price`` ``{"symbol": "BTCUSDT", "price": 123.4}`` (fixed price) |
  ``{"multiplier": {"BTCUSDT": 1.2}}`` (times the candle price) | ``{"clear": true}``
  (optionally with ``"symbol"``). Setting one clears the other for that symbol.
* ``POST /sim/balance`` ``{"asset": "USDT", "delta": 500}`` (refuses to go negative).
* ``POST /sim/fault`` ``{"kind": K, "count": 1, "path": "/api/v3/order", "method": "POST",
  "symbol": ..., "side": ...}`` (path/method/symbol/side optional filters) or
  ``{"clear": true}``. Faults fire ``count`` times on matching requests and are logged in
  ``faults_fired`` with what they did. Kinds:

  - ``reject``: the request is refused with a Binance error, default -2010 "Account has
    insufficient balance for requested action." (``code``/``msg`` to choose). Default filter
    (as for ``partial``/``expire``, when no ``path`` is given): ``POST /api/v3/order``.
  - ``partial``: the next order fills only ``fraction`` (default 0.5) of its quantity; MARKET /
    IOC / FOK expire the rest, GTC keeps the rest open ("held": it fills only when a
    ``/sim/price`` change moves the price through it, not with the candle drift). A GTC that
    would not cross gets the fraction as a maker fill at its limit price. Default filter:
    ``POST /api/v3/order``.
  - ``expire``: the next MARKET/IOC/FOK order fills nothing and EXPIRES (GTC orders do not
    consume it). Default filter: ``POST /api/v3/order``.
  - ``http429``: HTTP 429 ``{"code":-1003,"msg":"Too many requests; ..."}`` + ``Retry-After``
    (ccxt: ``DDoSProtection``).
  - ``http5xx``: HTTP ``status`` (default 503). Default bodies: 503 -> plain text
    "Service Unavailable" (ccxt: ``ExchangeNotAvailable``), other -> ``{"code":-1001,"msg":
    "Internal error; unable to process your request. Please try again."}`` (ccxt:
    ``OperationFailed``); ``code``/``msg`` for another JSON body.
  - ``timeout``: sleep ``seconds`` (default 5) before answering (ccxt: ``RequestTimeout`` if
    its ``timeout`` is shorter).

  ``http429``/``http5xx``/``timeout`` take ``"process": true`` to execute the request anyway
  (e.g. an order that is placed although the client saw an error); default false. They match
  any request unless ``path``/``method`` say otherwise.
* ``POST /sim/reset`` ``{}`` or ``{"balances": {"USDT": 1000}}``: fresh account, no orders,
  faults or price overrides (the clock keeps running).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import re
import secrets
import signal
import string
import sys
import threading
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

log = logging.getLogger("rebalance_plugin.sim")

HOST = "127.0.0.1"
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000

#: Binance kline intervals with a fixed length (``1M`` is not served).
INTERVALS: dict[str, int] = {
    "1s": SECOND, "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE,
    "30m": 30 * MINUTE, "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "6h": 6 * HOUR,
    "8h": 8 * HOUR, "12h": 12 * HOUR, "1d": DAY, "3d": 3 * DAY, "1w": 7 * DAY,
}
#: Binance's weekly candles open on Mondays; 1970-01-05 (epoch + 4 days) was a Monday.
WEEK_ORIGIN = 4 * DAY

DEFAULT_BALANCES = {"USDT": 10000}
DEFAULT_START_BEFORE_END = 30 * DAY
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
ORDER_FAULTS = ("reject", "partial", "expire")
NET_FAULTS = ("http429", "http5xx", "timeout")
FAULT_KINDS = ORDER_FAULTS + NET_FAULTS

_Q8 = Decimal("0.00000001")
_ZERO = Decimal(0)
_BP = Decimal("0.0001")
_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_NUMBER_RANGE = "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'"
_ID_CHARS = string.ascii_letters + string.digits


# ============================================================================ errors
class BinanceError(Exception):
    """An error answer in Binance's format: HTTP ``status`` + ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def _invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def _mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")


def _not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def _insufficient() -> BinanceError:
    return BinanceError(-2010, "Account has insufficient balance for requested action.")


# ============================================================================ small helpers
def _wall_ms() -> int:
    return int(time.time() * 1000)


def _dec(value: Any) -> Decimal:
    """Decimal from str/int/float (floats via their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _floor(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_FLOOR) * step if step > 0 else x


def _ceil(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_CEILING) * step if step > 0 else x


def _round(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_HALF_UP) * step if step > 0 else x


def _fmt(x: Decimal | float | int) -> str:
    """Binance's 8-decimal string (amounts truncated, never rounded up)."""
    return format(_dec(x).quantize(_Q8, rounding=ROUND_DOWN), "f")


def _decimals(x: Decimal) -> int:
    exp = x.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _to_ms(value: str | int | float | pd.Timestamp) -> int:
    """A date (string, Timestamp) or epoch milliseconds -> epoch milliseconds (UTC)."""
    if isinstance(value, (int, float)):
        return int(value)
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


def _client_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(22))


def _int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                                  "range is '^(-)?[0-9]{1,20}$'.") from None


def _dec_param(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _NUMBER.match(raw):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                                  f"range is {_NUMBER_RANGE}.")
    return Decimal(raw)


def _symbols_param(raw: str) -> list[str]:
    try:
        symbols = json.loads(raw)
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ValueError
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'; legal "
                                  "range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\")"
                                  "{0,}){0,1}\\]$'.") from None
    return symbols


def normalize_symbol(symbol: str) -> str:
    """``"BTC/USDT"`` or ``"btcusdt"`` -> ``"BTCUSDT"``."""
    return symbol.replace("/", "").replace("-", "").replace("_", "").upper()


def load_exchange_info() -> dict[str, Any]:
    """The bundled raw Binance exchangeInfo document (``data/binance_exchange_info.json``)."""
    path = Path(__file__).resolve().parent / "data" / "binance_exchange_info.json"
    return json.loads(path.read_text(encoding="utf-8"))


# ============================================================================ candles
@dataclass
class Candles:
    """One symbol's candles of one timeframe in *historical* time: numpy arrays, ms."""

    tf_ms: int
    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    l: np.ndarray  # noqa: E741 - OHLC naming
    c: np.ndarray
    v: np.ndarray

    @classmethod
    def read(cls, path: Path, tf_ms: int) -> Candles:
        df = pd.read_feather(path, columns=["date", "open", "high", "low", "close", "volume"])
        dates = pd.to_datetime(df["date"], utc=True)
        df = df.assign(date=dates).sort_values("date").drop_duplicates("date", keep="last")
        ts = df["date"].dt.tz_localize(None).to_numpy("datetime64[ms]").astype(np.int64)
        col = lambda name: df[name].to_numpy(np.float64)  # noqa: E731
        return cls(tf_ms, ts, col("open"), col("high"), col("low"), col("close"),
                   col("volume"))

    def __len__(self) -> int:
        return len(self.ts)

    def index_at(self, t: int) -> int:
        """Index of the candle containing ``t``, or -1 (before the data, in a gap, after)."""
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        return i if i >= 0 and t < self.ts[i] + self.tf_ms else -1

    def price_at(self, t: int) -> float:
        """The price model: open -> close linearly across the candle containing ``t``;
        in a gap or after the data the last close, before the data the first open."""
        if not len(self):
            return float("nan")
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        if i < 0:
            return float(self.o[0])
        if t < self.ts[i] + self.tf_ms:
            frac = (t - self.ts[i]) / self.tf_ms
            return float(self.o[i] + (self.c[i] - self.o[i]) * frac)
        return float(self.c[i])

    def resample(self, tf_ms: int, origin: int) -> Candles:
        """Coarser candles whose buckets are ``origin + k * tf_ms`` (historical ms)."""
        if not len(self):
            return Candles(tf_ms, *(np.array([]) for _ in range(6)))
        keys = (self.ts - origin) // tf_ms
        uniq, first = np.unique(keys, return_index=True)
        last = np.r_[first[1:] - 1, len(self) - 1]
        return Candles(tf_ms, (uniq * tf_ms + origin).astype(np.int64), self.o[first],
                       np.maximum.reduceat(self.h, first), np.minimum.reduceat(self.l, first),
                       self.c[last], np.add.reduceat(self.v, first))


class CandleStore:
    """The candle files of a Freqtrade datadir, loaded lazily (call under the sim's lock)."""

    FILE_RE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)-(\d+[smhdw])\.feather$")

    def __init__(self, datadir: str | Path) -> None:
        self.datadir = Path(datadir)
        if not self.datadir.is_dir():
            raise FileNotFoundError(f"sim: datadir {self.datadir} does not exist")
        self.files: dict[tuple[str, str], Path] = {}
        self.assets: dict[str, tuple[str, str]] = {}
        for path in sorted(self.datadir.glob("*.feather")):
            match = self.FILE_RE.match(path.name)
            if not match or match.group(3) not in INTERVALS:
                continue
            base, quote, tf = match.groups()
            self.files[(base + quote, tf)] = path
            self.assets[base + quote] = (base, quote)
        self._cache: dict[tuple[str, str], Candles] = {}

    def timeframes(self, symbol: str) -> list[str]:
        """On-disk timeframes of ``symbol``, finest first."""
        return sorted((tf for sym, tf in self.files if sym == symbol), key=INTERVALS.__getitem__)

    def get(self, symbol: str, tf: str) -> Candles:
        key = (symbol, tf)
        if key not in self._cache:
            self._cache[key] = Candles.read(self.files[key], INTERVALS[tf])
        return self._cache[key]


# ============================================================================ symbol rules
@dataclass
class SymbolRules:
    """A symbol's exchangeInfo entry and its filters as decimals (0 = filter disabled)."""

    symbol: str
    base: str
    quote: str
    raw: dict[str, Any]
    tick: Decimal = Decimal("0.00000001")
    min_price: Decimal = _ZERO
    max_price: Decimal = _ZERO
    step: Decimal = Decimal("0.00000001")
    min_qty: Decimal = _ZERO
    max_qty: Decimal = _ZERO
    market_min_qty: Decimal = _ZERO
    market_max_qty: Decimal = _ZERO
    market_step: Decimal = _ZERO
    notional_filter: str | None = None  # "NOTIONAL" or "MIN_NOTIONAL"
    min_notional: Decimal = _ZERO
    max_notional: Decimal = _ZERO
    min_to_market: bool = True
    max_to_market: bool = False
    percent_by_side: dict[str, Decimal] | None = None
    max_num_orders: int = 0
    base_precision: int = 8
    quote_precision: int = 8
    order_types: tuple[str, ...] = ("LIMIT", "LIMIT_MAKER", "MARKET")

    @classmethod
    def from_exchange_info(cls, raw: dict[str, Any]) -> SymbolRules:
        rules = cls(raw["symbol"], raw["baseAsset"], raw["quoteAsset"], raw,
                    base_precision=int(raw.get("baseAssetPrecision", 8)),
                    quote_precision=int(raw.get("quoteAssetPrecision",
                                                raw.get("quotePrecision", 8))),
                    order_types=tuple(raw.get("orderTypes") or cls.order_types))
        for f in raw.get("filters", []):
            kind = f.get("filterType")
            if kind == "PRICE_FILTER":
                rules.tick = Decimal(f["tickSize"]) or rules.tick
                rules.min_price, rules.max_price = Decimal(f["minPrice"]), Decimal(f["maxPrice"])
            elif kind == "LOT_SIZE":
                rules.step = Decimal(f["stepSize"]) or rules.step
                rules.min_qty, rules.max_qty = Decimal(f["minQty"]), Decimal(f["maxQty"])
            elif kind == "MARKET_LOT_SIZE":
                rules.market_min_qty, rules.market_max_qty = (Decimal(f["minQty"]),
                                                              Decimal(f["maxQty"]))
                rules.market_step = Decimal(f["stepSize"])
            elif kind == "NOTIONAL":
                rules.notional_filter = "NOTIONAL"
                rules.min_notional = Decimal(f.get("minNotional", "0"))
                rules.max_notional = Decimal(f.get("maxNotional", "0"))
                rules.min_to_market = bool(f.get("applyMinToMarket", True))
                rules.max_to_market = bool(f.get("applyMaxToMarket", False))
            elif kind == "MIN_NOTIONAL":
                rules.notional_filter = "MIN_NOTIONAL"
                rules.min_notional = Decimal(f.get("minNotional", "0"))
                rules.min_to_market = bool(f.get("applyToMarket", True))
            elif kind == "PERCENT_PRICE_BY_SIDE":
                rules.percent_by_side = {k: Decimal(str(f[k])) for k in (
                    "bidMultiplierUp", "bidMultiplierDown", "askMultiplierUp",
                    "askMultiplierDown")}
            elif kind == "MAX_NUM_ORDERS":
                rules.max_num_orders = int(f.get("maxNumOrders", 0))
        return rules


# ============================================================================ orders, trades
@dataclass
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    tif: str
    price: Decimal  # 0 for market orders
    orig_qty: Decimal
    orig_quote: Decimal  # quoteOrderQty of market orders, else 0
    time: int
    executed: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    lock_asset: str | None = None
    locked: Decimal = _ZERO
    held: bool = False  # remainder of a ``partial`` GTC: fills only on /sim/price changes
    fault: str | None = None
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_id, "price": _fmt(self.price),
            "origQty": _fmt(self.orig_qty), "executedQty": _fmt(self.executed),
            "cummulativeQuoteQty": _fmt(self.cum_quote), "status": self.status,
            "timeInForce": self.tif, "type": self.type, "side": self.side,
        }

    def binance_new(self, resp_type: str, transact_time: int) -> dict[str, Any]:
        """``POST /api/v3/order`` answer (``newOrderRespType`` ACK / RESULT / FULL)."""
        ack = {"symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
               "clientOrderId": self.client_id, "transactTime": transact_time}
        if resp_type == "ACK":
            return ack
        out = {**ack, **self._common(), "origQuoteOrderQty": _fmt(self.orig_quote),
               "workingTime": self.working_time, "selfTradePreventionMode": "NONE"}
        if resp_type == "FULL":
            out["fills"] = [{"price": _fmt(t["price"]), "qty": _fmt(t["qty"]),
                             "commission": _fmt(t["commission"]),
                             "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                            for t in self.fills]
        return out

    def binance_query(self) -> dict[str, Any]:
        """``GET /api/v3/order`` / ``openOrders`` / ``allOrders`` entry."""
        return {**self._common(), "stopPrice": _fmt(0), "icebergQty": _fmt(0),
                "time": self.time, "updateTime": self.update_time, "isWorking": True,
                "workingTime": self.working_time, "origQuoteOrderQty": _fmt(self.orig_quote),
                "selfTradePreventionMode": "NONE"}

    def binance_cancel(self, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
        common = self._common()
        return {"symbol": self.symbol, "origClientOrderId": self.client_id,
                "orderId": self.order_id, "orderListId": -1, "clientOrderId": cancel_client_id,
                "transactTime": transact_time,
                **{k: common[k] for k in ("price", "origQty", "executedQty",
                                          "cummulativeQuoteQty", "status", "timeInForce",
                                          "type", "side")},
                "selfTradePreventionMode": "NONE"}

    def state(self) -> dict[str, Any]:
        """Plain numbers for ``/sim/state``."""
        return {"orderId": self.order_id, "clientOrderId": self.client_id,
                "symbol": self.symbol, "side": self.side, "type": self.type,
                "timeInForce": self.tif, "status": self.status, "price": float(self.price),
                "origQty": float(self.orig_qty), "executedQty": float(self.executed),
                "cummulativeQuoteQty": float(self.cum_quote),
                "origQuoteOrderQty": float(self.orig_quote), "time": self.time,
                "updateTime": self.update_time, "held": self.held, "fault": self.fault,
                "trades": [t["id"] for t in self.fills]}


def _trade_binance(t: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/v3/myTrades`` entry."""
    return {"symbol": t["symbol"], "id": t["id"], "orderId": t["orderId"], "orderListId": -1,
            "price": _fmt(t["price"]), "qty": _fmt(t["qty"]), "quoteQty": _fmt(t["quoteQty"]),
            "commission": _fmt(t["commission"]), "commissionAsset": t["commissionAsset"],
            "time": t["time"], "isBuyer": t["side"] == "BUY", "isMaker": t["isMaker"],
            "isBestMatch": True}


def _trade_state(t: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in t.items()}


# ============================================================================ the exchange
class SimExchange:
    """Binance spot's market data, order matching and one account - no HTTP.

    Thread-safe: every public method holds one lock. Times are milliseconds; ``clock``
    (default: the wall clock) gives the sim's "now" for prices, candles and order times
    (signed-request timestamps are always checked against the real clock).

    :param datadir: Freqtrade feather candles ``{BASE}_{QUOTE}-{tf}.feather``.
    :param timeframe: candles whose open->close path gives the current price.
    :param start: historical date mapped to the start-up time (default: 30 days before the
        earliest last candle of the symbols).
    :param balances: starting balances, e.g. ``{"USDT": 10000, "BTC": 0.5}``.
    :param fee: commission rate, charged in the received asset.
    :param key, secret: the API key pair signed requests must use.
    :param spread: relative bid/ask spread around the price.
    :param depth: quote value per order-book level.
    :param levels: order-book levels per side.
    """

    def __init__(self, datadir: str | Path, *, timeframe: str = "1h",
                 start: str | int | None = None, balances: dict[str, Any] | None = None,
                 fee: float = 0.001, key: str = "simkey", secret: str = "simsecret",
                 spread: float = 0.0005, depth: float = 50000.0, levels: int = 10,
                 clock: Callable[[], int] | None = None,
                 exchange_info: dict[str, Any] | None = None) -> None:
        if timeframe not in INTERVALS:
            raise ValueError(f"sim: unknown timeframe {timeframe!r}")
        if spread < 0 or depth <= 0 or levels < 1 or not 0 <= fee < 1:
            raise ValueError("sim: need spread >= 0, depth > 0, levels >= 1, 0 <= fee < 1")
        self._lock = threading.RLock()
        self.clock: Callable[[], int] = clock or _wall_ms
        self.timeframe = timeframe
        self.fee, self.spread = _dec(fee), _dec(spread)
        self.level_value, self.levels = _dec(depth), int(levels)
        self.key, self.secret = key, secret
        self.store = CandleStore(datadir)
        info = exchange_info if exchange_info is not None else load_exchange_info()
        self._info = {k: v for k, v in info.items() if not k.startswith("_") and k != "symbols"}
        self.rules: dict[str, SymbolRules] = {}
        for raw in info["symbols"]:
            if raw["symbol"] in self.store.assets:
                served = {**raw, "status": "TRADING"}
                self.rules[raw["symbol"]] = SymbolRules.from_exchange_info(served)
        if not self.rules:
            raise ValueError(f"sim: no tradable symbol - no candle file in {self.store.datadir} "
                             "matches a symbol of the exchangeInfo file")
        # price source per symbol: --timeframe if on disk, else the finest on disk
        self.price_tf = {sym: (timeframe if timeframe in self.store.timeframes(sym)
                               else self.store.timeframes(sym)[0]) for sym in self.rules}
        self._price_candles = {sym: self.store.get(sym, tf) for sym, tf in self.price_tf.items()}
        for sym in [s for s, c in self._price_candles.items() if not len(c)]:
            log.warning("%s: empty candle file, not served", sym)
            del self.rules[sym], self.price_tf[sym], self._price_candles[sym]
        ends = {sym: int(c.ts[-1]) + c.tf_ms for sym, c in self._price_candles.items()}
        if not ends:
            raise ValueError(f"sim: the candle files in {self.store.datadir} are empty")
        self.started_ms = int(self.clock())
        self.start_ms = (_to_ms(start) if start is not None
                         else min(ends.values()) - DEFAULT_START_BEFORE_END)
        # whole days: candle boundaries stay where Binance has them
        self.offset_ms = ((self.started_ms - self.start_ms) // DAY) * DAY
        self._series_cache: dict[tuple[str, str], Candles] = {}
        self._initial = self._balances_arg(balances if balances is not None
                                           else DEFAULT_BALANCES)
        self._weights: deque[tuple[int, int]] = deque()
        self.requests = 0
        self.reset()
        hist_start = self.hist_ms(self.started_ms)
        for sym, end in sorted(ends.items()):
            if end < hist_start + DEFAULT_START_BEFORE_END:
                log.warning("%s: %s candles end %s (history now %s): its price stays flat at "
                            "the last close from then on", sym, self.price_tf[sym], _iso(end),
                            _iso(hist_start))

    # ---------------------------------------------------------------- state and clock
    def reset(self, balances: dict[str, Any] | None = None) -> None:
        """Fresh account (starting or given balances); no orders, trades, faults, overrides."""
        with self._lock:
            if balances is not None:
                self._initial = self._balances_arg(balances)
            self._free: dict[str, Decimal] = defaultdict(Decimal, self._initial)
            self._locked: dict[str, Decimal] = defaultdict(Decimal)
            self.orders: dict[int, Order] = {}
            self.trades: list[dict[str, Any]] = []
            self._next_order_id, self._next_trade_id, self._next_fault_id = 1001, 1, 1
            self.overrides: dict[str, Decimal] = {}
            self.multipliers: dict[str, Decimal] = {}
            self.faults_pending: list[dict[str, Any]] = []
            self.faults_fired: list[dict[str, Any]] = []
            self.unexpected: list[dict[str, Any]] = []
            self._update_id = 1

    @staticmethod
    def _balances_arg(balances: dict[str, Any]) -> dict[str, Decimal]:
        out = {str(a).upper(): _dec(v) for a, v in balances.items()}
        for asset, amount in out.items():
            if amount < 0:
                raise ValueError(f"sim: negative starting balance {asset}={amount}")
        return out

    def now_ms(self) -> int:
        return int(self.clock())

    def hist_ms(self, now: int | None = None) -> int:
        """Historical time shown at wall time ``now``."""
        return (self.now_ms() if now is None else now) - self.offset_ms

    def _rules(self, symbol: str | None) -> SymbolRules:
        if symbol is None or symbol == "":
            raise _mandatory("symbol")
        rules = self.rules.get(symbol)
        if rules is None:
            raise _invalid_symbol()
        return rules

    def _control_symbol(self, symbol: str) -> str:
        sym = normalize_symbol(symbol)
        if sym not in self.rules:
            raise ValueError(f"unknown symbol {symbol!r}; served: {sorted(self.rules)}")
        return sym

    def used_weight(self, weight: int) -> int:
        """Count a request of ``weight``; the weight used in the last minute."""
        with self._lock:
            now = _wall_ms()
            self.requests += 1
            self._weights.append((now, weight))
            while self._weights and self._weights[0][0] <= now - MINUTE:
                self._weights.popleft()
            return sum(w for _, w in self._weights)

    # ---------------------------------------------------------------- prices and book
    def candle_price(self, symbol: str, now: int | None = None) -> float:
        """The price the candles give (no override), unrounded."""
        with self._lock:
            return self._price_candles[symbol].price_at(self.hist_ms(now))

    def price(self, symbol: str) -> Decimal:
        """Current price: fixed override, else candle price x multiplier; on the tick grid."""
        with self._lock:
            rules = self._rules(symbol)
            if symbol in self.overrides:
                raw = self.overrides[symbol]
            else:
                raw = _dec(self.candle_price(symbol)) * self.multipliers.get(symbol, Decimal(1))
            return max(_round(raw, rules.tick), rules.tick)

    def book(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]],
                                         list[tuple[Decimal, Decimal]]]:
        """(bids best first, asks best first), ``levels`` each, as (price, quantity)."""
        with self._lock:
            rules = self._rules(symbol)
            p, tick = self.price(symbol), rules.tick
            bid0 = _floor(p * (1 - self.spread / 2), tick)
            ask0 = _ceil(p * (1 + self.spread / 2), tick)
            if ask0 <= bid0:
                ask0 = bid0 + tick
            gap = max(tick, _ceil(p * _BP, tick))
            qty = lambda px: _floor(self.level_value / px, rules.step)  # noqa: E731
            bids = [(px, qty(px)) for px in (bid0 - i * gap for i in range(self.levels)) if px > 0]
            asks = [(px, qty(px)) for px in (ask0 + i * gap for i in range(self.levels))]
            return bids, asks

    # ---------------------------------------------------------------- public endpoints
    def exchange_info(self, symbol: str | None = None,
                      symbols: list[str] | None = None) -> dict[str, Any]:
        with self._lock:
            wanted = [symbol] if symbol else symbols
            if wanted:
                for s in wanted:
                    self._rules(s)
            chosen = [self.rules[s].raw for s in (wanted or sorted(self.rules))]
            return {"timezone": self._info.get("timezone", "UTC"), "serverTime": self.now_ms(),
                    "rateLimits": self._info.get("rateLimits", []),
                    "exchangeFilters": self._info.get("exchangeFilters", []),
                    "symbols": json.loads(json.dumps(chosen))}

    def _series(self, symbol: str, interval: str) -> Candles:
        """Candles of ``interval`` in historical time: on disk, or resampled."""
        key = (symbol, interval)
        if key in self._series_cache:
            return self._series_cache[key]
        on_disk = self.store.timeframes(symbol)
        if interval in on_disk:
            series = self.store.get(symbol, interval)
        else:
            size = INTERVALS.get(interval)
            sources = [tf for tf in on_disk
                       if size and INTERVALS[tf] < size and size % INTERVALS[tf] == 0]
            if not sources:
                raise BinanceError(-1120, "Invalid interval.")
            origin = (WEEK_ORIGIN if interval == "1w" else 0) - self.offset_ms
            series = self.store.get(symbol, sources[-1]).resample(size, origin)
        self._series_cache[key] = series
        return series

    def klines(self, symbol: str, interval: str, start: int | None = None,
               end: int | None = None, limit: int = 500) -> list[list[Any]]:
        """Binance klines in wall-clock time, the last one partial (see module doc)."""
        with self._lock:
            rules = self._rules(symbol)
            if interval not in INTERVALS:
                raise BinanceError(-1120, "Invalid interval.")
            series = self._series(symbol, interval)
            size, now, off = INTERVALS[interval], self.now_ms(), self.offset_ms
            limit = max(1, min(int(limit), 1000))
            origin = WEEK_ORIGIN if interval == "1w" else 0
            current = (now - origin) // size * size + origin
            hi = current if end is None else min(end, current)
            lo = start
            wall = series.ts + off
            i0 = int(np.searchsorted(wall, lo, side="left")) if lo is not None else 0
            i1 = int(np.searchsorted(wall, hi, side="right"))
            real = range(i0, max(i0, i1))  # sliced lazily below
            # flat candles after the end of the data, up to the current one
            v_first = int(wall[-1]) + size if len(series) else current
            if lo is not None and lo > v_first:
                v_first = v_first + -(-(lo - v_first) // size) * size
            n_virtual = max(0, (hi - v_first) // size + 1) if hi >= v_first else 0
            if lo is not None:  # first `limit` from lo
                real = real[:limit]
                n_v = min(n_virtual, limit - len(real))
                virtual = [v_first + k * size for k in range(n_v)]
            else:  # last `limit` up to hi
                n_v = min(n_virtual, limit)
                virtual = [v_first + k * size for k in range(n_virtual - n_v, n_virtual)]
                real = real[max(0, len(real) - (limit - n_v)):]
            last_close = float(series.c[-1]) if len(series) else float(self.price(symbol))
            rows = [(int(wall[i]), float(series.o[i]), float(series.h[i]), float(series.l[i]),
                     float(series.c[i]), float(series.v[i])) for i in real]
            rows += [(t, last_close, last_close, last_close, last_close, 0.0) for t in virtual]
            out = []
            for row in rows:
                if row[0] == current:
                    row = self._partial_candle(rules, row, size, now)
                out.append(self._kline(row, size))
            return out

    def _partial_candle(self, rules: SymbolRules, row: tuple, size: int,
                        now: int) -> tuple:
        """The current candle so far: close = current price, high/low = the path so far."""
        open_time, o, h, l, c, v = row
        p = float(self.price(rules.symbol))
        pc = self._price_candles[rules.symbol]
        if size % pc.tf_ms == 0:  # aggregate the price candles of this bucket so far
            h_now, h_open = self.hist_ms(now), open_time - self.offset_ms
            i0 = int(np.searchsorted(pc.ts, h_open, side="left"))
            i1 = int(np.searchsorted(pc.ts, h_now, side="right"))
            if i1 > i0:
                done = [i for i in range(i0, i1) if pc.ts[i] + pc.tf_ms <= h_now]
                cur = [i for i in range(i0, i1) if pc.ts[i] + pc.tf_ms > h_now]
                o = float(pc.o[i0])
                highs = [o, p] + [float(pc.h[i]) for i in done]
                lows = [o, p] + [float(pc.l[i]) for i in done]
                vol = float(sum(pc.v[i] for i in done))
                for i in cur:
                    highs.append(float(pc.o[i]))
                    lows.append(float(pc.o[i]))
                    vol += float(pc.v[i]) * (h_now - pc.ts[i]) / pc.tf_ms
                return open_time, o, max(highs), min(lows), p, vol
            return open_time, o, max(o, p), min(o, p), p, 0.0
        frac = min(1.0, max(0.0, (now - open_time) / size))
        return open_time, o, max(o, p), min(o, p), p, v * frac

    @staticmethod
    def _kline(row: tuple, size: int) -> list[Any]:
        open_time, o, h, l, c, v = row
        quote_volume = v * (o + c) / 2
        trades = 0 if v <= 0 else 1 + int(quote_volume // 1000)
        return [open_time, f"{o:.8f}", f"{h:.8f}", f"{l:.8f}", f"{c:.8f}", f"{v:.8f}",
                open_time + size - 1, f"{quote_volume:.8f}", trades, f"{v / 2:.8f}",
                f"{quote_volume / 2:.8f}", "0"]

    def _wanted(self, symbol: str | None, symbols: list[str] | None) -> list[str]:
        if symbol:
            return [self._rules(symbol).symbol]
        if symbols is not None:
            return [self._rules(s).symbol for s in symbols]
        return sorted(self.rules)

    def ticker_24hr(self, symbol: str | None = None,
                    symbols: list[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            out = [self._ticker(s) for s in self._wanted(symbol, symbols)]
            return out[0] if symbol else out

    def _ticker(self, symbol: str) -> dict[str, Any]:
        now = self.now_ms()
        h_now = self.hist_ms(now)
        pc = self._price_candles[symbol]
        p = self.price(symbol)
        bids, asks = self.book(symbol)
        (bid, bid_qty), (ask, ask_qty) = bids[0], asks[0]
        open_price = max(_round(_dec(pc.price_at(h_now - DAY)), self.rules[symbol].tick),
                         self.rules[symbol].tick)
        i0 = int(np.searchsorted(pc.ts, h_now - DAY, side="left"))
        i1 = int(np.searchsorted(pc.ts, h_now, side="right"))
        highs, lows = [float(p), float(open_price)], [float(p), float(open_price)]
        volume = quote_volume = 0.0
        for i in range(i0, i1):
            frac = min(1.0, (h_now - pc.ts[i]) / pc.tf_ms)
            if frac >= 1.0:
                highs.append(float(pc.h[i]))
                lows.append(float(pc.l[i]))
            volume += float(pc.v[i]) * frac
            quote_volume += float(pc.v[i]) * frac * float(pc.o[i] + pc.c[i]) / 2
        change = p - open_price
        pct = (change / open_price * 100) if open_price else _ZERO
        return {
            "symbol": symbol, "priceChange": _fmt(change) if change >= 0 else "-" + _fmt(-change),
            "priceChangePercent": f"{float(pct):.3f}",
            "weightedAvgPrice": f"{(quote_volume / volume if volume else float(p)):.8f}",
            "prevClosePrice": _fmt(open_price), "lastPrice": _fmt(p),
            "lastQty": _fmt(_floor(Decimal(100) / p, self.rules[symbol].step)),
            "bidPrice": _fmt(bid), "bidQty": _fmt(bid_qty), "askPrice": _fmt(ask),
            "askQty": _fmt(ask_qty), "openPrice": _fmt(open_price),
            "highPrice": f"{max(highs):.8f}", "lowPrice": f"{min(lows):.8f}",
            "volume": f"{volume:.8f}", "quoteVolume": f"{quote_volume:.8f}",
            "openTime": now - DAY, "closeTime": now, "firstId": -1, "lastId": -1, "count": 0,
        }

    def ticker_price(self, symbol: str | None = None,
                     symbols: list[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            out = [{"symbol": s, "price": _fmt(self.price(s))}
                   for s in self._wanted(symbol, symbols)]
            return out[0] if symbol else out

    def book_ticker(self, symbol: str | None = None,
                    symbols: list[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            out = []
            for s in self._wanted(symbol, symbols):
                bids, asks = self.book(s)
                out.append({"symbol": s, "bidPrice": _fmt(bids[0][0]), "bidQty": _fmt(bids[0][1]),
                            "askPrice": _fmt(asks[0][0]), "askQty": _fmt(asks[0][1])})
            return out[0] if symbol else out

    def depth(self, symbol: str, limit: int = 100) -> dict[str, Any]:
        with self._lock:
            bids, asks = self.book(self._rules(symbol).symbol)
            n = max(1, min(int(limit), 5000))
            self._update_id += 1
            return {"lastUpdateId": self._update_id,
                    "bids": [[_fmt(px), _fmt(q)] for px, q in bids[:n]],
                    "asks": [[_fmt(px), _fmt(q)] for px, q in asks[:n]]}

    def avg_price(self, symbol: str) -> dict[str, Any]:
        with self._lock:
            return {"mins": 5, "price": _fmt(self.price(self._rules(symbol).symbol)),
                    "closeTime": self.now_ms()}

    # ---------------------------------------------------------------- account endpoints
    def account(self, omit_zero: bool = False) -> dict[str, Any]:
        with self._lock:
            assets = set(self._free) | set(self._locked)
            for rules in self.rules.values():
                assets |= {rules.base, rules.quote}
            balances = [{"asset": a, "free": _fmt(self._free[a]), "locked": _fmt(self._locked[a])}
                        for a in sorted(assets)]
            if omit_zero:
                balances = [b for b in balances if self._free[b["asset"]] or
                            self._locked[b["asset"]]]
            bps = int(self.fee * 10000)
            return {"makerCommission": bps, "takerCommission": bps, "buyerCommission": 0,
                    "sellerCommission": 0,
                    "commissionRates": {"maker": _fmt(self.fee), "taker": _fmt(self.fee),
                                        "buyer": _fmt(0), "seller": _fmt(0)},
                    "canTrade": True, "canWithdraw": True, "canDeposit": True,
                    "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
                    "updateTime": self.now_ms(), "accountType": "SPOT", "balances": balances,
                    "permissions": ["SPOT"], "uid": 1}

    def trade_fees(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [{"symbol": s, "makerCommission": format(self.fee.normalize(), "f"),
                     "takerCommission": format(self.fee.normalize(), "f")}
                    for s in self._wanted(symbol, None)]

    def _validate_order(self, params: dict[str, str]) -> dict[str, Any]:
        """Parameter and filter checks of a new order, in Binance's order; no balance check."""
        rules = self._rules(params.get("symbol"))
        side = params.get("side")
        if not side:
            raise _mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'side'; legal "
                                      "range is 'BUY, SELL'.")
        otype = params.get("type")
        if not otype:
            raise _mandatory("type")
        if otype not in ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                         "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        if otype not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
            log.warning("order type %s is not simulated: refused", otype)
            raise BinanceError(-1014, "Unsupported order combination.")
        if otype not in rules.order_types:
            raise BinanceError(-1013, "Order type not supported for this symbol.")
        qty = _dec_param(params, "quantity")
        quote_qty = _dec_param(params, "quoteOrderQty")
        price = _dec_param(params, "price")
        tif = params.get("timeInForce") or None
        if otype == "LIMIT":
            if tif is None:
                raise _mandatory("timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise BinanceError(-1115, "Invalid timeInForce.")
            if qty is None:
                raise _mandatory("quantity")
            if price is None:
                raise _mandatory("price")
        elif otype == "LIMIT_MAKER":
            if tif is not None:
                raise _not_required("timeInForce")
            if qty is None:
                raise _mandatory("quantity")
            if price is None:
                raise _mandatory("price")
            tif = "GTC"
        else:  # MARKET
            if price is not None:
                raise _not_required("price")
            if tif is not None:
                raise _not_required("timeInForce")
            if qty is None and quote_qty is None:
                raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, "
                                          "but both were empty/null!")
            if qty is not None and quote_qty is not None:
                raise _not_required("quoteOrderQty")
            tif = "GTC"
        if otype != "MARKET" and quote_qty is not None:
            raise _not_required("quoteOrderQty")
        # precision
        if qty is not None and _decimals(qty) > rules.base_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        for value in (price, quote_qty):
            if value is not None and _decimals(value) > rules.quote_precision:
                raise BinanceError(-1111, "Precision is over the maximum defined for this "
                                          "asset.")
        if qty is not None and qty <= 0:
            raise BinanceError(-1013, "Invalid quantity.")
        if quote_qty is not None and quote_qty <= 0:
            raise BinanceError(-1013, "Invalid quantity.")
        current = self.price(rules.symbol)
        # PRICE_FILTER, PERCENT_PRICE_BY_SIDE
        if price is not None:
            if price <= 0:
                raise BinanceError(-1013, "Invalid price.")
            if ((rules.min_price > 0 and price < rules.min_price)
                    or (rules.max_price > 0 and price > rules.max_price)
                    or (rules.tick > 0 and (price - rules.min_price) % rules.tick != 0)):
                raise _filter_failure("PRICE_FILTER")
            pct = rules.percent_by_side
            if pct:
                up, down = (("bidMultiplierUp", "bidMultiplierDown") if side == "BUY"
                            else ("askMultiplierUp", "askMultiplierDown"))
                if price > current * pct[up] or price < current * pct[down]:
                    raise _filter_failure("PERCENT_PRICE_BY_SIDE")
        # LOT_SIZE, MARKET_LOT_SIZE
        if qty is not None:
            if ((rules.min_qty > 0 and qty < rules.min_qty)
                    or (rules.max_qty > 0 and qty > rules.max_qty)
                    or (rules.step > 0 and (qty - rules.min_qty) % rules.step != 0)):
                raise _filter_failure("LOT_SIZE")
            if otype == "MARKET" and (
                    (rules.market_min_qty > 0 and qty < rules.market_min_qty)
                    or (rules.market_max_qty > 0 and qty > rules.market_max_qty)
                    or (rules.market_step > 0
                        and (qty - rules.market_min_qty) % rules.market_step != 0)):
                raise _filter_failure("MARKET_LOT_SIZE")
        # NOTIONAL / MIN_NOTIONAL
        if rules.notional_filter:
            is_market = otype == "MARKET"
            notional = (quote_qty if quote_qty is not None
                        else qty * (current if is_market else price))
            if (not is_market or rules.min_to_market) and rules.min_notional > 0 \
                    and notional < rules.min_notional:
                raise _filter_failure(rules.notional_filter)
            if (not is_market or rules.max_to_market) and rules.max_notional > 0 \
                    and notional > rules.max_notional:
                raise _filter_failure(rules.notional_filter)
        # MAX_NUM_ORDERS (orders that may rest)
        if otype != "MARKET" and rules.max_num_orders:
            n_open = sum(1 for o in self.orders.values() if o.is_open and o.symbol == rules.symbol)
            if n_open >= rules.max_num_orders:
                raise _filter_failure("MAX_NUM_ORDERS")
        client_id = params.get("newClientOrderId") or None
        if client_id and any(o.client_id == client_id and o.is_open for o in self.orders.values()):
            raise BinanceError(-2010, "Duplicate order sent.")
        resp_type = params.get("newOrderRespType") or (
            "FULL" if otype in ("MARKET", "LIMIT") else "ACK")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise BinanceError(-1100, "Illegal characters found in parameter "
                                      "'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.")
        return {"rules": rules, "side": side, "type": otype, "tif": tif, "qty": qty,
                "quote_qty": quote_qty, "price": price, "client_id": client_id or _client_id(),
                "resp_type": resp_type}

    def test_order(self, params: dict[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order/test``: validation only."""
        with self._lock:
            self._validate_order(params)
            return {}

    def _walk(self, rules: SymbolRules, side: str, *, qty: Decimal | None = None,
              quote: Decimal | None = None, limit: Decimal | None = None,
              beyond: bool = False) -> list[tuple[Decimal, Decimal]]:
        """Taker fills against the synthetic book: (price, qty) per level touched.

        ``qty`` or ``quote`` bounds the total; ``limit`` stops at levels that do not cross;
        ``beyond`` fills what exceeds the book at the worst level's price (market orders).
        """
        bids, asks = self.book(rules.symbol)
        levels = asks if side == "BUY" else bids
        fills: list[tuple[Decimal, Decimal]] = []
        rem_q, rem_quote = qty, quote
        exhausted = True
        for px, level_qty in levels:
            if limit is not None and ((side == "BUY" and px > limit)
                                      or (side == "SELL" and px < limit)):
                exhausted = False
                break
            q = level_qty if rem_q is None else min(level_qty, rem_q)
            if rem_quote is not None:
                q = min(q, _floor(rem_quote / px, rules.step))
            if q > 0:
                fills.append((px, q))
                rem_q = None if rem_q is None else rem_q - q
                rem_quote = None if rem_quote is None else rem_quote - px * q
            if (rem_q is not None and rem_q <= 0) or (
                    rem_quote is not None and _floor(rem_quote / px, rules.step) <= 0):
                exhausted = False
                break
        if exhausted and beyond and levels:
            px = levels[-1][0]
            q = rem_q if rem_q is not None else _floor(rem_quote / px, rules.step)
            if q > 0:
                fills.append((px, q))
        return fills

    def new_order(self, params: dict[str, str], *, method: str = "POST",
                  path: str = "/api/v3/order") -> dict[str, Any]:
        """``POST /api/v3/order``: validate, check balance, match, answer."""
        with self._lock:
            self.tick()
            v = self._validate_order(params)
            rules, side, otype, tif = v["rules"], v["side"], v["type"], v["tif"]
            qty, quote_qty, price = v["qty"], v["quote_qty"], v["price"]
            base, quote = rules.base, rules.quote
            # balance (before any fault: Binance would refuse it anyway)
            if otype == "MARKET":
                full = self._walk(rules, side, qty=qty, quote=quote_qty, beyond=True)
                if side == "BUY":
                    need = quote_qty if quote_qty is not None else sum(px * q for px, q in full)
                    ok = need <= self._free[quote]
                else:
                    need = qty if qty is not None else sum(q for _, q in full)
                    ok = need <= self._free[base]
            else:
                ok = (price * qty <= self._free[quote]) if side == "BUY" else (
                    qty <= self._free[base])
            if not ok:
                raise _insufficient()
            if otype == "LIMIT_MAKER" and self._walk(rules, side, qty=qty, limit=price):
                raise BinanceError(-2010, "Order would immediately match and take.")
            taker = otype == "MARKET" or tif in ("IOC", "FOK")
            claimed = self.claim_fault(
                method, path, params, ("partial", "expire"),
                applies=lambda f: f["kind"] == "partial" or taker)
            fault = claimed[0] if claimed else None
            # the fills
            maker_fill: Decimal = _ZERO
            if otype == "MARKET":
                if fault and fault["kind"] == "expire":
                    plan = []
                elif fault:
                    frac = _dec(fault["fraction"])
                    plan = self._walk(rules, side, beyond=True,
                                      qty=None if qty is None else _floor(qty * frac, rules.step),
                                      quote=None if quote_qty is None else quote_qty * frac)
                else:
                    plan = full
            else:
                if fault and fault["kind"] == "expire":
                    plan = []
                elif fault:
                    target = _floor(qty * _dec(fault["fraction"]), rules.step)
                    plan = self._walk(rules, side, qty=target, limit=price)
                    maker_fill = target - sum(q for _, q in plan)
                else:
                    plan = self._walk(rules, side, qty=qty, limit=price)
                    if tif == "FOK" and sum(q for _, q in plan) < qty:
                        plan = []
            now = self.now_ms()
            order = Order(self._next_order_id, v["client_id"], rules.symbol, side, otype, tif,
                          price if price is not None else _ZERO,
                          qty if qty is not None else _ZERO,
                          quote_qty if quote_qty is not None else _ZERO, now,
                          update_time=now, working_time=now,
                          fault=fault["kind"] if fault else None)
            self._next_order_id += 1
            self.orders[order.order_id] = order
            if otype != "MARKET":
                order.lock_asset = quote if side == "BUY" else base
                order.locked = price * qty if side == "BUY" else qty
                self._free[order.lock_asset] -= order.locked
                self._locked[order.lock_asset] += order.locked
            for px, q in plan:
                self._fill(order, px, q, maker=False)
            if maker_fill > 0:
                self._fill(order, price, maker_fill, maker=True)
            if otype == "MARKET" and quote_qty is not None:
                order.orig_qty = order.executed
            if otype == "MARKET":
                order.status = "EXPIRED" if fault else "FILLED"
            elif order.remaining <= 0:
                order.status = "FILLED"
            elif tif in ("IOC", "FOK"):
                order.status = "EXPIRED"
            else:
                order.status = "PARTIALLY_FILLED" if order.executed > 0 else "NEW"
                order.held = bool(fault)
            if not order.is_open:
                self._release(order)
            if claimed:
                claimed[1]["orderId"] = order.order_id
                claimed[1]["effect"] = (
                    f"{otype} {tif} {side} {rules.symbol} {_fmt(order.orig_qty or quote_qty)}: "
                    f"filled {_fmt(order.executed)}, status {order.status}"
                    + (" (rest held open)" if order.held else ""))
            log.info("order %s %s %s %s qty=%s price=%s -> %s executed=%s", order.order_id,
                     rules.symbol, side, otype + ("/" + tif if otype == "LIMIT" else ""),
                     _fmt(order.orig_qty), _fmt(order.price), order.status,
                     _fmt(order.executed))
            return order.binance_new(v["resp_type"], now)

    def _fill(self, order: Order, px: Decimal, q: Decimal, *, maker: bool) -> None:
        rules = self.rules[order.symbol]
        base, quote = rules.base, rules.quote
        quote_amount = px * q
        if order.side == "BUY":
            if order.lock_asset:
                release = order.price * q
                self._locked[quote] -= release
                order.locked -= release
                self._free[quote] += release - quote_amount
            else:
                self._free[quote] -= quote_amount
            commission = (q * self.fee).quantize(_Q8, rounding=ROUND_HALF_UP)
            asset = base
            self._free[base] += q - commission
        else:
            if order.lock_asset:
                self._locked[base] -= q
                order.locked -= q
            else:
                self._free[base] -= q
            commission = (quote_amount * self.fee).quantize(_Q8, rounding=ROUND_HALF_UP)
            asset = quote
            self._free[quote] += quote_amount - commission
        for book in (self._free, self._locked):
            for a in (base, quote):
                if book[a] < 0:  # a bug in the sim, never a state to serve
                    raise RuntimeError(f"sim: {a} balance would become negative: {book[a]}")
        now = self.now_ms()
        trade = {"id": self._next_trade_id, "orderId": order.order_id, "symbol": order.symbol,
                 "side": order.side, "price": px, "qty": q, "quoteQty": quote_amount,
                 "commission": commission, "commissionAsset": asset, "time": now,
                 "isMaker": maker}
        self._next_trade_id += 1
        self.trades.append(trade)
        order.fills.append(trade)
        order.executed += q
        order.cum_quote += quote_amount
        order.update_time = now

    def _release(self, order: Order) -> None:
        if order.lock_asset and order.locked:
            self._locked[order.lock_asset] -= order.locked
            self._free[order.lock_asset] += order.locked
            order.locked = _ZERO

    def tick(self, include_held: bool = False) -> list[int]:
        """Fill resting orders the price has moved through; the ids filled."""
        with self._lock:
            filled = []
            for order in self.orders.values():
                if not order.is_open or (order.held and not include_held):
                    continue
                p = self.price(order.symbol)
                if (order.side == "BUY" and p <= order.price) or (
                        order.side == "SELL" and p >= order.price):
                    self._fill(order, order.price, order.remaining, maker=True)
                    order.status, order.held = "FILLED", False
                    self._release(order)
                    filled.append(order.order_id)
                    log.info("order %s %s %s resting at %s filled (price %s)", order.order_id,
                             order.symbol, order.side, _fmt(order.price), _fmt(p))
            return filled

    def _find(self, params: dict[str, str]) -> Order | None:
        rules = self._rules(params.get("symbol"))
        order_id = _int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                                      "but both were empty/null!")
        if order_id is not None:
            order = self.orders.get(order_id)
        else:
            order = next((o for o in reversed(self.orders.values())
                          if o.client_id == client_id), None)
        if order is None or order.symbol != rules.symbol or (
                client_id is not None and order.client_id != client_id):
            return None
        return order

    def query_order(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.tick()
            order = self._find(params)
            if order is None:
                raise BinanceError(-2013, "Order does not exist.")
            return order.binance_query()

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.tick()
            order = self._find(params)
            if order is None or not order.is_open:
                raise BinanceError(-2011, "Unknown order sent.")
            self._cancel(order)
            return order.binance_cancel(params.get("newClientOrderId") or _client_id(),
                                        self.now_ms())

    def _cancel(self, order: Order) -> None:
        order.status = "CANCELED"
        order.held = False
        order.update_time = self.now_ms()
        self._release(order)
        log.info("order %s %s canceled (executed %s of %s)", order.order_id, order.symbol,
                 _fmt(order.executed), _fmt(order.orig_qty))

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            if symbol is not None:
                self._rules(symbol)
            return [o.binance_query() for o in self.orders.values()
                    if o.is_open and (symbol is None or o.symbol == symbol)]

    def cancel_open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self._rules(symbol)
            victims = [o for o in self.orders.values() if o.is_open and o.symbol == rules.symbol]
            if not victims:
                raise BinanceError(-2011, "Unknown order sent.")
            out = []
            for order in victims:
                self._cancel(order)
                out.append(order.binance_cancel(_client_id(), self.now_ms()))
            return out

    @staticmethod
    def _window(items: list[Any], key_time: Callable[[Any], int], start: int | None,
                end: int | None, limit: int, from_first: bool) -> list[Any]:
        items = [x for x in items if (start is None or key_time(x) >= start)
                 and (end is None or key_time(x) <= end)]
        return items[:limit] if from_first else items[-limit:]

    def all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self._rules(params.get("symbol"))
            order_id = _int_param(params, "orderId")
            start, end = _int_param(params, "startTime"), _int_param(params, "endTime")
            limit = max(1, min(_int_param(params, "limit", 500) or 500, 1000))
            orders = [o for o in self.orders.values() if o.symbol == rules.symbol
                      and (order_id is None or o.order_id >= order_id)]
            chosen = self._window(orders, lambda o: o.time, start, end, limit,
                                  from_first=order_id is not None or start is not None)
            return [o.binance_query() for o in chosen]

    def my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self._rules(params.get("symbol"))
            order_id = _int_param(params, "orderId")
            from_id = _int_param(params, "fromId")
            start, end = _int_param(params, "startTime"), _int_param(params, "endTime")
            limit = max(1, min(_int_param(params, "limit", 500) or 500, 1000))
            trades = [t for t in self.trades if t["symbol"] == rules.symbol
                      and (order_id is None or t["orderId"] == order_id)
                      and (from_id is None or t["id"] >= from_id)]
            chosen = self._window(trades, lambda t: t["time"], start, end, limit,
                                  from_first=from_id is not None or start is not None)
            return [_trade_binance(t) for t in chosen]

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Arm a fault (see module doc); returns it as stored."""
        with self._lock:
            kind = spec.get("kind")
            if kind not in FAULT_KINDS:
                raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {kind!r}")
            count = int(spec.get("count", 1))
            if count < 1:
                raise ValueError("fault count must be >= 1")
            # order faults default to order placement; a given path matches any method
            # unless "method" says otherwise
            default_order = kind in ORDER_FAULTS and "path" not in spec
            fault: dict[str, Any] = {
                "id": self._next_fault_id, "kind": kind, "count": count, "remaining": count,
                "path": spec.get("path", "/api/v3/order" if default_order else None),
                "method": spec.get("method", "POST" if default_order else None),
                "symbol": normalize_symbol(spec["symbol"]) if spec.get("symbol") else None,
                "side": spec["side"].upper() if spec.get("side") else None,
                "created": self.now_ms(),
            }
            if fault["method"]:
                fault["method"] = str(fault["method"]).upper()
            if kind == "reject":
                fault["code"] = int(spec.get("code", -2010))
                fault["msg"] = str(spec.get("msg", _insufficient().msg))
            elif kind == "partial":
                fault["fraction"] = float(spec.get("fraction", 0.5))
                if not 0 <= fault["fraction"] < 1:
                    raise ValueError("partial fault: fraction must be in [0, 1)")
            elif kind == "http5xx":
                fault["status"] = int(spec.get("status", 503))
                if not 500 <= fault["status"] <= 599:
                    raise ValueError("http5xx fault: status must be 500..599")
                if "code" in spec or "msg" in spec:
                    fault["code"] = int(spec.get("code", -1001))
                    fault["msg"] = str(spec.get("msg", "Internal error; unable to process your "
                                                       "request. Please try again."))
            elif kind == "timeout":
                fault["seconds"] = float(spec.get("seconds", 5.0))
                if fault["seconds"] < 0:
                    raise ValueError("timeout fault: seconds must be >= 0")
            if kind in NET_FAULTS:
                fault["process"] = bool(spec.get("process", False))
            self._next_fault_id += 1
            self.faults_pending.append(fault)
            log.info("fault armed: %s", fault)
            return dict(fault)

    def clear_faults(self) -> int:
        with self._lock:
            n = len(self.faults_pending)
            self.faults_pending.clear()
            return n

    def claim_fault(self, method: str, path: str, params: dict[str, str],
                    kinds: Iterable[str], applies: Callable[[dict], bool] | None = None,
                    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Consume one firing of the first pending fault of ``kinds`` matching the request:
        (fault, its faults_fired entry - the caller fills in ``effect``), or None."""
        with self._lock:
            kinds = tuple(kinds)
            for fault in self.faults_pending:
                if (fault["kind"] in kinds
                        and (fault["path"] is None or fault["path"] == path)
                        and (fault["method"] is None or fault["method"] == method)
                        and (fault["symbol"] is None or fault["symbol"] == params.get("symbol"))
                        and (fault["side"] is None or fault["side"] == params.get("side"))
                        and (applies is None or applies(fault))):
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self.faults_pending.remove(fault)
                    fired = {"fault_id": fault["id"], "kind": fault["kind"], "method": method,
                             "path": path, "symbol": params.get("symbol"),
                             "time": self.now_ms(), "effect": ""}
                    self.faults_fired.append(fired)
                    return dict(fault), fired
            return None

    # ---------------------------------------------------------------- control
    def set_price(self, symbol: str, price: float) -> None:
        """Fix a symbol's price (clears its multiplier); resting orders are matched."""
        with self._lock:
            sym = self._control_symbol(symbol)
            if float(price) <= 0:
                raise ValueError("price must be > 0")
            self.overrides[sym] = _dec(price)
            self.multipliers.pop(sym, None)
            self.tick(include_held=True)

    def set_multipliers(self, multipliers: dict[str, float]) -> None:
        """Candle price x factor per symbol (clears fixed prices); resting orders are matched."""
        with self._lock:
            for symbol, factor in multipliers.items():
                sym = self._control_symbol(symbol)
                if float(factor) <= 0:
                    raise ValueError("multiplier must be > 0")
                self.multipliers[sym] = _dec(factor)
                self.overrides.pop(sym, None)
            self.tick(include_held=True)

    def clear_prices(self, symbol: str | None = None) -> None:
        with self._lock:
            if symbol is None:
                self.overrides.clear()
                self.multipliers.clear()
            else:
                sym = self._control_symbol(symbol)
                self.overrides.pop(sym, None)
                self.multipliers.pop(sym, None)
            self.tick(include_held=True)

    def adjust_balance(self, asset: str, delta: float) -> dict[str, float]:
        """Deposit (delta > 0) or withdraw (< 0) free balance; never below zero."""
        with self._lock:
            asset = asset.upper()
            amount = _dec(delta)
            if self._free[asset] + amount < 0:
                raise ValueError(f"{asset}: free {self._free[asset]} - {-amount} would be "
                                 "negative")
            self._free[asset] += amount
            log.info("balance %s %+f -> free %s", asset, float(amount), _fmt(self._free[asset]))
            return {"free": float(self._free[asset]), "locked": float(self._locked[asset])}

    def note_unexpected(self, method: str, path: str) -> None:
        with self._lock:
            self.unexpected.append({"method": method, "path": path, "time": self.now_ms()})

    def prices(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            out = {}
            for sym in sorted(self.rules):
                bids, asks = self.book(sym)
                out[sym] = {"price": float(self.price(sym)), "bid": float(bids[0][0]),
                            "ask": float(asks[0][0]), "candle_price": self.candle_price(sym),
                            "override": (float(self.overrides[sym]) if sym in self.overrides
                                         else None),
                            "multiplier": (float(self.multipliers[sym])
                                           if sym in self.multipliers else None)}
            return out

    def balances(self) -> dict[str, dict[str, float]]:
        with self._lock:
            assets = sorted(a for a in set(self._free) | set(self._locked)
                            if self._free[a] or self._locked[a] or a in self._initial)
            return {a: {"free": float(self._free[a]), "locked": float(self._locked[a])}
                    for a in assets}

    def state(self) -> dict[str, Any]:
        """Everything a test wants to assert on, as plain JSON-able values."""
        with self._lock:
            self.tick()
            now = self.now_ms()
            return {
                "clock": {"now": now, "now_iso": _iso(now), "history_now": _iso(self.hist_ms(now)),
                          "offset_ms": self.offset_ms, "start": _iso(self.start_ms),
                          "started": _iso(self.started_ms)},
                "balances": self.balances(),
                "open_orders": [o.state() for o in self.orders.values() if o.is_open],
                "orders": [o.state() for o in self.orders.values()],
                "trades": [_trade_state(t) for t in self.trades],
                "prices": self.prices(),
                "faults_pending": [dict(f) for f in self.faults_pending],
                "faults_fired": [dict(f) for f in self.faults_fired],
                "unexpected_requests": list(self.unexpected),
                "requests": self.requests,
                "config": {"timeframe": self.timeframe, "price_timeframes": dict(self.price_tf),
                           "fee": float(self.fee), "spread": float(self.spread),
                           "depth": float(self.level_value), "levels": self.levels,
                           "symbols": sorted(self.rules),
                           "timeframes": {s: self.store.timeframes(s) for s in sorted(self.rules)}},
            }


# ============================================================================ HTTP layer
@dataclass(frozen=True)
class _Route:
    handler: str
    signed: bool
    weight: int


_ROUTES: dict[tuple[str, str], _Route] = {
    ("GET", "/api/v3/ping"): _Route("ping", False, 1),
    ("GET", "/api/v3/time"): _Route("time", False, 1),
    ("GET", "/api/v3/exchangeInfo"): _Route("exchange_info", False, 20),
    ("GET", "/api/v3/klines"): _Route("klines", False, 2),
    ("GET", "/api/v3/uiKlines"): _Route("klines", False, 2),
    ("GET", "/api/v3/ticker/24hr"): _Route("ticker_24hr", False, 2),
    ("GET", "/api/v3/ticker/price"): _Route("ticker_price", False, 2),
    ("GET", "/api/v3/ticker/bookTicker"): _Route("book_ticker", False, 2),
    ("GET", "/api/v3/depth"): _Route("depth", False, 5),
    ("GET", "/api/v3/avgPrice"): _Route("avg_price", False, 2),
    ("GET", "/api/v3/account"): _Route("account", True, 20),
    ("POST", "/api/v3/order"): _Route("new_order", True, 1),
    ("POST", "/api/v3/order/test"): _Route("test_order", True, 1),
    ("GET", "/api/v3/order"): _Route("query_order", True, 4),
    ("DELETE", "/api/v3/order"): _Route("cancel_order", True, 1),
    ("GET", "/api/v3/openOrders"): _Route("open_orders", True, 6),
    ("DELETE", "/api/v3/openOrders"): _Route("cancel_open_orders", True, 1),
    ("GET", "/api/v3/allOrders"): _Route("all_orders", True, 20),
    ("GET", "/api/v3/myTrades"): _Route("my_trades", True, 20),
    ("GET", "/sapi/v1/spot/delist-schedule"): _Route("empty_list", True, 100),
    ("GET", "/sapi/v1/capital/config/getall"): _Route("empty_list", True, 10),
    ("GET", "/sapi/v1/margin/allPairs"): _Route("empty_list", True, 1),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): _Route("empty_list", True, 10),
    ("GET", "/sapi/v1/asset/tradeFee"): _Route("trade_fee", True, 1),
    ("GET", "/sapi/v1/system/status"): _Route("system_status", False, 1),
}

#: request parameters worth a mention in the one-line request log
_LOGGED_PARAMS = ("symbol", "interval", "limit", "side", "type", "timeInForce", "quantity",
                  "quoteOrderQty", "price", "orderId")


def _api_call(sim: SimExchange, handler: str, params: dict[str, str],
              method: str, path: str) -> Any:
    """Run one Binance endpoint on ``sim`` (raises :class:`BinanceError`)."""
    symbol = params.get("symbol") or None
    symbols = _symbols_param(params["symbols"]) if params.get("symbols") else None
    if handler == "ping":
        return {}
    if handler == "time":
        return {"serverTime": sim.now_ms()}
    if handler == "exchange_info":
        return sim.exchange_info(symbol, symbols)
    if handler == "klines":
        if not params.get("interval"):
            raise _mandatory("interval")
        return sim.klines(sim._rules(symbol).symbol, params["interval"],
                          _int_param(params, "startTime"), _int_param(params, "endTime"),
                          _int_param(params, "limit", 500) or 500)
    if handler == "ticker_24hr":
        return sim.ticker_24hr(symbol, symbols)
    if handler == "ticker_price":
        return sim.ticker_price(symbol, symbols)
    if handler == "book_ticker":
        return sim.book_ticker(symbol, symbols)
    if handler == "depth":
        return sim.depth(sim._rules(symbol).symbol, _int_param(params, "limit", 100) or 100)
    if handler == "avg_price":
        return sim.avg_price(sim._rules(symbol).symbol)
    if handler == "account":
        return sim.account(params.get("omitZeroBalances", "").lower() == "true")
    if handler == "new_order":
        return sim.new_order(params, method=method, path=path)
    if handler == "test_order":
        return sim.test_order(params)
    if handler == "query_order":
        return sim.query_order(params)
    if handler == "cancel_order":
        return sim.cancel_order(params)
    if handler == "open_orders":
        return sim.open_orders(symbol)
    if handler == "cancel_open_orders":
        return sim.cancel_open_orders(symbol)
    if handler == "all_orders":
        return sim.all_orders(params)
    if handler == "my_trades":
        return sim.my_trades(params)
    if handler == "empty_list":
        return []
    if handler == "trade_fee":
        return sim.trade_fees(symbol)
    if handler == "system_status":
        return {"status": 0, "msg": "normal"}
    raise RuntimeError(f"no handler {handler}")


def _check_signed(sim: SimExchange, headers: Any, query: str, body: str,
                  params: dict[str, str]) -> None:
    """Binance's SIGNED checks: API key, HMAC-SHA256 signature, timestamp/recvWindow."""
    key = headers.get("X-MBX-APIKEY")
    if not key:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    if key != sim.key:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    signature = params.get("signature")
    if not signature:
        raise _mandatory("signature")

    def strip(raw: str) -> str:
        return "&".join(part for part in raw.split("&") if part and
                        not part.startswith("signature="))
    payload = strip(query) + strip(body)  # Binance: totalParams = query string + body
    expected = hmac.new(sim.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    timestamp = _int_param(params, "timestamp")
    if timestamp is None:
        raise _mandatory("timestamp")
    recv_window = _int_param(params, "recvWindow", 5000) or 5000
    if recv_window > 60000:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    now = _wall_ms()
    if timestamp > now + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the "
                                  "server's time.")
    if now - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Binance
    disable_nagle_algorithm = True  # else keep-alive answers wait ~40 ms for delayed ACKs
    server_version = "rebalance-sim"
    sys_version = ""
    server: SimHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - our own log line
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
        try:
            if path.startswith("/sim/") or path == "/sim":
                status, payload, headers = self._control(method, path, body)
            else:
                status, payload, headers, note = self._api(method, path, url.query, body)
        except Exception as exc:  # a bug in the sim: say so loudly, answer like Binance
            log.error("sim internal error on %s %s:\n%s", method, path, traceback.format_exc())
            status, payload, headers = 500, {"code": -1000, "msg": f"sim internal error: "
                                                                   f"{exc!r}"}, {}
        self._send(status, payload, headers)
        if isinstance(payload, dict) and isinstance(payload.get("code"), int) and status >= 400:
            note = f"{note} code={payload['code']} {payload.get('msg', '')}".strip()
        params = dict(parse_qsl(url.query)) | (dict(parse_qsl(body))
                                                 if not path.startswith("/sim") else {})
        shown = " ".join(f"{k}={params[k]}" for k in _LOGGED_PARAMS if k in params)
        level = logging.WARNING if status == 404 else logging.INFO
        log.log(level, "%s %s%s -> %d (%.0f ms)%s", method, path, f" [{shown}]" if shown else "",
                status, (time.monotonic() - started) * 1000, f" {note}" if note else "")

    # ------------------------------------------------------------------ Binance API
    def _api(self, method: str, path: str, query: str,
             body: str) -> tuple[int, Any, dict[str, str], str]:
        sim = self.server.sim
        route = _ROUTES.get((method, path))
        if route is None:
            sim.note_unexpected(method, path)
            msg = (f"UNEXPECTED request {method} {path}: rebalance_plugin.sim serves Binance "
                   "spot /api/v3 only (see its module docstring)")
            return 404, msg, {}, "UNEXPECTED (not served by the sim)"
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        weight_headers = {"X-MBX-USED-WEIGHT-1M": str(sim.used_weight(route.weight))}
        claimed = sim.claim_fault(method, path, params, NET_FAULTS)
        if claimed is None:
            status, payload = self._run(route, method, path, query, body, params)
            return status, payload, weight_headers, ""
        fault, fired = claimed
        kind = fault["kind"]
        effect = ""
        if fault.get("process"):
            status, payload = self._run(route, method, path, query, body, params)
            effect = f"request processed (-> {status}); "
        if kind == "timeout":
            effect += f"slept {fault['seconds']:g}s"
            fired["effect"] = effect + (" then answered" if fault["process"]
                                        else " then answered 504 without processing")
            time.sleep(fault["seconds"])
            if fault["process"]:
                return status, payload, weight_headers, f"FAULT timeout ({effect})"
            return 504, "Gateway Time-out", weight_headers, f"FAULT timeout ({effect})"
        if kind == "http429":
            fired["effect"] = effect + "answered HTTP 429 -1003"
            return 429, {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1)"
                         " is 6000 requests per minute. Please use the websocket for live "
                         "updates to avoid bans."}, {**weight_headers, "Retry-After": "1"}, \
                "FAULT http429"
        # http5xx
        if "code" in fault:
            payload5: Any = {"code": fault["code"], "msg": fault["msg"]}
        elif fault["status"] == 503:
            payload5 = "Service Unavailable"
        else:
            payload5 = {"code": -1001, "msg": "Internal error; unable to process your request. "
                                              "Please try again."}
        fired["effect"] = effect + f"answered HTTP {fault['status']}"
        return fault["status"], payload5, weight_headers, f"FAULT http5xx {fault['status']}"

    def _run(self, route: _Route, method: str, path: str, query: str, body: str,
             params: dict[str, str]) -> tuple[int, Any]:
        sim = self.server.sim
        try:
            if route.signed:
                _check_signed(sim, self.headers, query, body, params)
            claimed = sim.claim_fault(method, path, params, ("reject",))
            if claimed is not None:
                fault, fired = claimed
                fired["effect"] = f"refused with {fault['code']} {fault['msg']}"
                raise BinanceError(fault["code"], fault["msg"])
            sim.tick()
            return 200, _api_call(sim, route.handler, params, method, path)
        except BinanceError as err:
            return err.status, err.body()

    # ------------------------------------------------------------------ control API
    def _control(self, method: str, path: str, body: str) -> tuple[int, Any, dict[str, str]]:
        sim = self.server.sim
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            if (method, path) == ("GET", "/sim/state"):
                return 200, sim.state(), {}
            if (method, path) == ("POST", "/sim/price"):
                if data.get("clear"):
                    sim.clear_prices(data.get("symbol"))
                elif "multiplier" in data:
                    if not isinstance(data["multiplier"], dict):
                        raise ValueError('"multiplier" must be {"SYMBOL": factor, ...}')
                    sim.set_multipliers(data["multiplier"])
                elif "symbol" in data and "price" in data:
                    sim.set_price(data["symbol"], float(data["price"]))
                else:
                    raise ValueError('expected {"symbol","price"}, {"multiplier":{..}} or '
                                     '{"clear":true}')
                return 200, {"prices": sim.prices()}, {}
            if (method, path) == ("POST", "/sim/balance"):
                if "asset" not in data or "delta" not in data:
                    raise ValueError('expected {"asset": "USDT", "delta": 500}')
                return 200, {"asset": data["asset"].upper(),
                             **sim.adjust_balance(data["asset"], float(data["delta"]))}, {}
            if (method, path) == ("POST", "/sim/fault"):
                if data.get("clear"):
                    return 200, {"cleared": sim.clear_faults()}, {}
                return 200, sim.add_fault(data), {}
            if (method, path) == ("POST", "/sim/reset"):
                sim.reset(data.get("balances"))
                return 200, {"balances": sim.balances()}, {}
        except (ValueError, TypeError, KeyError, InvalidOperation) as err:
            return 400, {"error": str(err)}, {}
        return 404, {"error": f"no control endpoint {method} {path}"}, {}


class SimHTTPServer(ThreadingHTTPServer):
    """The HTTP front of a :class:`SimExchange` (``.sim``); ``shutdown()`` stops and closes."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: SimExchange) -> None:
        super().__init__(address, _Handler)
        self.sim = sim
        self._serving = threading.Event()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving.set()
        super().serve_forever(poll_interval)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._serving.is_set():
            super().shutdown()
        self.server_close()


def start_server(port: int = 0, datadir: str | Path | None = None,
                 **options: Any) -> tuple[SimHTTPServer, str]:
    """Start the sim on 127.0.0.1:``port`` (0 = any free port) in a daemon thread.

    ``options`` go to :class:`SimExchange` (timeframe, start, balances, fee, key, secret,
    spread, depth, levels, clock, exchange_info). Returns ``(server, base_url)``;
    ``server.sim`` is the exchange, ``server.shutdown()`` stops it.
    """
    if datadir is None:
        raise ValueError("start_server: datadir is required")
    sim = SimExchange(datadir, **options)
    server = SimHTTPServer((HOST, int(port)), sim)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              name=f"binance-sim-{server.server_address[1]}", daemon=True)
    thread.start()
    server._serving.wait(5)
    return server, server.url


# ============================================================================ ccxt side
def _redirect_urls(value: Any, base: str, ws_base: str) -> Any:
    """Map every URL of ccxt's binance ``urls`` tree to the sim (structure kept)."""
    if isinstance(value, dict):
        return {k: _redirect_urls(v, base, ws_base) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("ws", "wss"):
        return f"{ws_base}/ws-not-served/{parts.netloc.split(':')[0]}{parts.path}"
    if parts.scheme in ("http", "https"):
        if parts.netloc == "api.binance.com":
            return base + parts.path  # spot: /api/v3, /api/v1, /sapi/v1 ... as on Binance
        return f"{base}/{parts.netloc}{parts.path}"  # others: 404 at the sim, visibly
    return value


def ccxt_overrides(base_url: str) -> dict[str, Any]:
    """ccxt config for ``binance`` against the sim at ``base_url`` (JSON-serialisable).

    For Freqtrade put it into both ``exchange.ccxt_config`` and ``exchange.ccxt_async_config``
    (and set ``exchange.enable_ws`` false). It points every API URL ccxt's binance (and
    ccxt.pro's, websockets included) knows - all of ``urls.api`` - at the sim:
    Binance spot paths keep their path (``/api/v3``, ``/sapi/v1``), everything else gets
    ``/<original host>/<path>`` (futures, options, portfolio margin) or
    ``ws://.../ws-not-served/...`` (websockets), which the sim answers with a logged 404.
    The options stop ccxt from asking for what the sim does not serve:

    * ``fetchMarkets.types = ["spot"]`` - no USD-M/COIN-M futures ``exchangeInfo``
      (fapi/dapi) in ``load_markets``;
    * ``fetchMargins = false`` - no ``sapi margin/allPairs`` and ``margin/isolated/allPairs``
      in ``load_markets`` when API keys are set;
    * ``fetchCurrencies = false`` - no ``sapi capital/config/getall`` in ``load_markets``
      when API keys are set.
    """
    import ccxt  # lazily: the sim process itself does not need ccxt

    base = base_url.rstrip("/")
    ws_base = "ws://" + urlsplit(base).netloc
    urls: dict[str, Any] = {}
    sources = [ccxt.binance().urls]
    try:
        import ccxt.pro

        sources.append(ccxt.pro.binance().urls)
    except Exception:  # pragma: no cover - ccxt without pro
        pass
    for src in sources:
        urls.setdefault("api", {}).update(_redirect_urls(src["api"], base, ws_base))
    return {
        "urls": urls,
        "options": {
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
        },
    }


# ============================================================================ CLI
def _parse_balance(text: str) -> tuple[str, Decimal]:
    asset, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = None
    if not sep or not asset or value is None or value < 0:
        raise argparse.ArgumentTypeError(f"--balance wants ASSET=AMOUNT >= 0, not {text!r}")
    return asset.upper(), value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rebalance_plugin.sim",
        description="Local stand-in for Binance's spot REST API on 127.0.0.1 (tests only).")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    p.add_argument("--datadir", required=True, help="Freqtrade feather candles")
    p.add_argument("--timeframe", default="1h", choices=sorted(INTERVALS, key=INTERVALS.get),
                   help="candles that give the current price (default 1h)")
    p.add_argument("--start", default=None,
                   help="historical date shown at start-up (default: 30 days before the end "
                        "of the data)")
    p.add_argument("--balance", action="append", type=_parse_balance, default=None,
                   metavar="ASSET=AMOUNT", help="starting balance, repeatable "
                                                "(default USDT=10000)")
    p.add_argument("--fee", type=float, default=0.001, help="commission rate (default 0.001)")
    p.add_argument("--key", default="simkey", help="API key signed requests must carry")
    p.add_argument("--secret", default="simsecret", help="API secret for the signatures")
    p.add_argument("--spread", type=float, default=0.0005, help="relative bid/ask spread")
    p.add_argument("--depth", type=float, default=50000.0,
                   help="quote value per order-book level (default 50000)")
    p.add_argument("--levels", type=int, default=10, help="order-book levels per side")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s sim %(levelname)s %(message)s")
    balances = dict(args.balance) if args.balance else None
    try:
        server, url = start_server(args.port, args.datadir, timeframe=args.timeframe,
                                   start=args.start, balances=balances, fee=args.fee,
                                   key=args.key, secret=args.secret, spread=args.spread,
                                   depth=args.depth, levels=args.levels)
    except (OSError, ValueError) as err:
        print(f"sim: cannot start: {err}", file=sys.stderr, flush=True)
        return 2
    sim = server.sim
    log.info("serving %d symbols %s; price timeframe %s; history now %s (offset %d days); "
             "balances %s", len(sim.rules), ",".join(sorted(sim.rules)), sim.timeframe,
             _iso(sim.hist_ms()), sim.offset_ms // DAY,
             {a: float(v) for a, v in sim._initial.items()})
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"sim listening on {url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
