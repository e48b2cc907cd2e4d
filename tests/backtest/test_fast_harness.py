"""The fast harness (``rebalance_plugin.fastsim``) against Freqtrade's own backtest: the same
config, run both ways, must give the same orders (time, coin, side, quantity, price, tag) and
the same final balance, to the last digit, on every trigger kind, threshold mode and rebalance
target, with auto-invest deposits, stops, ``trigger_price``, ten coins, a coin listed during
the range, and, over random portfolios and triggers, on synthetic candles.

Each case is a short period (a quarter or two months of 1h candles): Freqtrade's backtest is
run in-process (``tests.helpers.ftrun.run_backtest``, the offline markets), the harness on the
config Freqtrade's argument parsing builds for the same file (``sweep.freqtrade_config``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from rebalance_plugin.core.config import INTERVALS, THRESHOLDS, parse_rebalance_config
from rebalance_plugin.fastsim import inputs, simulate
from rebalance_plugin.report.loading import orders_from_trades
from rebalance_plugin.sweep import freqtrade_config
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

BALANCED = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
DIVERSIFIED = {"BTC": 30, "ETH": 25, "BNB": 10, "SOL": 10, "XRP": 5, "ADA": 5, "DOGE": 5}
DIVERSIFIED |= {"LINK": 5, "LTC": 5}
QUARTER = "20240101-20240401"


def both(config: Path, timerange: str, datadir: Path = SHARED_DATA) -> tuple[Any, Any]:
    """(Freqtrade's run, the harness's result) of one config file over ``timerange``."""
    run = run_backtest(config, timerange, datadir=datadir)
    cfg = freqtrade_config(config, datadir, timerange, None)
    setup = inputs.load(cfg)
    result = simulate(setup, parse_rebalance_config(cfg["rebalance"], cfg["stake_currency"]))
    return run, result


def order_list(run: Any, result: Any) -> tuple[list[tuple], list[tuple]]:
    theirs = orders_from_trades(run.trades)
    ft = sorted(
        (int(r.time.timestamp()), r.coin, r.side, r.amount, r.price, r.tag)
        for r in theirs.itertuples()
    )
    mine = sorted((int(o.time), o.coin, o.side, o.amount, o.price, o.tag) for o in result.orders)
    return ft, mine


def assert_same(run: Any, result: Any, min_orders: int) -> list[tuple]:
    ft, mine = order_list(run, result)
    assert len(ft) >= min_orders, "the case must trade"
    assert mine == ft
    assert result.final_balance == run.final_balance
    return ft


needs_candles = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

CASES: dict[str, tuple[dict[str, Any], str, int]] = {
    # name: (rebalance keys and config keys (prefixed "_"), timerange, least orders)
    "threshold": ({"threshold": 1}, QUARTER, 60),
    "interval 1d": ({"trigger": "interval", "interval": "1d"}, QUARTER, 40),
    "interval 30m": (
        {"trigger": "interval", "interval": "30m", "interval_min_drift": 2},
        QUARTER,
        20,
    ),
    "relative target": ({"threshold": 10, "threshold_mode": "relative"}, QUARTER, 20),
    "absolute band": (
        {"threshold": 2, "rebalance_to": "band", "investment": 10000, "_dry_run_wallet": 10000},
        QUARTER,
        40,
    ),
    "relative band": (
        {
            "threshold": 10,
            "threshold_mode": "relative",
            "rebalance_to": "band",
            "investment": 10000,
            "_dry_run_wallet": 10000,
        },
        QUARTER,
        40,
    ),
    "interval band": (
        {
            "trigger": "interval",
            "interval": "4h",
            "interval_min_drift": 2,
            "rebalance_to": "band",
            "investment": 10000,
            "_dry_run_wallet": 10000,
        },
        QUARTER,
        20,
    ),
    "auto-invest": (
        {
            "threshold": 5,
            "auto_invest": {"amount": 100, "every": "weekly", "weekday": "MON", "hour": 9},
            "_dry_run_wallet": 2000,
        },
        QUARTER,
        20,
    ),
    "auto-invest beyond the wallet": (
        {
            "threshold": 2,
            "auto_invest": {"amount": 150, "every": "daily", "hour": 0},
            "_dry_run_wallet": 2000,
        },
        QUARTER,
        20,
    ),
    "stop_loss sell_all": (
        {"threshold": 2, "stop_loss": 900, "on_stop": "sell_all"},
        "20220101-20220401",
        8,
    ),
    "coin stop_loss sell_all": (
        {"threshold": 1, "stop_loss": {"BTC": 40000}, "on_stop": "sell_all"},
        "20220101-20220401",
        8,
    ),
    "take_profit keep": ({"threshold": 2, "take_profit": 1100, "on_stop": "keep"}, QUARTER, 5),
    "trigger_price": ({"threshold": 1, "trigger_price": {"BTC": 43000}}, QUARTER, 20),
    "ten coins": (
        {"_coins": DIVERSIFIED, "threshold": 1, "investment": 2000, "_dry_run_wallet": 2000},
        QUARTER,
        60,
    ),
    "a coin listed during the range": (
        {"_coins": {"BTC": 50, "ETH": 30, "AVAX": 20}, "threshold": 2},
        "20200901-20201101",
        10,
    ),
}


def write_case(tmp_path: Path, keys: dict[str, Any]) -> Path:
    rebalance = {k: v for k, v in keys.items() if not k.startswith("_")}
    coins = keys.get("_coins", BALANCED)
    config = make_config(tmp_path, coins=coins, **rebalance)
    wallet = keys.get("_dry_run_wallet")
    if wallet is not None:
        import json

        data = json.loads(config.read_text())
        data["dry_run_wallet"] = wallet
        config.write_text(json.dumps(data))
    return config


@needs_candles
@pytest.mark.parametrize("name", list(CASES))
def test_the_harness_equals_freqtrade(tmp_path: Path, name: str) -> None:
    keys, timerange, least = CASES[name]
    run, result = both(write_case(tmp_path, keys), timerange)
    orders = assert_same(run, result, least)
    tags = {o[5] for o in orders}
    assert "force_exit" in tags or "portfolio stopped (sell_all)" in tags


SYNTHETIC_COINS = ["BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LINK", "LTC"]


def random_case(seed: int) -> dict[str, Any]:
    """A portfolio of 2 to 5 coins with random weights, a random trigger, mode and target that
    the config's validation accepts (drawn again until it does)."""
    rng = random.Random(seed)
    while True:
        keys = _draw(rng)
        section = {k: v for k, v in keys.items() if not k.startswith("_")}
        try:
            parse_rebalance_config({**section, "coins": keys["_coins"]})
        except ValueError:
            continue
        return keys


def _draw(rng: random.Random) -> dict[str, Any]:
    coins = rng.sample(SYNTHETIC_COINS, rng.randint(2, 5))
    cuts = sorted(rng.sample(range(1, 20), len(coins) - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 20], strict=True)]
    keys: dict[str, Any] = {"_coins": {c: p * 5 for c, p in zip(coins, parts, strict=True)}}
    keys["investment"] = rng.choice([1000, 3000, 10000])
    keys["_dry_run_wallet"] = keys["investment"]
    keys["threshold_mode"] = rng.choice(["absolute", "relative"])
    keys["rebalance_to"] = rng.choice(["target", "band"])
    if rng.random() < 0.5:
        keys["threshold"] = rng.choice([t for t in THRESHOLDS if t <= 20])
        if keys["threshold_mode"] == "relative":
            keys["threshold"] = rng.choice([10, 20, 30, 50])
    else:
        keys |= {"trigger": "interval", "interval": rng.choice(list(INTERVALS)[:7])}
        keys["interval_min_drift"] = rng.choice([0.5, 1, 2, 5])
    return keys


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rebalance_plugin.marketdata.synthetic import generate_market

    folder = tmp_path_factory.mktemp("synthetic")
    pairs = [f"{c}/USDT" for c in SYNTHETIC_COINS]
    generate_market(folder, pairs, "1h", "2022-12-31", "2023-03-02", seed=7)
    return folder


@pytest.mark.parametrize("seed", range(8))
def test_random_portfolios_on_synthetic_candles(tmp_path: Path, synthetic: Path, seed: int) -> None:
    keys = random_case(seed)
    run, result = both(write_case(tmp_path, keys), "20230101-20230301", synthetic)
    assert_same(run, result, 4)
