"""Auto-invest on the harness: ``ft/deposits.py``'s ``Deposits.make`` and ``next_due`` in a
backtest (the schedule and the refusal rule are the core's, ``core.autoinvest``)."""

from __future__ import annotations

from typing import Any, Protocol

from ..core.autoinvest import deposit_refusal, due_deposit, next_deposit
from ..core.config import RebalanceConfig
from .trades import Books, Trade


class Running(Protocol):
    """What the deposits read of a run (``run.Run``)."""

    cfg: RebalanceConfig
    rec: Any  # run.Record
    books: Books
    setup: Any  # setup.Setup

    def own_cash(self, trades: list[Trade]) -> float: ...


#: ``ft.changes.ADD_FUNDS_SLACK``: a deposit is paid when the wallet falls short of it by at
#: most this share of the portfolio's money.
SLACK = 0.001


def make(run: Running, now: float, trades: list[Trade], busy: bool) -> float:
    """The deposit due at ``now``, made: its amount, or 0.0 (none due, none scheduled, an
    order in progress, or the wallet cannot pay it: skipped, the next one tried in turn)."""
    plan = run.cfg.auto_invest
    rec = run.rec
    if plan is None or rec.started is None:
        return 0.0
    if busy or rec.entries or rec.engine.phase != "idle":
        return 0.0
    due = due_deposit(plan, rec.started, rec.last_deposit, now)
    if due is None:
        return 0.0
    why = deposit_refusal(
        plan.amount,
        rec.funded,
        None,
        lambda: run.books.free() - max(0.0, run.own_cash(trades)),
        slack=SLACK * rec.funded,
        wallet="dry_run_wallet",
        stake=run.setup.stake,
    )
    if why is not None:
        rec.last_deposit = due
        rec.deposit_refused = rec.deposit_refused or due
        return 0.0
    rec.funded += plan.amount
    rec.deposited += plan.amount
    rec.last_deposit = due
    rec.deposit_refused = None
    return plan.amount


def next_due(run: Running) -> float | None:
    """The next scheduled deposit after the last one handled (None: no schedule)."""
    plan = run.cfg.auto_invest
    rec = run.rec
    if plan is None or rec.started is None:
        return None
    after = rec.started if rec.last_deposit is None else rec.last_deposit
    return next_deposit(plan, after, rec.started)
