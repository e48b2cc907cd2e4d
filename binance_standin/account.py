"""One spot account: balances, orders and trades, and the bookkeeping of fills.

Fees: the exchange's fee rate of the RECEIVED asset (Binance without BNB): a buy pays base
coin, a sell pays quote; rounded to 8 decimals. Or, for a dialect whose exchange charges the fee
in the quote coin on both sides (Kraken's default ``fciq``), ``fee_in_quote``: a buy pays its
cost plus the fee in quote (rounded down to 8 decimals, so never more than it locked). A
``maker_fee`` (when given) is charged on maker fills instead of ``fee``. Balances are exact
decimals and can never become negative.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from binance_standin.common import Q8, ZERO, dec, fmt
from binance_standin.errors import BinanceError, int_param
from binance_standin.filters import NewOrder, SymbolRules
from binance_standin.matching import Levels
from binance_standin.orders import Order, trade_binance

log = logging.getLogger(__name__)


class Ledger:
    """The account's balances (free/locked), orders and trades (call under the sim's lock).

    :param initial: the starting balances (see :meth:`parse_balances`).
    :param fee: commission rate, charged in the received asset.
    :param clock: the sim's "now" in ms, for order and trade times.
    :param fee_in_quote: charge the fee in the quote coin on buys too (Kraken); a buy then
        needs, and a limit buy locks, its cost times ``1 + fee``.
    :param maker_fee: the rate of maker fills (None: ``fee``).
    """

    def __init__(
        self,
        initial: dict[str, Decimal],
        fee: Decimal,
        clock: Callable[[], int],
        *,
        fee_in_quote: bool = False,
        maker_fee: Decimal | None = None,
    ) -> None:
        self.fee, self.clock = fee, clock
        self.fee_in_quote, self.maker_fee = fee_in_quote, maker_fee
        self.reset(initial)

    def reset(self, initial: dict[str, Decimal]) -> None:
        """A fresh account with ``initial`` balances: no orders, no trades."""
        self.initial = initial
        self.free: dict[str, Decimal] = defaultdict(Decimal, initial)
        self.locked: dict[str, Decimal] = defaultdict(Decimal)
        self.orders: dict[int, Order] = {}
        self.trades: list[dict[str, Any]] = []
        self._next_order_id, self._next_trade_id = 1001, 1

    @staticmethod
    def parse_balances(balances: dict[str, Any]) -> dict[str, Decimal]:
        """``{"usdt": 100}`` -> ``{"USDT": Decimal(100)}``; ValueError if one is negative."""
        out = {str(a).upper(): dec(v) for a, v in balances.items()}
        for asset, amount in out.items():
            if amount < 0:
                raise ValueError(f"sim: negative starting balance {asset}={amount}")
        return out

    def now_ms(self) -> int:
        return int(self.clock())

    def rate(self, maker: bool) -> Decimal:
        """The fee rate of a fill."""
        return self.maker_fee if maker and self.maker_fee is not None else self.fee

    @property
    def buy_factor(self) -> Decimal:
        """What a buy needs (and a limit buy locks) per unit of cost: 1, or ``1 + fee`` when
        the fee is charged in the quote coin (the larger rate, so a maker fill is covered)."""
        if not self.fee_in_quote:
            return Decimal(1)
        return 1 + max(self.fee, self.maker_fee if self.maker_fee is not None else self.fee)

    # ---------------------------------------------------------------- orders and fills
    def can_afford(self, new: NewOrder, full: Levels) -> bool:
        """Whether the free balance covers a new order; ``full``: a MARKET order's complete
        walk of the book (ignored for LIMIT orders, which lock their limit value)."""
        base, quote = new.rules.base, new.rules.quote
        if new.type == "MARKET":
            if new.side == "BUY":
                need = new.quote_qty if new.quote_qty is not None else sum(px * q for px, q in full)
                return need * self.buy_factor <= self.free[quote]
            need = new.qty if new.qty is not None else sum(q for _, q in full)
            return need <= self.free[base]
        assert new.price is not None and new.qty is not None  # LIMIT and LIMIT_MAKER
        return (
            (new.price * new.qty * self.buy_factor <= self.free[quote])
            if new.side == "BUY"
            else (new.qty <= self.free[base])
        )

    def open(self, new: NewOrder, fault: str | None) -> Order:
        """Register a new order; a LIMIT / LIMIT_MAKER one locks what it may spend."""
        rules, side = new.rules, new.side
        now = self.now_ms()
        order = Order(
            self._next_order_id,
            new.client_id,
            rules.symbol,
            side,
            new.type,
            new.tif,
            new.price if new.price is not None else ZERO,
            new.qty if new.qty is not None else ZERO,
            new.quote_qty if new.quote_qty is not None else ZERO,
            now,
            update_time=now,
            working_time=now,
            fault=fault,
            stp_mode=new.stp_mode,
            iceberg_qty=new.iceberg_qty,
        )
        self._next_order_id += 1
        self.orders[order.order_id] = order
        if new.type != "MARKET":
            order.lock_asset = rules.quote if side == "BUY" else rules.base
            order.locked = (
                order.price * order.orig_qty * self.buy_factor if side == "BUY" else order.orig_qty
            )
            self.free[order.lock_asset] -= order.locked
            self.locked[order.lock_asset] += order.locked
        return order

    def fill(
        self, order: Order, rules: SymbolRules, px: Decimal, q: Decimal, *, maker: bool
    ) -> None:
        """Book a fill of ``q`` at ``px``: balances, fee, the trade, the order's totals."""
        base, quote = rules.base, rules.quote
        quote_amount = px * q
        rate = self.rate(maker)
        if order.side == "BUY":
            if self.fee_in_quote:  # cost + fee in quote, the whole quantity received
                commission = (quote_amount * rate).quantize(Q8, rounding=ROUND_DOWN)
                asset, spend, received = quote, quote_amount + commission, q
            else:
                commission = (q * rate).quantize(Q8, rounding=ROUND_HALF_UP)
                asset, spend, received = base, quote_amount, q - commission
            if order.lock_asset:
                release = min(order.locked, order.price * q * self.buy_factor)
                self.locked[quote] -= release
                order.locked -= release
                self.free[quote] += release - spend
            else:
                self.free[quote] -= spend
            self.free[base] += received
        else:
            if order.lock_asset:
                self.locked[base] -= q
                order.locked -= q
            else:
                self.free[base] -= q
            commission = (quote_amount * rate).quantize(Q8, rounding=ROUND_HALF_UP)
            asset = quote
            self.free[quote] += quote_amount - commission
        for book in (self.free, self.locked):
            for a in (base, quote):
                if book[a] < 0:  # a bug in the sim, never a state to serve
                    raise RuntimeError(f"sim: {a} balance would become negative: {book[a]}")
        now = self.now_ms()
        trade = {
            "id": self._next_trade_id,
            "orderId": order.order_id,
            "symbol": order.symbol,
            "side": order.side,
            "price": px,
            "qty": q,
            "quoteQty": quote_amount,
            "commission": commission,
            "commissionAsset": asset,
            "time": now,
            "isMaker": maker,
        }
        self._next_trade_id += 1
        self.trades.append(trade)
        order.fills.append(trade)
        order.executed += q
        order.cum_quote += quote_amount
        order.update_time = now

    def release(self, order: Order) -> None:
        """Unlock what a closed order still holds."""
        if order.lock_asset and order.locked:
            self.locked[order.lock_asset] -= order.locked
            self.free[order.lock_asset] += order.locked
            order.locked = ZERO

    def cancel(self, order: Order) -> None:
        order.status = "CANCELED"
        order.held = False
        order.update_time = self.now_ms()
        self.release(order)
        log.info(
            "order %s %s canceled (executed %s of %s)",
            order.order_id,
            order.symbol,
            fmt(order.executed),
            fmt(order.orig_qty),
        )

    # ---------------------------------------------------------------- queries
    def find(self, params: dict[str, str], symbol: str) -> Order | None:
        """The order of ``symbol`` that ``orderId`` or ``origClientOrderId`` names."""
        order_id = int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if order_id is not None:
            order = self.orders.get(order_id)
        else:
            order = next(
                (o for o in reversed(self.orders.values()) if o.client_id == client_id), None
            )
        if (
            order is None
            or order.symbol != symbol
            or (client_id is not None and order.client_id != client_id)
        ):
            return None
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def all_orders(self, params: dict[str, str], symbol: str) -> list[dict[str, Any]]:
        """``GET /api/v3/allOrders`` of ``symbol``."""
        order_id = int_param(params, "orderId")
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        limit = max(1, min(int_param(params, "limit", 500) or 500, 1000))
        orders = [
            o
            for o in self.orders.values()
            if o.symbol == symbol and (order_id is None or o.order_id >= order_id)
        ]
        chosen = _window(
            orders,
            lambda o: o.time,
            start,
            end,
            limit,
            from_first=order_id is not None or start is not None,
        )
        return [o.binance_query() for o in chosen]

    def my_trades(self, params: dict[str, str], symbol: str) -> list[dict[str, Any]]:
        """``GET /api/v3/myTrades`` of ``symbol``."""
        order_id = int_param(params, "orderId")
        from_id = int_param(params, "fromId")
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        limit = max(1, min(int_param(params, "limit", 500) or 500, 1000))
        trades = [
            t
            for t in self.trades
            if t["symbol"] == symbol
            and (order_id is None or t["orderId"] == order_id)
            and (from_id is None or t["id"] >= from_id)
        ]
        chosen = _window(
            trades,
            lambda t: t["time"],
            start,
            end,
            limit,
            from_first=from_id is not None or start is not None,
        )
        return [trade_binance(t) for t in chosen]

    # ---------------------------------------------------------------- balances
    def binance_account(self, assets: Iterable[str], omit_zero: bool) -> dict[str, Any]:
        """``GET /api/v3/account``; ``assets``: those listed even when empty."""
        listed = set(self.free) | set(self.locked) | set(assets)
        balances = [
            {"asset": a, "free": fmt(self.free[a]), "locked": fmt(self.locked[a])}
            for a in sorted(listed)
        ]
        if omit_zero:
            balances = [b for b in balances if self.free[b["asset"]] or self.locked[b["asset"]]]
        bps = int(self.fee * 10000)
        return {
            "makerCommission": bps,
            "takerCommission": bps,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(self.fee),
                "taker": fmt(self.fee),
                "buyer": fmt(0),
                "seller": fmt(0),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def adjust(self, asset: str, delta: float) -> dict[str, float]:
        """Deposit (delta > 0) or withdraw (< 0) free balance; never below zero."""
        asset = asset.upper()
        amount = dec(delta)
        if self.free[asset] + amount < 0:
            raise ValueError(f"{asset}: free {self.free[asset]} - {-amount} would be negative")
        self.free[asset] += amount
        log.info("balance %s %+f -> free %s", asset, float(amount), fmt(self.free[asset]))
        return {"free": float(self.free[asset]), "locked": float(self.locked[asset])}

    def balances(self) -> dict[str, dict[str, float]]:
        """Non-empty (or starting) balances as plain numbers."""
        assets = sorted(
            a
            for a in set(self.free) | set(self.locked)
            if self.free[a] or self.locked[a] or a in self.initial
        )
        return {a: {"free": float(self.free[a]), "locked": float(self.locked[a])} for a in assets}


def _window(
    items: list[Any],
    key_time: Callable[[Any], int],
    start: int | None,
    end: int | None,
    limit: int,
    from_first: bool,
) -> list[Any]:
    items = [
        x
        for x in items
        if (start is None or key_time(x) >= start) and (end is None or key_time(x) <= end)
    ]
    return items[:limit] if from_first else items[-limit:]
