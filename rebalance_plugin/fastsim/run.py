"""One backtest on the harness: the core's engine driven candle by candle the way the plugin's
glue drives it in a Freqtrade backtest, its orders filled the way Freqtrade's backtest fills
them.

What is the core's and called as is: every decision (``core.engine.step``: the trigger, the
plan, the buys after the sells, the deposits), the stop levels and ``trigger_price``
(``core.guards``), the auto-invest schedule and its refusal rule (``core.autoinvest``), the
exchange rules and their rounding (``core.rules``), the coins still trading rebalanced among
themselves while a coin's candles stop (``core.halts``).

What mirrors the glue (``ft/plugin.py``'s loop in a backtest; the module each step follows is
named on its method): the stages of a loop, what the order desk hands Freqtrade as a stake for
each leg (``ft/orders.py``), the turn at which the buys after the sells are sized
(``ft/turns.py``), the first buys (``ft/lifecycle.py``), the deposits (``ft/deposits.py``) and
the portfolio's cash (``ft/reader.py``).

What mirrors Freqtrade's backtest (2026.9, ``optimize/backtesting.py``): the pairs visited in
turn on each candle (open trades first, in the order they opened, then the whitelist), entries
and position adjustments at the candle's open, a stake validated against the minimum (bumped by
at most 30%) and the available balance, the quantity truncated to the amount precision, a
partial exit refused when it would leave less than the minimum stake, exits priced at the
candle's open rounded to the trade's price precision (filled only inside the candle's range),
the fee on every order, and every trade sold at the last candle's open at the end.

Between events the candles on which nothing can happen are skipped (:mod:`.ahead`). A backtest
outside what is modelled raises :class:`~.setup.Unsupported`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..core.config import RebalanceConfig
from ..core.engine import Event, Snapshot, State, step
from ..core.guards import stop_reason, trigger_reached
from ..core.halts import among_trading
from ..core.plan import Leg
from ..core.portfolio import Portfolio
from . import deposits as deposit_rules
from .ahead import Ahead, Quiet
from .market import ADJUST_STOPLOSS, ENTRY_STOPLOSS, EXIT_STOPLOSS, PairMarket, price_to_precision
from .setup import PlanRules, Setup, Unsupported, plan_rules
from .trades import Books, Order, Trade


@dataclass
class Record:
    """The portfolio's record (``core.book.Book``'s fields a backtest uses), kept mutable."""

    cfg: RebalanceConfig
    funded: float
    engine: State = field(default_factory=State)
    started: float | None = None
    triggered: bool = True
    trigger_ref: float | None = None
    stopped: str | None = None
    entries: dict[str, float] = field(default_factory=dict)
    entry_qty: dict[str, float] = field(default_factory=dict)
    deposited: float = 0.0
    last_deposit: float | None = None
    deposit_refused: float | None = None
    missing_data: tuple[str, ...] = ()
    price_gap: tuple[str, ...] = ()


@dataclass
class Result:
    """A run's orders (as the report reads them), the core's events, and Freqtrade's final
    balance (the starting wallet plus every trade's profit)."""

    orders: list[Order]
    events: list[Event]
    final_balance: float
    start: int
    end: int
    starting_balance: float


class Desk:
    """``ft/orders.py``'s OrderDesk in a backtest: the legs waiting for their pair's turn."""

    def __init__(self) -> None:
        self.orders: dict[str, Leg] = {}
        self.deposits: set[str] = set()

    def new_loop(self, stopped: bool) -> None:
        """A backtest keeps the buys not handed out yet (none once stopped)."""
        keep = {} if stopped else {p: leg for p, leg in self.orders.items() if leg.side == "buy"}
        self.orders = keep
        self.deposits &= set(keep)

    @property
    def sells_left(self) -> bool:
        return any(leg.side == "sell" for leg in self.orders.values())


class Run:
    """One backtest: the record, the desk, the turn of the buys, Freqtrade's books."""

    def __init__(self, setup: Setup, cfg: RebalanceConfig) -> None:
        self.setup = setup
        self.cfg = cfg
        self.candles = c = setup.candles
        self.plan: PlanRules = plan_rules(setup, cfg)
        self.col = {p: j for j, p in enumerate(c.pairs)}
        missing = [p for p in cfg.pairs if p not in self.col]
        if missing:
            raise Unsupported(f"no candles for {', '.join(missing)}")
        self.markets: dict[str, PairMarket] = {p: setup.pair_market(p) for p in c.pairs}
        self.coin_of = {cfg.pair(coin): coin for coin in cfg.coin_names}
        self.books = Books(setup.dry_run_wallet, setup.tradable_ratio)
        self.rec = Record(cfg, cfg.investment, triggered=cfg.trigger_price is None)
        self.desk = Desk()
        self.events: list[Event] = []
        self.buys_due = False
        self.selling: tuple[float, Portfolio] | None = None
        self.portfolio: Portfolio | None = None  # the last loop's (None: a price missing)
        self.halted: tuple[str, ...] = ()  # this candle's coins held at their last price
        self.filled: np.ndarray | None = None  # the opens carried over gaps (held_at)
        cols = [self.col[p] for p in cfg.pairs]
        self.ahead = Ahead(c.times, np.ascontiguousarray(c.opens[:, cols]))
        self.max_open = setup.max_open_trades or len(cfg.coin_names)
        self.busy_next = True  # the next candle must be looked at (pending after the loop)

    # ---- the run -------------------------------------------------------------------------
    def run(self) -> Result:
        i, n = 0, len(self.candles.times)
        while i < n:
            self.candle(i)
            i = self.next_index(i)
        self.close_all()
        return Result(
            self.books.orders,
            self.events,
            self.books.start_cap + self.books.closed_profit,
            self.candles.start,
            self.candles.end,
            self.setup.dry_run_wallet,
        )

    def candle(self, i: int) -> None:
        """``bot_loop_start``, then each pair's turn (``Backtesting.time_pair_generator``)."""
        open_pairs = [t.pair for t in self.books.open_trades()]
        self.loop(i)
        # BacktestTurns.after: judged at the loop's end, before the pairs' turns fill its orders
        self.busy_next = self.pending()
        order = list(dict.fromkeys(open_pairs + list(self.candles.pairs)))
        visit = self.candles.visit[i]
        for pair in order:
            j = self.col[pair]
            if visit[j]:
                self.visit(pair, j, i, pair in open_pairs)

    # ---- bot_loop_start (ft/plugin.py: RebalancePlugin.loop) -----------------------------
    def loop(self, i: int) -> None:
        now = float(self.candles.times[i])
        rec = self.rec
        self.buys_due, self.selling = False, None  # turns.candle
        self.desk.new_loop(bool(rec.stopped))
        trades = self.books.open_trades()
        by_coin = {self.coin_of[t.pair]: t for t in trades}
        self.portfolio, self.halted = None, ()
        if rec.stopped:
            self.stopped_loop(by_coin)
            return
        self.first_buys_filled(by_coin)
        busy = any(t.open_exit is not None for t in trades)
        if rec.started is None:
            self.starting(by_coin, i, busy)
            return
        portfolio = self.portfolio = self.read_portfolio(by_coin, i, trades)
        if portfolio is None:
            return
        if stop := stop_reason(self.cfg, portfolio.total, portfolio.prices):
            self.stop(stop)
            self.stopped_loop(by_coin)
            return
        if self.deposit(now, portfolio, trades, by_coin, busy):
            return
        carried = bool(self.desk.orders)
        self.decide(now, portfolio, busy or bool(rec.entries) or carried, by_coin)
        if self.desk.sells_left and rec.engine.phase == "selling":  # turns.sold
            self.selling = (now, portfolio)
            self.buys_due = True

    def stopped_loop(self, by_coin: dict[str, Trade]) -> None:
        """``Lifecycle.stopped_loop``: on_stop sell_all sells every coin still held."""
        if self.cfg.on_stop != "sell_all":
            return
        for coin, trade in by_coin.items():
            if trade.open_exit is None and trade.amount > 0:
                self.desk.orders[trade.pair] = Leg(coin, "sell", trade.amount, 0.0)

    def stop(self, reason: str) -> None:
        """``Lifecycle.stop`` in a backtest."""
        rec = self.rec
        rec.stopped = reason
        rec.entries = {}
        rec.engine = replace(rec.engine, phase="idle", pending_buys={})

    def first_buys_filled(self, by_coin: dict[str, Trade]) -> None:
        entries = self.rec.entries
        done = [c for c in entries if c in by_coin and by_coin[c].amount > 0]
        for coin in done:
            del entries[coin]

    def starting(self, by_coin: dict[str, Trade], i: int, busy: bool) -> None:
        """``Lifecycle.starting``: wait for trigger_price, then the first buys."""
        rec, cfg = self.rec, self.cfg
        if not rec.triggered and cfg.trigger_price is not None:
            level = cfg.trigger_price
            price = self.price(cfg.pair(level.coin or cfg.coin_names[0]), i)
            if not price:
                return
            if rec.trigger_ref is None:
                rec.trigger_ref = price
            elif trigger_reached(level, rec.trigger_ref, price):
                rec.triggered = True
            return
        coins = list(cfg.coin_names)
        rec.missing_data = tuple(c for c in coins if self.price(cfg.pair(c), i) is None)
        if rec.missing_data:
            return
        if busy or any(c not in by_coin or by_coin[c].amount <= 0 for c in coins):
            return
        rec.started = min(by_coin[c].open_time for c in coins)
        rec.entries = {}

    def price(self, pair: str, i: int) -> float | None:
        j = self.col.get(pair)
        if j is None:
            return None
        p = float(self.candles.opens[i, j])
        return None if math.isnan(p) else p

    def read_portfolio(
        self, by_coin: dict[str, Trade], i: int, trades: list[Trade]
    ) -> Portfolio | None:
        """``PortfolioReader.portfolio``: None when a coin has no price now, unless it is held
        at its last price (``RebalancePlugin._prices`` in a backtest: ``held_at``)."""
        coins = self.cfg.coin_names
        row = self.ahead.prices[i].tolist()  # the config's coins, in order
        missing = tuple(c for c, p in zip(coins, row, strict=True) if not p or p != p)
        self.rec.price_gap = missing
        prices = dict(zip(coins, row, strict=True))
        if missing:
            held_at = self.held_at(missing, i)
            if not held_at:
                return None
            self.halted = missing
            prices.update(held_at)
            for coin in missing:  # a buy carried from the last candle: no order for it
                self.desk.orders.pop(self.cfg.pair(coin), None)
        held = {c: (by_coin[c].amount if c in by_coin else 0.0) for c in coins}
        return Portfolio(held, prices, self.cash(trades))

    def held_at(self, missing: tuple[str, ...], i: int) -> dict[str, float]:
        """``BacktestTurns.held_at``: each coin of ``missing`` at the open of its last candle
        before row ``i``; empty when every coin is missing or one has no earlier candle."""
        coins = self.cfg.coin_names
        if len(missing) >= len(coins) or i == 0:
            return {}
        if self.filled is None:  # computed once, at a run's first gap
            prices = self.ahead.prices
            rows = np.where(np.isnan(prices), 0, np.arange(len(prices))[:, None])
            self.filled = np.take_along_axis(prices, np.maximum.accumulate(rows, axis=0), 0)
        last = self.filled[i - 1]
        col = {c: k for k, c in enumerate(coins)}
        out = {c: float(last[col[c]]) for c in missing if last[col[c]] > 0}
        return out if len(out) == len(missing) else {}

    def own_cash(self, trades: list[Trade]) -> float:
        """``PortfolioReader.own_cash`` in a backtest."""
        return self.rec.funded + math.fsum(
            t.realized_profit - t.stake_amount * (1.0 + t.fee) for t in trades
        )

    def cash(self, trades: list[Trade]) -> float:
        """``PortfolioReader.cash``: the portfolio's own cash, at most the wallet's free."""
        return max(0.0, min(self.own_cash(trades), self.books.free()))

    def deposit(
        self,
        now: float,
        portfolio: Portfolio,
        trades: list[Trade],
        by_coin: dict[str, Trade],
        busy: bool,
    ) -> bool:
        """``RebalancePlugin._deposit``: a deposit due now is made and invested; True ends
        the loop."""
        amount = deposit_rules.make(self, now, trades, busy or bool(self.desk.orders))
        if not amount:
            return False
        self.decide(now, replace(portfolio, cash=self.cash(trades)), False, by_coin, amount)
        return True

    def decide(
        self,
        now: float,
        portfolio: Portfolio,
        busy: bool,
        by_coin: dict[str, Trade],
        deposit: float = 0.0,
    ) -> None:
        """``Decider.decide``: the core's engine step (among the coins still trading while some
        are held, ``core.halts``); its orders to the desk."""
        rec = self.rec
        cfg = self.cfg
        if self.halted:
            trading = among_trading(cfg, portfolio, self.halted)
            if trading.portfolio is None:
                return
            cfg, portfolio = trading.cfg, trading.portfolio
        snap = Snapshot(
            now=now,
            portfolio=portfolio,
            rules=self.plan.rules,
            fee=self.setup.fee,
            first_buy=rec.started,
            busy=busy,
            deposit=deposit,
        )
        result = step(cfg, rec.engine, snap)
        if result.state is not rec.engine or result.withdrawn:
            rec.engine = result.state
            rec.funded -= result.withdrawn
        self.events.extend(result.events)
        self.place(dict(result.orders), by_coin, deposit > 0)

    def place(self, orders: dict[str, Leg], by_coin: dict[str, Trade], deposit: bool) -> None:
        """``OrderDesk.place`` in a backtest."""
        for coin, leg in orders.items():
            if coin not in by_coin:  # bought as a new trade
                if leg.side == "buy":
                    self.rec.entries[coin] = leg.value
                    self.rec.entry_qty[coin] = leg.qty
                continue
            pair = self.cfg.pair(coin)
            self.desk.orders[pair] = leg
            if deposit:
                self.desk.deposits.add(pair)

    # ---- a pair's turn (Backtesting.backtest_loop) ---------------------------------------
    def visit(self, pair: str, j: int, i: int, was_open: bool) -> None:
        trade = self.books.of_pair(pair)
        if was_open and trade is None:
            return  # its trade closed on this candle
        if trade is not None and trade.open_exit is not None:
            self.cancel_exit(trade, i)
        if trade is None and i < len(self.candles.times) - 1:
            if len(self.books.open_trades()) < self.max_open:
                trade = self.enter(pair, j, i)
        if trade is not None:
            self.adjust(trade, j, i)

    def cancel_exit(self, trade: Trade, i: int) -> None:
        """An exit that did not fill times out (``unfilledtimeout``) and is deleted."""
        assert trade.open_exit is not None
        if float(self.candles.times[i]) - trade.open_exit <= self.setup.exit_timeout:
            raise Unsupported("an unfilled exit order outlives its candle")
        trade.open_exit = None

    def enter(self, pair: str, j: int, i: int) -> Trade | None:
        """A first buy (``Backtesting._enter_trade``, no trade yet)."""
        rate = float(self.candles.opens[i, j])
        market = self.markets[pair]
        available = self.books.available()
        if self.setup.stake_amount != "unlimited" and available < float(self.setup.stake_amount):
            return None
        min_stake = market.min_stake(rate, ENTRY_STOPLOSS) or 0.0
        stake = self.books.validate_stake(
            self.entry_stake(pair, rate), min_stake, market.max_stake(rate), None
        )
        if not stake or (min_stake and stake < min_stake):
            return None
        amount = market.truncate(stake / rate)
        if not amount or not self.entry_allowed(self.coin_of[pair]):
            return None
        now = float(self.candles.times[i])
        tick = self.setup.month_tick(pair, now) if self.setup.month_tick else None
        precision, mode = (tick, 4) if tick is not None else market.price_precision(now)
        trade = Trade(pair, self.coin_of[pair], market, now, self.setup.fee, precision, mode)
        self.books.add(trade)
        self.fill_buy(trade, amount, rate, now, "")
        return trade

    def entry_stake(self, pair: str, rate: float) -> float:
        """``Lifecycle.entry_stake``."""
        coin = self.coin_of[pair]
        rec = self.rec
        if coin in rec.entries:
            qty = rec.entry_qty.get(coin)
            rule = self.plan.rules[coin]
            if qty and rate:
                return (qty + rule.qty_step / 2) * rate
            return rec.entries[coin]
        weight = dict(self.cfg.coins).get(coin, 0.0) / 100.0
        return weight * min(self.cfg.investment, rec.funded) / (1.0 + self.setup.fee)

    def entry_allowed(self, coin: str) -> bool:
        """``Lifecycle.entry_allowed``."""
        rec = self.rec
        if rec.stopped:
            return False
        if rec.started is None:
            return rec.triggered and coin in self.cfg.coin_names and not rec.missing_data
        return coin in rec.entries

    def adjust(self, trade: Trade, j: int, i: int) -> None:
        """``_check_adjust_trade_for_candle`` behind the fast path's gate (``turns.py``)."""
        desk = self.desk
        pair = trade.pair
        if pair not in desk.orders and not (self.buys_due and not desk.sells_left):
            return
        rate = float(self.candles.opens[i, j])
        self.turn()
        answer = self.stake_for(trade, rate)
        if answer is None:
            return
        stake, tag = answer
        if stake > 0:
            self.buy_more(trade, j, i, stake, tag)
        elif stake < 0:
            self.sell_part(trade, j, i, stake, tag)

    def turn(self) -> None:
        """``BacktestTurns.turn``: the first turn after the last sell sizes the buys."""
        if not self.buys_due or self.desk.sells_left:
            return
        self.buys_due = False
        assert self.selling is not None
        now, sold = self.selling
        trades = self.books.open_trades()
        by_coin = {self.coin_of[t.pair]: t for t in trades}
        held = {c: (by_coin[c].amount if c in by_coin else 0.0) for c in sold.quantities}
        self.decide(now, Portfolio(held, sold.prices, self.cash(trades)), False, by_coin)

    def stake_for(self, trade: Trade, rate: float) -> tuple[float, str] | None:
        """``OrderDesk.stake_for`` in a backtest."""
        leg = self.desk.orders.pop(trade.pair, None)
        if leg is None:
            return None
        coin = trade.coin
        rule = self.plan.rules[coin]
        if leg.side == "sell":
            return self.sell_stake(trade, leg, rule.qty_step, rate)
        qty = leg.qty
        if rate != leg.price:  # carried to a later candle: the value planned, at this open
            qty = rule.floor_qty(leg.value / rate)
            if rule.refusal(qty, rate) is not None:
                return None
        tag = "deposit buy" if trade.pair in self.desk.deposits else "rebalance buy"
        self.desk.deposits.discard(trade.pair)
        return (qty + rule.qty_step / 2) * rate, tag

    def sell_stake(self, trade: Trade, leg: Leg, step_: float, rate: float) -> tuple[float, str]:
        """``OrderDesk._sell_stake``."""
        if self.rec.stopped:
            return -trade.stake_amount, f"portfolio stopped ({self.cfg.on_stop})"
        keep = self.plan.keep_min[trade.coin]
        if leg.qty >= trade.amount or (trade.amount - leg.qty) * rate < keep:
            return -trade.stake_amount, "rebalance sell"
        qty = min(leg.qty + step_ / 2, trade.amount)
        return -(qty * trade.stake_amount / trade.amount), "rebalance sell"

    # ---- Freqtrade's fills ---------------------------------------------------------------
    def buy_more(self, trade: Trade, j: int, i: int, stake: float, tag: str) -> None:
        """A position increase (``Backtesting._enter_trade`` with a trade)."""
        rate = float(self.candles.opens[i, j])
        market = trade.market
        min_stake = market.min_stake(rate, ADJUST_STOPLOSS)
        stake = self.books.validate_stake(
            stake, min_stake, market.max_stake(rate), trade.stake_amount
        )
        if not stake or (min_stake and stake < min_stake):
            return
        amount = market.truncate(stake / rate)
        if amount:
            self.fill_buy(trade, amount, rate, float(self.candles.times[i]), tag)

    def fill_buy(self, trade: Trade, amount: float, rate: float, now: float, tag: str) -> None:
        trade.buy(amount, rate)
        self.books.orders.append(Order(now, trade.coin, "buy", amount, rate, trade.fee, tag))

    def sell_part(self, trade: Trade, j: int, i: int, stake: float, tag: str) -> None:
        """A partial (or whole) exit (``_check_adjust_trade_for_candle``, negative stake)."""
        from ccxt import Precise

        c = self.candles
        rate = float(c.opens[i, j])
        market = trade.market
        ratio = Precise(str(stake)) * Precise(str(trade.amount)) / Precise(str(trade.stake_amount))
        amount = market.truncate(abs(float(ratio)))
        if amount == 0.0:
            return
        min_stake = market.min_stake(rate, EXIT_STOPLOSS)
        remaining = (trade.amount - amount) * rate
        if min_stake and remaining != 0 and remaining < min_stake:
            return
        low, high = float(c.lows[i, j]), float(c.highs[i, j])
        price = max(rate, low)
        price = price_to_precision(price, trade.price_precision, trade.price_mode)
        self.fill_sell(trade, market.truncate(amount), price, i, tag, low <= price <= high)

    def fill_sell(
        self, trade: Trade, amount: float, price: float, i: int, tag: str, filled: bool
    ) -> None:
        now = float(self.candles.times[i])
        if not filled:
            trade.open_exit = now
            return
        whole = amount == trade.amount
        trade.sell(amount, price)
        self.books.orders.append(Order(now, trade.coin, "sell", amount, price, trade.fee, tag))
        if whole or not trade.is_open:
            self.books.close(trade)

    def close_all(self) -> None:
        """``Backtesting.handle_left_open``: every open trade sold at its last row's open."""
        c = self.candles
        for pair in c.pairs:
            trade = self.books.of_pair(pair)
            if trade is None:
                continue
            if trade.open_exit is not None:
                raise Unsupported("an exit order is still open at the end")
            j = self.col[pair]
            i = int(c.last_row[j])
            price = price_to_precision(
                float(c.opens[i, j]), trade.price_precision, trade.price_mode
            )
            filled = float(c.lows[i, j]) <= price <= float(c.highs[i, j])
            if not filled:
                raise Unsupported("the final exit's price is outside its candle")
            self.fill_sell(trade, trade.amount, price, i, "force_exit", True)

    # ---- fast-forward (ft/turns.py: BacktestTurns._pending, _quiet_until) -----------------
    def pending(self) -> bool:
        """Something may happen on the next candle whatever the prices do."""
        rec = self.rec
        return (
            self.portfolio is None
            or rec.started is None
            or bool(rec.entries)
            or rec.engine.phase != "idle"
            or rec.engine.skipping is not None
            or bool(self.desk.orders)
            or bool(rec.price_gap)
            or any(t.open_exit is not None for t in self.books.open_trades())
        )

    def next_index(self, i: int) -> int:
        n = len(self.candles.times)
        rec = self.rec
        if rec.stopped:
            nothing_left = self.cfg.on_stop != "sell_all" or not self.books.open_trades()
            return n if nothing_left else i + 1
        if self.busy_next:
            return i + 1
        assert self.portfolio is not None and rec.started is not None
        until = n
        due = deposit_rules.next_due(self)
        if due is not None:
            until = int(np.searchsorted(self.candles.times, due, side="left"))
            until = max(until, i + 1)
        pf = self.portfolio
        quiet = Quiet([pf.quantities[c] for c in self.cfg.coin_names], pf.cash)
        skip = self.ahead.next(i, self.cfg, quiet, rec.started, rec.engine.last_check, until)
        if skip.last_check is not None:
            rec.engine = replace(rec.engine, last_check=skip.last_check)
        return skip.index


def simulate(setup: Setup, cfg: RebalanceConfig) -> Result:
    """One backtest of ``cfg`` on ``setup``'s candles."""
    return Run(setup, cfg).run()


def describe(result: Result) -> dict[str, Any]:
    """A short summary (tests, debugging)."""
    return {
        "orders": len(result.orders),
        "events": len(result.events),
        "final_balance": result.final_balance,
    }
