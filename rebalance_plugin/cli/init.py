"""``freqtrade-rebalance init``: write a portfolio into a Freqtrade config.

One command writes the ``rebalance`` section and the two Freqtrade settings that must agree
with it, ``exchange.pair_whitelist`` (the coins' pairs) and ``max_open_trades`` (the number of
coins), so a user never edits two lists that must agree. Everything else in the file is kept
as it was (keys, order, formatting, comments). The new section is validated with the bot's own
checks before anything is written; a refusal names the setting, the value and the fix, exits
with 2 and leaves the file untouched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.config import DEFAULTS, INTERVALS, TEMPLATES, THRESHOLDS, TRIGGERS, ConfigError
from ..core.presets import PRESET_NAMES
from .presets import add_source_arguments

PROG = "freqtrade-rebalance init"
#: The contract's keys in the order a new section is written
#: (docs/configuration.md#the-rebalance-section).
SECTION_ORDER = ("coins", "investment", *DEFAULTS)
NO_MARKETS = "no markets file for"


class Refused(Exception):
    """The portfolio is refused; the message names the setting, the value and the fix."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "init",
        help="write a portfolio (template, preset or your coins) into config.json",
        description="Write a portfolio into a Freqtrade config: the rebalance section, "
        "exchange.pair_whitelist and max_open_trades (one trade per coin), keeping everything "
        "else in the file. Validated before writing; a refused portfolio leaves the file "
        "untouched. Settings not given are kept from the config's current rebalance section.",
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--template", choices=tuple(TEMPLATES), help="a template's coins")
    choice.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="a preset's coins (see `freqtrade-rebalance presets`)",
    )
    choice.add_argument(
        "--coins",
        metavar="COIN=WEIGHT,...",
        help="your coins and target weights in %%, summing to 100, e.g. BTC=40,ETH=60",
    )
    parser.add_argument("--investment", type=float, help="stake currency put in the portfolio")
    parser.add_argument("--trigger", choices=TRIGGERS, help="threshold or interval")
    parser.add_argument(
        "--threshold",
        type=float,
        help=f"drift in percentage points: {', '.join(f'{t:g}' for t in THRESHOLDS)}",
    )
    parser.add_argument("--interval", choices=tuple(INTERVALS), help="check interval")
    parser.add_argument(
        "--interval-min-drift", type=float, help="points of drift an interval check needs"
    )
    parser.add_argument(
        "--exchange",
        metavar="NAME",
        help="the exchange the bot trades on, as Freqtrade names it (binance, kraken, okx, "
        "bybit, gate, kucoin, bitget, htx, binanceus...): writes exchange.name, and on an "
        "exchange without Immediate-Or-Cancel orders a 30-second unfilledtimeout; pass "
        "--markets FILE (its ccxt markets as JSON) to check its minimums and take its fee",
    )
    parser.add_argument(
        "--stake-currency",
        metavar="CUR",
        help="the currency the portfolio is valued in and bought with (USDT, USD, USDC, EUR...)",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("config.json"),
        help="the Freqtrade config to write (default config.json)",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate and show the changes, write nothing"
    )
    add_source_arguments(parser)  # for --preset
    return parser


def parse_coins(text: str) -> dict[str, float]:
    """``BTC=40,ETH=60`` -> {"BTC": 40.0, "ETH": 60.0}; the sum and counts are checked later
    by the bot's own validation."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise Refused("--coins is empty: give COIN=WEIGHT pairs, e.g. --coins BTC=60,ETH=40")
    coins: dict[str, float] = {}
    seen: dict[str, str] = {}
    for item in items:
        name, sep, weight = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise Refused(f"--coins: {item!r} is not COIN=WEIGHT; write e.g. --coins BTC=60,ETH=40")
        coin = name.upper()
        if coin in seen:
            raise Refused(
                f"rebalance.coins (--coins): coin {coin} is listed twice ({seen[coin]!r} and "
                f"{item!r}); list each coin once"
            )
        seen[coin] = item
        try:
            coins[coin] = float(weight)
        except ValueError:
            raise Refused(
                f"rebalance.coins (--coins): weight of {coin} must be a number, got "
                f"{weight.strip()!r}; write e.g. {coin}=40"
            ) from None
    return coins


def new_section(
    current: Mapping[str, Any] | None, coins: Mapping[str, float], args: argparse.Namespace
) -> tuple[dict[str, Any], set[str]]:
    """The section to write, and the keys this command set. Keys not given are kept from the
    current section (a key it lacks keeps its default without being written); a new section is
    written in full, in the contract's order."""
    given: dict[str, Any] = {"coins": dict(coins)}
    for key in ("investment", "trigger", "threshold", "interval", "interval_min_drift"):
        value = getattr(args, key)
        if value is not None:
            given[key] = value
    fresh = not (isinstance(current, Mapping) and current)
    section: dict[str, Any] = {} if fresh else dict(current)  # type: ignore[arg-type]
    section.update(given)
    if (
        fresh
    ):  # a new section spells out every key; an existing one keeps its own (absent = default)
        for key in SECTION_ORDER:
            if key not in section and key in DEFAULTS:
                section[key] = DEFAULTS[key]
    if "investment" not in section:
        raise Refused(
            "rebalance.investment: the config has none; pass --investment AMOUNT (stake "
            "currency to put in the portfolio, e.g. --investment 1000)"
        )
    if fresh:
        section = {k: section[k] for k in SECTION_ORDER if k in section}
    return section, set(given)


def _kept_hint(message: str, set_keys: set[str]) -> str:
    """Say so when the refused setting was not given on the command line."""
    if message.startswith("rebalance."):
        key = message[len("rebalance.") :].split(" ", 1)[0].split(":", 1)[0]
        if key in DEFAULTS and key not in set_keys:
            return (
                f" (rebalance.{key} is kept from the config's current rebalance section: "
                f"change it there)"
            )
    return ""


def first_buy_minimums(
    config: Mapping[str, Any], coins: list[str], stake: str, markets_path: Path | None
) -> tuple[dict[str, float], list[str], str]:
    """Each coin's smallest first buy, as the bot computes it at start-up (the exchange's
    minimum order × Freqtrade's first-buy reserve × (1 + fee)), from offline markets; the
    coins that could not be checked; and where the markets came from."""
    from ..core.rules import MarketRules
    from ..ft.markets import FIRST_BUY_RESERVE
    from ..presets import load_markets

    exchange = str((config.get("exchange") or {}).get("name") or "binance")
    if markets_path is None and exchange != "binance":
        return {}, list(coins), f"{NO_MARKETS} {exchange} (pass --markets FILE)"
    markets, where = load_markets(markets_path)
    mins: dict[str, float] = {}
    unchecked = [c for c in coins if not markets.get(f"{c}/{stake}")]
    if unchecked and markets_path is not None:
        raise Refused(_no_market(unchecked, stake, markets, where))
    for coin in coins:
        market = markets.get(f"{coin}/{stake}")
        if not market:
            continue
        if market.get("active", True) is False or market.get("spot", True) is False:
            raise Refused(
                f"rebalance.coins: {coin}/{stake} is not an active spot market ({where}); "
                f"choose another coin"
            )
        fee = config.get("fee")
        fee = float(fee if fee is not None else market.get("taker") or 0.001)
        rules = MarketRules.from_ccxt_market(market)
        mins[coin] = rules.min_notional * FIRST_BUY_RESERVE * (1.0 + fee)
    return mins, unchecked, where


def _no_market(coins: list[str], stake: str, markets: Mapping[str, Any], where: str) -> str:
    """The refusal of coins without a ``stake`` market: every pair, and what they trade
    against instead (Kraken and Coinbase quote much in USD)."""
    from ..ft.startup import QUOTES, trades_instead

    traded, common = trades_instead(
        {c: [q for q in QUOTES if f"{c}/{q}" in markets] for c in coins}
    )
    fix = (
        f"pass --stake-currency {' or '.join(common)}, or choose other coins"
        if common
        else "choose other coins"
    )
    return (
        f"rebalance.coins: no spot market for {', '.join(f'{c}/{stake}' for c in coins)} in "
        f"{where}{traded}; {fix}"
    )


def _show(value: Any) -> str:
    from .configfile import inline, plain

    if isinstance(value, Mapping) and all(isinstance(v, (int, float)) for v in value.values()):
        return " · ".join(f"{k} {plain(v)}" for k, v in value.items()) or "{}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "[]"
    return inline(value)


def changes_text(before: Mapping[str, Any], changes: Mapping[tuple[str, ...], Any]) -> list[str]:
    """``key: old → new`` for every key that changes (each rebalance key on its own line)."""

    def get(path: tuple[str, ...]) -> Any:
        node: Any = before
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node

    from .configfile import plain

    lines = []
    for path, value in changes.items():
        old = get(path)
        if path == ("rebalance",) and isinstance(value, Mapping):
            old_section = old if isinstance(old, Mapping) else {}
            if old is None:
                lines.append("  rebalance: (none) → new section")
            for key, new in value.items():
                was = old_section.get(key, "(absent)") if old is not None else "(absent)"
                if plain(was) != plain(new):
                    lines.append(f"  rebalance.{key}: {_show(was)} → {_show(new)}")
            continue
        if plain(old) != plain(value):
            shown = "(absent)" if old is None else _show(old)
            lines.append(f"  {'.'.join(path)}: {shown} → {_show(value)}")
    return lines


def run(args: argparse.Namespace) -> int:
    from .configfile import ConfigFileError, edit, read_config, write_atomic

    path = Path(args.config)
    try:
        text, config = read_config(path)
    except (FileNotFoundError, ConfigFileError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    try:
        lines, changes, notes = _plan(args, config)
        new_text = edit(text, changes)
    except Refused as err:
        print(f"{PROG}: refused, {path} is unchanged.\n  {err}", file=sys.stderr)
        return 2
    except ConfigFileError as err:
        print(f"{PROG}: {path}: {err}; nothing was written", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    if new_text == text:
        print(f"{path}: already holds this portfolio; nothing to change.")
        return 0
    if args.check:
        print(f"{path} would change (--check: nothing written):")
        print("\n".join(lines))
        return 0
    write_atomic(path, new_text)
    print(f"{path} updated:")
    print("\n".join(lines))
    return 0


def _plan(
    args: argparse.Namespace, config: Mapping[str, Any]
) -> tuple[list[str], dict[tuple[str, ...], Any], list[str]]:
    """Validate the portfolio asked for; the change lines, the edits and notes to print."""
    original = config
    from ..core.config import check_investment_clears_minimums, parse_rebalance_config
    from ..ft.startup import Refusal, check_pairs

    notes: list[str] = []
    exchange_changes = _exchange_changes(args, config, notes)
    config = {**config, **_applied(config, exchange_changes)}
    stake = str(config.get("stake_currency") or "USDT")
    current = config.get("rebalance")
    if args.template:
        coins: dict[str, float] = {c: float(w) for c, w in TEMPLATES[args.template].items()}
        origin = f"--template {args.template}"
    elif args.preset:
        coins = _preset_coins(args, config, stake, notes)
        origin = f"--preset {args.preset}"
    elif args.coins is not None:
        coins = parse_coins(args.coins)
        origin = f"--coins {args.coins}"
    elif isinstance(current, Mapping) and isinstance(current.get("coins"), Mapping):
        coins = dict(current["coins"])
        origin = "the config's current coins"
    else:
        raise Refused(
            "rebalance.coins: the config has none; choose the coins with --template, --preset "
            "or --coins (e.g. --template balanced-growth)"
        )
    section, set_keys = new_section(current if isinstance(current, Mapping) else None, coins, args)
    try:
        cfg = parse_rebalance_config(section, stake)
    except ConfigError as err:
        raise Refused(f"{err} (from {origin}){_kept_hint(str(err), set_keys)}") from err
    pairs = cfg.pairs
    after = {
        **config,
        "rebalance": section,
        "max_open_trades": len(pairs),
        "exchange": {**(config.get("exchange") or {}), "pair_whitelist": pairs},
    }
    try:
        check_pairs(after, cfg)
    except Refusal as err:
        message = str(err).removeprefix("Invalid rebalance config: ")
        setting = "available_capital" if "available_capital" in message else "dry_run_wallet"
        raise Refused(
            f"{message}. Fix: raise {setting} in the config to at least {cfg.investment:g}, "
            f"or pass a smaller --investment"
        ) from err
    mins, unchecked, where = first_buy_minimums(config, list(cfg.coin_names), stake, args.markets)
    try:
        check_investment_clears_minimums(cfg, mins)
    except ConfigError as err:
        raise Refused(
            f"{err}; pass --investment with at least that (minimums from {where})"
        ) from err
    if mins:
        notes.append(f"Checked: every first buy clears the exchange's minimum order, from {where}.")
    if unchecked:
        notes.append(
            f"Not checked offline: {', '.join(f'{c}/{stake}' for c in unchecked)} "
            f"({where if where.startswith(NO_MARKETS) else 'not in ' + where}); the bot "
            f"checks their markets and minimums when it starts."
        )
    changes: dict[tuple[str, ...], Any] = {
        **exchange_changes,
        ("rebalance",): section,
        ("exchange", "pair_whitelist"): pairs,
        ("max_open_trades",): len(pairs),
    }
    if args.exchange and args.markets is not None:
        changes[("fee",)] = _taker_fee(args.markets, pairs)
        notes.append(f"fee: {changes[('fee',)]:g}, the taker fee of {pairs[0]} in {args.markets}.")
    lines = [f"  portfolio from {origin}"] + changes_text(original, changes)
    return lines, changes, notes


def _preset_coins(
    args: argparse.Namespace, config: Mapping[str, Any], stake: str, notes: list[str]
) -> dict[str, float]:
    from ..presets.marketcap import MarketCapError
    from .presets import overview_from_args

    try:
        overview = overview_from_args(args, config, stake)
    except MarketCapError as err:
        raise Refused(f"--preset {args.preset}: {err}; try --source snapshot") from err
    entry = overview.entry(args.preset)
    if entry is None:
        why = next((e for e in overview.errors if args.preset in e), "no eligible coins")
        raise Refused(
            f"--preset {args.preset}: {why} (candles {overview.datadir}); pass --datadir with "
            f"daily candles of the coins"
        )
    notes.append(f"Preset {entry.name} ({entry.description}); market caps: {entry.source}.")
    notes += [f"Note: {n}" for n in overview.caps.notes]
    if entry.note:
        notes.append(f"Note: {entry.note}")
    return dict(entry.coins)


#: A GTC limit order rests at the touch until Freqtrade cancels it; then the rest goes at
#: market (rebalance_plugin/ft/ordertypes.py). 30 seconds: several loops of 5 s for it to fill.
GTC_TIMEOUT = {"entry": 30, "exit": 30, "exit_timeout_count": 0, "unit": "seconds"}


def _exchange_changes(
    args: argparse.Namespace, config: Mapping[str, Any], notes: list[str]
) -> dict[tuple[str, ...], Any]:
    """``--exchange`` and ``--stake-currency``: the settings they change, checked against
    Freqtrade's own list of exchanges (refused: the ones Freqtrade refuses)."""
    changes: dict[tuple[str, ...], Any] = {}
    if args.stake_currency:
        changes[("stake_currency",)] = args.stake_currency.strip().upper()
    if not args.exchange:
        return changes
    import ccxt
    from freqtrade.exchange.common import BAD_EXCHANGES, SUPPORTED_EXCHANGES

    from ..ft.ordertypes import order_style

    name = args.exchange.strip().lower()
    if name not in ccxt.exchanges:
        raise Refused(
            f"exchange.name (--exchange): {args.exchange!r} is not an exchange ccxt knows; "
            f"Freqtrade supports e.g. {', '.join(SUPPORTED_EXCHANGES[:12])}"
        )
    if name in BAD_EXCHANGES:
        raise Refused(
            f"exchange.name (--exchange): Freqtrade refuses {name} ({BAD_EXCHANGES[name]}); "
            f"choose another exchange"
        )
    changes[("exchange", "name")] = name
    if name not in SUPPORTED_EXCHANGES:
        notes.append(
            f"Note: {name} is not on Freqtrade's list of supported exchanges; it may work "
            f"(ccxt knows it), untested by Freqtrade."
        )
    if not getattr(ccxt, name)().has.get("fetchL2OrderBook"):
        # Freqtrade refuses order-book pricing there at start-up ("Orderbook not available").
        changes[("entry_pricing", "use_order_book")] = False
        changes[("exit_pricing", "use_order_book")] = False
        notes.append(
            f"Prices on {name}: from the ticker (ccxt has no order book endpoint for it: "
            f"entry_pricing and exit_pricing use_order_book false)."
        )
    style = order_style({"exchange": {"name": name}})
    if style.tif != "IOC":
        changes[("unfilledtimeout",)] = dict(GTC_TIMEOUT)
        notes.append(
            f"Orders on {name}: limit GTC at the best price (Freqtrade supports no "
            f"Immediate-Or-Cancel order there), cancelled after 30 seconds (unfilledtimeout); "
            f"the rest then goes at market."
        )
    if args.markets is None:
        fee = config.get("fee")
        if fee is not None:
            notes.append(
                f"fee: {fee:g} kept (what backtests and dry-run charge): set it to {name}'s "
                f"taker fee for your account, or pass --markets FILE to take it from there."
            )
    return changes


def _applied(config: Mapping[str, Any], changes: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """``config``'s top-level keys as ``changes`` leave them (the checks read the new ones)."""
    out: dict[str, Any] = {}
    for path, value in changes.items():
        if len(path) == 1:
            out[path[0]] = value
        else:
            inner = dict(out.get(path[0]) or config.get(path[0]) or {})
            inner[path[1]] = value
            out[path[0]] = inner
    return out


def _taker_fee(markets_path: Path, pairs: list[str]) -> float:
    """The taker fee of the first pair in the markets file (the rate backtests charge)."""
    from ..presets import load_markets

    markets, where = load_markets(markets_path)
    market = markets.get(pairs[0]) or {}
    taker = market.get("taker")
    if taker is None:
        raise Refused(f"--markets: {pairs[0]} has no taker fee in {where}; set fee by hand")
    return float(taker)
