"""Backtests on each exchange's real rules (issue 19): every order respects that exchange's own
minimum amount, minimum order value, amount step and price tick.

For every exchange in ccxt's markets fixtures (../shared/ccxt-static/markets, see its
PROVENANCE.md) that Freqtrade 2026.9 trades spot on, a real ``freqtrade backtesting`` runs
through the offline runner with that fixture as the exchange's markets
(``python -m rebalance_plugin.marketdata.offline --markets FIXTURE backtesting ...``): a 4-coin
portfolio of coins the fixture lists against USDT, on the shared Binance candles as the price
path. Freqtrade 2026.9's ``SUPPORTED_EXCHANGES`` holds binance, binanceus, bitget, bybit, gate,
htx, kraken and okx; kucoin has a Freqtrade class and coinbase runs on Freqtrade's generic
one, both valid for ``validate_exchange`` (Freqtrade says "not officially supported").

Each exchange's rules are worked out here from its fixture, not by the plugin's MarketRules:
binance.json and binanceus.json come from a ccxt that counted precision in decimals ("amount":
5 is 0.00001), the others give the step itself; Kraken's markets carry no minimum order value
(``limits.cost`` is ``{}``): it is ``info.costmin``; OKX has none at all.

Why the candles are rounded to the exchange's tick: Freqtrade's backtest fills at the candle's
prices, rounded to the tick it reads from the candles themselves (its historic precision), and
Binance's candles are on Binance's tick (BTC 0.01): an exchange with a coarser one (Kraken, OKX,
Bybit, Gate, KuCoin: BTC 0.1) could not quote those prices. Its own candles would be on its
tick: the price path is Binance's, each price the nearest the exchange can quote.

Why the investment differs: it is 60 times the largest first minimum order of the portfolio's
coins on that exchange (its minimum order value, or minimum amount at the first open, whichever
is larger; Kraken's 0.01 ETH is about 23 USDT, KuCoin's largest 0.6), so that with a 1-point
threshold many legs fall under the exchange's minimums: the journal records them skipped, and
the orders that are sent come close to the minimums. The test could fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers.ftrun import base_config
from tests.helpers.paths import CCXT_STATIC, NO_SHARED_DATA, ROOT, SHARED_DATA

MARKETS = CCXT_STATIC / "markets"
pytestmark = [
    pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA),
    pytest.mark.skipif(not MARKETS.is_dir(), reason="ccxt fixtures ../shared/ccxt-static absent"),
]

RANGE = ("2024-01-01", "2024-07-01")
#: exchange -> the portfolio (four coins its fixture lists as active X/USDT spot markets, each
#: with candles in the shared Binance data)
PORTFOLIOS = {
    "binance": ("BTC", "ETH", "ADA", "XRP"),
    "binanceus": ("BTC", "LTC", "ADA", "XRP"),  # its fixture has ETH/USD (inactive), no ETH/USDT
    "bitget": ("BTC", "ETH", "ADA", "XRP"),
    "bybit": ("BTC", "ETH", "ADA", "XRP"),
    "coinbase": ("BTC", "ETH", "ADA", "XRP"),
    "gate": ("BTC", "ETH", "ADA", "XRP"),
    "htx": ("BTC", "ETH", "ADA", "XRP"),
    "kraken": ("BTC", "ETH", "ADA", "XRP"),
    "kucoin": ("BTC", "ETH", "ADA", "XRP"),
    "okx": ("BTC", "ETH", "ADA", "XRP"),
}
#: Fixtures written by a ccxt that counted precision in decimal places: every precision in them
#: is a whole number (BTC/USDT "amount": 5, XRP/USDT "amount": 0).
DECIMAL_PLACES_FILES = {"binance", "binanceus"}
#: How many times the largest first minimum order the portfolio invests (see the docstring).
INVESTMENT_TIMES_MINIMUM = 60


@dataclass(frozen=True)
class Rules:
    """One market's rules as the exchange states them, in exact decimals."""

    step: Decimal
    tick: Decimal
    min_qty: Decimal
    min_cost: Decimal


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def fixture_markets(exchange: str) -> dict[str, Any]:
    return json.loads((MARKETS / f"{exchange}.json").read_text())


def rules_of(exchange: str, market: dict[str, Any]) -> Rules:
    precision, limits = market["precision"], market["limits"]
    if exchange in DECIMAL_PLACES_FILES:
        step, tick = Decimal(1).scaleb(-precision["amount"]), Decimal(1).scaleb(-precision["price"])
    else:
        step, tick = dec(precision["amount"]), dec(precision["price"])
    min_cost = (limits.get("cost") or {}).get("min")
    if exchange == "kraken":
        assert min_cost is None  # this era's ccxt left Kraken's costmin in info
        min_cost = market["info"]["costmin"]
    return Rules(step, tick, dec(limits["amount"].get("min") or 0), dec(min_cost or 0))


def first_open(coin: str) -> float:
    candles = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather")
    return float(candles[candles["date"] >= RANGE[0]]["open"].iloc[0])


def investment(rules: dict[str, Rules]) -> int:
    """60 x the largest first minimum order of the portfolio's coins."""
    largest = max(max(r.min_cost, r.min_qty * dec(first_open(c))) for c, r in rules.items())
    return int((largest * INVESTMENT_TIMES_MINIMUM).to_integral_value())


def price_path(folder: Path, rules: dict[str, Rules]) -> Path:
    """The shared Binance candles of the range (and the day before, for the startup candle),
    each price rounded to the nearest tick of the exchange."""
    folder.mkdir()
    for coin, rule in rules.items():
        candles = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather")
        start = pd.Timestamp(RANGE[0], tz="UTC") - pd.Timedelta(days=1)
        end = pd.Timestamp(RANGE[1], tz="UTC") + pd.Timedelta(days=1)
        candles = candles[(candles["date"] >= start) & (candles["date"] < end)].copy()
        for col in ("open", "high", "low", "close"):
            candles[col] = [
                float((dec(v) / rule.tick).quantize(Decimal(1), ROUND_HALF_EVEN) * rule.tick)
                for v in candles[col]
            ]
        candles.reset_index(drop=True).to_feather(folder / f"{coin}_USDT-1h.feather")
    return folder


def write_config(tmp: Path, exchange: str, coins: tuple[str, ...], money: int) -> Path:
    cfg = base_config()
    cfg["exchange"]["name"] = exchange
    cfg["exchange"]["pair_whitelist"] = [f"{c}/USDT" for c in coins]
    cfg["rebalance"].update(coins=dict.fromkeys(coins, 25), investment=money, threshold=1)
    cfg["dry_run_wallet"] = money
    del cfg["fee"]  # the exchange's own fee, from its markets (Freqtrade's "worst case fee")
    if exchange == "coinbase":
        # ccxt's coinbase has no order book endpoint (fetchL2OrderBook): Freqtrade refuses
        # order-book pricing there at start-up, "Orderbook not available for Coinbase Advanced".
        cfg["entry_pricing"]["use_order_book"] = False
        cfg["exit_pricing"]["use_order_book"] = False
    cfg["user_data_dir"] = str(tmp / "user_data")
    cfg["strategy_path"] = str(ROOT / "strategies")
    cfg["hyperopt_path"] = str(ROOT / "hyperopts")
    (tmp / "user_data").mkdir()
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def backtest(tmp: Path, exchange: str, config: Path, datadir: Path) -> dict[str, Any]:
    """The offline runner with the fixture as the exchange's markets; the exported result."""
    from freqtrade.data.btanalysis import load_backtest_stats

    results = tmp / "results"
    results.mkdir()
    timerange = "-".join(day.replace("-", "") for day in RANGE)
    cmd = [sys.executable, "-m", "rebalance_plugin.marketdata.offline"]
    cmd += ["--markets", str(MARKETS / f"{exchange}.json"), "backtesting", "-c", str(config)]
    cmd += ["--datadir", str(datadir), "--timerange", timerange, "--cache", "none"]
    cmd += ["--export", "trades", "--backtest-directory", str(results)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    (result,) = results.glob("*.zip")
    return load_backtest_stats(result)["strategy"]["RebalanceStrategy"]


def breaches(order: dict[str, Any], rule: Rules) -> list[str]:
    """The rules ``order`` breaks (an empty list: none)."""
    amount, price = dec(order["amount"]), dec(order["safe_price"])
    found = []
    if amount % rule.step:
        found.append(f"amount {amount} is not a multiple of the step {rule.step}")
    if price % rule.tick:
        found.append(f"price {price} is not a multiple of the tick {rule.tick}")
    if amount < rule.min_qty:
        found.append(f"amount {amount} is below the minimum {rule.min_qty}")
    if amount * price < rule.min_cost:
        found.append(f"value {amount * price} is below the minimum {rule.min_cost}")
    return found


def headroom(order: dict[str, Any], rule: Rules) -> Decimal:
    """How many times its binding minimum ``order`` is (its value over the minimum order value,
    or its amount over the minimum amount, whichever is nearer)."""
    amount, price = dec(order["amount"]), dec(order["safe_price"])
    ratios = [amount * price / rule.min_cost] if rule.min_cost else []
    ratios += [amount / rule.min_qty] if rule.min_qty else []
    return min(ratios)


def skipped_for_minimums(user_data: Path) -> int:
    """Legs the journal records skipped under an exchange minimum."""
    lines = (user_data / "backtest_results" / "rebalance_journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return sum(
        1
        for r in records
        if r["kind"] == "skipped"
        for leg in r["skipped"]
        if "minimum" in leg["reason"]
    )


@pytest.mark.parametrize("exchange", sorted(PORTFOLIOS))
def test_every_order_respects_the_exchanges_own_rules(exchange, tmp_path):
    coins = PORTFOLIOS[exchange]
    markets = fixture_markets(exchange)
    for coin in coins:
        market = markets[f"{coin}/USDT"]
        assert market["spot"] and market["active"], f"{exchange} lists no active {coin}/USDT"
    rules = {c: rules_of(exchange, markets[f"{c}/USDT"]) for c in coins}
    money = investment(rules)
    config = write_config(tmp_path, exchange, coins, money)

    result = backtest(tmp_path, exchange, config, price_path(tmp_path / "data", rules))

    orders = [(t["pair"], o) for t in result["trades"] for o in t["orders"]]
    problems = [
        f"{pair} {o['ft_order_side']} {o['ft_order_tag'] or 'first buy'} at "
        f"{pd.Timestamp(o['order_filled_timestamp'], unit='ms')}: {why}"
        for pair, o in orders
        for why in breaches(o, rules[pair.split("/")[0]])
    ]
    assert problems == [], f"{exchange} (investment {money} USDT):\n" + "\n".join(problems)
    # It had its chance: every coin bought, rebalanced both ways, and legs under the minimums.
    tags = [o["ft_order_tag"] for _, o in orders]
    assert {pair for pair, _ in orders} == {f"{c}/USDT" for c in coins}
    assert tags.count("rebalance buy") >= 5 and tags.count("rebalance sell") >= 5, tags
    assert skipped_for_minimums(tmp_path / "user_data") >= 10
    # The sent orders come close to the minimums: the smallest is under twice its minimum.
    closest = min(headroom(o, rules[pair.split("/")[0]]) for pair, o in orders)
    print(f"{exchange}: {len(orders)} orders checked, investment {money} USDT, closest {closest}")
    assert closest < 2, closest


def test_a_first_buy_under_krakens_minimum_amount_stops_the_backtest_by_name(tmp_path):
    """Kraken counts ETH/USDT's minimum in the coin (0.01 ETH; its minimum value is 0.5 USDT):
    at the first candle's open Freqtrade's first-buy minimum is 0.01 x open x 1.5, and a
    portfolio giving ETH less would never buy it. The backtest stops at its first candle,
    before any order, naming the coin, the amounts and the investment that clears them."""
    coins = PORTFOLIOS["kraken"]
    markets = fixture_markets("kraken")
    rules = {c: rules_of("kraken", markets[f"{c}/USDT"]) for c in coins}
    assert rules["ETH"].min_qty == Decimal("0.01") and rules["ETH"].min_cost == Decimal("0.5")
    datadir = price_path(tmp_path / "data", rules)
    config = write_config(tmp_path, "kraken", coins, 60)

    cmd = [sys.executable, "-m", "rebalance_plugin.marketdata.offline"]
    cmd += ["--markets", str(MARKETS / "kraken.json"), "backtesting", "-c", str(config)]
    cmd += ["--datadir", str(datadir), "--timerange", "20240101-20240201", "--cache", "none"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    out = " ".join((run.stdout + run.stderr).split())  # Freqtrade's console wraps lines

    assert run.returncode != 0, out[-2000:]
    taker = markets["ETH/USDT"]["taker"]  # 0.0026: the config has no fee, the market's applies
    opens = {
        c: float(
            pd.read_feather(datadir / f"{c}_USDT-1h.feather").set_index("date")["open"][
                pd.Timestamp(RANGE[0], tz="UTC")
            ]
        )
        for c in coins
    }
    need = {
        c: max(float(r.min_cost), float(r.min_qty) * opens[c]) * 1.5 * (1 + taker)
        for c, r in rules.items()
    }
    assert max(need, key=lambda c: need[c] / 25) == "ETH"  # ETH's is the largest
    assert (
        f"ETH gets 25% = 15.00 USDT, below the exchange minimum of {need['ETH']:.2f} USDT" in out
    ), out[-2000:]
    assert f"needs at least {need['ETH'] / 0.25:.2f} USDT" in out
    assert "rebalance.investment = 60 is too small" in out
