"""Changing a running portfolio's money or coins (docs/live-trading.md#funds-and-coins): what an
edited config.json asks for, how much one request may add or remove, and the refusal when it is
out of range. Pure Python, no Freqtrade import; ``rebalance_plugin.ft.changes`` applies the
decision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .book import Book
from .config import RebalanceConfig

ChangeKind = Literal["none", "add", "remove", "coins", "refused"]


def change_signature(cfg: RebalanceConfig) -> str:
    return repr((cfg.coins, cfg.investment))


def refusal_key(cfg: RebalanceConfig, reason: str) -> str:
    """What a refusal is remembered by: the change and why it was refused. The limits are
    checked again at each ``/reload_config`` (and restart); the refusal is said again only when
    its reason has changed, and the change is made once the user has made it possible."""
    return repr((cfg.coins, cfg.investment, reason))


def classify_change(book: Book, cfg: RebalanceConfig) -> tuple[ChangeKind, float]:
    """What editing config.json asks of a running portfolio: ``add`` or ``remove`` funds (with
    the amount), ``coins`` (a new allocation; funds may be added at the same time), ``none``, or
    ``refused`` (coins changed while removing funds: two changes to make one at a time)."""
    delta = cfg.investment - book.investment
    if abs(delta) < 1e-9:
        delta = 0.0
    if cfg.coins != book.coins:
        return ("refused", delta) if delta < 0 else ("coins", delta)
    if delta > 0:
        return "add", delta
    if delta < 0:
        return "remove", -delta
    return "none", 0.0


def fund_limits(
    kind: Literal["add", "remove"],
    weights: Mapping[str, float],
    min_order: Mapping[str, float],
    value: float,
    available: float = math.inf,
) -> tuple[float, float]:
    """Smallest and largest amount one request may add or remove
    (docs/live-trading.md#funds-and-coins).

    Add: at least enough for every coin's share to clear its minimum order; at most what is
    free to add (``available``). Remove: at least enough for one coin's share to clear its
    minimum; at most what leaves every coin's share above its minimum.
    """
    need = [min_order.get(c, 0.0) / w for c, w in weights.items() if w > 0]
    if kind == "add":
        return max(need, default=0.0), max(0.0, available)
    return min(need, default=0.0), max(0.0, value - max(need, default=0.0))


class FundsError(ValueError):
    """An add-funds or remove-funds request outside the allowed range. ``funding``: refused
    because the money to add is not free (more must be deposited first)."""

    def __init__(self, message: str, *, funding: bool = False) -> None:
        super().__init__(message)
        self.funding = funding


def check_fund_change(
    kind: Literal["add", "remove"],
    amount: float,
    minimum: float,
    maximum: float,
    stake_currency: str = "USDT",
) -> None:
    """Refuse an add/remove-funds request outside [minimum, maximum] with a clear message."""
    if (
        not isinstance(amount, (int, float))
        or isinstance(amount, bool)
        or not math.isfinite(amount)
        or amount <= 0
    ):
        raise FundsError(f"{kind} funds: amount must be a positive number, got {amount!r}")
    if amount < minimum:
        raise FundsError(
            f"{kind} funds: {amount:g} {stake_currency} is below the minimum of "
            f"{minimum:g} {stake_currency}"
        )
    if amount > maximum:
        raise FundsError(
            f"{kind} funds: {amount:g} {stake_currency} is above the maximum of "
            f"{maximum:g} {stake_currency}",
            funding=kind == "add",
        )


def check_change(
    kind: ChangeKind,
    amount: float,
    cfg: RebalanceConfig,
    book: Book,
    *,
    min_order: Mapping[str, float],
    value: Callable[[], float],
    available: Callable[[], float],
    no_market: Sequence[str] = (),
) -> None:
    """Refuse (``FundsError``) a config change the portfolio cannot make: a coin without a
    market, coins changed while removing funds, or an amount outside the limits of
    docs/live-trading.md#funds-and-coins. ``value`` is the portfolio's value; ``available`` what
    is free to add (asked only when funds are added)."""
    if no_market:
        raise FundsError(f"no spot market for {', '.join(no_market)}")
    if kind == "refused":
        raise FundsError(
            "change the coins and remove funds in two steps: first the "
            "coins (same or higher investment), then the investment"
        )
    total = value()
    if kind in ("add", "coins") and amount > 0:
        low, high = fund_limits("add", cfg.weights, min_order, total, available=available())
        check_fund_change("add", amount, low, high, cfg.stake_currency)
    elif kind == "remove":
        low, high = fund_limits("remove", dict(book.applied(cfg).weights), min_order, total)
        check_fund_change("remove", amount, low, high, cfg.stake_currency)


@dataclass(frozen=True)
class Applied:
    """What the engine does with an accepted change: rebalance now (``force``) or remove
    ``withdraw`` stake currency, and the portfolio's new funding."""

    force: bool
    withdraw: float
    funded: float


def apply_change(kind: ChangeKind, amount: float, book: Book) -> Applied:
    """An accepted change: funds added (or coins changed) rebalance now; funds removed are
    withdrawn by the engine, which reduces ``funded`` by what the sells actually freed."""
    adding = kind in ("add", "coins")
    return Applied(
        force=kind != "remove",
        withdraw=amount if kind == "remove" else 0.0,
        funded=book.funded + (amount if adding else 0.0),
    )
