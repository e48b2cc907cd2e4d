"""What one loop (a candle in a backtest, a ``bot_loop_start`` live) has learnt so far, passed
from stage to stage of ``RebalancePlugin.loop`` and to the objects that act on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.config import RebalanceConfig
from ..core.portfolio import Portfolio


@dataclass
class Loop:
    """One loop's findings."""

    now: float
    trades: list[Any]
    by_coin: dict[str, Any]
    # The effective config (``Book.applied``): computed once per loop, replaced when a config
    # change is applied, and handed to whatever needs it.
    applied: RebalanceConfig
    busy: bool = False
    force: bool = False
    withdraw: float = 0.0
    deposit: float = 0.0  # an auto-invest deposit made this loop
    portfolio: Portfolio | None = None  # every coin's quantity and price now (with its cash)
    publish: bool = True  # publish the status after the loop
    halted: tuple[str, ...] = ()  # coins that cannot trade now: held as they are (halts.py)
