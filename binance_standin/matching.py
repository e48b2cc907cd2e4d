"""Matching against the synthetic order book: the book around the current price, the taker
fills an order gets from it, and the status an order ends with."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from binance_standin.common import BP, ZERO, ceil_to, dec, floor_to
from binance_standin.filters import SymbolRules
from binance_standin.orders import Order

#: price levels best first, as (price, quantity)
Levels = list[tuple[Decimal, Decimal]]
#: (bids, asks)
Book = tuple[Levels, Levels]


def synthetic_book(
    rules: SymbolRules, p: Decimal, spread: Decimal, level_value: Decimal, levels: int
) -> Book:
    """(bids, asks) around the price ``p``: best bid ``p*(1-spread/2)`` rounded down to the
    tick, best ask ``p*(1+spread/2)`` rounded up (at least one tick apart), ``levels`` levels
    each side 1 bp (at least one tick) apart, each holding ``level_value`` quote value."""
    tick = rules.tick
    bid0 = floor_to(p * (1 - spread / 2), tick)
    ask0 = ceil_to(p * (1 + spread / 2), tick)
    if ask0 <= bid0:
        ask0 = bid0 + tick
    gap = max(tick, ceil_to(p * BP, tick))
    qty = lambda px: floor_to(level_value / px, rules.step)  # noqa: E731
    bids = [(px, qty(px)) for px in (bid0 - i * gap for i in range(levels)) if px > 0]
    asks = [(px, qty(px)) for px in (ask0 + i * gap for i in range(levels))]
    return bids, asks


def walk(
    book: Book,
    rules: SymbolRules,
    side: str,
    *,
    qty: Decimal | None = None,
    quote: Decimal | None = None,
    limit: Decimal | None = None,
    beyond: bool = False,
) -> Levels:
    """Taker fills against ``book`` (bids, asks): (price, qty) per level touched.

    ``qty`` or ``quote`` bounds the total; ``limit`` stops at levels that do not cross;
    ``beyond`` fills what exceeds the book at the worst level's price (market orders).
    """
    bids, asks = book
    levels = asks if side == "BUY" else bids
    fills: Levels = []
    rem_q, rem_quote = qty, quote
    exhausted = True
    for px, level_qty in levels:
        if limit is not None and (
            (side == "BUY" and px > limit) or (side == "SELL" and px < limit)
        ):
            exhausted = False
            break
        q = level_qty if rem_q is None else min(level_qty, rem_q)
        if rem_quote is not None:
            q = min(q, floor_to(rem_quote / px, rules.step))
        if q > 0:
            fills.append((px, q))
            rem_q = None if rem_q is None else rem_q - q
            rem_quote = None if rem_quote is None else rem_quote - px * q
        if (rem_q is not None and rem_q <= 0) or (
            rem_quote is not None and floor_to(rem_quote / px, rules.step) <= 0
        ):
            exhausted = False
            break
    if exhausted and beyond and levels:
        px = levels[-1][0]
        if rem_q is not None:
            q = rem_q
        else:
            assert rem_quote is not None  # the walk is bounded by qty or by quote
            q = floor_to(rem_quote / px, rules.step)
        if q > 0:
            fills.append((px, q))
    return fills


def plan_fills(
    book: Callable[[], Book],
    rules: SymbolRules,
    side: str,
    otype: str,
    tif: str,
    qty: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
    full: Levels | None,
    fault: dict[str, Any] | None,
) -> tuple[Levels, Decimal]:
    """The taker fills of a new order and the quantity it gets as a maker fill at its limit
    price (a ``partial`` fault on a GTC that does not cross). ``full`` is a MARKET order's
    complete walk; ``fault`` the ``partial``/``expire`` fault it consumed, if any; ``book``
    gives the book as it is now."""
    if fault and fault["kind"] == "expire":
        return [], ZERO
    if otype == "MARKET":
        if fault:
            frac = dec(fault["fraction"])
            return walk(
                book(),
                rules,
                side,
                beyond=True,
                qty=None if qty is None else floor_to(qty * frac, rules.step),
                quote=None if quote_qty is None else quote_qty * frac,
            ), ZERO
        assert full is not None
        return full, ZERO
    assert qty is not None  # LIMIT and LIMIT_MAKER orders carry a quantity
    if fault:
        target = floor_to(qty * dec(fault["fraction"]), rules.step)
        plan = walk(book(), rules, side, qty=target, limit=price)
        return plan, target - sum(q for _, q in plan)
    plan = walk(book(), rules, side, qty=qty, limit=price)
    if tif == "FOK" and sum(q for _, q in plan) < qty:
        plan = []
    return plan, ZERO


def settle_status(order: Order, fault: dict[str, Any] | None) -> None:
    """Set a new order's status after its first fills (``held``: a ``partial`` GTC rest)."""
    if order.type == "MARKET":
        order.status = "EXPIRED" if fault else "FILLED"
    elif order.remaining <= 0:
        order.status = "FILLED"
    elif order.tif in ("IOC", "FOK"):
        order.status = "EXPIRED"
    else:
        order.status = "PARTIALLY_FILLED" if order.executed > 0 else "NEW"
        order.held = bool(fault)
