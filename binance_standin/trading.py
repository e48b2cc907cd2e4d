"""The signed account and order endpoints of the one account: validation, balance, the order
faults (``chase``, ``partial``, ``expire``), matching against the synthetic book, and the
resting orders the price moves through."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any

from binance_standin.account import Ledger
from binance_standin.common import fmt, new_client_id
from binance_standin.errors import BinanceError, insufficient, market_closed
from binance_standin.faults import FaultBook
from binance_standin.filters import NewOrder, SymbolRules, validate_order
from binance_standin.market import Market
from binance_standin.matching import Book, Levels, plan_fills, settle_status, walk
from binance_standin.orders import Order

log = logging.getLogger(__name__)

#: A fault claimed for a request: (the fault, its faults_fired entry - the caller fills in
#: ``effect``).
Claimed = tuple[dict[str, Any], dict[str, Any]]


class Trading:
    """Binance's ``account``, ``order`` (new, test, query, cancel), ``openOrders``,
    ``allOrders``, ``myTrades`` and ``asset/tradeFee`` on ``ledger``, priced by ``market``.

    Every public method holds ``lock`` (the exchange's one lock) and first fills the resting
    orders the price has moved through (:meth:`tick`), as Binance's matching engine would have.
    """

    def __init__(
        self,
        lock: threading.RLock,
        market: Market,
        ledger: Ledger,
        faults: FaultBook,
        fee: Decimal,
    ) -> None:
        self._lock = lock
        self.market, self.ledger, self.faults, self.fee = market, ledger, faults, fee

    # ---------------------------------------------------------------- account
    def account(self, omit_zero: bool = False) -> dict[str, Any]:
        with self._lock:
            rules = self.market.rules.values()
            assets = [a for r in rules for a in (r.base, r.quote)]
            return self.ledger.binance_account(assets, omit_zero)

    def trade_fees(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "symbol": s,
                    "makerCommission": format(self.fee.normalize(), "f"),
                    "takerCommission": format(self.fee.normalize(), "f"),
                }
                for s in self.market.wanted(symbol, None)
            ]

    # ---------------------------------------------------------------- new orders
    def test_order(self, params: dict[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order/test``: validation only."""
        with self._lock:
            rules = self._open_market(params.get("symbol"))
            price = self.market.price(rules.symbol)
            validate_order(params, rules, price, self.ledger.orders.values())
            return {}

    def new_order(
        self, params: dict[str, str], *, method: str = "POST", path: str = "/api/v3/order"
    ) -> dict[str, Any]:
        """``POST /api/v3/order``: validate, check balance, match, answer."""
        with self._lock:
            self.tick()
            rules = self._open_market(params.get("symbol"))
            price = self.market.price(rules.symbol)
            new = validate_order(params, rules, price, self.ledger.orders.values())
            full = self._affordable(new)  # before any fault: Binance would refuse it anyway
            if new.type == "LIMIT":
                self._chase(new, self.faults.claim(method, path, params, ("chase",)))
            taker = new.type == "MARKET" or new.tif in ("IOC", "FOK")
            claimed = self.faults.claim(
                method,
                path,
                params,
                ("partial", "expire"),
                applies=lambda f: f["kind"] == "partial" or taker,
            )
            order = self._match(new, full, claimed[0] if claimed else None)
            if claimed:
                claimed[1]["orderId"] = order.order_id
                claimed[1]["effect"] = _effect(new, order)
            _log_new(new, order)
            return order.binance_new(new.resp_type, order.time)

    def _open_market(self, symbol: str | None) -> SymbolRules:
        """The rules of a symbol that takes new orders (Binance's refusal for a halted one)."""
        rules = self.market.symbol_rules(symbol)
        if not self.market.trading(rules.symbol):
            raise market_closed()
        return rules

    def _affordable(self, new: NewOrder) -> Levels | None:
        """A MARKET order's complete walk of the book (None for the others), once the free
        balance is known to cover the order and a LIMIT_MAKER is known not to take."""
        symbol, rules = new.rules.symbol, new.rules
        full = (
            walk(
                self.market.book(symbol),
                rules,
                new.side,
                qty=new.qty,
                quote=new.quote_qty,
                beyond=True,
            )
            if new.type == "MARKET"
            else None
        )
        if not self.ledger.can_afford(new, full or []):
            raise insufficient()
        if new.type == "LIMIT_MAKER" and walk(
            self.market.book(symbol), rules, new.side, qty=new.qty, limit=new.price
        ):
            raise BinanceError(-2010, "Order would immediately match and take.")
        return full

    def _chase(self, new: NewOrder, chased: Claimed | None) -> None:
        """A ``chase`` fault: the market moves away before the LIMIT order meets the book."""
        if not chased:
            return
        symbol = new.rules.symbol
        before = self.market.price(symbol)
        bps = Decimal(str(chased[0]["bps"])) / Decimal(10_000)
        self.market.move(symbol, 1 + bps if new.side == "BUY" else 1 - bps)
        chased[1]["effect"] = (
            f"{symbol} moved {fmt(before)} -> {fmt(self.market.price(symbol))} "
            f"before the LIMIT {new.side} at {new.price} met the book"
        )

    def _match(self, new: NewOrder, full: Levels | None, fault: dict[str, Any] | None) -> Order:
        """Open the order, fill it against the book as it is now (``fault``: the ``partial``
        or ``expire`` it consumed) and settle its status and locked balance."""
        rules = new.rules

        def book() -> Book:
            return self.market.book(rules.symbol)

        plan, maker_fill = plan_fills(
            book,
            rules,
            new.side,
            new.type,
            new.tif,
            new.qty,
            new.quote_qty,
            new.price,
            full,
            fault,
        )
        order = self.ledger.open(new, fault["kind"] if fault else None)
        for px, q in plan:
            self.ledger.fill(order, rules, px, q, maker=False)
        if maker_fill > 0:
            assert new.price is not None
            self.ledger.fill(order, rules, new.price, maker_fill, maker=True)
        if new.type == "MARKET" and new.quote_qty is not None:
            order.orig_qty = order.executed
        settle_status(order, fault)
        if not order.is_open:
            self.ledger.release(order)
        return order

    # ---------------------------------------------------------------- resting orders
    def tick(self, include_held: bool = False) -> list[int]:
        """Fill resting orders the price has moved through; the ids filled."""
        with self._lock:
            filled = []
            for order in self.ledger.orders.values():
                if not order.is_open or (order.held and not include_held):
                    continue
                if not self.market.trading(order.symbol):
                    continue  # a halted market matches nothing
                p = self.market.price(order.symbol)
                if (order.side == "BUY" and p <= order.price) or (
                    order.side == "SELL" and p >= order.price
                ):
                    rules = self.market.rules[order.symbol]
                    self.ledger.fill(order, rules, order.price, order.remaining, maker=True)
                    order.status, order.held = "FILLED", False
                    self.ledger.release(order)
                    filled.append(order.order_id)
                    log.info(
                        "order %s %s %s resting at %s filled (price %s)",
                        order.order_id,
                        order.symbol,
                        order.side,
                        fmt(order.price),
                        fmt(p),
                    )
            return filled

    def _find(self, params: dict[str, str]) -> Order | None:
        rules = self.market.symbol_rules(params.get("symbol"))
        return self.ledger.find(params, rules.symbol)

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
            self.ledger.cancel(order)
            return order.binance_cancel(
                params.get("newClientOrderId") or new_client_id(), self.ledger.now_ms()
            )

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            if symbol is not None:
                self.market.symbol_rules(symbol)
            return [o.binance_query() for o in self.ledger.open_orders(symbol)]

    def cancel_open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.market.symbol_rules(symbol)
            victims = self.ledger.open_orders(rules.symbol)
            if not victims:
                raise BinanceError(-2011, "Unknown order sent.")
            out = []
            for order in victims:
                self.ledger.cancel(order)
                out.append(order.binance_cancel(new_client_id(), self.ledger.now_ms()))
            return out

    def all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.market.symbol_rules(params.get("symbol"))
            return self.ledger.all_orders(params, rules.symbol)

    def my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.market.symbol_rules(params.get("symbol"))
            return self.ledger.my_trades(params, rules.symbol)


def _effect(new: NewOrder, order: Order) -> str:
    """What a ``partial`` or ``expire`` fault did to the order (its faults_fired entry)."""
    return (
        f"{new.type} {new.tif} {new.side} {new.rules.symbol} "
        f"{fmt(order.orig_qty or new.quote_qty or 0)}: "
        f"filled {fmt(order.executed)}, status {order.status}"
        + (" (rest held open)" if order.held else "")
    )


def _log_new(new: NewOrder, order: Order) -> None:
    log.info(
        "order %s %s %s %s qty=%s price=%s -> %s executed=%s",
        order.order_id,
        new.rules.symbol,
        new.side,
        new.type + ("/" + new.tif if new.type == "LIMIT" else ""),
        fmt(order.orig_qty),
        fmt(order.price),
        order.status,
        fmt(order.executed),
    )
