"""The stand-in's prices: read them, hold them at their value now (:func:`freeze`), and move
one (``--move COIN=FACTOR`` / ``--set-price COIN=PRICE``: the stand-in's ``POST /sim/price``)."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from .errors import TryLiveError

#: Written into the work folder while try-live runs: where its stand-in is, for ``--move``.
STATE_FILE = "try-live.json"


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def prices_now(standin: str) -> dict[str, float]:
    """The stand-in's price of every symbol now (``GET /sim/state``)."""
    with urllib.request.urlopen(f"{standin}/sim/state", timeout=10) as answer:
        state = json.loads(answer.read())
    out = {}
    for symbol, value in (state.get("prices") or {}).items():
        if isinstance(value, dict):
            value = value.get("price", value.get("mid", value.get("last")))
        out[symbol] = float(value)
    return out


def freeze(standin: str, config: dict[str, Any]) -> dict[str, float]:
    """Hold every coin's price at its value now. The stand-in replays the candles in real
    time, and Freqtrade's dry-run fills a limit order only if it crosses the book when placed
    (it keeps an unfilled one open until ``unfilledtimeout``, as no IOC expires in a
    dry-run): with prices that move by a tick between pricing and placing, a first buy could
    wait minutes. Held prices move only when you move them."""
    stake = config.get("stake_currency", "USDT")
    coins = (config.get("rebalance") or {}).get("coins") or {}
    now = prices_now(standin)
    held = {}
    for coin in coins:
        symbol = f"{coin}{stake}"
        if symbol in now:
            _post(f"{standin}/sim/price", {"symbol": symbol, "price": now[symbol]})
            held[symbol] = now[symbol]
    return held


def move(
    workdir: Path,
    moves: list[str],
    prices: list[str],
    out: Any = None,
    standin: str | None = None,
    stake: str = "USDT",
) -> int:
    """Move prices of the running try-live (or of the stand-in at ``standin``):
    ``COIN=FACTOR`` multiplies the price now, ``COIN=PRICE`` sets it; either is then held."""
    out = out or sys.stdout
    path = Path(workdir) / STATE_FILE
    if standin:
        state = {"standin": standin.rstrip("/"), "stake": stake}
    elif path.is_file():
        state = json.loads(path.read_text())
    else:
        raise TryLiveError(
            f"no try-live running with the work folder {workdir} (no {path}); for a stand-in "
            "you started yourself, give --standin URL"
        )
    stake = state.get("stake", "USDT")
    for item, kind in [(m, "multiplier") for m in moves] + [(p, "price") for p in prices]:
        coin, sep, number = item.partition("=")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not sep or not coin or not value > 0:
            raise TryLiveError(f"{item!r}: give COIN=NUMBER, a number > 0")
        symbol = f"{coin.upper()}{stake}"
        now = prices_now(state["standin"]).get(symbol)
        if now is None:
            raise TryLiveError(f"the stand-in has no {symbol}")
        price = now * value if kind == "multiplier" else value
        _post(f"{state['standin']}/sim/price", {"symbol": symbol, "price": price})
        print(f"{symbol}: {now:g} -> {price:g}, held there", file=out)
    print(
        "The bot sees it at its next loop (seconds); a rebalance is announced in try-live's "
        "window and its log.",
        file=out,
    )
    return 0
