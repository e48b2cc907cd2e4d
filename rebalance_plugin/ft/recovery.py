"""Orders in flight, followed until they close (dry/live; a backtest fills every order at once).

An order is a limit Immediate-Or-Cancel order at the best price (``orders.py``); what it leaves
unfilled is sent once more at market on the next loop. A first buy whose limit order filled
nothing (the price moved between Freqtrade's quote and the exchange: a slow or busy machine on a
rising price) is tried again at market on the next loop, so it cannot expire loop after loop. An
order with nothing booked may still have been executed by the exchange (a lost answer, a crash):
it is looked up there and booked, never sent twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from freqtrade.persistence import Order

from ..core import messages
from ..core.inflight import InFlight
from ..core.plan import Leg
from . import privates
from .context import Context
from .markets import Markets
from .notify import Notifier
from .orders import OrderDesk
from .reader import PortfolioReader
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")


class InFlightRecovery:
    """Owns the coins whose first buy (a new trade) goes at market: its limit IOC filled
    nothing."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        markets: Markets,
        reader: PortfolioReader,
        notifier: Notifier,
        desk: OrderDesk,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.markets = markets
        self.reader = reader
        self.notifier = notifier
        self.desk = desk
        self.entries_at_market: set[str] = set()

    # ---- a new trade's first buy ---------------------------------------------------------------
    def entry_kind(self, pair: str) -> None:
        """Freqtrade is about to open ``pair``'s trade (its first buy): at market if the last
        limit order of that buy filled nothing, else a limit IOC. Freqtrade reads the order type
        and time in force before it asks ``custom_stake_amount`` and ``confirm_trade_entry``, so
        this is set when it asks for the pair's entry signal.

        Freqtrade asks only for a pair without an open trade: a first buy still in flight there
        closed without filling since this loop began (a GTC order Freqtrade cancelled after
        ``unfilledtimeout`` in this very loop, before it opens the trade again), so this try
        goes at market."""
        coin = self.ctx.cfg.coin_of(pair)
        info = self.store.book.inflight.get(coin)
        if info is not None and coin not in self.entries_at_market:
            inflight = dict(self.store.book.inflight)
            inflight.pop(coin)
            self.store.update(inflight=inflight)
            self._no_trade(coin, info)
        self.desk.order_kind(market=coin in self.entries_at_market)

    def remember_entry(self, pair: str, amount: float) -> None:
        """A new trade's first buy, to finish it at market if partly filled."""
        coin = self.ctx.cfg.coin_of(pair)
        inflight = dict(self.store.book.inflight)
        inflight[coin] = InFlight("buy", amount, 0.0, coin in self.entries_at_market)
        self.store.update(inflight=inflight)
        self.store.save()

    # ---- following orders in flight --------------------------------------------------------------
    def follow(self, by_coin: dict[str, Any]) -> bool:
        """An order sent last loop has closed; what it left unfilled (IOC expiry, partial fill)
        goes again as a market order, once. True while any order is still in flight."""
        book = self.store.book
        if not book.inflight:
            return False
        inflight = dict(book.inflight)
        entries = dict(book.entries)
        again: dict[str, Leg] = {}
        waiting = False
        for coin, info in book.inflight.items():
            trade = by_coin.get(coin)
            if trade is None:  # sold entirely, or a first buy that did not fill (retried)
                inflight.pop(coin)
                self._no_trade(coin, info)
                continue
            self.entries_at_market.discard(coin)
            if trade.has_open_orders:
                waiting = True
                continue
            entries.pop(coin, None)
            inflight.pop(coin)
            leg = self._rest(coin, info, trade)
            if leg is not None:
                again[coin] = leg
        self.store.update(inflight=inflight, entries=entries)
        if again:
            self.desk.place(again, by_coin, market=True)
            return True
        self.store.save()
        return waiting

    def _no_trade(self, coin: str, info: InFlight) -> None:
        """The coin has no trade: sold entirely, or a first buy whose limit order filled
        nothing (its next try goes at market)."""
        if info.side == "buy" and info.before == 0 and not info.market:
            self.entries_at_market.add(coin)
            logger.info(messages.entry_at_market(coin, info.qty))

    def _rest(self, coin: str, info: InFlight, trade: Any) -> Leg | None:
        """What a closed order left unfilled, as a market leg (None: nothing to send)."""
        filled = info.filled(trade.amount)
        if (
            filled == 0
            and not info.market
            and not self.answered(trade, info)
            and self.adopt_unknown(trade, info)
        ):
            filled = info.filled(trade.amount)
            if filled == 0:  # the exchange may have executed it, unbooked: never send twice
                return None
        rest = info.qty - filled
        if info.market or rest <= 0:
            return None
        price = self.reader.price(self.ctx.cfg.pair(coin), 0) or 0.0
        rule = self.markets.rules.get(coin)
        if rule is None or not price:
            return None
        qty = rule.floor_qty(min(rest, trade.amount) if info.side == "sell" else rest)
        if rule.refusal(qty, price) is not None:
            return None
        logger.info(messages.rest_at_market(coin, filled, info.qty, qty))
        return Leg(coin, info.side, qty, price)

    @staticmethod
    def answered(trade: Any, info: InFlight) -> bool:
        """The exchange answered this leg's order and Freqtrade booked it closed and unfilled
        (an IOC that expired): an order of the leg's side on the trade, placed since the leg
        was sent, with an exchange id and nothing filled. Its fill (none) is then known, and
        the exchange need not be asked (on an account shared with other bots, their orders of
        the same size would look like ours). An order booked as filled while the trade does
        not show it (a kill between Freqtrade storing the order and applying its fill) is not
        such an answer: the exchange is asked, and Freqtrade's recovery books it."""
        if info.sent is None:
            return False
        return any(
            order.ft_order_side == info.side
            and order.order_id
            and not order.ft_is_open
            and not order.filled
            and order.order_date_utc.timestamp() >= info.sent - 1
            for order in trade.orders
        )

    def adopt_unknown(self, trade: Any, info: InFlight) -> bool:
        """Live: an order with nothing booked on the trade may still have been executed by the
        exchange: a timeout or an error after the exchange accepted it, or a crash between the
        exchange's answer and Freqtrade booking the fill. Before anything is sent again, ask
        the exchange for orders of this side and size since the leg was sent; if one filled,
        hand the trade to Freqtrade's own recovery (``handle_onexchange_order``), which books
        it. True when such an order exists (the leg is then not sent again)."""
        bot = privates.freqtrade_bot(self.ctx.dp)
        if bot is None or self.ctx.config.get("dry_run"):
            return False
        sent = info.sent if info.sent is not None else trade.open_date_utc.timestamp()
        try:
            orders = privates.exchange_orders(
                bot, trade.pair, datetime.fromtimestamp(sent - 5, UTC)
            )
        except Exception as err:  # cannot check: do not risk sending twice
            logger.warning(messages.cannot_list_orders(trade.pair, err))
            return True
        ours = self._ours(trade, info, orders)
        if not ours:
            return False
        ids = ", ".join(str(o["id"]) for o in ours)
        strangers = [
            o
            for o in orders
            if float(o.get("filled") or 0) > 0
            and o not in ours
            and Order.order_by_id(o["id"], trade.pair) is None
        ]
        if strangers:  # booking would take the other bot's orders too: leave it to the user
            self.notifier.say(messages.unbooked_beside_strangers(trade.pair, ids))
            return True
        self.notifier.say(messages.booking_unbooked(trade.pair, ids))
        privates.book_exchange_order(bot, trade)
        return True

    def _ours(self, trade: Any, info: InFlight, orders: list[Any]) -> list[Any]:
        """The filled exchange orders that are this leg's: same side, about the quantity asked
        (another bot on the same account may trade the same pair; its orders are not in this
        bot's database)."""
        rule = self.markets.rules.get(self.ctx.cfg.coin_of(trade.pair))
        slack = 0.02 * info.qty + (rule.qty_step if rule else 0.0)
        return [
            o
            for o in orders
            if float(o.get("filled") or 0) > 0
            and o.get("side") == info.side
            and abs(float(o.get("amount") or 0) - info.qty) <= slack
        ]
