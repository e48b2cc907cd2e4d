"""Kraken's names and rules for the pairs the Kraken dialect serves.

Kraken names a coin by an asset id (``XXBT``, ``XETH``, ``ZUSD``; ``ADA``, ``USDT`` without a
prefix) and a pair by a pair id and an altname (``XBTUSDT``); ccxt turns them into ``BTC/USDT``.
The stand-in keeps its own Binance-style symbols inside (``BTCUSDT``: the candle files'
names, the control API's ``/sim/price``), so each served pair is one :class:`KrakenPair` with
both names, and its rules as Kraken's ``AssetPairs`` states them: the minimum volume
(``ordermin``), the minimum cost (``costmin``), the price tick and decimals, the volume
decimals and the fee tiers. The values are Kraken's for the six USDT pairs whose coins are also
in the Binance candle set (checked in tests/unit/test_standin_kraken.py against the unified
markets ccxt builds from Kraken's real answers, ``ccxt-static/markets/kraken.json``).

The matching engine and the account work on :class:`~binance_standin.filters.SymbolRules`:
:func:`exchange_info` states each pair's tick, volume step, minimum volume and minimum cost
as Binance-style filters so that the same engine serves Kraken's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class KrakenAsset:
    """One of Kraken's assets (the ``Assets`` answer's entry)."""

    asset_id: str  # XXBT
    code: str  # BTC: the stand-in's (and ccxt's) name
    altname: str  # XBT
    decimals: int
    display_decimals: int
    collateral_value: str | None


@dataclass(frozen=True)
class KrakenPair:
    """A served pair: Kraken's names and rules, and the stand-in's symbol for it."""

    symbol: str  # BTCUSDT: the stand-in's symbol (candle files, control API)
    pair_id: str  # XBTUSDT: the AssetPairs key
    altname: str
    wsname: str
    base: str  # XXBT: Kraken's asset id of the base coin
    quote: str
    ordermin: str
    costmin: str
    tick_size: str
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    leverage: tuple[int, ...]
    position_limits: tuple[str, str] | None  # long, short

    @property
    def tick(self) -> Decimal:
        return Decimal(self.tick_size)

    @property
    def step(self) -> Decimal:
        """The volume step: ``lot_decimals`` decimals."""
        return Decimal(1).scaleb(-self.lot_decimals)


#: Kraken's assets of the served pairs.
ASSETS: dict[str, KrakenAsset] = {
    a.asset_id: a
    for a in (
        KrakenAsset("XXBT", "BTC", "XBT", 10, 5, "1.0"),
        KrakenAsset("XETH", "ETH", "ETH", 10, 5, "1.0"),
        KrakenAsset("ADA", "ADA", "ADA", 8, 6, "0.9"),
        KrakenAsset("XLTC", "LTC", "LTC", 10, 5, "0.7"),
        KrakenAsset("XXRP", "XRP", "XRP", 8, 5, None),
        KrakenAsset("XXDG", "DOGE", "XDG", 8, 2, None),
        KrakenAsset("USDT", "USDT", "USDT", 8, 4, "0.9"),
    )
}

#: The served pairs (those with candle files in the datadir), by the stand-in's symbol.
PAIRS: dict[str, KrakenPair] = {
    p.symbol: p
    for p in (
        KrakenPair(
            "BTCUSDT", "XBTUSDT", "XBTUSDT", "XBT/USDT", "XXBT", "USDT",
            "0.0001", "0.5", "0.1", 1, 8, 5, (2, 3), ("47", "28"),
        ),
        KrakenPair(
            "ETHUSDT", "ETHUSDT", "ETHUSDT", "ETH/USDT", "XETH", "USDT",
            "0.01", "0.5", "0.01", 2, 8, 5, (2, 3), ("300", "200"),
        ),
        KrakenPair(
            "ADAUSDT", "ADAUSDT", "ADAUSDT", "ADA/USDT", "ADA", "USDT",
            "20", "0.5", "0.000001", 6, 8, 8, (2, 3, 4), ("220000", "100000"),
        ),
        KrakenPair(
            "LTCUSDT", "LTCUSDT", "LTCUSDT", "LTC/USDT", "XLTC", "USDT",
            "0.08", "0.5", "0.00001", 5, 8, 6, (), None,
        ),
        KrakenPair(
            "XRPUSDT", "XRPUSDT", "XRPUSDT", "XRP/USDT", "XXRP", "USDT",
            "10", "0.5", "0.00001", 5, 8, 8, (2, 3), ("150000", "140000"),
        ),
        KrakenPair(
            "DOGEUSDT", "XDGUSDT", "XDGUSDT", "XDG/USDT", "XXDG", "USDT",
            "80", "0.5", "0.00001", 5, 8, 9, (), None,
        ),
    )
}  # fmt: skip

#: Kraken's volume tiers (30-day volume in USD) of the fee schedule, in percent: the first
#: tier's rates are the account's (the stand-in's ``fee`` and ``maker_fee``).
TAKER_TIERS = ((0, 0.26), (50000, 0.24), (100000, 0.22), (250000, 0.2), (500000, 0.18),
               (1000000, 0.16), (2500000, 0.14), (5000000, 0.12), (10000000, 0.1))  # fmt: skip
MAKER_TIERS = ((0, 0.16), (50000, 0.14), (100000, 0.12), (250000, 0.1), (500000, 0.08),
               (1000000, 0.06), (2500000, 0.04), (5000000, 0.02), (10000000, 0))  # fmt: skip
#: Kraken's default fees of the first tier: 0.26% taker, 0.16% maker.
TAKER_FEE, MAKER_FEE = Decimal("0.0026"), Decimal("0.0016")


def _percent(rate: Decimal) -> float:
    return float((rate * 100).normalize())


def fee_tiers(tiers: tuple[tuple[int, float], ...], first: Decimal) -> list[list[float]]:
    """The tiers with the first one's rate at ``first`` (a fraction), those above it capped."""
    pct = _percent(first)
    return [[volume, pct if i == 0 else min(rate, pct)] for i, (volume, rate) in enumerate(tiers)]


def asset_pair(pair: KrakenPair, taker: Decimal, maker: Decimal) -> dict[str, Any]:
    """The ``AssetPairs`` entry of ``pair`` (numbers as strings, as ccxt's recorded ones)."""
    entry: dict[str, Any] = {
        "altname": pair.altname,
        "wsname": pair.wsname,
        "aclass_base": "currency",
        "base": pair.base,
        "aclass_quote": "currency",
        "quote": pair.quote,
        "lot": "unit",
        "cost_decimals": str(pair.cost_decimals),
        "pair_decimals": str(pair.pair_decimals),
        "lot_decimals": str(pair.lot_decimals),
        "lot_multiplier": "1",
        "leverage_buy": list(pair.leverage),
        "leverage_sell": list(pair.leverage),
        "fees": fee_tiers(TAKER_TIERS, taker),
        "fees_maker": fee_tiers(MAKER_TIERS, maker),
        "fee_volume_currency": "ZUSD",
        "margin_call": "80",
        "margin_stop": "40",
        "ordermin": pair.ordermin,
        "costmin": pair.costmin,
        "tick_size": pair.tick_size,
        "status": "online",
    }
    if pair.position_limits:
        entry["long_position_limit"], entry["short_position_limit"] = pair.position_limits
    return entry


def asset_info(asset: KrakenAsset) -> dict[str, Any]:
    """The ``Assets`` entry of ``asset`` (numbers as strings, as ccxt's recorded ones)."""
    entry: dict[str, Any] = {
        "aclass": "currency",
        "altname": asset.altname,
        "decimals": str(asset.decimals),
        "display_decimals": str(asset.display_decimals),
    }
    if asset.collateral_value is not None:
        entry["collateral_value"] = asset.collateral_value
    entry["status"] = "enabled"
    return entry


def asset_id(code: str) -> str:
    """Kraken's asset id of a coin (``BTC`` -> ``XXBT``); an unknown coin keeps its name."""
    return next((a.asset_id for a in ASSETS.values() if a.code == code), code)


def asset_decimals(code: str) -> int:
    return next((a.decimals for a in ASSETS.values() if a.code == code), 8)


def exchange_info() -> dict[str, Any]:
    """The served pairs as a Binance-style exchangeInfo for the exchange-agnostic engine: the
    tick (PRICE_FILTER), the volume step and ``ordermin`` (LOT_SIZE), ``costmin`` (NOTIONAL).
    Kraken's own checks of an order are the dialect's (``binance_standin.kraken.api``)."""
    symbols = []
    for pair in PAIRS.values():
        base = ASSETS[pair.base].code
        symbols.append(
            {
                "symbol": pair.symbol,
                "status": "TRADING",
                "baseAsset": base,
                "quoteAsset": pair.quote,
                "baseAssetPrecision": pair.lot_decimals,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"],
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": pair.tick_size,
                        "maxPrice": "0",
                        "tickSize": pair.tick_size,
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": pair.ordermin,
                        "maxQty": "0",
                        "stepSize": format(pair.step, "f"),
                    },
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": pair.costmin,
                        "applyMinToMarket": True,
                        "maxNotional": "0",
                        "applyMaxToMarket": False,
                    },
                ],
            }
        )
    return {"timezone": "UTC", "rateLimits": [], "exchangeFilters": [], "symbols": symbols}


def by_kraken_name(name: str) -> KrakenPair | None:
    """The served pair a request names: its pair id, altname or wsname (Kraken takes each)."""
    for pair in PAIRS.values():
        if name in (pair.pair_id, pair.altname, pair.wsname):
            return pair
    return None
