"""A local stand-in for Binance's SPOT REST API on 127.0.0.1 - for tests, never for money.

Purpose
-------
Run a real ``freqtrade trade`` process (dry-run, or live with fake API keys) and ccxt's
unmodified ``binance`` client (sync, ``ccxt.async_support`` and ``ccxt.pro``) against a
deterministic exchange on this machine. Point ccxt at it with :func:`ccxt_overrides`, which
is meant for Freqtrade's ``exchange.ccxt_config`` / ``exchange.ccxt_async_config``::

    python -m binance_standin --port 0 --datadir ../shared/data/binance \\
        --timeframe 1h --start 2024-01-01 --balance USDT=10000 --balance BTC=0.5 \\
        [--fee 0.001] [--key simkey --secret simsecret] [--spread 0.0005] [--depth 50000] \
        [--speed 1]

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
  ``margin/isolated/allPairs`` (empty), ``system/status`` (normal; ``{"status": 1, "msg":
  "system maintenance"}`` during a ``maintenance`` fault).
* Binance's request weight limit (``weights``): every request costs the weight Binance documents
  for it (order book by ``limit``, tickers by symbol count, ``account`` 20, ...), counted per
  calendar minute for the one IP every client shares; ``X-MBX-USED-WEIGHT-1M`` on every answer.
  Past ``--weight-limit`` (default 6000, Binance's) a request is answered HTTP 429 ``-1003``
  with ``Retry-After``; a client that goes on sending is banned: HTTP 418 for 2 minutes, doubled
  at each new ban. So a test that uses too much weight fails loudly.
* Binance's order-count limits per account (``orderlimits``): new orders per calendar 10 s
  (``--order-limit-10s``, default 50) and per UTC day (``--order-limit-day``, default 160 000);
  only accepted orders count, and an order's first fill gives its count back, as Binance
  documents (``--order-count-no-fill-credit``: every order counts).
  ``X-MBX-ORDER-COUNT-10S``/``-1D`` on every order answer; beyond a limit HTTP 429 ``-1015``
  "Too many new orders; current limit is 50 orders per 10 SECOND." without ``Retry-After``.
  ``exchangeInfo``'s ``rateLimits`` give the limits enforced.
* anything else answers HTTP 404 with a plain-text body and a WARNING log line
  ("UNEXPECTED request"), and is listed in ``/sim/state`` ``unexpected_requests`` - so a
  request that would have gone to a part of Binance the sim does not model is visible.
  :func:`ccxt_overrides` points *every* ccxt binance API URL (futures, options, sapi,
  websockets) at the sim, so nothing can leave 127.0.0.1 (ccxt's testnet/demo URLs are only
  used in sandbox/demo mode, which Freqtrade never enables for Binance).

What it does NOT serve: websockets (ccxt.pro ``watch_*``; run Freqtrade with
``"enable_ws": false``), futures/margin/options, user data streams, stop/take-profit and OCO
orders (answered ``-1014 Unsupported order combination.``), ``trades``/``aggTrades``,
``ticker`` (rolling window), 1M klines, order amendments. Self-trade prevention and iceberg
orders are checked as Binance checks them and shown in every answer (``selfTradePreventionMode``,
``icebergQty``) but never act: the one account trades only against the synthetic book.

Market data: history replayed in the present
--------------------------------------------
``--datadir`` holds Freqtrade feather candles ``{BASE}_{QUOTE}-{timeframe}.feather``
(date/open/high/low/close/volume). Tradable symbols = a candle file AND an entry in
``rebalance_plugin/data/binance_exchange_info.json`` (Binance's real filters; served as-is,
status TRADING, until ``POST /sim/symbol`` says otherwise).

* Clock: historical time = wall time - ``offset``, where ``offset`` is the whole number of days
  that maps ``--start`` onto the moment the sim started (default start: 30 days before the
  earliest "last candle" among the symbols, so every symbol has real data for 30 days). Whole
  days keep candle boundaries where Binance has them (1h candles open on the hour, 1d at
  00:00 UTC); hence history at start-up is ``--start`` plus the current UTC time of day.
* Accelerated replay (``--speed N``, ``SimExchange(speed=N)``, the soak's clock): from start-up
  history runs N times faster than the wall clock (``--speed 2400``: an hour of candles every
  1.5 s). The price path (tickers, book, fills) follows it; every time served stays on the
  wall clock (order times, ``serverTime``, tickers' ``closeTime``, fault windows, signatures),
  and ``klines`` are re-dated onto the wall clock's grid: the candle of the replay's "now" opens
  at the wall clock's current candle, the ones before it one candle apart, so a real bot that
  checks candles against its own clock (Freqtrade's refresh, "Outdated history") keeps
  working. A bot refreshes its candles when its own clock enters a new candle: between two
  refreshes its dataframe lags the replay (its decisions use the tickers; FreqUI's chart of an
  accelerated run mixes the candles of successive downloads).
* Price of a symbol = linear interpolation from open to close of the ``--timeframe`` candle
  that contains the historical time (the finest timeframe on disk if that one is missing),
  rounded to the tick size. Past the end of a symbol's data it stays at the last close.
* ``klines`` returns the file's candles at shifted times, up to and including the current,
  partial candle: its close is the current price (overrides included), its high/low include
  the path so far, its volume is pro rata. Timeframes not on disk are resampled from the
  coarsest on-disk timeframe that divides them (1h -> 2h/4h/6h/8h/12h, 1d -> 3d/1w), or
  split from the finest on-disk timeframe they divide, along the open -> close path of the
  price model (1m from 5m; synthetic: high and low are the path's); otherwise ``-1120
  Invalid interval.``. Past the end of the data, candles are flat at the last
  close with volume 0. Finer-than-price timeframes (5m with ``--timeframe 1h``) are served from
  their own file and are not forced onto the interpolated price path (use the finest timeframe
  the strategy needs as ``--timeframe``).
* Test control: a fixed price or a multiplier of the candle price per symbol
  (``POST /sim/price``); applied to tickers, order book, matching and the klines: the stand-in
  keeps the path of the prices it served (``market.py``), so a candle that closes while a price
  is held or moved carries that price, as the current one does.

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
  per-symbol order ids, the RAW_REQUESTS limit, BNB fee discount.

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
  - ``chase``: the market moves away before the next LIMIT order meets the book: its symbol's
    price moves ``bps`` (default 10) against it (up for a buy, down for a sell) and stays
    there, so a limit priced at the touch quoted before misses (a slow client on a moving
    price). MARKET orders do not consume it. Default filter: ``POST /api/v3/order``.
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

  The exchange's own troubles (Binance dialect only; they match any request unless
  ``path``/``method`` say otherwise, and never process it):

  - ``maintenance``: every ``/api/v3`` and ``/sapi`` request is answered HTTP 503
    ``{"code": 1, "msg": "System is under maintenance."}`` (ccxt: ``OnMaintenance``, an
    ``ExchangeNotAvailable``), except ``GET /sapi/v1/system/status``, which answers 200
    ``{"status": 1, "msg": "system maintenance"}`` (ccxt ``fetch_status``: "maintenance").
    Binance documents the status endpoint; the 503 body is the one ccxt's Binance error table
    records.
  - ``clock``: every signed request (after its signature is checked) is refused HTTP 400
    ``{"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}``, as
    when the client's clock has drifted (ccxt: ``InvalidNonce``); public requests pass.
  - ``stale``: the market-data endpoints (``ticker/24hr``, ``ticker/price``,
    ``ticker/bookTicker``, ``depth``, ``klines``/``uiKlines``) answer with the data as of the
    fault's start (its arming): prices, book, candles, the tickers' ``closeTime`` and the
    book's ``lastUpdateId`` frozen there, while the real path moves on underneath (orders fill
    at the real price) and is served again when the fault ends.

  A time window instead of a count: ``"seconds": S`` makes any fault fire on every matching
  request for S seconds of the stand-in's clock from arming (``count`` is then ignored); without
  it ``count`` keeps its meaning. For ``timeout``, whose ``seconds`` is its sleep, the window is
  ``"window": S`` (accepted by every kind). A fault's ``until`` (ms) says when its window ends;
  ended ones leave ``faults_pending``. Every firing is logged in ``faults_fired``.
* ``POST /sim/symbol`` ``{"symbol": "SOLUSDT", "status": "BREAK"|"HALT"|"TRADING"|"REMOVED"}``:
  a coin stops trading, is delisted, or trades again. ``BREAK``/``HALT``: exchangeInfo shows
  the status (ccxt: the market is not ``active``); new orders and test orders are refused HTTP
  400 ``{"code": -1013, "msg": "Market is closed."}`` (ccxt: ``MarketClosed``, an
  ``OperationRejected``); resting orders are not matched, cancels and queries work; the price
  is held where it was (tickers, book, the candles of the halt flat with volume 0; a
  ``/sim/price`` set meanwhile applies when it trades again). ``REMOVED`` also takes the symbol
  out of exchangeInfo and of the all-symbols answers, cancels its resting orders (Binance
  removes a delisted pair's orders; the coin stays in the account), and every request naming
  it is answered HTTP 400 ``{"code": -1121, "msg": "Invalid symbol."}`` (ccxt: ``BadSymbol``).
  ``TRADING`` restores everything (``REMOVED`` -> ``TRADING`` lists it again); the price
  follows its path (or override) from then on. ``/sim/state`` ``prices`` carry each
  ``status``.
* ``POST /sim/rules`` ``{"symbol": ..., "tickSize"?, "stepSize"?, "minQty"?, "minNotional"?}``:
  the exchange changes a pair's rules. exchangeInfo serves the new PRICE_FILTER ``tickSize``,
  LOT_SIZE ``stepSize``/``minQty``, NOTIONAL (or MIN_NOTIONAL) ``minNotional`` (8-decimal
  strings; ``minPrice``/``minQty`` rounded up onto a new grid); prices are quoted on the new
  tick and new orders are checked against the new filters (-1013 "Filter failure: ..." as
  above). Answers the symbol's exchangeInfo entry.
* ``GET /sim/weights`` -> the weight limit, the largest weight of a calendar minute and of any
  rolling 60 s, the 429/418 answered, and every minute's weight and requests, per endpoint and
  per client (the ``X-Sim-Client`` request header, e.g. ccxt's ``"headers"`` config; ``-``
  without it). ``POST /sim/weights`` ``{"reset": true}`` and/or ``{"limit": 6000}``: forget the
  counts and bans, set the limit. ``/sim/state`` carries the summary as ``weights``.
* ``GET /sim/limits`` -> the order counts (largest unfilled count and most new orders per 10 s
  and per day, -1015 refusals, every 10-s window with an order, per client), the weight
  summary, and ``refusals``: every request answered 418 or 429 (by a limit or a fault) with its
  time. ``POST /sim/limits`` ``{"per_10s": 3, "per_day": 100, "fill_credit": false}`` and/or
  ``{"reset": true}``. ``POST /sim/ban`` ``{"seconds": 20}``: an IP ban from now (every request
  answered 418, ``Retry-After`` the seconds left). ``/sim/state`` carries ``order_counts``.
* ``POST /sim/reset`` ``{}`` or ``{"balances": {"USDT": 1000}}``: every symbol trading under
  its start-up rules, fresh account, no orders,
  faults or price overrides (the clock keeps running).

Modules
-------
``exchange`` (:class:`SimExchange`) assembles, over one lock, ``candles`` (history replayed in
the present), ``market`` (prices, book, public endpoints), ``account`` (balances, orders,
trades), ``faults`` and ``weights`` (the request weight limit), and the three parts that answer
the requests: ``public`` (the market-data endpoints), ``trading`` (the account and order
endpoints: ``filters``, one check per Binance filter, then ``matching``, the synthetic book and
fills) and ``control.Controls`` (what the control API does). ``routes`` and ``control`` are the
HTTP side, ``server`` runs it (:func:`start_server`, :func:`ccxt_overrides`), ``__main__`` is
the command line. A development tool: it is not part of the shipped ``rebalance_plugin``
package.

A second dialect, Kraken's spot REST API, is served over the same market, account, matching,
candles and faults: ``binance_standin.kraken`` (``--dialect kraken``,
``start_server(..., dialect="kraken")``; its module docstring says what it serves).
"""

from __future__ import annotations

from binance_standin.candles import Candles, CandleStore, Replay
from binance_standin.common import (
    DAY,
    HOST,
    HOUR,
    INTERVALS,
    MINUTE,
    SECOND,
    load_exchange_info,
    normalize_symbol,
)
from binance_standin.errors import BinanceError
from binance_standin.exchange import SimExchange
from binance_standin.faults import FAULT_KINDS, NET_FAULTS, ORDER_FAULTS
from binance_standin.filters import FILTER_CHECKS, SymbolRules, validate_order
from binance_standin.orders import Order
from binance_standin.server import SimHTTPServer, ccxt_overrides, start_server

__all__ = [
    "DAY",
    "FAULT_KINDS",
    "FILTER_CHECKS",
    "HOST",
    "HOUR",
    "INTERVALS",
    "MINUTE",
    "NET_FAULTS",
    "ORDER_FAULTS",
    "SECOND",
    "BinanceError",
    "CandleStore",
    "Candles",
    "Order",
    "Replay",
    "SimExchange",
    "SimHTTPServer",
    "SymbolRules",
    "ccxt_overrides",
    "load_exchange_info",
    "normalize_symbol",
    "start_server",
    "validate_order",
]
