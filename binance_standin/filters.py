"""Order validation: a symbol's exchangeInfo filters and the checks of a new order.

Binance checks a new order in this order: mandatory parameters (-1102), numbers (-1100),
precision (-1111), then its filters - PRICE_FILTER, PERCENT_PRICE_BY_SIDE, LOT_SIZE,
MARKET_LOT_SIZE, NOTIONAL/MIN_NOTIONAL, ICEBERG_PARTS, MAX_NUM_ORDERS, all -1013 "Filter
failure: X" - then the matching engine's refusals (-2010: iceberg orders, duplicate client id)
and last the balance (-2010, checked by the exchange). Each filter is one function of
:data:`FILTER_CHECKS` that returns Binance's error or None.

Self-trade prevention: an order carries the ``selfTradePreventionMode`` sent (one of the
symbol's ``allowedSelfTradePreventionModes``) or the symbol's
``defaultSelfTradePreventionMode``, and every answer about it says so, as Binance's do. It never
acts: the stand-in's one account only ever trades against the synthetic book, never against
its own resting orders. Likewise an iceberg order (``icebergQty``) is checked as Binance checks
it and shows its ``icebergQty``, but the synthetic book has no visible part to hide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from binance_standin.common import ZERO, ceil_to, decimals, fmt, new_client_id
from binance_standin.errors import (
    BinanceError,
    dec_param,
    filter_failure,
    mandatory,
    not_required,
)
from binance_standin.orders import Order

log = logging.getLogger(__name__)


@dataclass
class SymbolRules:
    """A symbol's exchangeInfo entry and its filters as decimals (0 = filter disabled)."""

    symbol: str
    base: str
    quote: str
    raw: dict[str, Any]
    tick: Decimal = Decimal("0.00000001")
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    step: Decimal = Decimal("0.00000001")
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = ZERO
    market_step: Decimal = ZERO
    notional_filter: str | None = None  # "NOTIONAL" or "MIN_NOTIONAL"
    min_notional: Decimal = ZERO
    max_notional: Decimal = ZERO
    min_to_market: bool = True
    max_to_market: bool = False
    percent_by_side: dict[str, Decimal] | None = None
    max_num_orders: int = 0
    base_precision: int = 8
    quote_precision: int = 8
    order_types: tuple[str, ...] = ("LIMIT", "LIMIT_MAKER", "MARKET")
    iceberg_allowed: bool = True
    iceberg_parts: int = 0  # ICEBERG_PARTS limit (0: no such filter)
    stp_default: str = "NONE"
    stp_allowed: tuple[str, ...] = ()  # empty: no list in exchangeInfo, every mode allowed

    @classmethod
    def from_exchange_info(cls, raw: dict[str, Any]) -> SymbolRules:
        rules = cls(
            raw["symbol"],
            raw["baseAsset"],
            raw["quoteAsset"],
            raw,
            base_precision=int(raw.get("baseAssetPrecision", 8)),
            quote_precision=int(raw.get("quoteAssetPrecision", raw.get("quotePrecision", 8))),
            order_types=tuple(raw.get("orderTypes") or cls.order_types),
            iceberg_allowed=bool(raw.get("icebergAllowed", True)),
            stp_default=str(raw.get("defaultSelfTradePreventionMode", "NONE")),
            stp_allowed=tuple(raw.get("allowedSelfTradePreventionModes") or ()),
        )
        for f in raw.get("filters", []):
            kind = f.get("filterType")
            if kind == "PRICE_FILTER":
                rules.tick = Decimal(f["tickSize"]) or rules.tick
                rules.min_price, rules.max_price = Decimal(f["minPrice"]), Decimal(f["maxPrice"])
            elif kind == "LOT_SIZE":
                rules.step = Decimal(f["stepSize"]) or rules.step
                rules.min_qty, rules.max_qty = Decimal(f["minQty"]), Decimal(f["maxQty"])
            elif kind == "MARKET_LOT_SIZE":
                rules.market_min_qty, rules.market_max_qty = (
                    Decimal(f["minQty"]),
                    Decimal(f["maxQty"]),
                )
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
                rules.percent_by_side = {
                    k: Decimal(str(f[k]))
                    for k in (
                        "bidMultiplierUp",
                        "bidMultiplierDown",
                        "askMultiplierUp",
                        "askMultiplierDown",
                    )
                }
            elif kind == "MAX_NUM_ORDERS":
                rules.max_num_orders = int(f.get("maxNumOrders", 0))
            elif kind == "ICEBERG_PARTS":
                rules.iceberg_parts = int(f.get("limit", 0))
        return rules


#: The rules ``/sim/rules`` changes: (filter types that carry it, its key there).
RULE_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "tickSize": (("PRICE_FILTER",), "tickSize"),
    "stepSize": (("LOT_SIZE",), "stepSize"),
    "minQty": (("LOT_SIZE",), "minQty"),
    "minNotional": (("NOTIONAL", "MIN_NOTIONAL"), "minNotional"),
}


def with_filters(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of the exchangeInfo entry ``raw`` with new ``tickSize``, ``stepSize``,
    ``minQty`` and/or ``minNotional`` (ValueError for anything else), each written as Binance
    writes it (8 decimals). The grids stay whole, as Binance keeps them: ``minPrice`` is
    rounded up onto a new tick and ``minQty`` onto a new step (PRICE_FILTER and LOT_SIZE count
    from them)."""
    unknown = sorted(set(changes) - set(RULE_KEYS) - {"symbol"})
    if unknown:
        raise ValueError(f"rules: unknown {unknown}; expected some of {sorted(RULE_KEYS)}")
    values: dict[str, Decimal] = {}
    for key in RULE_KEYS:
        if key in changes:
            value = Decimal(str(changes[key]))
            if not value.is_finite() or value < 0 or (key != "minNotional" and value == 0):
                raise ValueError(f"rules: {key} must be > 0 (minNotional >= 0), not {value}")
            if decimals(value) > 8:
                raise ValueError(f"rules: {key} {value} has more than 8 decimals")
            values[key] = value
    out = {**raw, "filters": [dict(f) for f in raw.get("filters", [])]}
    by_type = {f.get("filterType"): f for f in out["filters"]}
    for key, value in values.items():
        types, field = RULE_KEYS[key]
        targets = [by_type[t] for t in types if t in by_type]
        if not targets:
            raise ValueError(f"rules: {raw['symbol']} has no {'/'.join(types)} filter")
        for target in targets:
            target[field] = fmt(value)
    _whole_grid(by_type.get("PRICE_FILTER"), "minPrice", "tickSize")
    _whole_grid(by_type.get("LOT_SIZE"), "minQty", "stepSize")
    return out


def _whole_grid(f: dict[str, Any] | None, low: str, step: str) -> None:
    """``f[low]`` rounded up onto the grid of ``f[step]`` (unchanged when on it or zero)."""
    if f is None or low not in f or step not in f:
        return
    lo, size = Decimal(f[low]), Decimal(f[step])
    if size > 0 and lo % size != 0:
        f[low] = fmt(ceil_to(lo, size))


# ---------------------------------------------------------------------------- the filters
@dataclass(frozen=True)
class Candidate:
    """A new order as the filters see it: parameters parsed, the current price, the orders."""

    rules: SymbolRules
    side: str
    type: str
    qty: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    current: Decimal
    orders: Collection[Order]
    iceberg_qty: Decimal | None = None


def check_price_filter(o: Candidate) -> BinanceError | None:
    r, price = o.rules, o.price
    if price is not None and (
        (r.min_price > 0 and price < r.min_price)
        or (r.max_price > 0 and price > r.max_price)
        or (r.tick > 0 and (price - r.min_price) % r.tick != 0)
    ):
        return filter_failure("PRICE_FILTER")
    return None


def check_percent_price_by_side(o: Candidate) -> BinanceError | None:
    pct = o.rules.percent_by_side
    if o.price is None or not pct:
        return None
    up, down = (
        ("bidMultiplierUp", "bidMultiplierDown")
        if o.side == "BUY"
        else ("askMultiplierUp", "askMultiplierDown")
    )
    if o.price > o.current * pct[up] or o.price < o.current * pct[down]:
        return filter_failure("PERCENT_PRICE_BY_SIDE")
    return None


def check_lot_size(o: Candidate) -> BinanceError | None:
    r, qty = o.rules, o.qty
    if qty is not None and (
        (r.min_qty > 0 and qty < r.min_qty)
        or (r.max_qty > 0 and qty > r.max_qty)
        or (r.step > 0 and (qty - r.min_qty) % r.step != 0)
    ):
        return filter_failure("LOT_SIZE")
    return None


def check_market_lot_size(o: Candidate) -> BinanceError | None:
    r, qty = o.rules, o.qty
    if (
        qty is not None
        and o.type == "MARKET"
        and (
            (r.market_min_qty > 0 and qty < r.market_min_qty)
            or (r.market_max_qty > 0 and qty > r.market_max_qty)
            or (r.market_step > 0 and (qty - r.market_min_qty) % r.market_step != 0)
        )
    ):
        return filter_failure("MARKET_LOT_SIZE")
    return None


def check_notional(o: Candidate) -> BinanceError | None:
    """NOTIONAL / MIN_NOTIONAL; a market order's notional at the current price."""
    r = o.rules
    if not r.notional_filter:
        return None
    is_market = o.type == "MARKET"
    if o.quote_qty is not None:
        notional = o.quote_qty
    else:
        assert o.qty is not None  # validate_order: quantity or quoteOrderQty is mandatory
        limit_price = o.current if is_market else o.price
        assert limit_price is not None  # validate_order: LIMIT orders need a price
        notional = o.qty * limit_price
    if (not is_market or r.min_to_market) and r.min_notional > 0 and notional < r.min_notional:
        return filter_failure(r.notional_filter)
    if (not is_market or r.max_to_market) and r.max_notional > 0 and notional > r.max_notional:
        return filter_failure(r.notional_filter)
    return None


def check_iceberg_parts(o: Candidate) -> BinanceError | None:
    """ICEBERG_PARTS: an iceberg order splits into at most ``limit`` parts,
    ceil(quantity / icebergQty)."""
    r = o.rules
    if o.iceberg_qty is None or o.qty is None or not r.iceberg_parts:
        return None
    if -(-o.qty // o.iceberg_qty) > r.iceberg_parts:
        return filter_failure("ICEBERG_PARTS")
    return None


def check_max_num_orders(o: Candidate) -> BinanceError | None:
    """MAX_NUM_ORDERS: counts the orders that may rest (not MARKET)."""
    r = o.rules
    if o.type != "MARKET" and r.max_num_orders:
        n_open = sum(1 for x in o.orders if x.is_open and x.symbol == r.symbol)
        if n_open >= r.max_num_orders:
            return filter_failure("MAX_NUM_ORDERS")
    return None


#: The filters in the order Binance applies them.
FILTER_CHECKS: list[Callable[[Candidate], BinanceError | None]] = [
    check_price_filter,
    check_percent_price_by_side,
    check_lot_size,
    check_market_lot_size,
    check_notional,
    check_iceberg_parts,
    check_max_num_orders,
]


# ---------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class NewOrder:
    """A new order that passed :func:`validate_order` (balance not yet checked)."""

    rules: SymbolRules
    side: str
    type: str
    tif: str
    qty: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_id: str
    resp_type: str
    stp_mode: str = "NONE"
    iceberg_qty: Decimal | None = None


def _check_side_and_type(params: dict[str, str], rules: SymbolRules) -> tuple[str, str]:
    side = params.get("side")
    if not side:
        raise mandatory("side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(
            -1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'."
        )
    otype = params.get("type")
    if not otype:
        raise mandatory("type")
    if otype not in (
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ):
        raise BinanceError(-1116, "Invalid orderType.")
    if otype not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
        log.warning("order type %s is not simulated: refused", otype)
        raise BinanceError(-1014, "Unsupported order combination.")
    if otype not in rules.order_types:
        raise BinanceError(-1013, "Order type not supported for this symbol.")
    return side, otype


def _check_combination(
    otype: str,
    tif: str | None,
    qty: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
) -> str:
    """The parameters each order type needs and refuses; the time in force to use."""
    check = _COMBINATIONS.get(otype, _check_market)
    tif = check(tif, qty, quote_qty, price)
    if otype != "MARKET" and quote_qty is not None:
        raise not_required("quoteOrderQty")
    return tif


def _check_limit(
    tif: str | None, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None
) -> str:
    if tif is None:
        raise mandatory("timeInForce")
    if tif not in ("GTC", "IOC", "FOK"):
        raise BinanceError(-1115, "Invalid timeInForce.")
    if qty is None:
        raise mandatory("quantity")
    if price is None:
        raise mandatory("price")
    return tif


def _check_limit_maker(
    tif: str | None, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None
) -> str:
    if tif is not None:
        raise not_required("timeInForce")
    if qty is None:
        raise mandatory("quantity")
    if price is None:
        raise mandatory("price")
    return "GTC"


def _check_market(
    tif: str | None, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None
) -> str:
    if price is not None:
        raise not_required("price")
    if tif is not None:
        raise not_required("timeInForce")
    if qty is None and quote_qty is None:
        raise BinanceError(
            -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
        )
    if qty is not None and quote_qty is not None:
        raise not_required("quoteOrderQty")
    return "GTC"


_COMBINATIONS = {"LIMIT": _check_limit, "LIMIT_MAKER": _check_limit_maker}


def _check_numbers(
    rules: SymbolRules,
    qty: Decimal | None,
    quote_qty: Decimal | None,
    price: Decimal | None,
    iceberg_qty: Decimal | None = None,
) -> None:
    """Precision (-1111), then quantities and price > 0 (-1013)."""
    for value in (qty, iceberg_qty):
        if value is not None and decimals(value) > rules.base_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    for value in (price, quote_qty):
        if value is not None and decimals(value) > rules.quote_precision:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    for value in (qty, quote_qty, iceberg_qty):
        if value is not None and value <= 0:
            raise BinanceError(-1013, "Invalid quantity.")
    if price is not None and price <= 0:
        raise BinanceError(-1013, "Invalid price.")


#: Binance's self-trade prevention modes (``selfTradePreventionMode``).
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")


def _check_iceberg_combination(otype: str, tif: str, iceberg_qty: Decimal | None) -> None:
    """Binance: only a LIMIT or LIMIT_MAKER order can be an iceberg, and it must be GTC."""
    if iceberg_qty is not None and (otype == "MARKET" or tif != "GTC"):
        raise BinanceError(-1014, "Unsupported order combination.")


def _stp_mode(sent: str | None, rules: SymbolRules) -> str:
    """The order's self-trade prevention mode: the one sent, if the symbol allows it (Binance's
    STP FAQ), else the symbol's default."""
    if sent is None:
        return rules.stp_default
    if sent not in STP_MODES:
        raise BinanceError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    if rules.stp_allowed and sent not in rules.stp_allowed:
        raise BinanceError(
            -1013, "This symbol does not allow the specified self-trade prevention mode."
        )
    return sent


def _check_iceberg_engine(rules: SymbolRules, qty: Decimal | None, iceberg: Decimal | None) -> None:
    """The matching engine's refusals of an iceberg order (Binance's -2010 messages)."""
    if iceberg is None:
        return
    if not rules.iceberg_allowed:
        raise BinanceError(-2010, "Iceberg orders are not supported for this symbol.")
    if qty is not None and iceberg >= qty:
        raise BinanceError(-2010, "IcebergQty exceeds QTY.")


def validate_order(
    params: dict[str, str], rules: SymbolRules, current: Decimal, orders: Collection[Order]
) -> NewOrder:
    """Parameter and filter checks of a new order on ``rules``' symbol, in Binance's order;
    no balance check. ``current`` is the symbol's price, ``orders`` all orders so far."""
    side, otype = _check_side_and_type(params, rules)
    qty = dec_param(params, "quantity")
    quote_qty = dec_param(params, "quoteOrderQty")
    price = dec_param(params, "price")
    iceberg = dec_param(params, "icebergQty")
    tif = _check_combination(otype, params.get("timeInForce") or None, qty, quote_qty, price)
    _check_iceberg_combination(otype, tif, iceberg)
    _check_numbers(rules, qty, quote_qty, price, iceberg)
    candidate = Candidate(rules, side, otype, qty, quote_qty, price, current, orders, iceberg)
    for check in FILTER_CHECKS:
        error = check(candidate)
        if error is not None:
            raise error
    stp = _stp_mode(params.get("selfTradePreventionMode") or None, rules)
    _check_iceberg_engine(rules, qty, iceberg)
    client_id = params.get("newClientOrderId") or None
    if client_id and any(o.client_id == client_id and o.is_open for o in orders):
        raise BinanceError(-2010, "Duplicate order sent.")
    resp_type = params.get("newOrderRespType") or (
        "FULL" if otype in ("MARKET", "LIMIT") else "ACK"
    )
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise BinanceError(
            -1100,
            "Illegal characters found in parameter "
            "'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.",
        )
    return NewOrder(
        rules,
        side,
        otype,
        tif,
        qty,
        quote_qty,
        price,
        client_id or new_client_id(),
        resp_type,
        stp,
        iceberg,
    )
