"""The portfolios a sweep compares: the config's own, templates, presets (their coins from the
bundled market-cap snapshot, as ``freqtrade-rebalance presets --source snapshot`` shows them)
and coin lists; each one's config is the user's with its coins and the lists that must agree
with them (``exchange.pair_whitelist``, ``max_open_trades``), as ``init`` writes them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import TEMPLATES


class PortfolioError(ValueError):
    """A portfolio asked for cannot be built (unknown name, a bad coin list)."""


@dataclass(frozen=True)
class Portfolio:
    name: str
    coins: dict[str, float]

    def describe(self) -> str:
        return ", ".join(f"{c} {w:g}%" for c, w in self.coins.items())


def _items(text: str, sep: str = ",") -> list[str]:
    return [x.strip() for x in (text or "").split(sep) if x.strip()]


def parse_coins(text: str) -> dict[str, float]:
    """``BTC=40,ETH=60`` as {coin: weight}."""
    coins: dict[str, float] = {}
    for item in _items(text):
        coin, _, weight = item.partition("=")
        try:
            coins[coin.strip().upper()] = float(weight)
        except ValueError as err:
            raise PortfolioError(f"--coins: {item!r} is not COIN=WEIGHT") from err
    return coins


def resolve(
    templates: str = "", presets: str = "", coin_lists: str = "", datadir: Path | None = None
) -> list[Portfolio]:
    """The portfolios named by ``--templates a,b``, ``--presets x,y`` and ``--coins
    "BTC=50,ETH=50;BTC=40,ETH=30,SOL=30"`` (none: the config's own)."""
    out = []
    for name in _items(templates):
        if name not in TEMPLATES:
            raise PortfolioError(
                f"unknown template {name!r}; the templates are {', '.join(TEMPLATES)}"
            )
        out.append(Portfolio(name, {c: float(w) for c, w in TEMPLATES[name].items()}))
    if _items(presets):
        out += _presets(_items(presets), datadir)
    for text in _items(coin_lists, ";"):
        coins = parse_coins(text)
        out.append(Portfolio("+".join(f"{c}{w:g}" for c, w in coins.items()), coins))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise PortfolioError(f"a portfolio is named twice: {', '.join(names)}")
    return out


def _presets(names: Sequence[str], datadir: Path | None) -> list[Portfolio]:
    from ..presets import build_overview

    if datadir is None:
        raise PortfolioError("--presets needs the candles: pass --datadir")
    overview = build_overview(Path(datadir), source="snapshot")
    out = []
    for name in names:
        entry = overview.entry(name)
        if entry is None or entry.kind != "preset":
            why = next((e for e in overview.errors if name in e), "no such preset")
            raise PortfolioError(f"--presets {name}: {why}")
        out.append(Portfolio(name, dict(entry.coins)))
    return out


def config_for(config: dict[str, Any], portfolio: Portfolio | None) -> dict[str, Any]:
    """The user's config with ``portfolio``'s coins (itself when None)."""
    if portfolio is None:
        return config
    stake = config.get("stake_currency", "USDT")
    out = copy.deepcopy(config)
    out["rebalance"] = {**out.get("rebalance", {}), "coins": dict(portfolio.coins)}
    out["exchange"] = {
        **out["exchange"],
        "pair_whitelist": [f"{c}/{stake}" for c in portfolio.coins],
    }
    out["max_open_trades"] = len(portfolio.coins)
    return out
