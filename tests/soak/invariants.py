"""The soak's invariants, as plain functions over what the stand-in and the bots' REST APIs
answer (no process touched here): each returns the violations it finds, as sentences.

- :func:`account_matches_books`: the account holds exactly what the bots' orders hold, per coin
  and in USDT (each portfolio's cash plus the USDT no portfolio owns), to the exchange's
  precision, and Freqtrade's open trades hold that too, give or take the dust its rounding
  leaves (:func:`trades_match_account`);
- :func:`orders_known_once`: every order the exchange filled is one bot's, known once, with the
  quantity the exchange filled; :func:`sent_twice`: no bot sent the same order twice;
- :func:`balance_refusals`: no order was refused for the free balance unless a ``reject`` fault
  was armed to refuse it;
- :func:`beyond_threshold`: after a quiet period every portfolio is within its threshold;
- :func:`repeated_messages`: no plugin message said twice in a row; :func:`errors_logged`: no
  error in a bot's log.

The numbers are the exchange's rule, worked out here: Binance (and the stand-in) charges the
fee (``FEE``) in the asset received, rounded to 8 decimals per fill: a buy's coin arrives less
the fee, a sell's USDT less the fee.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FEE = 0.001
#: Rounding of the exchange's amounts (8 decimals), per fill.
PRECISION = 1e-8


@dataclass
class Ledger:
    """What one bot's orders did, by its own REST API: coins held and USDT spent/received."""

    capital: float
    coins: dict[str, float] = field(default_factory=dict)
    spent: float = 0.0
    received: float = 0.0  # after the fee
    buys: Counter = field(default_factory=Counter)  # filled buys per coin

    @property
    def cash(self) -> float:
        return self.capital - self.spent + self.received


def bot_orders(trades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The orders of a bot's trades (``/status`` and ``/trades``), each once."""
    seen: dict[str, dict[str, Any]] = {}
    for trade in trades:
        for order in trade.get("orders", []):
            seen.setdefault(str(order.get("order_id")), order)
    return list(seen.values())


def ledger(capital: float, orders: Iterable[dict[str, Any]]) -> Ledger:
    """A bot's ledger from its orders' filled amounts and costs (quote), the fee by the
    exchange's rule."""
    book = Ledger(capital)
    for order in orders:
        filled = float(order.get("filled") or 0.0)
        if filled <= 0:
            continue
        coin = str(order["pair"]).split("/")[0]
        cost = float(order.get("cost") or 0.0)
        if order["ft_order_side"] == "buy":
            book.coins[coin] = book.coins.get(coin, 0.0) + filled * (1 - FEE)
            book.spent += cost
            book.buys[coin] += 1
        else:
            book.coins[coin] = book.coins.get(coin, 0.0) - filled
            book.received += cost * (1 - FEE)
    return book


def account_matches_books(
    balances: dict[str, float],
    books: dict[str, Ledger],
    owners: dict[str, str],
    unowned: float,
    fills: dict[str, int],
) -> list[str]:
    """Per coin (each one portfolio's, ``owners``: coin -> bot), the account's balance is what
    the bot's orders hold; its USDT is every portfolio's cash plus ``unowned``; each within
    the exchange's rounding (``fills``: fills per coin at the exchange)."""
    out = []
    for coin, name in sorted(owners.items()):
        want = books[name].coins.get(coin, 0.0)
        have = balances.get(coin, 0.0)
        if abs(have - want) > PRECISION * (fills.get(coin, 0) + 1) + 1e-9 * abs(want):
            out.append(
                f"account holds {have:.8f} {coin}, {name}'s orders {want:.8f} "
                f"(off by {have - want:+.8f})"
            )
    cash = math.fsum(b.cash for b in books.values())
    have = balances.get("USDT", 0.0)
    n = sum(fills.values()) + 1
    if abs(have - (cash + unowned)) > PRECISION * n + 1e-9 * (cash + unowned):
        per_bot = ", ".join(f"{k} {b.cash:.8f}" for k, b in sorted(books.items()))
        out.append(
            f"account holds {have:.8f} USDT, the portfolios' cash {per_bot} plus "
            f"{unowned:.8f} unowned = {cash + unowned:.8f} (off by {have - cash - unowned:+.8f})"
        )
    return out


def trades_match_account(
    balances: dict[str, float],
    amounts: dict[str, float],
    books: dict[str, Ledger],
    owners: dict[str, str],
    steps: dict[str, float],
) -> list[str]:
    """Freqtrade's open trades hold what the account holds, give or take its dust: up to a
    lot step per buy less (it rounds a buy's net amount down to the step) and up to the buys'
    fee more (it may book a fill before its fee)."""
    out = []
    for coin, name in sorted(owners.items()):
        have, held = balances.get(coin, 0.0), amounts.get(coin, 0.0)
        dust = have - held
        buys = books[name].buys.get(coin, 0)
        low = -FEE * held - 1e-9
        high = buys * steps.get(coin, 0.0) + 1e-9
        if not low <= dust <= high:
            out.append(
                f"{name}'s {coin} trade holds {held:.8f}, the account {have:.8f}: "
                f"{dust:+.8f} beyond the dust allowed ({low:+.8f} .. {high:+.8f})"
            )
    return out


def orders_known_once(
    exchange_orders: list[dict[str, Any]], known: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Every order the exchange filled (some or all of) is known to exactly one bot, once,
    with the filled quantity the exchange has (``known``: bot -> its orders)."""
    claims: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, orders in known.items():
        for order in orders:
            claims.setdefault(str(order.get("order_id")), []).append((name, order))
    out = []
    for o in exchange_orders:
        if o["executedQty"] <= 0:
            continue
        who = claims.get(str(o["orderId"]), [])
        what = f"order {o['orderId']} ({o['symbol']} {o['side']} {o['executedQty']:g} filled)"
        if not who:
            out.append(f"{what} is no bot's")
        elif len(who) > 1:
            out.append(f"{what} claimed by {[n for n, _ in who]}")
        elif abs(float(who[0][1].get("filled") or 0.0) - o["executedQty"]) > PRECISION:
            out.append(f"{what}: {who[0][0]} booked {who[0][1].get('filled')} filled")
    return out


#: A leg the plugin announces ("Rebalance (drift 6.56 points): sell 2.61 DOT (57.13 USDT), ...",
#: core/messages.py): side, quantity (``:g``), coin.
_LEG = re.compile(r"\b(sell|buy) (\d+(?:\.\d+)?(?:e[-+]?\d+)?) ([A-Z0-9]+) \(\d+\.\d+ [A-Z]+\)")


@dataclass(frozen=True)
class Leg:
    """An order the bot said it would make: when (wall ms), coin, side, quantity."""

    ms: int
    coin: str
    side: str
    qty: float


def legs(log_text: str) -> list[Leg]:
    """The legs the plugin announced in its log (its rebalances' messages), oldest first."""
    out = []
    for line in log_text.splitlines():
        m = _LINE.match(line)
        if m is None or not m.group(1).startswith("rebalance_plugin"):
            continue
        stamp = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        ms = int(stamp.timestamp() * 1000)  # the log's local time, as the machine's clock
        for side, qty, coin in _LEG.findall(m.group(3)):
            out.append(Leg(ms, coin, side.upper(), float(qty)))
    return out


def sent_twice(
    exchange_orders: list[dict[str, Any]], said: list[Leg], steps: dict[str, float]
) -> list[str]:
    """An order sent twice: the exchange filled more of a leg than the bot announced (each
    filled order counts toward the coin's last leg announced before it, a leg finished after a
    restart included), or filled an order against the leg's side. Orders of a coin before its
    first leg are the first buys. 2% and a lot step of slack: the quantity is rounded (``:g``,
    the step) and a market order's fill may differ a little from the limit's."""
    by_coin: dict[str, list[Leg]] = {}
    for leg in said:
        by_coin.setdefault(leg.coin, []).append(leg)
    filled: dict[Leg, float] = {}
    out = []
    for o in sorted(exchange_orders, key=lambda o: (o["time"], o["orderId"])):
        coin = o["symbol"].removesuffix("USDT")
        if o["executedQty"] <= 0 or coin not in by_coin:
            continue
        before = [leg for leg in by_coin[coin] if leg.ms <= o["time"]]
        if not before:
            continue  # the first buys
        leg = before[-1]
        if o["side"] != leg.side:
            out.append(
                f"order {o['orderId']} {o['side']} {o['executedQty']:g} {coin} against the "
                f"announced {leg.side.lower()} {leg.qty:g} {coin}"
            )
            continue
        filled[leg] = filled.get(leg, 0.0) + o["executedQty"]
        if filled[leg] > leg.qty * 1.02 + steps.get(coin, 0.0) + 1e-9:
            out.append(
                f"{coin} {leg.side.lower()} {leg.qty:g} announced at {leg.ms}, "
                f"{filled[leg]:g} filled (order {o['orderId']} sent twice?)"
            )
    return out


def legs_unread(
    exchange_orders: list[dict[str, Any]], said: list[Leg], coins: dict[str, int]
) -> list[str]:
    """The leg check needs the plugin's announcements: a portfolio whose coins were traded
    beyond their first buys (at most two orders a coin) with no leg read from its log means
    the messages changed, not that nothing was sent twice."""
    traded = [
        o
        for o in exchange_orders
        if o["executedQty"] > 0 and o["symbol"].removesuffix("USDT") in coins
    ]
    if len(traded) > 2 * len(coins) and not any(leg.coin in coins for leg in said):
        return [f"{len(traded)} orders of {sorted(coins)} but no leg announced in the log"]
    return []


#: The stand-in's log line of a refused order: its symbol and Binance's code and message.
_REFUSED = re.compile(
    r"POST /api/v3/order \[([^\]]*)\] -> 4\d\d .*?code=(-?\d+) ([^\n]*?)(?: client=(\S+))?$"
)


def refusals(log_text: str) -> list[dict[str, str]]:
    """The orders the stand-in refused (its request log): symbol, code, message, client."""
    out = []
    for line in log_text.splitlines():
        m = _REFUSED.search(line)
        if m:
            params = dict(p.split("=", 1) for p in m.group(1).split() if "=" in p)
            out.append(
                {
                    "symbol": params.get("symbol", ""),
                    "code": m.group(2),
                    "msg": m.group(3),
                    "client": m.group(4) or "",
                }
            )
    return out


def balance_refusals(refused: list[dict[str, str]], fired: list[dict[str, Any]]) -> list[str]:
    """Refusals for the free balance (-2010 "insufficient balance") beyond the ``reject``
    faults that fired on that symbol (each excuses one)."""
    excused = Counter(
        f.get("symbol") for f in fired if f.get("kind") == "reject" and "-2010" in f["effect"]
    )
    out = []
    for r in refused:
        if r["code"] != "-2010" or "insufficient balance" not in r["msg"]:
            continue
        if excused[r["symbol"]] > 0:
            excused[r["symbol"]] -= 1
            continue
        out.append(f"{r['client'] or 'a bot'}'s {r['symbol']} order refused: {r['msg']}")
    return out


def drifts(
    coins: dict[str, float],
    holdings: dict[str, float],
    prices: dict[str, float],
    cash: float,
) -> dict[str, float]:
    """Each coin's weight minus its target (``coins``, points), in points of the portfolio's
    value (its coins at ``prices`` plus its ``cash``)."""
    values = {c: holdings.get(c, 0.0) * prices[c] for c in coins}
    total = math.fsum(values.values()) + cash
    return {c: 100.0 * values[c] / total - coins[c] for c in coins}


def beyond_threshold(name: str, drift: dict[str, float], threshold: float) -> list[str]:
    """The coins further from their targets than the threshold (and a hair of rounding)."""
    worst = {c: d for c, d in drift.items() if abs(d) > threshold + 0.1}
    if not worst:
        return []
    shown = ", ".join(f"{c} {d:+.2f}" for c, d in sorted(worst.items()))
    return [f"{name} not back within its threshold of {threshold:g} points: {shown}"]


#: A Freqtrade log line: time - logger - level - message.
_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - (\S+) - (\w+) - (.*)$")
#: Freqtrade's first line of a process (a restart starts a new run of messages).
_START = "freqtrade.loggers"


def plugin_messages(log_text: str) -> list[list[str]]:
    """The plugin's messages (loggers ``rebalance_plugin*``, with their continuation lines),
    per process run (Freqtrade's logging set-up starts each)."""
    runs: list[list[list[str]]] = [[]]
    current: list[str] | None = None  # the lines of the plugin's message being read
    for line in log_text.splitlines():
        m = _LINE.match(line)
        if m is None:
            if current is not None:
                current.append(line)
            continue
        logger, _level, text = m.groups()
        if logger.startswith(_START) and runs[-1]:
            runs.append([])
        current = [text] if logger.startswith("rebalance_plugin") else None
        if current is not None:
            runs[-1].append(current)
    return [["\n".join(lines) for lines in run] for run in runs]


def repeated_messages(name: str, log_text: str) -> list[str]:
    """A plugin message said twice in a row within one run of the bot."""
    out = []
    for run in plugin_messages(log_text):
        for prev, text in zip(run, run[1:]):
            if text == prev:
                out.append(f"{name} said twice in a row: {text[:200]!r}")
    return out


#: Errors a bot may log that are no fault of its own: the soak's own REST questions while the
#: bot reloads its config, and a start refused while the exchange is unavailable (the
#: supervisor, the soak here, starts it again).
ALLOWED_ERRORS = (
    "API Error calling: Bot is not in the correct state",
    "Could not load markets, therefore cannot start",
)


def errors_logged(name: str, log_text: str) -> list[str]:
    """Every distinct ERROR (or CRITICAL) message of a bot's log, but :data:`ALLOWED_ERRORS`."""
    out: dict[str, None] = {}
    for line in log_text.splitlines():
        m = _LINE.match(line)
        if m is None or m.group(2) not in ("ERROR", "CRITICAL"):
            continue
        text = m.group(3)
        if not any(allowed in text for allowed in ALLOWED_ERRORS):
            out[f"{name} logged {m.group(1)} {m.group(2)}: {text[:240]}"] = None
    return list(out)
