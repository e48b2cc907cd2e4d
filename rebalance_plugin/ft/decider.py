"""The core's engine, driven from the glue: a snapshot of the portfolio goes in; the record takes
the engine's new state (and the money a withdrawal took out), its events are reported, its orders
handed to the desk. One object, so that a backtest's buys after the sells (``turns.py``) are
decided exactly as the loop's rebalance is, without calling back into the plugin."""

from __future__ import annotations

from ..core.engine import Snapshot, step
from ..core.halts import among_trading
from ..core.portfolio import Portfolio
from .loop import Loop
from .markets import Markets
from .notify import Notifier
from .orders import OrderDesk
from .store import StateStore


class Decider:
    """Holds nothing of its own: every decision is the core's, from the record and the loop."""

    def __init__(
        self, store: StateStore, markets: Markets, notifier: Notifier, desk: OrderDesk
    ) -> None:
        self.store = store
        self.markets = markets
        self.notifier = notifier
        self.desk = desk

    def decide(self, loop: Loop, portfolio: Portfolio, busy: bool) -> None:
        """The core's engine on ``portfolio`` under the loop's effective config: its orders
        placed, its events reported. ``busy``: an order of the portfolio is still open."""
        book = self.store.book
        cfg = loop.applied
        if loop.halted:  # the coins still trading, among themselves (core.halts)
            trading = among_trading(cfg, portfolio, loop.halted)
            if trading.portfolio is None:
                return
            cfg, portfolio = trading.cfg, trading.portfolio
        snap = Snapshot(
            now=loop.now,
            portfolio=portfolio,
            rules=self.markets.rules,
            fee=self.markets.fee_rate,
            first_buy=book.started,
            busy=busy,
            force=loop.force,
            withdraw=loop.withdraw,
            deposit=loop.deposit,
        )
        result = step(cfg, book.engine, snap)
        if result.state is not book.engine or result.withdrawn:
            self.store.update(engine=result.state, funded=book.funded - result.withdrawn)
        for event in result.events:
            self.notifier.report(event)
        if any(leg.side == "buy" for leg in result.orders.values()):
            self.desk.budget = portfolio.cash  # live: the buys spend at most the cash
        self.desk.place(dict(result.orders), loop.by_coin, market=False, deposit=loop.deposit > 0)
