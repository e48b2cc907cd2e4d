"""Market caps for the presets: live from CoinGecko, or from the bundled snapshot.

* **live**: CoinGecko's ``GET /api/v3/coins/markets`` (the top 250 coins by market cap, in USD)
  through ``pycoingecko``, as Freqtrade's own fiat converter uses it
  (``freqtrade.util.coin_gecko.FtCoinGeckoApi``, with the config's ``coingecko.api_key`` and
  ``is_demo``). ``url`` replaces CoinGecko's base URL (tests point it at
  ``coingecko_standin`` on 127.0.0.1).
* **snapshot**: ``rebalance_plugin/data/market_caps.json`` holds each coin's circulating supply
  with its source and date (see its ``_provenance``); a coin's market cap is that supply times
  its latest daily close in the datadir.

``source="auto"`` tries live and falls back to the snapshot, saying why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

SOURCES = ("auto", "live", "snapshot")
SNAPSHOT_FILE = "market_caps.json"
#: How many coins the live source asks for (CoinGecko's largest page).
LIVE_TOP = 250
LIVE_TIMEOUT = 15.0


class MarketCapError(RuntimeError):
    """No market caps could be had from the source asked for; the message says why."""


@dataclass(frozen=True)
class MarketCaps:
    """Market caps by coin (upper-case symbol), and where they come from, for the output."""

    caps: dict[str, float]
    source: str  # "live" or "snapshot"
    description: str  # one line naming the source and its date
    notes: tuple[str, ...] = field(default=())


def snapshot_path() -> Path:
    return Path(str(resources.files("rebalance_plugin").joinpath("data", SNAPSHOT_FILE)))


def load_snapshot(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or snapshot_path()).read_text(encoding="utf-8"))


def snapshot_caps(
    latest: Mapping[str, tuple[float, date]], snapshot: Mapping[str, Any] | None = None
) -> MarketCaps:
    """Circulating supply (snapshot) × the latest daily close of each coin in ``latest``."""
    snap = snapshot if snapshot is not None else load_snapshot()
    supplies = snap["coins"]
    caps: dict[str, float] = {}
    priced: list[date] = []
    older: dict[str, list[str]] = {}
    for coin, (close, day) in latest.items():
        entry = supplies.get(coin)
        if not entry:
            continue
        caps[coin] = float(entry["circulating_supply"]) * float(close)
        priced.append(day)
        if entry.get("as_of") != snap.get("as_of"):
            older.setdefault(str(entry.get("as_of")), []).append(coin)
    when = str(snap.get("as_of"))
    if older:
        when += " (" + "; ".join(f"{', '.join(c)}: {d}" for d, c in sorted(older.items())) + ")"
    closes = (
        f"{min(priced).isoformat()}"
        + (f"…{max(priced).isoformat()}" if max(priced) != min(priced) else "")
        if priced
        else "none"
    )
    description = (
        f"snapshot: circulating supply from rebalance_plugin/data/{SNAPSHOT_FILE} as of {when}, "
        f"× each coin's latest daily close in the datadir ({closes})"
    )
    return MarketCaps(caps, "snapshot", description)


def fetch_live(
    url: str | None = None,
    api_key: str = "",
    is_demo: bool = True,
    timeout: float = LIVE_TIMEOUT,
) -> MarketCaps:
    """The top coins' market caps (USD) from CoinGecko's ``/coins/markets``. Raises
    :class:`MarketCapError` when CoinGecko cannot be reached or answers nonsense."""
    from freqtrade.util.coin_gecko import FtCoinGeckoApi
    from requests.exceptions import RequestException

    api = FtCoinGeckoApi(api_key=api_key, is_demo=is_demo, retries=1)
    if url:
        api.api_base_url = url.rstrip("/") + "/"
    api.request_timeout = timeout
    where = api.api_base_url
    try:
        rows = api.get_coins_markets(
            vs_currency="usd", order="market_cap_desc", per_page=LIVE_TOP, page=1
        )
    except (RequestException, ValueError) as err:
        raise MarketCapError(f"CoinGecko ({where}) gave no market caps: {err}") from err
    if not isinstance(rows, list):
        raise MarketCapError(f"CoinGecko ({where}) answered {str(rows)[:200]!r}, not a list")
    caps: dict[str, float] = {}
    newest = ""
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        symbol = str(row.get("symbol") or "").upper()
        cap = row.get("market_cap")
        # Symbols are not unique on CoinGecko: the first (largest) one is the coin.
        if symbol and symbol not in caps and isinstance(cap, (int, float)) and cap > 0:
            caps[symbol] = float(cap)
            newest = max(newest, str(row.get("last_updated") or ""))
    if not caps:
        raise MarketCapError(f"CoinGecko ({where}) returned no market caps")
    fetched = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    stamp = f"last updated {newest[:16].replace('T', ' ')} UTC" if newest else f"fetched {fetched}"
    description = f"live: CoinGecko /coins/markets, top {LIVE_TOP} by market cap, {stamp}"
    return MarketCaps(caps, "live", description)


def market_caps(
    source: str,
    latest: Mapping[str, tuple[float, date]],
    url: str | None = None,
    api_key: str = "",
    is_demo: bool = True,
) -> MarketCaps:
    """The market caps from ``source`` (auto, live or snapshot); auto falls back to the
    snapshot, with a note saying why."""
    if source not in SOURCES:
        raise MarketCapError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "snapshot":
        return snapshot_caps(latest)
    try:
        return fetch_live(url, api_key, is_demo)
    except MarketCapError as err:
        if source == "live":
            raise
        snap = snapshot_caps(latest)
        note = f"{err}; using the bundled snapshot instead"
        return MarketCaps(snap.caps, snap.source, snap.description, (note,))
