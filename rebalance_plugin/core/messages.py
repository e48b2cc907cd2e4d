"""Every sentence the bot says to its user (log, Telegram, FreqUI's log view), in one place.
Pure Python, no Freqtrade import. The glue decides *when* to say something; this module says
*what*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .config import TRIGGER_KEYS

if TYPE_CHECKING:
    from .book import Book
    from .config import Level, RebalanceConfig
    from .engine import Event

#: SPEC §4: a rebalance was due but every leg is under the exchange's minimums.
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


def status_line(book: Book) -> str:
    """The portfolio's state in a few words (logs, FreqUI's custom data)."""
    if book.stopped:
        return f"stopped ({book.stopped})"
    if book.started is None:
        return "waiting for trigger_price" if not book.triggered else "buying"
    text = f"running, {book.engine.rebalances} rebalances"
    if book.deposited:  # auto-invest: the investment grows with the deposits
        text += f", {book.deposited:g} deposited"
    return text


def restored(book: Book) -> str:
    return f"Rebalance state restored: {status_line(book)}"


def waiting_for_trigger(level: Level, stake: str, price: float) -> str:
    return (
        f"Portfolio waiting: buys start when {level.measured_on(stake)} is reached (now {price:g})"
    )


def trigger_reached(level: Level, price: float) -> str:
    return f"trigger_price reached ({level.coin} at {price:g}): buying the portfolio"


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


def no_candle(coins: Iterable[str], now: float) -> str:
    """A backtest's candles stop (or skip) for a coin: nothing is decided meanwhile."""
    return (
        f"No candle for {', '.join(coins)} at {utc_time(now)}: the rebalancer decides nothing "
        f"until every coin has a price again"
    )


def candles_complete(now: float) -> str:
    return f"Every coin has candles from {utc_time(now)}: buying the portfolio"


def utc_time(ts: float | None) -> str:
    """``2024-01-01 10:00 UTC`` (``-`` for none): times in messages and FreqUI's custom data."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def bought(book: Book, spent: float, stake: str) -> str:
    """The first buys are done: what they cost (after a restart with less money than the
    investment, less than it)."""
    return f"Portfolio bought: {allocation(book.coins)} for {spent:.2f} {stake}, fees included"


def change_refused(reason: str, funding: bool, dry_run: bool, book: Book, stake: str) -> str:
    """``funding``: refused for want of free money, so the fix is to deposit it first."""
    where = "raise dry_run_wallet as well" if dry_run else "deposit the funds on the exchange first"
    extra = f" (adding funds: {where})" if funding else ""
    return (
        f"Config change refused: {reason}{extra}. The portfolio keeps running "
        f"on {book.investment:g} {stake}: {allocation(book.coins)}"
    )


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


def reload_refused(reason: str, book: Book, stake: str) -> str:
    """A /reload_config brought a config the bot must refuse: it runs on as it was."""
    reason = reason.removeprefix("Invalid rebalance config: ")
    return (
        f"Config refused at /reload_config: {reason}. The bot keeps running the last good "
        f"portfolio, {allocation(book.coins)} for {book.investment:g} {stake}. Fix config.json "
        f"and send /reload_config again"
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
        f"before it reached the exchange; it goes at market"
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
    return f"{drift:{sign}.2f}{unit}"


def shown(value: object) -> str:
    """A value as config.json writes it: ``"interval"``, ``10``, ``0.5``."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def trigger_sources(
    cfg: RebalanceConfig, section: RebalanceConfig, source: Mapping[str, str], file_name: str
) -> str:
    """A backtest run with trigger values from the parameter file: each value and where it came
    from (the keys absent from ``source`` come from config.json)."""
    parts = []
    for key in TRIGGER_KEYS:
        value, own = getattr(cfg, key), getattr(section, key)
        if key in source:
            where = f"{file_name}" + ("" if value == own else f", config.json says {shown(own)}")
        else:
            where = "config.json"
        parts.append(f"rebalance.{key} = {shown(value)} ({where})")
    return (
        f"Trigger of this backtest, from the parameter file {file_name} (written by freqtrade "
        f"hyperopt) over config.json's rebalance section: {', '.join(parts)}. freqtrade trade "
        f"refuses to start while {file_name} differs from config.json's rebalance section: "
        f"copy these values there to trade them"
    )


def trigger_file_agrees(file_name: str) -> str:
    return (
        f"The trigger values in {file_name} (written by freqtrade hyperopt) are config.json's: "
        f"the bot runs on config.json's rebalance section"
    )


def describe(event: Event, stake: str = "USDT") -> str:
    """One human line for a rebalance event (log, Telegram)."""

    def fmt(weights: Mapping[str, float]) -> str:
        return " ".join(f"{c} {w * 100:.1f}%" for c, w in weights.items())

    drift = drift_text(event.drift, event.relative)
    if event.kind == "skipped":
        text = f"Rebalance skipped (drift {drift}): {event.message}"
        if event.hint:
            text += f" {event.hint}"
        return text
    if event.kind == "withdrawn":
        return f"Funds removed: {event.amount:.2f} {stake} freed and taken out of the portfolio"
    if event.kind == "deposit":
        bought = ", ".join(
            f"{leg.qty:g} {leg.coin} ({leg.value:.2f} {stake})" for leg in event.legs
        )
        text = f"Auto-invest: {event.amount:g} {stake} deposited"
        text += f", bought {bought}" if bought else f". {event.message}"
        text += f". Weights {fmt(event.weights_before)} -> {fmt(event.weights_after)}"
        if event.skipped:
            text += ". Skipped: " + ", ".join(f"{s.coin} ({s.reason})" for s in event.skipped)
        return text
    if event.kind == "withdrawal" and not event.legs:
        return f"Remove funds {event.amount:g} {stake}: {event.message}"
    legs = (
        ", ".join(
            f"{leg.side} {leg.qty:g} {leg.coin} ({leg.value:.2f} {stake})" for leg in event.legs
        )
        or "no order"
    )
    text = {
        "rebalance": "Rebalance",
        "buys": "Rebalance buys",
        "withdrawal": f"Remove funds {event.amount:g} {stake}",
    }[event.kind]
    out = (
        f"{text} (drift {drift}): {legs}. "
        f"Weights {fmt(event.weights_before)} -> {fmt(event.weights_after)}"
    )
    if event.skipped:
        out += ". Skipped: " + ", ".join(f"{s.side} {s.coin} ({s.reason})" for s in event.skipped)
    return out


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
