"""An order the bot has handed to Freqtrade and not yet seen closed (dry/live). Kept in the
portfolio's record so that a restart knows the order may exist, and so that what a limit IOC
order leaves unfilled is sent once more, at market. Pure Python, no Freqtrade import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class InFlight:
    side: Side
    qty: float  # coins asked for
    before: float  # the trade's amount when the order was sent (0 for a first buy)
    market: bool  # sent at market (its rest is not sent again)
    sent: float | None = None  # POSIX time it was sent; None for a first buy

    def filled(self, amount_now: float) -> float:
        """Coins this order has filled, judged from the trade's amount now."""
        return abs(amount_now - self.before)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (the format of every released version: ``sent`` only when known)."""
        out: dict[str, Any] = {
            "side": self.side,
            "qty": self.qty,
            "before": self.before,
            "market": self.market,
        }
        if self.sent is not None:
            out["sent"] = self.sent
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InFlight:
        side = data["side"]
        if side not in ("buy", "sell"):
            raise ValueError(f"in-flight order side must be buy or sell, got {side!r}")
        sent = data.get("sent")
        return cls(
            side=side,
            qty=float(data["qty"]),
            before=float(data["before"]),
            market=bool(data["market"]),
            sent=None if sent is None else float(sent),
        )
