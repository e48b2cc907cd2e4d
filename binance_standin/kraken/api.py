"""Kraken's REST endpoints over the stand-in's exchange-agnostic parts: the market (prices,
synthetic book, candles), the account (:class:`~binance_standin.account.Ledger`), the matching
engine and the faults of one :class:`~binance_standin.exchange.SimExchange`.

Each endpoint takes the request's parameters (strings) and returns the ``result`` of Kraken's
``{"error": [], "result": ...}`` answer, or raises :class:`KrakenError`. Every method holds the
exchange's one lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any

from binance_standin.common import DAY, ZERO, dec, decimals, floor_to, iso, new_client_id
from binance_standin.exchange import SimExchange
from binance_standin.filters import NewOrder
from binance_standin.kraken.formats import (
    KrakenError,
    OrderExtra,
    description,
    invalid,
    num,
    order_entry,
    sim_id,
    status,
    trade_entry,
    trade_txid,
    txid,
)
from binance_standin.kraken.pairs import (
    ASSETS,
    PAIRS,
    KrakenPair,
    asset_decimals,
    asset_id,
    asset_info,
    asset_pair,
    by_kraken_name,
)
from binance_standin.matching import Levels, plan_fills, settle_status, walk
from binance_standin.orders import Order

log = logging.getLogger(__name__)

#: Kraken's OHLC intervals (minutes) and the stand-in's timeframes; 21600 (15 days) is not
#: served.
OHLC_INTERVALS = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h", 240: "4h", 1440: "1d",
                  10080: "1w"}  # fmt: skip
#: Kraken answers at most the 720 most recent candles, whatever ``since`` says.
OHLC_LIMIT = 720
ORDER_TYPES = ("market", "limit")
#: Kraken's order types the stand-in does not simulate (refused, and logged).
UNSIMULATED = ("stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit",
               "trailing-stop", "trailing-stop-limit", "iceberg", "settle-position")  # fmt: skip
CLOSED_PAGE = 50  # ClosedOrders answers 50 orders a page


def insufficient() -> KrakenError:
    return KrakenError("EOrder:Insufficient funds")


@dataclass(frozen=True)
class Request:
    """An ``AddOrder`` request, parsed and checked against the pair's rules."""

    pair: KrakenPair
    side: str  # BUY / SELL
    type: str  # MARKET / LIMIT
    tif: str  # GTC / IOC
    volume: Decimal  # base coin; quote coin for a viqc market order
    price: Decimal | None
    extra: OrderExtra
    validate: bool

    def new_order(self, sim: SimExchange) -> NewOrder:
        rules = sim.market.rules[self.pair.symbol]
        qty, quote = (None, self.volume) if self.extra.viqc else (self.volume, None)
        client_id = self.extra.cl_ord_id or new_client_id()
        return NewOrder(
            rules, self.side, self.type, self.tif, qty, quote, self.price, client_id, "FULL"
        )


class KrakenAPI:
    """Kraken's public and private endpoints on ``sim``'s market and account.

    Orders and trades are the account's (``/sim/state`` shows them with the stand-in's
    integer ids; Kraken's ids are :func:`~binance_standin.kraken.formats.txid` of them).
    """

    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim
        self._lock = sim._lock
        self.pairs = {sym: PAIRS[sym] for sym in sorted(sim.rules) if sym in PAIRS}
        self.extras: dict[int, OrderExtra] = {}

    # ---------------------------------------------------------------- lookups
    def pair(self, name: str | None) -> KrakenPair:
        """The served pair a request names (pair id, altname or wsname)."""
        if not name:
            raise invalid()
        pair = by_kraken_name(name)
        if pair is None or pair.symbol not in self.pairs:
            raise KrakenError("EQuery:Unknown asset pair")
        return pair

    def wanted(self, names: str | None) -> list[KrakenPair]:
        """The pairs of a comma-separated ``pair`` parameter, or every served pair."""
        if not names:
            return list(self.pairs.values())
        return [self.pair(n) for n in names.split(",")]

    def extra(self, order: Order) -> OrderExtra:
        return self.extras.setdefault(order.order_id, OrderExtra())

    def _order(self, kraken_id: str) -> Order | None:
        n = sim_id(kraken_id)
        order = self.sim.ledger.orders.get(n) if n is not None else None
        return order if order is not None and order.symbol in self.pairs else None

    def _entry(self, order: Order, *, trades: bool, reason: bool) -> dict[str, Any]:
        return order_entry(
            order, self.pairs[order.symbol], self.extra(order), trades=trades, reason=reason
        )

    # ---------------------------------------------------------------- public
    def time(self, params: dict[str, str]) -> dict[str, Any]:
        now = self.sim.now_ms()
        return {"unixtime": now // 1000, "rfc1123": formatdate(now / 1000, usegmt=True)}

    def system_status(self, params: dict[str, str]) -> dict[str, Any]:
        return {"status": "online", "timestamp": (iso(self.sim.now_ms()) or "")[:19] + "Z"}

    def assets(self, params: dict[str, str]) -> dict[str, Any]:
        """The served pairs' coins (``asset``: a comma-separated choice of them)."""
        served = {p.base for p in self.pairs.values()} | {p.quote for p in self.pairs.values()}
        chosen = served
        if params.get("asset"):
            chosen = {asset_id(a) if a not in ASSETS else a for a in params["asset"].split(",")}
            if not chosen <= served:
                raise KrakenError("EQuery:Unknown asset")
        return {a: asset_info(ASSETS[a]) for a in sorted(chosen)}

    def asset_pairs(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            taker, maker = self.sim.ledger.fee, self.sim.ledger.maker_fee or self.sim.ledger.fee
            return {p.pair_id: asset_pair(p, taker, maker) for p in self.wanted(params.get("pair"))}

    def ticker(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            return {p.pair_id: self._ticker(p) for p in self.wanted(params.get("pair"))}

    def _ticker(self, pair: KrakenPair) -> dict[str, Any]:
        market, replay, sym = self.sim.market, self.sim.replay, pair.symbol
        now = replay.now_ms()
        p = market.price(sym)
        (bid, bid_qty), (ask, ask_qty) = (side[0] for side in market.book(sym))
        midnight = replay.candle_price(sym, now // DAY * DAY)
        open_today = max(floor_to(dec(midnight), pair.tick), pair.tick)
        highs, lows, volume, quote_volume = replay.day_window(sym, now)
        high = max([*highs, float(p), float(open_today)])
        low = min([*lows, float(p), float(open_today)])
        vwap = quote_volume / volume if volume else float(p)
        digits = max(pair.pair_decimals, 5)
        trades = 0 if volume <= 0 else 1 + int(quote_volume // 1000)

        def px(x: Decimal | float) -> str:
            return num(x, digits)

        def lot(q: Decimal) -> list[str]:  # whole lot volume, lot volume
            return [str(int(q)), num(q, 3)]

        return {
            "a": [px(ask), *lot(ask_qty)],
            "b": [px(bid), *lot(bid_qty)],
            "c": [px(p), num(floor_to(Decimal(100) / p, pair.step), 8)],
            "v": [num(volume, 8), num(volume, 8)],
            "p": [px(vwap), px(vwap)],
            "t": [trades, trades],
            "l": [px(low), px(low)],
            "h": [px(high), px(high)],
            "o": px(open_today),
        }

    def depth(self, params: dict[str, str]) -> dict[str, Any]:
        """The book of ``pair``, ``count`` levels each side (1..500, default 100; the
        stand-in's book has ``levels`` levels)."""
        with self._lock:
            pair = self.pair(params.get("pair"))
            count = _int(params, "count", 100)
            if count < 1 or count > 500:
                raise invalid("count")
            bids, asks = self.sim.market.book(pair.symbol)
            now = self.sim.now_ms() // 1000

            def levels(side: Levels) -> list[list[Any]]:
                return [
                    [num(px, pair.pair_decimals), num(q, pair.lot_decimals), now]
                    for px, q in side[:count]
                ]

            return {pair.pair_id: {"asks": levels(asks), "bids": levels(bids)}}

    def ohlc(self, params: dict[str, str]) -> dict[str, Any]:
        """The 720 most recent candles (the last one the current, partial candle), those after
        ``since`` (seconds) only; ``last``: the last complete candle's time."""
        with self._lock:
            pair = self.pair(params.get("pair"))
            minutes = _int(params, "interval", 1)
            interval = OHLC_INTERVALS.get(minutes)
            if interval is None:
                raise invalid("interval")
            since = _int(params, "since", 0)
            klines = self.sim.market.klines(pair.symbol, interval, None, None, OHLC_LIMIT)
            rows = [_candle(k, pair) for k in klines]
            last = (klines[-1][0] // 1000 - minutes * 60) if klines else 0
            return {pair.pair_id: [r for r in rows if r[0] > since], "last": str(last)}

    # ---------------------------------------------------------------- account
    def _balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(total, held) per served coin and every coin the account has held."""
        ledger = self.sim.ledger
        codes = {ASSETS[p.base].code for p in self.pairs.values()} | {"USDT"}
        held = set(ledger.free) | set(ledger.locked)
        codes |= {a for a in held if ledger.free[a] or ledger.locked[a]}
        return {c: (ledger.free[c] + ledger.locked[c], ledger.locked[c]) for c in sorted(codes)}

    def balance(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            return {
                asset_id(c): num(total, asset_decimals(c))
                for c, (total, _) in self._balances().items()
            }

    def balance_ex(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            return {
                asset_id(c): {
                    "balance": num(total, asset_decimals(c)),
                    "hold_trade": num(held, asset_decimals(c)),
                }
                for c, (total, held) in self._balances().items()
            }

    def trade_volume(self, params: dict[str, str]) -> dict[str, Any]:
        """The account's fee per pair (``pair``): the first tier, volume 0."""
        with self._lock:
            ledger = self.sim.ledger
            maker = ledger.maker_fee if ledger.maker_fee is not None else ledger.fee

            def fee(rate: Decimal) -> dict[str, str]:
                pct = num(rate * 100, 4)
                return {
                    "fee": pct,
                    "minfee": pct,
                    "maxfee": pct,
                    "nextfee": pct,
                    "tiervolume": "0.0000",
                    "nextvolume": "50000.0000",
                }

            pairs = self.wanted(params.get("pair")) if params.get("pair") else []
            return {
                "currency": "ZUSD",
                "volume": "0.0000",
                "fees": {p.pair_id: fee(ledger.fee) for p in pairs},
                "fees_maker": {p.pair_id: fee(maker) for p in pairs},
            }

    # ---------------------------------------------------------------- new orders
    def add_order(self, params: dict[str, str], fault: Any = None) -> dict[str, Any]:
        """``AddOrder``: Kraken's checks (arguments, ``ordermin``, ``costmin``, funds), then
        the order meets the synthetic book as a Binance order would. ``fault(kinds, applies)``
        claims a ``chase``/``partial``/``expire`` fault of the request, if one is armed."""
        with self._lock:
            self.sim.trading.tick()
            req = parse_add_order(params, self.pair(params.get("pair")))
            current = self.sim.market.price(req.pair.symbol)
            check_minimums(req, current)
            new = req.new_order(self.sim)
            full = self._affordable(new)
            text = description(_preview(new, req.extra), req.pair, req.extra)
            if req.validate:
                return {"descr": {"order": text}}
            if req.extra.post and self._takes(new):
                order = self.sim.ledger.open(new, None)
                self.sim.ledger.cancel(order)
                req.extra.reason = "Post only order"
            else:
                order = self._place(new, full, req, fault)
            self.extras[order.order_id] = req.extra
            log.info(
                "kraken order %s %s -> %s executed=%s",
                txid(order.order_id),
                text,
                status(order),
                order.executed,
            )
            return {"descr": {"order": text}, "txid": [txid(order.order_id)]}

    def _affordable(self, new: NewOrder) -> Levels | None:
        """A market order's complete walk of the book; Kraken's funds check."""
        full = None
        if new.type == "MARKET":
            book = self.sim.market.book(new.rules.symbol)
            full = walk(book, new.rules, new.side, qty=new.qty, quote=new.quote_qty, beyond=True)
        if not self.sim.ledger.can_afford(new, full or []):
            raise insufficient()
        return full

    def _takes(self, new: NewOrder) -> bool:
        book = self.sim.market.book(new.rules.symbol)
        return bool(walk(book, new.rules, new.side, qty=new.qty, limit=new.price))

    def _place(self, new: NewOrder, full: Levels | None, req: Request, fault: Any) -> Order:
        """Faults first (``chase`` moves the market before a limit order meets the book;
        ``partial``/``expire``), then the fills, the status and what stays locked."""
        taker = new.type == "MARKET" or new.tif == "IOC"
        if new.type == "LIMIT" and fault is not None:
            self._chase(new, fault(("chase",), None))
        claimed = (
            fault(("partial", "expire"), lambda f: f["kind"] == "partial" or taker)
            if fault is not None
            else None
        )
        kind = claimed[0] if claimed else None
        rules = new.rules
        plan, maker_fill = plan_fills(
            lambda: self.sim.market.book(rules.symbol), rules, new.side, new.type, new.tif,
            new.qty, new.quote_qty, new.price, full, kind,
        )  # fmt: skip
        order = self.sim.ledger.open(new, kind["kind"] if kind else None)
        for px, q in plan:
            self.sim.ledger.fill(order, rules, px, q, maker=False)
        if maker_fill > 0:
            assert new.price is not None
            self.sim.ledger.fill(order, rules, new.price, maker_fill, maker=True)
        if new.type == "MARKET" and new.quote_qty is not None:
            order.orig_qty = order.executed
        settle_status(order, kind)
        if not order.is_open:
            self.sim.ledger.release(order)
            if order.status == "EXPIRED":
                req.extra.reason = "Insufficient liquidity"
        if claimed:
            claimed[1]["orderId"] = order.order_id
            claimed[1]["effect"] = (
                f"{new.type} {new.tif} {new.side} {rules.symbol}: filled {order.executed}, "
                f"status {status(order)}" + (" (rest held open)" if order.held else "")
            )
        return order

    def _chase(self, new: NewOrder, chased: Any) -> None:
        if not chased:
            return
        symbol = new.rules.symbol
        before = self.sim.market.price(symbol)
        bps = Decimal(str(chased[0]["bps"])) / Decimal(10_000)
        self.sim.market.move(symbol, 1 + bps if new.side == "BUY" else 1 - bps)
        chased[1]["effect"] = (
            f"{symbol} moved {before} -> {self.sim.market.price(symbol)} before the limit "
            f"{new.side.lower()} at {new.price} met the book"
        )

    # ---------------------------------------------------------------- orders
    def query_orders(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            ids = [t for t in params.get("txid", "").split(",") if t]
            if not ids or len(ids) > 50:
                raise invalid()
            trades = _flag(params, "trades")
            out = {}
            for kraken_id in ids:
                order = self._order(kraken_id)
                if order is None:
                    raise KrakenError("EOrder:Unknown order")
                out[kraken_id] = self._entry(order, trades=trades, reason=True)
            return out

    def open_orders(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            trades = _flag(params, "trades")
            return {
                "open": {
                    txid(o.order_id): self._entry(o, trades=trades, reason=False)
                    for o in self.sim.ledger.open_orders()
                    if o.symbol in self.pairs
                }
            }

    def closed_orders(self, params: dict[str, str]) -> dict[str, Any]:
        """Closed and canceled orders, the most recent first, 50 a page (``ofs``), closed in
        ``start`` .. ``end`` (seconds) if given."""
        with self._lock:
            start, end = _int(params, "start", 0), _int(params, "end", 0)
            closed = [
                o
                for o in reversed(self.sim.ledger.orders.values())
                if not o.is_open
                and o.symbol in self.pairs
                and o.update_time // 1000 >= start
                and (not end or o.update_time // 1000 <= end)
            ]
            ofs, trades = _int(params, "ofs", 0), _flag(params, "trades")
            page = closed[ofs : ofs + CLOSED_PAGE]
            return {
                "closed": {
                    txid(o.order_id): self._entry(o, trades=trades, reason=True) for o in page
                },
                "count": len(closed),
            }

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.sim.trading.tick()
            wanted = params.get("txid") or ""
            order = self._order(wanted)
            if order is None and params.get("cl_ord_id"):
                order = next(
                    (o for o in self.sim.ledger.orders.values()
                     if self.extra(o).cl_ord_id == params["cl_ord_id"]), None,
                )  # fmt: skip
            if order is None or not order.is_open:
                raise KrakenError("EOrder:Unknown order")
            self.sim.ledger.cancel(order)
            self.extra(order).reason = "User requested"
            return {"count": 1, "pending": False}

    def cancel_all(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.sim.trading.tick()
            victims = [o for o in self.sim.ledger.open_orders() if o.symbol in self.pairs]
            for order in victims:
                self.sim.ledger.cancel(order)
                self.extra(order).reason = "User requested"
            return {"count": len(victims)}

    # ---------------------------------------------------------------- trades
    def _trade_entries(self) -> dict[str, dict[str, Any]]:
        orders = self.sim.ledger.orders
        return {
            trade_txid(t["id"]): trade_entry(t, orders[t["orderId"]], self.pairs[t["symbol"]])
            for t in self.sim.ledger.trades
            if t["symbol"] in self.pairs
        }

    def trades_history(self, params: dict[str, str]) -> dict[str, Any]:
        """The account's fills, the most recent first, 50 a page (``ofs``), in ``start`` ..
        ``end`` (seconds) if given."""
        with self._lock:
            start, end = _int(params, "start", 0), _int(params, "end", 0)
            chosen = [
                (k, v)
                for k, v in reversed(self._trade_entries().items())
                if v["time"] >= start and (not end or v["time"] <= end)
            ]
            ofs = _int(params, "ofs", 0)
            return {"trades": dict(chosen[ofs : ofs + CLOSED_PAGE]), "count": len(chosen)}

    def query_trades(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            ids = [t for t in params.get("txid", "").split(",") if t]
            if not ids or len(ids) > 20:
                raise invalid()
            entries = self._trade_entries()
            missing = [t for t in ids if t not in entries]
            if missing:
                raise invalid("txid")
            return {t: entries[t] for t in ids}


# ---------------------------------------------------------------------------- the checks
def parse_add_order(params: dict[str, str], pair: KrakenPair) -> Request:
    """The arguments of ``AddOrder``, each checked as Kraken does (``EGeneral:Invalid
    arguments:<name>``; price decimals: ``EOrder:Invalid price``)."""
    side = params.get("type")
    if side not in ("buy", "sell"):
        raise invalid("type")
    ordertype = params.get("ordertype")
    if ordertype in UNSIMULATED:
        log.warning("kraken order type %s is not simulated: refused", ordertype)
    if ordertype not in ORDER_TYPES:
        raise invalid("ordertype")
    flags = {f for f in (params.get("oflags") or "").split(",") if f}
    if flags - {"post", "fcib", "fciq", "nompp", "viqc"}:
        raise invalid("oflags")
    viqc = "viqc" in flags
    if viqc and (ordertype != "market" or side != "buy"):
        raise invalid("viqc")
    volume = _decimal(params, "volume")
    if volume is None or volume <= 0 or decimals(volume) > (8 if viqc else pair.lot_decimals):
        raise invalid("volume")
    price = _price(params, pair) if ordertype == "limit" else None
    tif = (params.get("timeinforce") or "GTC").upper()
    if tif not in ("GTC", "IOC"):  # GTD is not simulated
        raise invalid("timeinforce")
    if "post" in flags and (ordertype != "limit" or tif != "GTC"):
        raise invalid("oflags")
    userref = _int(params, "userref", 0)
    extra = OrderExtra(userref, params.get("cl_ord_id") or None, "post" in flags, viqc)
    return Request(
        pair,
        side.upper(),
        ordertype.upper(),
        tif if ordertype == "limit" else "GTC",
        volume,
        price,
        extra,
        _flag(params, "validate"),
    )


def _price(params: dict[str, str], pair: KrakenPair) -> Decimal:
    price = _decimal(params, "price")
    if price is None or price <= 0:
        raise invalid("price")
    if decimals(price) > pair.pair_decimals or price % pair.tick != 0:
        raise KrakenError(
            f"EOrder:Invalid price:{pair.altname} price can only be specified up to "
            f"{pair.pair_decimals} decimals."
        )
    return price


def check_minimums(req: Request, current: Decimal) -> None:
    """Kraken's minimums: the volume (``ordermin``, base coin) and the cost (``costmin``,
    quote coin: volume x limit price, or x the current price for a market order)."""
    pair = req.pair
    if req.extra.viqc:
        cost = req.volume
    else:
        if req.volume < Decimal(pair.ordermin):
            raise KrakenError("EOrder:Order minimum not met")
        cost = req.volume * (req.price if req.price is not None else current)
    if cost < Decimal(pair.costmin):
        raise KrakenError("EOrder:Cost minimum not met")


# ---------------------------------------------------------------------------- helpers
def _preview(new: NewOrder, extra: OrderExtra) -> Order:
    """An order record to describe a new order before it exists."""
    return Order(
        0, new.client_id, new.rules.symbol, new.side, new.type, new.tif,
        new.price if new.price is not None else ZERO, new.qty or ZERO, new.quote_qty or ZERO, 0,
    )  # fmt: skip


def _candle(kline: list[Any], pair: KrakenPair) -> list[Any]:
    """A Binance kline as Kraken's OHLC row: time (s), open, high, low, close, vwap, volume,
    count."""
    o, h, l, c = (Decimal(x) for x in kline[1:5])  # noqa: E741 - OHLC naming
    volume, quote_volume = Decimal(kline[5]), Decimal(kline[7])
    vwap = quote_volume / volume if volume > 0 else c
    d = pair.pair_decimals
    return [kline[0] // 1000, num(o, d), num(h, d), num(l, d), num(c, d), num(vwap, d),
            num(volume, 8), int(kline[8])]  # fmt: skip


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise invalid(name) from None


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise invalid(name) from None
    if not value.is_finite():
        raise invalid(name)
    return value


def _flag(params: dict[str, str], name: str) -> bool:
    return (params.get(name) or "").lower() in ("true", "1")
