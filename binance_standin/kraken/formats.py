"""Kraken's answer formats: numbers as strings with the pair's decimals, order and trade ids,
and the order and trade entries of ``QueryOrders``, ``OpenOrders``, ``ClosedOrders``,
``TradesHistory`` and ``QueryTrades`` (field for field as ccxt's recorded Kraken answers,
``ccxt-static/response/kraken.json``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from binance_standin.kraken.pairs import KrakenPair
from binance_standin.orders import Order

_TXID = re.compile(r"^([OT])SIM(\d{2})-(\d{5})-(\d{6})$")


class KrakenError(Exception):
    """An error answer in Kraken's format: ``{"error": [message], "result": {}}``, HTTP 200
    (ccxt raises the class its ``exceptions`` table gives the message)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def invalid(argument: str | None = None) -> KrakenError:
    return KrakenError("EGeneral:Invalid arguments" + (f":{argument}" if argument else ""))


def num(value: Decimal | float | int, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, truncated (Kraken truncates costs and volumes)."""
    return format(Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_DOWN), "f")


def seconds(ms: int, decimals: int = 6) -> str:
    """A time in seconds with a fraction, as Kraken's ``opentm``/``closetm``."""
    return f"{ms / 1000:.{decimals}f}"


def _sim_id(prefix: str, n: int) -> str:
    return f"{prefix}SIM{n // 10**11:02d}-{n // 10**6 % 10**5:05d}-{n % 10**6:06d}"


def txid(order_id: int) -> str:
    """Kraken's id of the stand-in's order ``order_id`` (``OSIM00-00000-001001``: Kraken's
    6-5-6 shape)."""
    return _sim_id("O", order_id)


def trade_txid(trade_id: int) -> str:
    return _sim_id("T", trade_id)


def sim_id(kraken_id: str, prefix: str = "O") -> int | None:
    """The stand-in's order (or trade, ``prefix`` T) id of a Kraken id; None if not one."""
    match = _TXID.match(kraken_id.strip())
    if not match or match.group(1) != prefix:
        return None
    return int(match.group(2)) * 10**11 + int(match.group(3)) * 10**6 + int(match.group(4))


@dataclass
class OrderExtra:
    """What Kraken reports of an order that the account's record does not keep."""

    userref: int = 0
    cl_ord_id: str | None = None
    post: bool = False
    viqc: bool = False
    reason: str | None = None


def status(order: Order) -> str:
    """Kraken's status: open, closed (filled) or canceled (by the user, or the rest of an
    immediate-or-cancel order that did not fill)."""
    if order.is_open:
        return "open"
    return "closed" if order.status == "FILLED" else "canceled"


def description(order: Order, pair: KrakenPair, extra: OrderExtra) -> str:
    """``descr.order``: ``buy 0.10000000 LTCUSDT @ limit 50.00000`` / ``... @ market``."""
    side = order.side.lower()
    volume = num(order.orig_quote if extra.viqc else order.orig_qty, pair.lot_decimals)
    where = "market" if order.type == "MARKET" else f"limit {num(order.price, pair.pair_decimals)}"
    return f"{side} {volume} {pair.altname} @ {where}"


def order_entry(
    order: Order, pair: KrakenPair, extra: OrderExtra, *, trades: bool, reason: bool
) -> dict[str, Any]:
    """An order as ``QueryOrders`` (``reason``) and ``OpenOrders``/``ClosedOrders`` list it;
    ``trades``: its trade ids too."""
    zero = num(0, pair.cost_decimals)
    fee = sum((Decimal(str(t["commission"])) for t in order.fills), Decimal(0))
    average = order.cum_quote / order.executed if order.executed else None
    out: dict[str, Any] = {"refid": None, "userref": str(extra.userref)}
    if extra.cl_ord_id is not None:
        out["cl_ord_id"] = extra.cl_ord_id
    out |= {
        "status": status(order),
        "opentm": seconds(order.time),
        "starttm": "0",
        "expiretm": "0",
        "descr": {
            "pair": pair.altname,
            "type": order.side.lower(),
            "ordertype": order.type.lower(),
            "price": "0" if order.type == "MARKET" else num(order.price, pair.pair_decimals),
            "price2": "0",
            "leverage": "none",
            "order": description(order, pair, extra),
            "close": "",
        },
        "vol": num(order.orig_quote if extra.viqc else order.orig_qty, pair.lot_decimals),
        "vol_exec": num(order.executed, pair.lot_decimals),
        "cost": num(order.cum_quote, pair.cost_decimals),
        "fee": num(fee, pair.cost_decimals),
        "price": zero if average is None else num(average, pair.pair_decimals),
        "stopprice": zero,
        "limitprice": zero,
        "misc": "",
        "oflags": "post,fciq" if extra.post else "fciq",
    }
    if trades and order.fills:
        out["trades"] = [trade_txid(t["id"]) for t in order.fills]
    if reason:
        out["reason"] = extra.reason
    if not order.is_open:
        out["closetm"] = seconds(order.update_time, 7)
    return out


def trade_entry(trade: dict[str, Any], order: Order, pair: KrakenPair) -> dict[str, Any]:
    """A fill as ``TradesHistory``/``QueryTrades`` list it (fee in the quote coin)."""
    return {
        "ordertxid": txid(order.order_id),
        "postxid": trade_txid(trade["id"]).replace("TSIM", "PSIM"),
        "pair": pair.pair_id,
        "time": trade["time"] / 1000,
        "type": order.side.lower(),
        "ordertype": order.type.lower(),
        "price": num(trade["price"], pair.pair_decimals),
        "cost": num(trade["quoteQty"], pair.cost_decimals),
        "fee": num(trade["commission"], pair.cost_decimals),
        "vol": num(trade["qty"], pair.lot_decimals),
        "margin": num(0, pair.cost_decimals),
        "leverage": "0",
        "misc": "",
        "trade_id": trade["id"],
        "maker": bool(trade["isMaker"]),
    }
