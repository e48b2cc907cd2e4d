"""Every sentence the bot says to its user (log, Telegram, FreqUI's log view), in one place:
the sentences about a ``Book``, an ``Event`` or a config are written here, over the plain texts
of ``texts`` (the leaf the planner and the engine use), which this module also offers so that
the glue has one module to say things with. Pure Python, no Freqtrade import. The glue decides
*when* to say something; this module says *what*.
"""

from __future__ import annotations

from collections.abc import Mapping

from .book import Book
from .config import TRIGGER_KEYS, Level, RebalanceConfig
from .engine import Event
from .texts import (
    DEPOSIT_KEPT,
    MARKDOWN_NAME,
    RESUMED,
    SKIP_MESSAGE,
    STOPPED_BY_STOPENTRY,
    allocation,
    booking_unbooked,
    candles_complete,
    cannot_list_orders,
    change_applied,
    deposit_late,
    deposit_refused,
    deposits_need_wallet,
    drift_text,
    entry_at_market,
    force_exited,
    holdings,
    no_candle,
    rest_at_market,
    restarted,
    shown,
    stopped,
    telegram_markdown,
    trigger_file_agrees,
    unbooked_beside_strangers,
    utc_time,
    waiting_for_candles,
)

#: The texts re-offered from ``texts``, named so (mypy's no_implicit_reexport), and the
#: sentences written here.
__all__ = [
    "DEPOSIT_KEPT",
    "MARKDOWN_NAME",
    "RESUMED",
    "SKIP_MESSAGE",
    "STOPPED_BY_STOPENTRY",
    "allocation",
    "booking_unbooked",
    "bought",
    "candles_complete",
    "cannot_list_orders",
    "change_applied",
    "change_refused",
    "coin_weight",
    "config_accepted",
    "cash_share",
    "deposit_late",
    "deposit_refused",
    "deposits_need_wallet",
    "describe",
    "drift_text",
    "entry_at_market",
    "force_exited",
    "halted",
    "hands_adopted",
    "hands_short",
    "halt_over",
    "holdings",
    "no_candle",
    "next_check",
    "reload_refused",
    "rules_changed",
    "exchange_down",
    "exchange_back",
    "rest_at_market",
    "restarted",
    "restored",
    "shown",
    "status_line",
    "stopped",
    "superseded",
    "telegram_markdown",
    "trigger_file_agrees",
    "trigger_reached",
    "trigger_sources",
    "unbooked_beside_strangers",
    "unbooked_fees",
    "utc_time",
    "waiting_for_candles",
    "waiting_for_trigger",
]


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


def bought(book: Book, spent: float, stake: str) -> str:
    """The first buys are done: what they cost (after a restart with less money than the
    investment, less than it)."""
    return f"Portfolio bought: {allocation(book.coins)} for {spent:.2f} {stake}, fees included"


def change_refused(reason: str, funding: bool, dry_run: bool, book: Book, stake: str) -> str:
    """``funding``: refused for want of free money, so the fix is to deposit it first."""
    where = "raise dry_run_wallet as well" if dry_run else "deposit the funds on the exchange first"
    extra = f" (adding funds: {where})" if funding else ""
    return (
        f"{CHANGE_REFUSED}: {reason}{extra}. The portfolio keeps running "
        f"on {book.investment:g} {stake}: {allocation(book.coins)}"
    )


#: How the refusals of a config begin: what a later accepted config supersedes.
RELOAD_REFUSED = "Config refused at /reload_config"
CHANGE_REFUSED = "Config change refused"


def reload_refused(reason: str, book: Book, stake: str) -> str:
    """A /reload_config brought a config the bot must refuse: it runs on as it was."""
    reason = reason.removeprefix("Invalid rebalance config: ")
    return (
        f"{RELOAD_REFUSED}: {reason}. The bot keeps running the last good "
        f"portfolio, {allocation(book.coins)} for {book.investment:g} {stake}. Fix config.json "
        f"and send /reload_config again"
    )


def superseded(said: str, changes_pending: bool) -> bool:
    """The last announcement is a config refusal that an accepted config has made untrue: a
    refused reload (the section is accepted now), or a refused change when config.json asks
    for no change any more (``changes_pending`` False; a change still pending is checked, and
    said, by the loop)."""
    if said.startswith(RELOAD_REFUSED):
        return True
    return said.startswith(CHANGE_REFUSED) and not changes_pending


def config_accepted(book: Book, stake: str) -> str:
    """config.json accepted at start-up or /reload_config after a refusal: what runs now."""
    return (
        f"Config accepted: the portfolio runs on config.json, {allocation(book.coins)} for "
        f"{book.investment:g} {stake}"
    )


def next_check(book: Book, interval_next: float | None, threshold: str) -> str:
    """When the trigger is asked next (FreqUI's custom data): never while stopped, after the
    first buys before them, at the interval's next time, or every loop (``threshold``: its
    limit, ``5 points``)."""
    if book.stopped:
        return "none while the portfolio is stopped (/start resumes it)"
    if book.started is None:
        return "after the first buys" if book.triggered else "after trigger_price and first buys"
    if interval_next is not None:
        return utc_time(interval_next)
    return f"every loop (threshold {threshold})"


def coin_weight(weight: float, target: float, drift: str) -> str:
    """One coin of the portfolio at a glance: ``41.23% (target 40.00%, drift +1.23 points)``
    (``weight``, ``target``: fractions)."""
    return f"{weight * 100:.2f}% (target {target * 100:.2f}%, drift {drift})"


def cash_share(cash: float, total: float, stake: str) -> str:
    """The portfolio's own cash and its share: ``4.56 USDT (0.46%)``."""
    share = cash / total * 100 if total else 0.0
    return f"{cash:.2f} {stake} ({share:.2f}%)"


def unbooked_fees(amount: float, stake: str) -> str:
    """Dry-run: why FreqUI's balance shows more than the portfolio's value."""
    return (
        f"{amount:.2f} {stake}: the open trades' entry fees, paid, which Freqtrade's dry-run "
        f"balance (FreqUI's) deducts only when a trade closes"
    )


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


def halted(
    coin: str,
    why: str,
    held: float,
    price: float | None,
    stake: str,
    coins: tuple[str, ...],
) -> str:
    """A coin stopped trading (live: its market closed or is gone; a backtest: its candles
    stopped). Said once per episode, with what the bot holds of it and how to replace it."""
    value = f" (about {held * price:.2f} {stake} at its last price {price:g})" if price else ""
    others = [c for c in coins if c != coin]
    replace = " ".join([*others, "NEWCOIN"])
    return (
        f"{coin} cannot trade: {why}. The portfolio holds {held:g} {coin}{value}: no order is "
        f"placed for {coin}, its weight is held as it is, and the other coins are rebalanced "
        f"among themselves until its market returns, when it rejoins by itself. To replace "
        f"{coin}: freqtrade-rebalance init --coins {replace} (with your weights), then "
        f"/reload_config"
    )


def halt_over(coin: str, minutes: float) -> str:
    """The halted coin trades again."""
    return (
        f"{coin} trades again after {minutes:.0f} min: it rejoins the rebalancing at its "
        f"target weight"
    )


def rules_changed(
    coin: str, pair: str, exchange: str, changes: Mapping[str, tuple[float, float]]
) -> str:
    """The exchange changed a pair's rules: the next orders are sized by the new ones."""
    what = ", ".join(f"{name} {old:g} -> {new:g}" for name, (old, new) in changes.items())
    return f"{exchange} changed the rules of {pair}: {what}. {coin}'s next orders follow them"


def exchange_down(exchange: str, since: float, why: str) -> str:
    """The exchange does not answer (maintenance, errors, stale or refused requests)."""
    return (
        f"{exchange} is not answering since {utc_time(since)} ({why}): the bot places no "
        f"order until it answers again, and says so then. Nothing to do meanwhile"
    )


def exchange_back(exchange: str, since: float, now: float) -> str:
    return (
        f"{exchange} answers again after {max(0.0, now - since) / 60:.0f} min: the bot "
        f"rebalances as before"
    )


def hands_short(coin: str, account: float, book: float) -> str:
    """The account holds less of a coin than the portfolio's book: sold or withdrawn by hand."""
    return (
        f"The account holds {account:g} {coin}, the portfolio's book {book:g} {coin}: "
        f"{book - account:g} {coin} left the account outside the bot (sold or withdrawn by "
        f"hand?). The bot counts and sells only the {account:g} {coin} the account holds. "
        f"/reload_config (or a restart) adopts the account's amount as the portfolio's holding"
    )


def hands_adopted(adopted: Mapping[str, tuple[float, float]]) -> str:
    """The account's amounts adopted as the portfolio's holdings."""
    what = ", ".join(f"{c} {old:g} -> {new:g}" for c, (old, new) in adopted.items())
    return f"Holdings adopted from the account: {what}"
