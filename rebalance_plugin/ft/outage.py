"""Whether the exchange answers (dry/live): maintenance (HTTP 503, "System is under
maintenance"), errors, requests refused for the clock (``-1021``), or market data that stopped
moving (stale tickers). Freqtrade logs each failed request itself; the user is told once that
the exchange is unavailable (after ``SAY_AFTER`` seconds of it: a blip of one loop is not worth
a message) and once that it is back. Meanwhile nothing is decided on prices the exchange did not
give now (``PortfolioReader.portfolio`` finds none, or ``stale`` says they are old).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..core import messages
from .context import Context
from .halts import closed_market
from .notify import Notifier

#: Seconds of failure before the user is told.
SAY_AFTER = 30.0
#: A ticker older than this (seconds, by its own timestamp) is stale: the exchange's data stopped.
STALE_AFTER = 120.0
#: ccxt's exceptions for an exchange that does not answer now (a cause of Freqtrade's own).
UNAVAILABLE = (
    "OnMaintenance",
    "ExchangeNotAvailable",
    "RequestTimeout",
    "NetworkError",
    "InvalidNonce",
    "DDoSProtection",
    "RateLimitExceeded",
)


def unavailable(err: BaseException) -> bool:
    """``err`` (an order's) says the exchange did not answer it, rather than refused it."""
    if closed_market(err):
        return False
    cause = err.__cause__ or err
    return any(k.__name__ in UNAVAILABLE for k in type(cause).__mro__)


class Outage:
    """Owns the current episode of the exchange not answering: since when, why, whether said."""

    def __init__(
        self,
        ctx: Context,
        notifier: Notifier,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self.notifier = notifier
        self._wall = wall
        self.since: float | None = None
        self.why = ""
        self.said = False
        # An order was refused as the exchange not answering (-1021, 503): the signed requests
        # are in doubt until one goes through (``probe``), whatever the public tickers say.
        self.signed: BaseException | None = None

    @property
    def exchange(self) -> str:
        return str(self.ctx.config.get("exchange", {}).get("name") or "the exchange")

    def stale(self, stamps: Iterable[float | None]) -> str | None:
        """Why the tickers' data is stale (their freshest timestamp, in ms, is older than
        STALE_AFTER), or None (fresh, or the exchange gives no timestamp)."""
        known = [s for s in stamps if s]
        if not known:
            return None
        age = self._wall() - max(known) / 1000.0
        if age <= STALE_AFTER:
            return None
        return f"its prices have not moved for {age / 60:.0f} min"

    def loop(
        self,
        now: float,
        fetched: bool,
        failed: str | None,
        stale: str | None,
        refusals: Iterable[tuple[str, BaseException]],
        signed_ok: bool | None = None,
    ) -> bool:
        """This loop's findings: the tickers fetched or not (``failed``: why), stale or not,
        the orders refused since the last loop, and whether a signed request went through
        (``signed_ok``: None when none was tried). True when the exchange answered."""
        refused = [err for _, err in refusals if unavailable(err)]
        if refused:
            self.signed = refused[-1]
        elif signed_ok:
            self.signed = None
        why = stale or (None if fetched else failed or "no answer")
        if why is None and self.signed is not None:
            err = self.signed
            why = f"{type(err.__cause__ or err).__name__}: {err}"
        if why is None:
            self._back(now)
            return True
        if self.since is None:
            self.since, self.why = now, why
        if not self.said and now - self.since >= SAY_AFTER:
            self.notifier.say(messages.exchange_down(self.exchange, self.since, self.why))
            self.said = True
        return False

    def _back(self, now: float) -> None:
        if self.said and self.since is not None:
            self.notifier.say(messages.exchange_back(self.exchange, self.since, now))
        self.since, self.why, self.said = None, "", False
