"""Orders: the core's legs handed to Freqtrade, and followed until they close (dry/live).

Each leg goes to its trade's ``adjust_trade_position`` (a coin without a trade is bought as a new
trade through the entry signal).

Backtest timing: Freqtrade visits the pairs of a candle one after another (open trades first, in
the order they were opened) and fills each order at once. The sells go to their pairs; once the
last of them has been handed out, the cash they freed is there, so the buys are sized at the very
next pair's turn (``after_sells``) and handed out in the same candle to every pair still to come.
A pair already visited gets its buy at its next turn: the next candle of ``--timeframe-detail``,
else the next candle, for the value planned (its quantity then follows that candle's open).

Live, an order is a limit Immediate-Or-Cancel order at the best price; what it leaves unfilled
is sent once more at market on the next loop. A first buy whose limit order filled nothing (the
price moved between Freqtrade's quote and the exchange: a slow or busy machine on a rising
price) is tried again at market on the next loop, so it cannot expire loop after loop. An order with
nothing booked may still have been executed by the exchange (a lost answer, a crash): it is
looked up there and booked, never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from .reader import PortfolioReader
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")

LIMIT_IOC = ({"entry": "limit", "exit": "limit"}, {"entry": "IOC", "exit": "IOC"})
MARKET_GTC = ({"entry": "market", "exit": "market"}, {"entry": "GTC", "exit": "GTC"})


class OrderDesk:
    """Owns this loop's orders (pair -> leg) and which of them go at market."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        markets: Markets,
        reader: PortfolioReader,
        notifier: Notifier,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.markets = markets
        self.reader = reader
        self.notifier = notifier
        self.orders: dict[str, Leg] = {}
        self.market: set[str] = set()  # pairs whose order this loop goes at market
        self.deposits: set[str] = set()  # pairs whose buy invests an auto-invest deposit
        # Coins whose first buy (a new trade) goes at market: its limit IOC filled nothing.
        self.entries_at_market: set[str] = set()
        # Backtest: the sells handed out this candle are awaited, then ``after_sells`` sizes the
        # buys (set by the plugin). ``carried``: buys whose pair was visited before the cash was
        # there, handed out at the pair's next turn (nothing else is decided meanwhile).
        self.sells_left: set[str] = set()
        self.buys_due = False
        self.after_sells: Callable[[], None] | None = None

    # ---- a loop's orders ---------------------------------------------------------------------
    def new_loop(self) -> None:
        """Forget last loop's orders (a backtest keeps the buys not handed out yet); live,
        orders are limit IOC unless switched per order."""
        if self.ctx.backtest and not self.store.book.stopped:
            self.orders = {p: leg for p, leg in self.orders.items() if leg.side == "buy"}
        else:
            self.orders = {}
        self.deposits &= set(self.orders)
        self.market = set()
        self.sells_left = set()
        self.buys_due = False
        if not self.ctx.backtest:
            self._order_kind(market=False)

    @property
    def carried(self) -> bool:
        """Backtest: buys of an earlier candle are still to be handed out."""
        return bool(self.orders)

    def _turn(self, pair: str) -> None:
        """Backtest: ``pair``'s turn in this candle. The first turn after the last sell was
        handed out (and filled) sizes the buys from the cash now there."""
        if self.buys_due and not self.sells_left and self.after_sells is not None:
            self.buys_due = False
            self.after_sells()

    def _order_kind(self, market: bool) -> None:
        """Freqtrade reads ``order_types`` and ``order_time_in_force`` when it places each
        order, so the strategy switches them per order."""
        types, tif = MARKET_GTC if market else LIMIT_IOC
        strategy = self.ctx.strategy
        strategy.order_types = {**strategy.order_types, **types}
        strategy.order_time_in_force = dict(tif)

    def wanted(self, pair: str) -> bool:
        """Backtest fast path: False when this pair has no order this candle (asked for every
        pair on every candle: kept to a test and a look-up)."""
        if self.buys_due:
            self._turn(pair)
        return pair in self.orders

    def place(
        self, orders: dict[str, Leg], by_coin: dict[str, Any], market: bool, deposit: bool = False
    ) -> None:
        """Hand each leg to its trade's adjust_trade_position (or, for a coin without a trade,
        to the entry signal); remember it in flight to finish a partial fill at market.
        ``deposit``: the buys invest an auto-invest deposit (tagged ``deposit buy``)."""
        if not orders:
            return
        cfg = self.ctx.cfg
        book = self.store.book
        entries = dict(book.entries)
        entry_qty = dict(book.entry_qty)
        inflight = dict(book.inflight)
        for coin, leg in orders.items():
            trade = by_coin.get(coin)
            if trade is None:  # a coin new to the allocation: bought as a new trade
                if leg.side == "buy":
                    entries[coin] = leg.value
                    entry_qty[coin] = leg.qty
                continue
            pair = cfg.pair(coin)
            self.orders[pair] = leg
            if deposit:
                self.deposits.add(pair)
            if leg.side == "sell" and self.ctx.backtest:
                self.sells_left.add(pair)
            if market:
                self.market.add(pair)
            if not self.ctx.backtest:
                inflight[coin] = InFlight(
                    leg.side, leg.qty, trade.amount, market, datetime.now(UTC).timestamp()
                )
        if not self.ctx.backtest:
            self.store.update(entries=entries, entry_qty=entry_qty, inflight=inflight)
            self.store.save()  # before the orders are sent: a restart knows they may exist
        else:
            self.store.update(entries=entries, entry_qty=entry_qty)

    def sell_everything(self, by_coin: dict[str, Any]) -> None:
        """Every coin still held, at market (a stopped portfolio with on_stop = sell_all)."""
        for coin, trade in by_coin.items():
            if not trade.has_open_orders and trade.amount > 0:
                pair = self.ctx.cfg.pair(coin)
                self.orders[pair] = Leg(coin, "sell", trade.amount, 0.0)
                self.market.add(pair)

    def entry_kind(self, pair: str) -> None:
        """Dry/live: Freqtrade is about to open ``pair``'s trade (its first buy): at market if
        the last limit order of that buy filled nothing, else a limit IOC. Freqtrade reads the
        order type and time in force before it asks ``custom_stake_amount`` and
        ``confirm_trade_entry``, so this is set when it asks for the pair's entry signal."""
        if not self.ctx.backtest:
            self._order_kind(market=self.ctx.cfg.coin_of(pair) in self.entries_at_market)

    def remember_entry(self, pair: str, amount: float) -> None:
        """Dry/live: a new trade's first buy, to finish it at market if partly filled."""
        if self.ctx.backtest:
            return
        coin = self.ctx.cfg.coin_of(pair)
        inflight = dict(self.store.book.inflight)
        inflight[coin] = InFlight("buy", amount, 0.0, coin in self.entries_at_market)
        self.store.update(inflight=inflight)
        self.store.save()

    def entry_stake(self, coin: str, rate: float) -> float | None:
        """A new coin's first buy, as the stake that buys its planned quantity at ``rate`` (the
        rate Freqtrade buys at: the ask, live). None when no quantity was planned (a record of
        0.1.0 keeps only the stake)."""
        qty = self.store.book.entry_qty.get(coin)
        rule = self.markets.rules.get(coin)
        if not qty or not rate or rule is None:
            return None
        # Freqtrade buys floor(stake / rate) to the step: half a step of margin.
        return (qty + rule.qty_step / 2) * rate

    # ---- adjust_trade_position ---------------------------------------------------------------
    def stake_for(self, trade: Any, current_rate: float) -> tuple[float, str] | None:
        """This trade's share of the current rebalance, as Freqtrade's stake (or None).

        A negative stake sells ``|stake| x amount / stake_amount`` (Freqtrade's cost basis)."""
        if self.ctx.backtest:
            self._turn(trade.pair)
        leg = self.orders.pop(trade.pair, None)
        if leg is None:
            return None
        self.sells_left.discard(trade.pair)
        if not self.ctx.backtest:
            self._order_kind(market=trade.pair in self.market)
        coin = self.ctx.cfg.coin_of(trade.pair)
        step_ = self.markets.rules[coin].qty_step
        if leg.side == "sell":
            # Freqtrade refuses a partial exit that would leave less than its minimum stake
            # (the exchange minimum with its reserves): such a sell takes the whole position.
            keep_min = self.markets.keep_min(coin)
            if self.store.book.stopped:
                return -trade.stake_amount, f"portfolio stopped ({self.ctx.cfg.on_stop})"
            if leg.qty >= trade.amount or (trade.amount - leg.qty) * current_rate < keep_min:
                return -trade.stake_amount, "rebalance sell"
            # Freqtrade sells |stake| * amount / stake_amount, truncated to the step: ask for half
            # a step more so float error cannot truncate it one step short.
            qty = min(leg.qty + step_ / 2, trade.amount)
            return -(qty * trade.stake_amount / trade.amount), "rebalance sell"
        qty = leg.qty
        if self.ctx.backtest and current_rate != leg.price:
            # A buy carried to a later candle: the value planned, at this candle's open.
            rule = self.markets.rules[coin]
            qty = rule.floor_qty(leg.value / current_rate)
            if rule.refusal(qty, current_rate) is not None:
                return None
        tag = "deposit buy" if trade.pair in self.deposits else "rebalance buy"
        self.deposits.discard(trade.pair)
        # Freqtrade buys floor(stake / rate) to the step: again half a step of margin.
        return (qty + step_ / 2) * current_rate, tag

    # ---- following orders in flight (dry/live) -------------------------------------------------
    def follow_inflight(self, by_coin: dict[str, Any]) -> bool:
        """Live: an order sent last loop has closed; what it left unfilled (IOC expiry, partial
        fill) goes again as a market order, once. True while any order is still in flight."""
        book = self.store.book
        if not book.inflight:
            return False
        inflight = dict(book.inflight)
        again: dict[str, Leg] = {}
        waiting = False
        entries = dict(book.entries)
        for coin, info in book.inflight.items():
            trade = by_coin.get(coin)
            if trade is None:  # sold entirely, or a first buy that did not fill (retried)
                inflight.pop(coin)
                if info.side == "buy" and info.before == 0 and not info.market:
                    self.entries_at_market.add(coin)
                    logger.info(messages.entry_at_market(coin, info.qty))
                continue
            self.entries_at_market.discard(coin)
            if trade.has_open_orders:
                waiting = True
                continue
            entries.pop(coin, None)
            inflight.pop(coin)
            filled = info.filled(trade.amount)
            if (
                filled == 0
                and not info.market
                and not self.answered(trade, info)
                and self.adopt_unknown(trade, info)
            ):
                filled = info.filled(trade.amount)
                if filled == 0:  # the exchange may have executed it, unbooked: never send twice
                    continue
            rest = info.qty - filled
            if info.market or rest <= 0:
                continue
            price = self.reader.price(self.ctx.cfg.pair(coin), 0) or 0.0
            rule = self.markets.rules.get(coin)
            if rule is None or not price:
                continue
            qty = rule.floor_qty(min(rest, trade.amount) if info.side == "sell" else rest)
            if rule.refusal(qty, price) is None:
                again[coin] = Leg(coin, info.side, qty, price)
                logger.info(messages.rest_at_market(coin, filled, info.qty, qty))
        self.store.update(inflight=inflight, entries=entries)
        if again:
            self.place(again, by_coin, market=True)
            return True
        self.store.save()
        return waiting

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
        rule = self.markets.rules.get(self.ctx.cfg.coin_of(trade.pair))
        slack = 0.02 * info.qty + (rule.qty_step if rule else 0.0)
        filled = [o for o in orders if float(o.get("filled") or 0) > 0]
        # Ours: same side, about the quantity asked (another bot on the same account may trade
        # the same pair; its orders are not in this bot's database).
        ours = [
            o
            for o in filled
            if o.get("side") == info.side and abs(float(o.get("amount") or 0) - info.qty) <= slack
        ]
        if not ours:
            return False
        ids = ", ".join(str(o["id"]) for o in ours)
        strangers = [
            o for o in filled if o not in ours and Order.order_by_id(o["id"], trade.pair) is None
        ]
        if strangers:  # booking would take the other bot's orders too: leave it to the user
            self.notifier.say(messages.unbooked_beside_strangers(trade.pair, ids))
            return True
        self.notifier.say(messages.booking_unbooked(trade.pair, ids))
        privates.book_exchange_order(bot, trade)
        return True
