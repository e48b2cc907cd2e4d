"""Exchange trading rules for one market: quantity step, minimum quantity, minimum order value.

Pure Python. Quantities are rounded *down* to the step with exact decimal arithmetic, so a sell
never exceeds what is held and a buy never spends more than planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

#: Relative float error tolerated when rounding a quantity down to the step (see floor_qty).
FLOAT_SLACK = Decimal("1e-9")


@dataclass(frozen=True)
class MarketRules:
    """Trading rules of one pair (Binance LOT_SIZE / NOTIONAL filters, ccxt ``limits``).

    ``qty_step`` 0 means any quantity; ``min_notional`` is the smallest order value in stake
    currency; ``min_qty`` the smallest quantity.
    """

    qty_step: float = 0.0
    min_qty: float = 0.0
    min_notional: float = 0.0
    price_tick: float = 0.0

    def floor_qty(self, qty: float) -> float:
        """Largest multiple of the step that is <= ``qty``, in exact decimal arithmetic.

        ``qty`` usually comes out of a float division (value / price) that can land a hair
        under a whole number of steps (35 / 0.07 = 499.99999999999994): a shortfall of less
        than ``FLOAT_SLACK`` of a step is float noise and counts as the whole step.
        """
        if qty <= 0:
            return 0.0
        if not self.qty_step:
            return qty
        step = Decimal(repr(self.qty_step))
        steps = Decimal(repr(qty)) / step
        whole = steps.to_integral_value(ROUND_FLOOR)
        if steps - whole > 1 - FLOAT_SLACK:
            whole += 1
        return float(whole * step)

    def refusal(self, qty: float, price: float) -> str | None:
        """Why the exchange would refuse an order of ``qty`` at ``price``; None if it is valid."""
        if qty <= 0:
            return "quantity rounds to 0 at the exchange's quantity step"
        if qty < self.min_qty:
            return f"quantity {qty:g} is below the minimum quantity {self.min_qty:g}"
        if qty * price < self.min_notional:
            return (
                f"order value {qty * price:.2f} is below the minimum order value "
                f"{self.min_notional:g}"
            )
        return None

    @classmethod
    def from_ccxt_market(cls, market: Mapping[str, Any]) -> MarketRules:
        """Rules from a ccxt unified market in TICK_SIZE precision mode (Binance)."""
        limits = market.get("limits") or {}
        precision = market.get("precision") or {}
        return cls(
            qty_step=float(precision.get("amount") or 0.0),
            min_qty=float((limits.get("amount") or {}).get("min") or 0.0),
            min_notional=float((limits.get("cost") or {}).get("min") or 0.0),
            price_tick=float(precision.get("price") or 0.0),
        )


NO_RULES = MarketRules()
