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
        return {}, list(coins), f"no offline markets for {exchange}"
    markets, where = load_markets(markets_path)
    mins: dict[str, float] = {}
    unchecked: list[str] = []
    for coin in coins:
        market = markets.get(f"{coin}/{stake}")
        if not market:
            if markets_path is not None:
                raise Refused(
                    f"rebalance.coins: {coin} has no spot market {coin}/{stake} in {where}; "
                    f"choose another coin"
                )
            unchecked.append(coin)
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
    from ..core.config import check_investment_clears_minimums, parse_rebalance_config
    from ..ft.startup import Refusal, check_pairs

    stake = str(config.get("stake_currency") or "USDT")
    current = config.get("rebalance")
    notes: list[str] = []
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
            f"Not checked offline: {', '.join(f'{c}/{stake}' for c in unchecked)} (not in "
            f"{where}); the bot checks their markets and minimums when it starts."
        )
    changes: dict[tuple[str, ...], Any] = {
        ("rebalance",): section,
        ("exchange", "pair_whitelist"): pairs,
        ("max_open_trades",): len(pairs),
    }
    lines = [f"  portfolio from {origin}"] + changes_text(config, changes)
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
