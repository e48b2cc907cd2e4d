"""Orders: the core's legs handed to Freqtrade as stakes.

Each leg goes to its trade's ``adjust_trade_position`` (a coin without a trade is bought as a new
trade through the entry signal). Live, an order is a limit Immediate-Or-Cancel order at the best
price, switched to market per order; each leg is recorded in flight before it is sent, and
followed until it closes (``recovery.py``). In a backtest the order of the pairs' turns decides
when the buys are sized (``turns.py``); a buy carried to a later candle is handed out there for
the value planned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..core.inflight import InFlight
from ..core.plan import Leg
from .context import Context
from .markets import Markets
from .ordertypes import OrderStyle
from .store import StateStore


class OrderDesk:
    """Owns this loop's orders (pair -> leg) and which of them go at market."""

    def __init__(
        self, ctx: Context, store: StateStore, markets: Markets, style: OrderStyle
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.markets = markets
        self.style = style  # limit IOC, or limit GTC where the exchange has no IOC
        # Live: the portfolio's cash this loop's buys may spend, fees included (None: no cap).
        self.budget: float | None = None
        self.orders: dict[str, Leg] = {}
        self.market: set[str] = set()  # pairs whose order this loop goes at market
        self.deposits: set[str] = set()  # pairs whose buy invests an auto-invest deposit

    # ---- a loop's orders ---------------------------------------------------------------------
    def new_loop(self) -> None:
        """Forget last loop's orders (a backtest keeps the buys not handed out yet); live,
        orders are limit orders (``ordertypes.py``) unless switched to market per order."""
        if self.ctx.backtest and not self.store.book.stopped:
            self.orders = {p: leg for p, leg in self.orders.items() if leg.side == "buy"}
        else:
            self.orders = {}
        self.deposits &= set(self.orders)
        self.market = set()
        self.budget = None
        if not self.ctx.backtest:
            self.order_kind(market=False)

    def order_kind(self, market: bool) -> None:
        """Freqtrade reads ``order_types`` and ``order_time_in_force`` when it places each
        order, so the strategy switches them per order."""
        types, tif = self.style.market if market else self.style.limit
        strategy = self.ctx.strategy
        strategy.order_types = {**strategy.order_types, **types}
        strategy.order_time_in_force = dict(tif)

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
        leg = self.orders.pop(trade.pair, None)
        if leg is None:
            return None
        if not self.ctx.backtest:
            self.order_kind(market=trade.pair in self.market)
        coin = self.ctx.cfg.coin_of(trade.pair)
        rule = self.markets.rules[coin]
        if leg.side == "sell":
            return self._sell_stake(trade, leg, coin, rule.qty_step, current_rate)
        qty = leg.qty
        if self.ctx.backtest and current_rate != leg.price:
            # A buy carried to a later candle: the value planned, at this candle's open.
            qty = rule.floor_qty(leg.value / current_rate)
            if rule.refusal(qty, current_rate) is not None:
                return None
        tag = "deposit buy" if trade.pair in self.deposits else "rebalance buy"
        self.deposits.discard(trade.pair)
        # Freqtrade buys floor(stake / rate) to the step: again half a step of margin.
        return self._within_budget((qty + rule.qty_step / 2) * current_rate), tag

    def _within_budget(self, stake: float) -> float:
        """Live: a buy's stake, at most what the portfolio's cash still holds for it. The plan
        values the buys at the last price; Freqtrade buys at the ask, and an exchange that takes
        its fee in the stake currency (Kraken) wants ``stake x (1 + fee)`` free: the last buy of
        a rebalance would ask for the spread more than the sells freed and be refused
        ("Insufficient funds")."""
        if self.budget is None or self.ctx.backtest:
            return stake
        fee = self.markets.fee_rate
        stake = max(0.0, min(stake, self.budget / (1.0 + fee)))
        self.budget -= stake * (1.0 + fee)
        return stake

    def _sell_stake(
        self, trade: Any, leg: Leg, coin: str, step: float, rate: float
    ) -> tuple[float, str]:
        """A sell as Freqtrade's (negative) stake. Freqtrade refuses a partial exit that would
        leave less than its minimum stake (the exchange minimum with its reserves): such a sell
        takes the whole position."""
        if self.store.book.stopped:
            return -trade.stake_amount, f"portfolio stopped ({self.ctx.cfg.on_stop})"
        if leg.qty >= trade.amount or (trade.amount - leg.qty) * rate < self.markets.keep_min(
            coin, rate
        ):
            return -trade.stake_amount, "rebalance sell"
        # Freqtrade sells |stake| * amount / stake_amount, truncated to the step: ask for half
        # a step more so float error cannot truncate it one step short.
        qty = min(leg.qty + step / 2, trade.amount)
        return -(qty * trade.stake_amount / trade.amount), "rebalance sell"
