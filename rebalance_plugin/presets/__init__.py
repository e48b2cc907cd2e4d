"""Presets and templates with their past returns: what ``freqtrade-rebalance presets`` shows
and ``freqtrade-rebalance init --preset`` writes.

The decisions (eligibility, weights, returns) are pure functions in
:mod:`rebalance_plugin.core.presets`; this package gathers their inputs: the coins with a spot
market (:func:`tradable_coins`, from the bundled Binance markets snapshot or a ccxt markets
file), the coins with daily candles and their closes (:mod:`.candles`, Freqtrade's loader),
and the market caps (:mod:`.marketcap`, CoinGecko or the bundled snapshot). :mod:`.render`
prints the table and the JSON. The command line (arguments, exit code) is
:mod:`rebalance_plugin.cli.presets` (``presets``) and :mod:`rebalance_plugin.cli.init`
(``init --preset``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.config import TEMPLATES
from ..core.presets import (
    PRESETS,
    History,
    Preset,
    PresetError,
    Returns,
    build_preset,
    excluded_reason,
    portfolio_returns,
    rank_by_market_cap,
)
from .marketcap import MarketCaps, market_caps

DEFAULT_STAKE = "USDT"


@dataclass(frozen=True)
class Entry:
    """One row of the overview: a preset or a template, its weights and returns."""

    name: str
    kind: str  # "preset" or "template"
    description: str
    coins: dict[str, float]
    returns: Returns
    source: str
    note: str | None = None


@dataclass
class Overview:
    entries: list[Entry]
    caps: MarketCaps
    datadir: Path
    stake: str
    markets: str
    ranked: list[tuple[str, float]]
    passed_over: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


# ---- markets -------------------------------------------------------------------------------------
def load_markets(path: Path | None = None) -> tuple[dict[str, Any], str]:
    """ccxt unified markets (symbol -> market) and a line saying where they come from: the
    file given (e.g. ``json.dump(exchange.load_markets())``), else the bundled Binance
    snapshot of :mod:`rebalance_plugin.marketdata.offline`."""
    if path is not None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        markets = {k: v for k, v in data.items() if not k.startswith("_")}
        return markets, f"the markets in {path} ({len(markets)} pairs)"
    from ..marketdata.offline import MARKETS_FILE, load_markets_snapshot, snapshot_date

    markets = load_markets_snapshot()
    when = snapshot_date()
    return markets, (
        f"the bundled Binance spot markets snapshot ({len(markets)} pairs, {when}; "
        f"rebalance_plugin/data/{MARKETS_FILE})"
    )


def tradable_coins(markets: Mapping[str, Any], stake: str) -> set[str]:
    """Base coins with an active spot market quoted in ``stake``."""
    coins = set()
    for market in markets.values():
        if not isinstance(market, Mapping):
            continue
        if (
            str(market.get("quote", "")).upper() == stake.upper()
            and market.get("spot", True)
            and market.get("active", True) is not False
            and market.get("base")
        ):
            coins.add(str(market["base"]).upper())
    return coins


# ---- the overview --------------------------------------------------------------------------------
def build_overview(
    datadir: Path,
    stake: str = DEFAULT_STAKE,
    source: str = "auto",
    coingecko_url: str | None = None,
    markets_path: Path | None = None,
    api_key: str = "",
    is_demo: bool = True,
    data_format: str = "feather",
    now: datetime | None = None,
) -> Overview:
    """Every preset and template, with weights and returns, from the data given."""
    from .candles import candle_coins, load_history

    stake = stake.upper()
    markets, markets_desc = load_markets(markets_path)
    tradable = tradable_coins(markets, stake)
    with_candles = candle_coins(datadir, stake, data_format)
    wanted = (tradable & with_candles) | {c for t in TEMPLATES.values() for c in t}
    histories: dict[str, History] = {
        coin: load_history(datadir, coin, stake, data_format, now)
        for coin in sorted(wanted & with_candles)
    }
    candidates = {
        c for c in tradable & with_candles if not excluded_reason(c) and histories[c].dates
    }
    latest = {c: (histories[c].closes[-1], histories[c].dates[-1]) for c in sorted(candidates)}
    caps = market_caps(source, latest, coingecko_url, api_key, is_demo)
    ranked = [(c, v) for c, v in rank_by_market_cap(caps.caps) if c in candidates]

    entries: list[Entry] = []
    errors: list[str] = []
    for rule in PRESETS:
        try:
            preset = build_preset(rule, ranked)
        except PresetError as err:
            errors.append(str(err))
            continue
        entries.append(_preset_entry(preset, histories, caps))
    for name, coins in TEMPLATES.items():
        weights = {c: float(w) for c, w in coins.items()}
        entries.append(
            Entry(
                name=name,
                kind="template",
                description="template (docs/configuration.md#templates)",
                coins=weights,
                returns=portfolio_returns(weights, histories),
                source="template: fixed weights (rebalance_plugin.core.config.TEMPLATES)",
            )
        )
    passed = _passed_over(caps, ranked, tradable, with_candles, histories, stake)
    return Overview(entries, caps, Path(datadir), stake, markets_desc, ranked, passed, errors)


def _preset_entry(preset: Preset, histories: Mapping[str, History], caps: MarketCaps) -> Entry:
    note = None
    if preset.short:
        note = (
            f"only {len(preset.coins)} eligible coins with a market cap "
            f"({preset.short} fewer than {preset.rule.top})"
        )
    return Entry(
        name=preset.rule.name,
        kind="preset",
        description=preset.rule.description,
        coins=preset.weights,
        returns=portfolio_returns(preset.weights, histories),
        source=caps.description,
        note=note,
    )


def _passed_over(
    caps: MarketCaps,
    ranked: list[tuple[str, float]],
    tradable: set[str],
    with_candles: set[str],
    histories: Mapping[str, History],
    stake: str,
) -> list[tuple[str, str]]:
    """Coins with a larger market cap than the last one a top-10 preset takes, left out, and
    why (what a user would otherwise wonder about)."""
    top = max((rule.top for rule in PRESETS), default=0)
    bar = ranked[top - 1][1] if len(ranked) >= top else 0.0
    out = []
    chosen = {c for c, _ in ranked}
    for coin, cap in rank_by_market_cap(caps.caps):
        if cap < bar or coin in chosen:
            continue
        reason = excluded_reason(coin)
        if reason is None and coin == stake:
            reason = "the stake currency"
        if reason is None and coin not in tradable:
            reason = f"no {stake} spot market in the markets used"
        if reason is None and coin not in with_candles:
            reason = "no daily candles in the datadir"
        if reason is None and not histories.get(coin, History(coin, (), ())).dates:
            reason = "no complete daily candle"
        out.append((coin, reason or "not eligible"))
    return out
