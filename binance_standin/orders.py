"""Orders and trades: the records and their Binance answer formats.

The answers have the fields and value types of Binance's (checked against the responses ccxt
recorded from Binance, tests/unit/test_standin_shapes.py): numbers as 8-decimal strings, ids and
times as JSON numbers, ``icebergQty`` in an order placement or cancellation answer only for an
iceberg order (Binance's "conditional fields in order responses").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from binance_standin.common import OPEN_STATUSES, ZERO, fmt


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
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    lock_asset: str | None = None
    locked: Decimal = ZERO
    held: bool = False  # remainder of a ``partial`` GTC: fills only on /sim/price changes
    fault: str | None = None
    fills: list[dict[str, Any]] = field(default_factory=list)
    stp_mode: str = "NONE"  # selfTradePreventionMode (never acts: see filters.py)
    iceberg_qty: Decimal | None = None  # icebergQty of an iceberg order

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.tif,
            "type": self.type,
            "side": self.side,
        }

    def binance_new(self, resp_type: str, transact_time: int) -> dict[str, Any]:
        """``POST /api/v3/order`` answer (``newOrderRespType`` ACK / RESULT / FULL)."""
        ack = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "transactTime": transact_time,
        }
        if resp_type == "ACK":
            return ack
        common = self._common()
        out = {
            **ack,
            "price": common["price"],
            "origQty": common["origQty"],
            "executedQty": common["executedQty"],
            "origQuoteOrderQty": fmt(self.orig_quote),
            **{k: common[k] for k in _STATE_KEYS},
            "workingTime": self.working_time,
            **self._iceberg(),
            "selfTradePreventionMode": self.stp_mode,
        }
        if resp_type == "FULL":
            out["fills"] = [
                {
                    "price": fmt(t["price"]),
                    "qty": fmt(t["qty"]),
                    "commission": fmt(t["commission"]),
                    "commissionAsset": t["commissionAsset"],
                    "tradeId": t["id"],
                }
                for t in self.fills
            ]
        return out

    def binance_query(self) -> dict[str, Any]:
        """``GET /api/v3/order`` / ``openOrders`` / ``allOrders`` entry."""
        return {
            **self._common(),
            "stopPrice": fmt(0),
            "icebergQty": fmt(self.iceberg_qty or 0),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": True,
            "workingTime": self.working_time,
            "origQuoteOrderQty": fmt(self.orig_quote),
            "selfTradePreventionMode": self.stp_mode,
        }

    def _iceberg(self) -> dict[str, str]:
        """``icebergQty``, present only for an iceberg order (Binance's conditional field)."""
        return {} if self.iceberg_qty is None else {"icebergQty": fmt(self.iceberg_qty)}

    def binance_cancel(self, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
        common = self._common()
        return {
            "symbol": self.symbol,
            "origClientOrderId": self.client_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_client_id,
            "transactTime": transact_time,
            **{k: common[k] for k in ("price", "origQty", "executedQty", *_STATE_KEYS)},
            **self._iceberg(),
            "selfTradePreventionMode": self.stp_mode,
        }

    def state(self) -> dict[str, Any]:
        """Plain numbers for ``/sim/state``."""
        return {
            "orderId": self.order_id,
            "clientOrderId": self.client_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "timeInForce": self.tif,
            "status": self.status,
            "price": float(self.price),
            "origQty": float(self.orig_qty),
            "executedQty": float(self.executed),
            "cummulativeQuoteQty": float(self.cum_quote),
            "origQuoteOrderQty": float(self.orig_quote),
            "time": self.time,
            "updateTime": self.update_time,
            "held": self.held,
            "fault": self.fault,
            "trades": [t["id"] for t in self.fills],
        }


#: The fields of :meth:`Order._common` after the quantities, in Binance's order.
_STATE_KEYS = ("cummulativeQuoteQty", "status", "timeInForce", "type", "side")


def trade_binance(t: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/v3/myTrades`` entry."""
    return {
        "symbol": t["symbol"],
        "id": t["id"],
        "orderId": t["orderId"],
        "orderListId": -1,
        "price": fmt(t["price"]),
        "qty": fmt(t["qty"]),
        "quoteQty": fmt(t["quoteQty"]),
        "commission": fmt(t["commission"]),
        "commissionAsset": t["commissionAsset"],
        "time": t["time"],
        "isBuyer": t["side"] == "BUY",
        "isMaker": t["isMaker"],
        "isBestMatch": True,
    }


def trade_state(t: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in t.items()}
