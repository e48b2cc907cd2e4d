"""The portfolio's state, visible per trade (dry/live): FreqUI's trade detail ("Show custom
data") and Telegram's ``/list_custom_data`` show what a portfolio owner asks first: the
portfolio's state and value, every coin's weight against its target (the whole portfolio on
every trade: one modal shows it) and the cash, against the money invested and against
buy-and-hold of the starting allocation since the first buys, the number of rebalances, the last
rebalance, the last thing the bot announced (FreqUI does not show strategy messages) and the
next check; then the trade's coin: its target and current weight and drift. Each value says
what is true now: a stopped portfolio has no next check, a refusal an accepted config has
superseded is no longer the last word (``notify.py``). In dry-run, ``unbooked_fees`` names the
difference between the portfolio's value and FreqUI's balance: Freqtrade's dry-run wallet
deducts a trade's entry fee only when the trade closes.

Freqtrade's own per-trade figures mean little here: a coin's trade is one position kept for the
life of the portfolio, its profit is the coin's own (a coin whose gains were sold into the
others shows them as its profit), and it closes only when the portfolio ends."""

from __future__ import annotations

import logging
import math
from typing import Any

from ..core.config import RebalanceConfig
from ..core.messages import (
    cash_share,
    coin_weight,
    drift_text,
    next_check,
    status_line,
    unbooked_fees,
    utc_time,
)
from ..core.portfolio import Portfolio, drifts
from ..core.triggers import IntervalTrigger, trigger_for
from .context import Context
from .orders import OrderDesk
from .reader import PortfolioReader
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")


def versus(value: float, base: float | None, stake: str) -> str:
    """``+5.23% (+52.30 USDT)``: ``value`` against ``base``."""
    if not base:
        return "-"
    return f"{(value / base - 1) * 100:+.2f}% ({value - base:+.2f} {stake})"


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

    def after_loop(self, trades: list[Any], now: float, applied: RebalanceConfig) -> None:
        """Dry/live: keep the record saved and the portfolio's state visible per trade.
        Published when the portfolio changed (state, a fill) or every PUBLISH_EVERY seconds
        (prices move the weights); never before the orders of this loop have filled.
        ``applied``: the loop's effective config (``Book.applied``)."""
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
            self.publish(trades, now, applied)
        except Exception as err:  # visibility must never stop trading
            logger.warning(f"Could not publish the portfolio state: {err}")

    def publish_now(self, trades: list[Any], now: float, applied: RebalanceConfig) -> None:
        """Dry/live: publish at once, pending orders or not (a stop: the trades a stop sells
        close with the stopped state on them)."""
        if self.ctx.backtest:
            return
        self.seen = ()
        self.last_publish = now
        try:
            self.publish(trades, now, applied)
        except Exception as err:  # visibility must never stop trading
            logger.warning(f"Could not publish the portfolio state: {err}")

    def portfolio_status(
        self, trades: list[Any], now: float, applied: RebalanceConfig
    ) -> dict[str, dict[str, Any]]:
        """Per coin: the portfolio's state, every coin's weight against its target, and the
        trade's own coin, under the effective config ``applied``."""
        cfg = self.ctx.cfg
        book = self.store.book
        targets = applied.weights
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
        # a coin held but not targeted: its weight in points, in both modes
        drift_of = {
            coin: drift_text(drift[coin], rel, "+")
            if coin in drift
            else drift_text(weights.get(coin, 0.0) * 100, False, "+")
            for coin in dict.fromkeys([*targets, *by_coin])
        }
        last = book.engine.last_rebalance
        stake = cfg.stake_currency
        held = self.buy_and_hold(trades, now)
        said = book.said
        common = {
            "portfolio_state": status_line(book),
            "portfolio_value": round(pf.total, 2),
            # one glance: the whole portfolio on every trade
            **{
                coin: coin_weight(weights.get(coin, 0.0), targets.get(coin, 0.0), text)
                for coin, text in drift_of.items()
            },
            "cash": cash_share(pf.cash, pf.total, stake),
            **self._unbooked_fees(trades, stake),
            "invested": round(book.funded, 2),
            "vs_invested": versus(pf.total, book.funded, stake),
            "buy_and_hold_value": round(held, 2) if held is not None else "-",
            "vs_buy_and_hold": versus(pf.total, held, stake) if held is not None else "-",
            "rebalances": book.engine.rebalances,
            "last_rebalance": utc_time(last) if last else "never",
            "last_announcement": f"{utc_time(said[0])}: {said[1]}" if said else "-",
            "next_check": self._next_check(applied, now),
            "on_stop": cfg.on_stop,
        }
        return {
            coin: {
                **common,
                "target_weight": f"{targets.get(coin, 0.0) * 100:.2f}%",
                "weight": f"{weights.get(coin, 0.0) * 100:.2f}%",
                "drift": drift_of[coin],
            }
            for coin in by_coin
        }

    def _next_check(self, applied: RebalanceConfig, now: float) -> str:
        book = self.store.book
        trigger = trigger_for(applied)
        interval_next = None
        if isinstance(trigger, IntervalTrigger) and book.started is not None:
            interval_next = trigger.next_check(now, book.started)
        unit = "% of target" if applied.relative else " points"
        return next_check(book, interval_next, f"{applied.threshold:g}{unit}")

    def _unbooked_fees(self, trades: list[Any], stake: str) -> dict[str, str]:
        """Dry-run: the open trades' entry fees, which the plugin counts as paid (the
        portfolio's value) and Freqtrade's dry-run wallet deducts only when a trade closes
        (FreqUI's balance): the difference between the two, named."""
        if not self.ctx.config.get("dry_run"):
            return {}
        fees = math.fsum(t.stake_amount * (t.fee_open or 0.0) for t in trades)
        return {"unbooked_fees": unbooked_fees(fees, stake)}

    def buy_and_hold(self, trades: list[Any], now: float) -> float | None:
        """What the starting allocation would be worth now, held: the coins the first buys
        bought at today's prices, plus the cash they left, plus money added (less money taken)
        since. None before the first buys (or without a price)."""
        book = self.store.book
        cfg = self.ctx.cfg
        if book.started is None:
            return None
        holdings, cash = dict(book.start_holdings), book.start_cash
        if book.start_time is None or cash is None:  # a record of an earlier release
            holdings, cash = self._first_buys(trades, book.funded)
        since = book.start_time if book.start_time is not None else book.started
        prices = {c: self.reader.price(cfg.pair(c), int(now)) for c in holdings}
        if not all(prices.values()):
            return None
        moved = sum(a for t, a in book.moves if t >= since)
        return sum(q * float(prices[c] or 0.0) for c, q in holdings.items()) + cash + moved

    @staticmethod
    def _first_buys(trades: list[Any], funded: float) -> tuple[dict[str, float], float]:
        """The first filled buy of each open trade, and the cash ``funded`` less their cost."""
        holdings: dict[str, float] = {}
        cost = 0.0
        for trade in trades:
            buys = [o for o in trade.orders if o.ft_order_side == "buy" and o.safe_filled]
            if not buys:
                continue
            first = min(buys, key=lambda o: o.order_filled_utc or o.order_date_utc)
            holdings[trade.pair.split("/")[0]] = float(first.safe_amount_after_fee)
            cost += first.safe_filled * first.safe_price * (1.0 + (trade.fee_open or 0.0))
        return holdings, funded - cost

    def publish(self, trades: list[Any], now: float, applied: RebalanceConfig) -> None:
        """Each trade's custom data, as it is now: only the values that changed are written
        (one database commit each); a value published before that has no place now (a coin
        no longer in the portfolio) is set to "-"."""
        status = self.portfolio_status(trades, now, applied)
        for trade in trades:
            data = status.get(self.ctx.cfg.coin_of(trade.pair))
            if not data:
                continue
            before = self.published.get(trade.id)
            if before is None:  # a new trade, or a restart: what its custom data holds
                before = _stored(trade)
            data = {**dict.fromkeys(before, "-"), **data}
            for key, value in data.items():
                if before.get(key, _UNSET) != value:
                    trade.set_custom_data(key, value)
            self.published[trade.id] = data


_UNSET = object()


def _stored(trade: Any) -> dict[str, Any]:
    """The custom data a trade holds (after a restart: what the last run published)."""
    read = getattr(trade, "get_all_custom_data", None)
    if read is None:
        return {}
    return {entry.cd_key: entry.value for entry in read()}
