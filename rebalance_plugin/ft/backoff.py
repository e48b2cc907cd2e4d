"""Waiting out the exchange's bans and rate limits instead of hammering it.

Binance answers HTTP 429 when a rate limit is broken and 418 when the IP is banned for having
gone on after 429s ("Repeatedly violating rate limits and/or failing to back off after
receiving 429s will result in an automated IP ban"; bans "scale in duration for repeat
offenders, from 2 minutes to 3 days"). "A ``Retry-After`` header is sent with a 418 or 429
responses and will give the number of seconds required to wait, in the case of a 429, to prevent
a ban, or, in the case of a 418, until the ban is over." The order-count limit (``-1015`` "Too
many new orders; current limit is 50 orders per 10 SECOND.") answers 429 *without*
``Retry-After``: "stop sending orders until the affected rate limit interval expires".

Freqtrade, left to itself, retries a refused request a few times with a short backoff (1, 2, 5,
10 s) and then asks again in the next loop: through a ban of minutes that is a request every
few seconds, each one a reason to lengthen the ban. A :class:`Gate` (one per bot exchange,
installed on its ccxt clients by ``privates.wait_out_bans``) remembers what the exchange said
and refuses, locally and at once, every request it would refuse:

- 418, or 429 with ``Retry-After``: no request at all until the time it names (the IP's limit:
  every request counts);
- 429 without ``Retry-After`` (the account's order-count limit): no request of the same kind
  (method and path: new orders) until the end of the interval its message names ("per 10
  SECOND": the next whole 10 s; "per 1 DAY": the next UTC midnight), else 10 s.

The caller then gets ccxt's ``DDoSProtection`` without a network call (Freqtrade treats it as
it treats the exchange's own 429: a temporary error), and once the time has passed requests go
out again by themselves. Each episode is said once in the log, with when it ends; its end once
too. Pure logic: no ccxt, no Freqtrade; ``clock`` gives wall-clock seconds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

#: A 418 without ``Retry-After``: Binance's shortest ban.
DEFAULT_BAN_S = 120.0
#: A 429 without ``Retry-After`` whose message names no interval.
DEFAULT_HOLD_S = 10.0
#: The scope of a hold that stops every request.
EVERYTHING = "*"

_INTERVAL = re.compile(r"per (\d+) (SECOND|MINUTE|HOUR|DAY)", re.IGNORECASE)
_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def retry_after(headers: Mapping[str, Any] | None, now: float) -> float | None:
    """The seconds ``Retry-After`` asks for (delta-seconds or an HTTP date, RFC 9110), None
    when absent or unreadable. Header names in any case."""
    if not headers:
        return None
    raw = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if raw is None:
        return None
    text = str(raw).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def interval_end(message: str, now: float) -> float | None:
    """The end of the calendar interval an order-count refusal names ("... 50 orders per 10
    SECOND."): Binance's intervals start at whole multiples (12:34:00, 12:34:10; the UTC day).
    None when the message names none."""
    found = _INTERVAL.search(message or "")
    if not found:
        return None
    length = int(found.group(1)) * _SECONDS[found.group(2).upper()]
    if length <= 0:
        return None
    return (now // length + 1) * length


def scope_of(method: str, url: str) -> str:
    """The kind of request an order-count hold applies to: ``"POST /api/v3/order"``."""
    return f"{method.upper()} {urlsplit(url).path}"


def _clock_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S UTC")


@dataclass
class Hold:
    """Requests of ``scope`` are not sent before ``until`` (wall-clock seconds)."""

    scope: str
    until: float
    why: str


class Gate:
    """What the exchange said about sending more, and the refusals that follow from it.
    Thread-safe (Freqtrade's sync and async clients share one)."""

    def __init__(
        self,
        name: str = "the exchange",
        clock: Callable[[], float] = time.time,
        log: logging.Logger = logger,
    ) -> None:
        self.name = name
        self.clock = clock
        self.log = log
        self._lock = threading.Lock()
        self._holds: dict[str, Hold] = {}
        self.refused = 0  # requests refused here, never sent

    def holding(self, method: str, url: str) -> Hold | None:
        """The hold a request falls under now, None when it may be sent. An ended hold is
        forgotten (and its end said once)."""
        now = self.clock()
        with self._lock:
            for scope in (EVERYTHING, scope_of(method, url)):
                hold = self._holds.get(scope)
                if hold is None:
                    continue
                if now < hold.until:
                    self.refused += 1
                    return hold
                del self._holds[scope]
                self.log.info(
                    "%s: the wait is over (%s); requests are sent again.", self.name, hold.why
                )
        return None

    def refusal(self, method: str, url: str) -> str | None:
        """Why a request must not be sent now (for the exception raised instead), None when
        it may be."""
        hold = self.holding(method, url)
        if hold is None:
            return None
        left = max(0.0, hold.until - self.clock())
        return (
            f"{self.name}: not sent, waiting out {hold.why} until {_clock_time(hold.until)} "
            f"({left:.0f} s left)"
        )

    def answered(
        self,
        status: int,
        headers: Mapping[str, Any] | None,
        body: str | None,
        method: str,
        url: str,
    ) -> Hold | None:
        """Note an answer: a 418 or 429 starts (or lengthens) a hold; others change nothing."""
        if status not in (418, 429):
            return None
        now = self.clock()
        wait = retry_after(headers, now)
        if status == 418:
            seconds = max(1.0, wait if wait is not None else DEFAULT_BAN_S)
            hold = Hold(EVERYTHING, now + seconds, "an IP ban (HTTP 418)")
        elif wait is not None:
            hold = Hold(EVERYTHING, now + max(1.0, wait), "a rate limit (HTTP 429)")
        else:
            end = interval_end(body or "", now)
            until = end if end is not None else now + DEFAULT_HOLD_S
            hold = Hold(scope_of(method, url), until, "an order-count limit (HTTP 429)")
        self._start(hold, body, now)
        return hold

    def _start(self, hold: Hold, body: str | None, now: float) -> None:
        """Keep the later end; say a new episode once."""
        with self._lock:
            known = self._holds.get(hold.scope)
            if known is not None and known.until >= hold.until:
                return
            self._holds[hold.scope] = hold
        if known is not None and known.until > now:
            return  # the same episode, longer: said already
        what = "no request" if hold.scope == EVERYTHING else f"no {hold.scope} request"
        self.log.warning(
            "%s answered with %s: %s is sent until %s (in %.0f s); the bot goes on by itself "
            "then. %s",
            self.name,
            hold.why,
            what,
            _clock_time(hold.until),
            max(0.0, hold.until - self.clock()),
            (body or "").strip()[:200],
        )
