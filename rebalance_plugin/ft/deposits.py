"""Auto-invest's deposits in the loop: at a scheduled time the amount joins the portfolio if the
money is there (``core.autoinvest.deposit_refusal``), and buys the underweight coins selling
nothing; the trigger is asked again on the next loop. A deposit that cannot be paid is skipped,
said once until one is paid, and the next one is tried at its time. The schedule and the rule are
the core's (``core.autoinvest``); this object reads the money and keeps the record."""

from __future__ import annotations

from typing import Any

from ..core import messages
from ..core.autoinvest import deposit_refusal, deposit_times, due_deposit, next_deposit
from .changes import ADD_FUNDS_SLACK
from .context import Context
from .notify import Notifier
from .reader import PortfolioReader
from .startup import timerange
from .store import StateStore


class Deposits:
    """Owns the time of this process's first loop: a deposit due before it was missed while the
    bot was down (made once, and said)."""

    def __init__(
        self, ctx: Context, store: StateStore, reader: PortfolioReader, notifier: Notifier
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.reader = reader
        self.notifier = notifier
        self.first_loop: float | None = None

    def seen(self, now: float) -> None:
        """A loop at ``now``: the first one is remembered."""
        if self.first_loop is None:
            self.first_loop = now

    def make(self, now: float, trades: list[Any], busy: bool) -> float:
        """The deposit due at ``now``, made (the record's money raised and saved): its amount,
        or 0.0 when none is made (none due, none scheduled, or the money is not there). Made
        only once the portfolio is complete and nothing is in progress (``busy``: an order is
        open or carried)."""
        plan = self.ctx.cfg.auto_invest
        book = self.store.book
        if plan is None or book.started is None:
            return 0.0
        if busy or book.entries or book.engine.phase != "idle":
            return 0.0  # made once the orders are done
        due = due_deposit(plan, book.started, book.last_deposit, now)
        if due is None:
            return 0.0
        stake = self.ctx.stake
        why = self.refusal(plan.amount, trades)
        if why is not None:
            if book.deposit_refused is None:
                self.notifier.say(messages.deposit_refused(plan.amount, due, why, stake))
            self.store.update(last_deposit=due, deposit_refused=book.deposit_refused or due)
            self.store.save()
            return 0.0
        if not self.ctx.backtest and due < (self.first_loop or now):
            self.notifier.say(messages.deposit_late(plan.amount, due, stake))
        self.store.update(
            funded=book.funded + plan.amount,
            deposited=book.deposited + plan.amount,
            last_deposit=due,
            deposit_refused=None,
        )
        self.store.save()
        self.reader.count_realized_profit(trades)  # available_capital grows with it
        return plan.amount

    def refusal(self, amount: float, trades: list[Any]) -> str | None:
        """Why a deposit of ``amount`` cannot be paid now (None: it can): beyond
        ``available_capital``, or more than the wallet's free stake currency beyond the
        portfolio's own cash (a backtest: the part of dry_run_wallet beyond the investment)."""
        book = self.store.book
        backtest = self.ctx.backtest
        return deposit_refusal(
            amount,
            book.funded,
            self.reader.capital,  # this bot's share of the account, as the user set it
            lambda: self._spare(trades),
            slack=ADD_FUNDS_SLACK * book.funded,
            wallet="dry_run_wallet" if backtest else "the account's free " + self.ctx.stake,
            stake=self.ctx.stake,
        )

    def _spare(self, trades: list[Any]) -> float | None:
        """The wallet's free stake currency beyond the portfolio's own cash (live: the account
        read now); None without a wallet."""
        wallets = self.ctx.wallets
        if wallets is None:
            return None
        if not self.ctx.backtest:
            wallets.update()
        free = float(wallets.get_free(self.ctx.stake))
        return free - max(0.0, self.reader.own_cash(trades))

    def next_due(self) -> float | None:
        """The next scheduled deposit after the last one handled (None: no schedule)."""
        plan = self.ctx.cfg.auto_invest
        book = self.store.book
        if plan is None or book.started is None:
            return None
        after = book.started if book.last_deposit is None else book.last_deposit
        return next_deposit(plan, after, book.started)

    def say_wallet_needed(self) -> None:
        """Backtest with auto-invest: how much dry_run_wallet the schedule needs over the range
        (the deposits beyond the wallet are skipped)."""
        plan = self.ctx.cfg.auto_invest
        config = self.ctx.config
        wallet = config.get("dry_run_wallet")
        span = timerange(config)
        if plan is None or span is None or not isinstance(wallet, (int, float)):
            return
        count = len(deposit_times(plan, span[0], span[1]))
        self.notifier.say(
            messages.deposits_need_wallet(
                count, plan.amount, self.ctx.cfg.investment, float(wallet), self.ctx.stake
            )
        )
