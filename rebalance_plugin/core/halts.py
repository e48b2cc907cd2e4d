"""Coins that cannot trade now (a halted or delisted market live, a backtest's candles that
stop): the rest of the portfolio is rebalanced among themselves, the halted coins held as they
are. Pure Python.

A halted coin keeps what it holds, counted at its last price, and its weight stays whatever it
is: no order is planned for it. The coins still trading share the rest of the portfolio in the
proportions of their targets: with targets BTC 40, ETH 30, BNB 15, SOL 15 and SOL halted, BTC
aims at 40/85 of what is not SOL, ETH 30/85, BNB 15/85. Drift is measured the same way, among
the trading coins (a 5-point threshold is 5 points of their share).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, replace

from .config import RebalanceConfig
from .portfolio import Portfolio


@dataclass(frozen=True)
class Trading:
    """The portfolio and config the engine decides on while ``halted`` coins cannot trade:
    ``None`` portfolio when no coin of the targets trades (nothing to decide)."""

    cfg: RebalanceConfig
    portfolio: Portfolio | None
    halted: tuple[str, ...]


def among_trading(cfg: RebalanceConfig, portfolio: Portfolio, halted: Collection[str]) -> Trading:
    """``cfg`` and ``portfolio`` without the ``halted`` coins: the others' targets scaled to sum
    to 100 again, the halted coins' holdings left out of the portfolio (its cash is kept)."""
    out = tuple(c for c in halted if c in cfg.weights or c in portfolio.quantities)
    if not out:
        return Trading(cfg, portfolio, ())
    left = [(c, w) for c, w in cfg.coins if c not in out]
    share = math.fsum(w for _, w in left)
    if not left or share <= 0:
        return Trading(cfg, None, out)
    coins = tuple((c, w * 100.0 / share) for c, w in left)
    rest = Portfolio(
        {c: q for c, q in portfolio.quantities.items() if c not in out},
        {c: p for c, p in portfolio.prices.items() if c not in out},
        portfolio.cash,
    )
    return Trading(replace(cfg, coins=coins), rest, out)
