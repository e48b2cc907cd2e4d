"""Config changes under a running portfolio (``config.json`` edited, then ``/reload_config``):
add or remove funds, or move to a new allocation (decided by ``core.funds``)."""

from __future__ import annotations

import math
from typing import Any

from ..core import messages
from ..core.config import RebalanceConfig
from ..core.funds import (
    FundsError,
    apply_change,
    change_signature,
    check_change,
    classify_change,
    refusal_key,
)
from .context import Context
from .markets import Markets
from .notify import Notifier
from .reader import PortfolioReader
from .store import StateStore

#: The cash figure is Freqtrade's fee arithmetic; the exchange rounds its own way: a slack of
#: 0.1% of the investment keeps cents of rounding from refusing an add-funds request.
ADD_FUNDS_SLACK = 0.001


class ConfigChanges:
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
        #: The change this strategy instance has already checked and refused. Each
        #: /reload_config builds a new strategy, so the limits are checked again then.
        self.checked: str | None = None

    def apply(
        self, by_coin: dict[str, Any], now: float, trades: list[Any], applied: RebalanceConfig
    ) -> tuple[bool, float, RebalanceConfig]:
        """config.json changed under a running portfolio (``applied``, the effective config,
        is not the live one). Returns (force, withdraw, config to run on). A refused change is
        checked again at each reload and said again only when the reason has changed;
        meanwhile the portfolio runs on as it was (``applied``)."""
        cfg = self.ctx.cfg
        book = self.store.book
        stake = cfg.stake_currency
        signature = change_signature(cfg)
        if self.checked == signature:
            return False, 0.0, applied
        kind, amount = classify_change(book, cfg)
        no_market = [cfg.pair(c) for c in self.markets.missing(list(cfg.coin_names))]
        min_order = {c: self.markets.min_order(c) for c in cfg.coin_names}

        def value() -> float:
            prices = {c: self.reader.price(cfg.pair(c), int(now)) or 0.0 for c in by_coin}
            return self.reader.cash(trades) + math.fsum(
                t.amount * prices[c] for c, t in by_coin.items()
            )

        def available() -> float:
            self.reader.refresh_wallets()  # a deposit made just now counts
            wallets = self.ctx.wallets
            free = wallets.get_free(stake) if wallets else math.inf
            own = self.reader.cash(trades)
            return float(free - own + ADD_FUNDS_SLACK * book.investment)

        try:
            check_change(
                kind,
                amount,
                cfg,
                book,
                min_order=min_order,
                value=value,
                available=available,
                no_market=no_market,
            )
        except FundsError as err:
            self.checked = signature
            key = refusal_key(cfg, str(err))
            if book.refused != key:  # said once per reason, not at every reload or restart
                dry_run = bool(self.ctx.config.get("dry_run"))
                self.notifier.say(
                    messages.change_refused(str(err), err.funding, dry_run, book, stake)
                )
                self.store.update(refused=key)
                self.store.save()
            return False, 0.0, applied
        change = apply_change(kind, amount, book)
        self.store.update(
            coins=cfg.coins, investment=cfg.investment, funded=change.funded, refused=None
        )
        self.notifier.say(messages.change_applied(kind, amount, cfg.coins, stake))
        self.store.save()
        return change.force, change.withdraw, cfg
