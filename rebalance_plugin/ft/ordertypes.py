"""Which orders the plugin sends on the configured exchange.

Every order is a limit order at the best price of the other side of the book, so that a rebalance
pays the spread once and no more; what it leaves unfilled is sent once more at market on the next
loop (``recovery.py``). How the limit order ends depends on what Freqtrade accepts there:

- **limit IOC** (Immediate-Or-Cancel), where Freqtrade declares it for the exchange (binance,
  bingx, bitget, bybit, gate, kraken, kucoin in 2026.9): the exchange cancels the unfilled rest
  at once;
- **limit GTC** elsewhere (okx, htx, binanceus, coinbase...: Freqtrade refuses any other time in
  force there at start-up): the order rests at the touch until Freqtrade cancels it after
  ``unfilledtimeout`` (``freqtrade-rebalance init --exchange`` writes 30 seconds), and the rest
  then goes at market like an IOC's.

The exchange's time-in-force list is read from Freqtrade's own exchange class
(``privates.time_in_force``), so the choice follows Freqtrade's releases. The style is decided
once, when the strategy is built, because Freqtrade copies the strategy's
``order_time_in_force`` into its config and checks it against the exchange before the first
loop; the start-up log says which one is in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import privates

#: Order types and time in force of a market order (what a limit order left goes as).
MARKET = ({"entry": "market", "exit": "market"}, {"entry": "GTC", "exit": "GTC"})
LIMIT_TYPES = {"entry": "limit", "exit": "limit"}


@dataclass(frozen=True)
class OrderStyle:
    """How an order is sent on one exchange: ``tif`` the limit order's time in force."""

    exchange: str
    tif: str  # "IOC" or "GTC"
    own: bool = False  # the config's own order_time_in_force

    @property
    def limit(self) -> tuple[dict[str, str], dict[str, str]]:
        """``order_types`` and ``order_time_in_force`` of a limit order."""
        return dict(LIMIT_TYPES), {"entry": self.tif, "exit": self.tif}

    @property
    def market(self) -> tuple[dict[str, str], dict[str, str]]:
        """``order_types`` and ``order_time_in_force`` of a market order."""
        return dict(MARKET[0]), dict(MARKET[1])

    def describe(self, config: dict[str, Any]) -> str:
        """The start-up log's sentence: which orders, and why."""
        why = (
            "config.json's order_time_in_force"
            if self.own
            else "Freqtrade supports no Immediate-Or-Cancel order there"
        )
        if self.tif == "IOC":
            return (
                f"Orders on {self.exchange}: limit Immediate-Or-Cancel at the best price; what "
                f"one leaves unfilled goes at market on the next loop."
            )
        return (
            f"Orders on {self.exchange}: limit {self.tif} at the best price ({why}), cancelled "
            f"after {timeout_text(config)} (unfilledtimeout) if it rests; what one leaves "
            f"unfilled then goes at market."
        )


def timeout_text(config: dict[str, Any]) -> str:
    """Freqtrade's ``unfilledtimeout`` for entries, as a user reads it (``10 minutes``)."""
    timeout = config.get("unfilledtimeout") or {}
    value = timeout.get("entry")
    if value is None:
        return "Freqtrade's unfilledtimeout (none is set: the order rests until filled)"
    unit = str(timeout.get("unit") or "minutes")
    return f"{value:g} {unit}" if isinstance(value, (int, float)) else f"{value} {unit}"


def order_style(config: dict[str, Any]) -> OrderStyle:
    """The order style of the config's exchange: limit IOC where Freqtrade declares IOC for
    it, else limit GTC. A config that sets ``order_time_in_force`` itself keeps its own."""
    name = str((config.get("exchange") or {}).get("name") or "binance").lower()
    own = (config.get("order_time_in_force") or {}).get("entry")
    if own:
        return OrderStyle(name, str(own).upper(), own=True)
    supported = privates.time_in_force(name)
    return OrderStyle(name, "IOC" if "IOC" in supported else "GTC")
