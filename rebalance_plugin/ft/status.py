"""The portfolio's state, visible per trade (dry/live): FreqUI's trade detail ("Show custom
data") and Telegram's ``/list_custom_data`` show each coin's target and current weight, drift,
the portfolio's value and state, the last rebalance and the next check."""

from __future__ import annotations

import logging
from typing import Any

from ..core.messages import drift_text, status_line, utc_time
from ..core.portfolio import Portfolio, drifts
from ..core.triggers import IntervalTrigger, trigger_for
from .context import Context
from .orders import OrderDesk
from .reader import PortfolioReader
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")

#: Seconds between two refreshes of the per-trade custom data shown by FreqUI and Telegram.
PUBLISH_EVERY = 30.0


class StatusPublisher:
    """Owns what was last published per trade and when."""

    def __init__(
        self, ctx: Context, store: StateStore, reader: PortfolioReader, desk: OrderDesk
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.reader = reader
        self.desk = desk
        self.published: dict[int, dict[str, Any]] = {}
        self.last_publish = 0.0
        self.seen: tuple[Any, ...] = ()

    def after_loop(self, trades: list[Any], now: float) -> None:
        """Dry/live: keep the record saved and the portfolio's state visible per trade.
        Published when the portfolio changed (state, a fill) or every PUBLISH_EVERY seconds
        (prices move the weights); never before the orders of this loop have filled."""
        if self.ctx.backtest:
            return
        self.store.save()
        seen = (
            status_line(self.store.book),
            tuple(sorted((t.id, t.amount) for t in trades)),
        )
        if (seen == self.seen and now - self.last_publish < PUBLISH_EVERY) or self.desk.orders:
            return
        self.seen = seen
        self.last_publish = now
        try:
            self.publish(trades, now)
        except Exception as err:  # visibility must never stop trading
            logger.warning(f"Could not publish the portfolio state: {err}")

    def publish_now(self, trades: list[Any], now: float) -> None:
        """Dry/live: publish at once, pending orders or not (a stop: the trades a stop sells
        close with the stopped state on them)."""
        if self.ctx.backtest:
            return
        self.seen = ()
        self.last_publish = now
        try:
            self.publish(trades, now)
        except Exception as err:  # visibility must never stop trading
            logger.warning(f"Could not publish the portfolio state: {err}")

    def portfolio_status(self, trades: list[Any], now: float) -> dict[str, dict[str, Any]]:
        """Per coin: target and current weight, drift, and the portfolio's state."""
        cfg = self.ctx.cfg
        book = self.store.book
        targets = book.applied(cfg).weights
        by_coin = self.reader.by_coin(trades)
        prices = {c: self.reader.price(cfg.pair(c), int(now)) for c in by_coin}
        if not all(prices.values()):
            return {}
        pf = Portfolio(
            {c: t.amount for c, t in by_coin.items()},
            prices,  # type: ignore[arg-type]
            self.reader.cash(trades),
        )
        weights = pf.weights()
        rel = cfg.relative  # threshold_mode relative: drift in percent of each coin's target
        drift = drifts(weights, targets, rel)
        trigger = trigger_for(book.applied(cfg))
        if book.started is None:
            next_check = "after the first buys"
        elif isinstance(trigger, IntervalTrigger):
            next_check = utc_time(trigger.next_check(now, book.started))
        else:
            unit = "% of target" if rel else " points"
            next_check = f"every loop (threshold {cfg.threshold:g}{unit})"
        last = book.engine.last_rebalance
        common = {
            "portfolio_state": status_line(book),
            "portfolio_value": round(pf.total, 2),
            "last_rebalance": utc_time(last) if last else "never",
            "next_check": next_check,
            "on_stop": cfg.on_stop,
        }
        return {
            coin: {
                "target_weight": f"{targets.get(coin, 0.0) * 100:.2f}%",
                "weight": f"{weights.get(coin, 0.0) * 100:.2f}%",
                # a coin held but not targeted: its weight in points, in both modes
                "drift": drift_text(drift[coin], rel, "+")
                if coin in drift
                else drift_text(weights.get(coin, 0.0) * 100, False, "+"),
                **common,
            }
            for coin in by_coin
        }

    def publish(self, trades: list[Any], now: float) -> None:
        status = self.portfolio_status(trades, now)
        for trade in trades:
            data = status.get(self.ctx.cfg.coin_of(trade.pair))
            if not data or self.published.get(trade.id) == data:
                continue
            for key, value in data.items():
                trade.set_custom_data(key, value)
            self.published[trade.id] = data
