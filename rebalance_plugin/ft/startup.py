"""Start-up checks: the ``rebalance`` section, the pair whitelist, ``max_open_trades``, the
money the bot may spend and the security settings are checked before any order; a bad setting
is refused with a message naming it, its value and the fix."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException

from ..core.book import Book
from ..core.config import (
    ConfigError,
    RebalanceConfig,
    check_investment_clears_minimums,
    parse_rebalance_config,
)
from .context import VIEWERS

logger = logging.getLogger("rebalance_plugin.ft")

#: Run modes that only analyse or chart the strategy, where ``-p PAIR`` (which replaces
#: ``exchange.pair_whitelist``) may name some of the portfolio's pairs: ``plot-dataframe`` and
#: FreqUI's charts (``VIEWERS``), ``lookahead-analysis`` and ``recursive-analysis`` (Freqtrade
#: runs them, and FreqUI's analysis tab, as ``util_no_exchange``). No order is sent in these
#: modes; a bot, a backtest and hyperopt (the trades the user acts on) keep the exact check.
ANALYSIS = (*VIEWERS, RunMode.UTIL_NO_EXCHANGE)
_said_whole = False  # the whole portfolio was loaded for an analysis, and said so (once)


class Refusal(OperationalException, ValueError):
    """A setting the bot refuses, before any order. Also a ValueError: raised from
    ``bot_start``, Freqtrade logs it in one line instead of a traceback, then stops with the
    message."""


#: config.json ships this in api_server.jwt_secret_key (Freqtrade's schema wants 32 characters);
#: a value starting with it is refused, so the shipped file has no usable secret.
PLACEHOLDER = "set-me"


def load_config(config: dict[str, Any]) -> RebalanceConfig:
    """Parse the ``rebalance`` section; bad input becomes a clear OperationalException."""
    try:
        return parse_rebalance_config(config.get("rebalance"), config.get("stake_currency", "USDT"))
    except ConfigError as err:
        raise Refusal(f"Invalid rebalance config: {err}") from err


def check_pairs(config: dict[str, Any], cfg: RebalanceConfig) -> None:
    """The coins are the single source of truth. Freqtrade's StaticPairList needs the pairs in
    ``exchange.pair_whitelist`` before any strategy loads, so the list cannot be derived: it is
    checked, and a whitelist that disagrees with the coins is refused by name. ``max_open_trades``
    is derived (-1 or absent) or checked.

    In an analysis run mode (:data:`ANALYSIS`) the whitelist may be some of the coins' pairs
    (``freqtrade plot-dataframe -p BTC/USDT``, Freqtrade's documented way to plot one pair). One
    coin is no portfolio: the whitelist becomes the coins' pairs again, so every backtest these
    commands run is the whole portfolio's (lookahead-analysis re-runs each trade's backtest with
    that trade's pair alone, which would compare two different portfolios), while
    ``config["pairs"]`` (``-p``) still decides which pairs are plotted or analysed."""
    global _said_whole
    whitelist = list(config.get("exchange", {}).get("pair_whitelist") or [])
    pairs = cfg.pairs
    if config.get("runmode") in ANALYSIS and whitelist and set(whitelist) < set(pairs):
        # A new list: Freqtrade put the very list of config["pairs"] in the whitelist.
        config["exchange"]["pair_whitelist"] = whitelist = list(pairs)
        if not _said_whole:  # once: recursive-analysis loads the strategy for every backtest
            _said_whole = True
            logger.info(
                f"Loading the whole portfolio ({', '.join(pairs)}), not just the pairs asked for"
            )
    if set(whitelist) != set(pairs) or len(whitelist) != len(pairs):
        missing = [p for p in pairs if p not in whitelist]
        extra = [p for p in whitelist if p not in pairs]
        raise Refusal(
            "Invalid rebalance config: exchange.pair_whitelist must list exactly the pairs of "
            f"rebalance.coins: {', '.join(pairs)}. "
            + (f"Missing: {', '.join(missing)}. " if missing else "")
            + (f"Not in rebalance.coins: {', '.join(extra)}." if extra else "")
        )
    mot = config.get("max_open_trades")
    if mot is None or mot == -1 or mot == float("inf"):
        config["max_open_trades"] = len(pairs)
    elif mot < len(pairs):
        raise Refusal(
            f"Invalid rebalance config: max_open_trades = {mot} is below the number of coins "
            f"({len(pairs)}); set it to {len(pairs)}, one trade per coin"
        )
    capital = config.get("available_capital")
    if capital is not None and capital < cfg.investment:
        raise Refusal(
            f"Invalid rebalance config: available_capital = {capital:g} is below "
            f"rebalance.investment = {cfg.investment:g}; raise available_capital with the "
            f"investment (it is this bot's share of the account)"
        )
    if (
        capital is None
        and config.get("dry_run", True)
        and isinstance(config.get("dry_run_wallet"), (int, float))
    ):
        if config["dry_run_wallet"] < cfg.investment:
            raise Refusal(
                f"Invalid rebalance config: dry_run_wallet = {config['dry_run_wallet']:g} is "
                f"below rebalance.investment = {cfg.investment:g}"
            )


def check_security(config: dict[str, Any]) -> None:
    """Refuse settings that would expose the bot: a REST API without a password or JWT secret,
    or listening beyond this machine without being told to; Telegram without a chat id."""
    api = config.get("api_server") or {}
    if api.get("enabled"):
        for key, env in (("password", "PASSWORD"), ("jwt_secret_key", "JWT_SECRET_KEY")):
            value = str(api.get(key) or "")
            if len(value) < 8 or value.startswith(PLACEHOLDER):
                raise Refusal(
                    f"Refusing to start: api_server.{key} is empty, the shipped placeholder or "
                    f"shorter than 8 characters. "
                    f"Set it outside the repository, e.g. export FREQTRADE__API_SERVER__{env}="
                    f"\"$(python -c 'import secrets; print(secrets.token_urlsafe(24))')\""
                )
        host = str(api.get("listen_ip_address", "127.0.0.1"))
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback and not api.get("allow_remote_access", False):
            raise Refusal(
                f"Refusing to start: api_server.listen_ip_address = {host} exposes the REST API "
                f"beyond this machine. Use 127.0.0.1 (and an SSH tunnel or a reverse proxy), or "
                f'set "allow_remote_access": true in api_server if you really mean it'
            )
    tg = config.get("telegram") or {}
    if tg.get("enabled") and not str(tg.get("chat_id") or "").strip():
        raise Refusal(
            "Refusing to start: telegram.chat_id is empty; Telegram must answer only your chat "
            "(set FREQTRADE__TELEGRAM__CHAT_ID)"
        )


def check_config(config: dict[str, Any]) -> RebalanceConfig:
    """Everything that can be checked before Freqtrade builds the strategy."""
    cfg = load_config(config)
    check_pairs(config, cfg)
    check_security(config)
    return cfg


def placeholder(config: dict[str, Any]) -> RebalanceConfig:
    """Stands in, from ``__init__`` to ``bot_start``, for a section that was refused: no
    decision is made before ``bot_start`` puts the last good portfolio in its place."""
    return RebalanceConfig(
        coins=(), investment=0.0, stake_currency=config.get("stake_currency", "USDT")
    )


def last_good(book: Book, stake_currency: str) -> RebalanceConfig | None:
    """The portfolio a bot keeps running on when a reload brings a refused section: the last
    accepted section, with the allocation and investment the record has applied."""
    if book.section is None:
        return None
    try:
        return book.applied(parse_rebalance_config(book.section, stake_currency))
    except ConfigError:
        return None


#: Stake currencies a missing pair is looked for against, to say what the exchange does trade.
QUOTES = ("USDT", "USD", "USDC", "EUR", "BTC", "FDUSD", "BUSD", "GBP")


def trades_instead(quotes: Mapping[str, list[str]]) -> tuple[str, list[str]]:
    """What coins without a market in the stake currency trade against instead (``quotes``:
    coin -> those stake currencies): the words `` (BTC trades against USDT, USD there; ...)``
    ("" when none), and the stake currencies every one of them has, sorted."""
    traded = "; ".join(f"{c} trades against {', '.join(q)} there" for c, q in quotes.items() if q)
    sets = [set(q) for q in quotes.values()]
    common = sorted(set.intersection(*sets)) if sets and all(sets) else []
    return (f" ({traded})" if traded else ""), common


def check_markets(
    cfg: RebalanceConfig,
    missing: list[str],
    exchange: str,
    quotes_of: Callable[[str], list[str]] | None = None,
) -> None:
    """Every coin has an active spot market (``missing``: the coins that have none). The
    refusal names every missing pair and, from ``quotes_of`` (coin -> the stake currencies
    it trades against there), what the exchange trades instead: Kraken and Coinbase quote
    much in USD, others in USDC or EUR."""
    if not missing:
        return
    pairs = ", ".join(cfg.pair(c) for c in missing)
    traded, common = trades_instead({c: quotes_of(c) if quotes_of else [] for c in missing})
    if common:
        fix = (
            f"set stake_currency to {' or '.join(common)} (and rebalance.investment "
            f"in it), or choose coins that {exchange} trades against {cfg.stake_currency}"
        )
    else:
        fix = f"choose coins that {exchange} trades against {cfg.stake_currency}"
    raise Refusal(
        f"Invalid rebalance config: rebalance.coins: no spot market on {exchange} for "
        f"{pairs}{traded}; fix: {fix}, then "
        f"`freqtrade-rebalance init --coins ...`"
    )


def check_minimums(cfg: RebalanceConfig, first_buy_min: Mapping[str, float]) -> None:
    """Each first buy (weight x investment / (1 + fee)) clears its coin's minimum x reserve."""
    try:
        check_investment_clears_minimums(cfg, first_buy_min)
    except ConfigError as err:
        raise Refusal(f"Invalid rebalance config: {err}") from err


def timerange(config: Mapping[str, Any]) -> tuple[float, float] | None:
    """A backtest's ``--timerange`` as (start, end) POSIX seconds; None when it has no start or
    no end (the data decides)."""
    text = config.get("timerange")
    if not text:
        return None
    from freqtrade.configuration import TimeRange

    try:
        span = TimeRange.parse_timerange(str(text))
    except Exception:  # Freqtrade refuses a bad one itself
        return None
    if not span.startts or not span.stopts:
        return None
    return float(span.startts), float(span.stopts)
