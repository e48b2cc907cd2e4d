"""Every sentence the bot says to its user that needs no portfolio object: the texts the planner
and the engine attach to their results, and the messages the glue builds from plain values (coin
names, amounts, times). A leaf: it imports nothing of the core, so ``plan`` and ``engine`` can use
it while ``messages`` (the sentences about a ``Book``, an ``Event`` or a config) builds on top of
them. Pure Python, no Freqtrade import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

#: A rebalance was due but every leg is under the exchange's minimums
#: (docs/how-it-works.md#exchange-rules).
SKIP_MESSAGE = (
    "The order value is less than the minimum value, and is unable to rebalance this time."
)


#: An auto-invest deposit whose buys are all under the exchange's minimums.
DEPOSIT_KEPT = (
    "No buy of this deposit clears the exchange's minimum order: it stays in the portfolio's "
    "cash until a rebalance invests it."
)


#: A name with underscores (on_stop, dry_run_wallet): shown as code in Telegram's Markdown.
MARKDOWN_NAME = re.compile(r"(?<![`\w])([A-Za-z0-9]+(?:_[A-Za-z0-9]+)+)(?![`\w])")


#: Why the portfolio stopped, when the user stopped it.
STOPPED_BY_STOPENTRY = "stopped from Telegram/FreqUI (/stopentry)"


def telegram_markdown(text: str) -> str:
    """Freqtrade sends strategy messages to Telegram as Markdown: names like on_stop go in
    backticks, or their underscores would turn into italics or get the message refused."""
    return MARKDOWN_NAME.sub(r"`\1`", text)


def allocation(coins: Iterable[tuple[str, float]]) -> str:
    """``BTC 40%, ETH 30%``."""
    return ", ".join(f"{c} {w:g}%" for c, w in coins)


def waiting_for_candles(missing: Iterable[str], first: Mapping[str, float]) -> str:
    """A backtest's first buys wait for coins without a candle yet."""
    parts = []
    for coin in missing:
        when = first.get(coin)
        parts.append(
            f"{coin} (first candle {utc_time(when)})"
            if when is not None
            else f"{coin} (no candles)"
        )
    return (
        f"Portfolio waiting for candles of {', '.join(parts)}: the first buys start when every "
        f"coin has a price. Download the data, or start the backtest's --timerange later"
    )


def no_candle(coins: Iterable[str], now: float, held_at: Mapping[str, float] | None = None) -> str:
    """A backtest's candles stop (or skip) for some coins, said once per gap. ``held_at``: their
    last prices, at which they are held while the others rebalance among themselves (as a
    halted coin live); none (every coin without a candle, or one that never had a price yet):
    nothing is decided meanwhile. Freqtrade fills a gap inside a pair's candles with flat
    candles at the last close: in its backtests a coin's candles stop only for good (a delisted
    coin, data downloaded to an earlier date), and its trade is sold at its last candle's open
    when the backtest ends."""
    names = list(coins)
    head = f"No candle for {', '.join(names)} at {utc_time(now)}"
    if not held_at:
        return f"{head}: the rebalancer decides nothing until every coin has a price again"
    if len(names) == 1:
        coin = names[0]
        return (
            f"{head}: {coin} is held at its last price ({held_at[coin]:g}), no order is placed "
            f"for it, and the other coins are rebalanced among themselves until its candles "
            f"return (if they do not, Freqtrade sells it at that price when the backtest ends)"
        )
    prices = ", ".join(f"{c} {held_at[c]:g}" for c in names)
    return (
        f"{head}: {' and '.join([', '.join(names[:-1]), names[-1]])} are held at their last "
        f"prices ({prices}), no order is placed for them, and the other coins are rebalanced "
        f"among themselves until their candles return (if they do not, Freqtrade sells them at "
        f"those prices when the backtest ends)"
    )


def candles_complete(now: float) -> str:
    return f"Every coin has candles from {utc_time(now)}: buying the portfolio"


def utc_time(ts: float | None) -> str:
    """``2024-01-01 10:00 UTC`` (``-`` for none): times in messages and FreqUI's custom data."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def change_applied(kind: str, amount: float, coins: Iterable[tuple[str, float]], stake: str) -> str:
    if kind == "add":
        return f"Adding {amount:g} {stake} to the portfolio: rebalancing to invest it"
    if kind == "remove":
        return f"Removing {amount:g} {stake} from the portfolio: selling each coin's share"
    return (
        "New allocation "
        + allocation(coins)
        + (f" with {amount:g} {stake} added" if amount > 0 else "")
        + ": rebalancing"
    )


def force_exited(pair: str) -> str:
    return f"{pair} force-exited from Telegram/FreqUI"


def holdings(held: Mapping[str, float]) -> str:
    """``BTC 0.0123, ETH 0.5`` (the coins held), or ``no coin``."""
    return ", ".join(f"{c} {q:g}" for c, q in held.items() if q > 0) or "no coin"


def stopped(reason: str, on_stop: str, held: Mapping[str, float]) -> str:
    """What the stop did, exactly: which coins are sold, or kept and no longer managed."""
    if on_stop == "sell_all":
        action = f"selling every coin at market ({holdings(held)})"
        after = "Send /start to resume."
    else:
        action = f"nothing sold; {holdings(held)} stay in the account, no longer managed"
        after = "Send /start to resume, or /forceexit all to sell every coin at market."
    return f"Portfolio stopped: {reason}. on_stop = {on_stop}: {action}. {after}"


RESUMED = "Portfolio resumed (/start): managing the coins again"


def restarted(coins: Iterable[tuple[str, float]], funded: float, stake: str) -> str:
    return f"Portfolio restarted (/start): buying {allocation(coins)} for {funded:.2f} {stake}"


def rest_at_market(coin: str, filled: float, asked: float, rest: float) -> str:
    return (
        f"{coin}: {filled:g} of {asked:g} filled by the limit order; "
        f"the remaining {rest:g} goes at market"
    )


def entry_at_market(coin: str, asked: float) -> str:
    return (
        f"{coin}: the first buy's limit order ({asked:g}) filled nothing, the price moved "
        f"away from it; it goes at market"
    )


def cannot_list_orders(pair: str, err: object) -> str:
    return (
        f"{pair}: cannot list the exchange's orders ({err}); not sending the rest of this leg again"
    )


def unbooked_beside_strangers(pair: str, ids: str) -> str:
    return (
        f"{pair}: the exchange executed order {ids} but it is not booked "
        f"on the trade, beside orders of another bot; not sending it again. "
        f"Check the trade against the exchange"
    )


def booking_unbooked(pair: str, ids: str) -> str:
    return (
        f"{pair}: the exchange executed order {ids} but it was not booked "
        f"(no answer, or a restart); booking it instead of sending it again"
    )


def drift_text(drift: float, relative: bool = False, sign: str = "") -> str:
    """``5.20 points``, or ``26.00% of target`` (``threshold_mode`` relative); ``sign`` "+"
    shows the sign of a coin's drift."""
    unit = "% of target" if relative else " points"
    shown = round(drift, 2) + 0.0  # -0.004 is +0.00, not -0.00
    return f"{shown:{sign}.2f}{unit}"


def shown(value: object) -> str:
    """A value as config.json writes it: ``"interval"``, ``10``, ``0.5``."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def trigger_file_agrees(file_name: str) -> str:
    return (
        f"The trigger values in {file_name} (written by freqtrade hyperopt) are config.json's: "
        f"the bot runs on config.json's rebalance section"
    )


def deposit_refused(amount: float, due: float, why: str, stake: str) -> str:
    """An auto-invest deposit that cannot be paid: said once, until one is paid again."""
    return (
        f"Auto-invest: the deposit of {amount:g} {stake} due {utc_time(due)} is skipped: {why}. "
        f"The next ones are tried at their times; this is said once until one is made."
    )


def deposit_late(amount: float, due: float, stake: str) -> str:
    """A deposit whose time passed while the bot was not running: made once, now."""
    return (
        f"Auto-invest: the deposit of {amount:g} {stake} due {utc_time(due)} was missed while "
        f"the bot was not running; it is made now, once."
    )


def deposits_need_wallet(
    count: int, amount: float, investment: float, wallet: float, stake: str
) -> str:
    """Backtest start-up: what the auto-invest schedule needs of ``dry_run_wallet``."""
    need = investment + count * amount
    text = (
        f"Auto-invest: {count} deposits of {amount:g} {stake} over the backtest's range need "
        f"dry_run_wallet of at least {need:g} {stake} (rebalance.investment {investment:g} + "
        f"{count} x {amount:g})"
    )
    if wallet < need:
        text += (
            f"; it is {wallet:g}: deposits beyond it are skipped. Raise dry_run_wallet to "
            f"{need:g} to make them all"
        )
    return text
