"""A backtest in which one coin's candles stop: the coin is held at its last price while the other
coins are rebalanced among themselves (issue 20, item 1: as a halted coin live), said once; the
fast harness gives the same orders as Freqtrade (``sweep --verify``), with a threshold, an
interval trigger and auto-invest deposits.

The candles are the shared real ones, written to a scratch folder for 2024-05-09 to 2024-06-01
with SOL's removed from 2024-05-19 12:00 on (as for a coin delisted that day), while ETH rallies
(+25% from May 20 to 27). Freqtrade fills a gap *inside* a pair's candles with flat candles at
the last close (``ohlcv_fill_up_missing_data``): in its backtests a coin's candles stop only for
good, and its trade is sold at its last candle's open when the backtest ends. That the coin
rejoins when its candles return is shown on hand-made candles (tests/unit/test_ft_plugin.py,
tests/unit/test_fastsim.py).

What is worked out here from the candles and the orders alone: the holdings and cash before
each candle (from the filled orders, fee 0.1%), the first candle after the stop at which the
drift among BTC, ETH and BNB (their targets 20, 30, 10 scaled to 100: 1/3, 1/2, 1/6) exceeds the
5-point threshold, and the legs that bring them to those targets after fees. With SOL's 40%
target, sizing on the whole portfolio's targets instead (SOL counted at its last price) would
differ by about ten times the tolerance: the test checks that too, so it can fail.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.fastsim import inputs, simulate
from rebalance_plugin.report.loading import orders_from_trades
from rebalance_plugin.sweep import freqtrade_config
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

COINS: dict[str, float] = {"BTC": 20, "ETH": 30, "BNB": 10, "SOL": 40}
TRADING = ("BTC", "ETH", "BNB")
INVESTMENT = 10000.0
THRESHOLD = 5.0
FEE = 0.001
STEP = {"BTC": 1e-05, "ETH": 1e-04, "BNB": 1e-03}  # Binance's quantity steps
TIMERANGE = "20240512-20240601"
FIRST = pd.Timestamp("2024-05-09", tz="UTC")  # the candles written: startup ones included
END = pd.Timestamp("2024-06-01", tz="UTC")
STOP = pd.Timestamp("2024-05-19 12:00", tz="UTC")  # SOL's first missing candle
HOUR = pd.Timedelta(hours=1)


@dataclass
class Case:
    config: Path
    datadir: Path
    orders: pd.DataFrame  # Freqtrade's filled orders
    final_balance: float
    said: list[str]
    opens: pd.DataFrame  # the candles written, by time and coin


def write_candles(folder: Path, stops: dict[str, pd.Timestamp]) -> dict[str, pd.Series]:
    """The shared 1h candles of ``COINS`` from FIRST to END into ``folder``, each coin of
    ``stops`` without its candles from its time on; the opens written, by coin."""
    folder.mkdir()
    cols = {}
    for coin in COINS:
        frame = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather")
        frame = frame[(frame["date"] >= FIRST) & (frame["date"] <= END)]
        if coin in stops:
            frame = frame[frame["date"] < stops[coin]]
        frame.reset_index(drop=True).to_feather(folder / f"{coin}_USDT-1h.feather")
        cols[coin] = frame.set_index("date")["open"]
    return cols


class Said(logging.Handler):
    """The plugin's messages (its logger ``rebalance_plugin.ft``) during the module's run."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.said: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(record.getMessage())


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("candles_stop")
    datadir = tmp / "data"
    cols = write_candles(datadir, {"SOL": STOP})
    config = make_config(tmp, coins=COINS, investment=INVESTMENT, threshold=THRESHOLD)
    handler = Said()
    logger = logging.getLogger("rebalance_plugin.ft")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run = run_backtest(config, TIMERANGE, datadir=datadir)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    orders = orders_from_trades(run.trades)
    return Case(config, datadir, orders, run.final_balance, handler.said, pd.DataFrame(cols))


def book_before(orders: pd.DataFrame, t: pd.Timestamp) -> tuple[dict[str, float], float]:
    """Each coin's quantity and the portfolio's cash before the candle at ``t``, from the filled
    orders (the final force exits left out: Freqtrade makes them after the last candle)."""
    held = dict.fromkeys(COINS, 0.0)
    cash = INVESTMENT
    for o in orders.itertuples():
        if o.time >= t or o.tag == "force_exit":
            continue
        sign = 1.0 if o.side == "buy" else -1.0
        held[o.coin] += sign * o.amount
        cash -= sign * o.amount * o.price * (1.0 + sign * FEE)
    return held, cash


def ends(values: dict[str, float], total: float, targets: dict[str, float]) -> dict[str, float]:
    """Each coin's value once at ``targets`` of what is left after the fees of getting there."""
    after = total
    for _ in range(60):
        after = total - FEE * math.fsum(abs(targets[c] * after - v) for c, v in values.items())
    return {c: targets[c] * after for c in values}


def first_trigger(case: Case) -> tuple[pd.Timestamp, dict[str, float], float]:
    """The first candle from the stop on whose open the coins still trading are more than
    the threshold off their shares; their values and the cash then."""
    share = sum(COINS[c] for c in TRADING)
    t = STOP
    while t < END:
        held, cash = book_before(case.orders, t)
        values = {c: held[c] * case.opens.at[t, c] for c in TRADING}
        total = math.fsum(values.values()) + cash
        drift = max(abs(values[c] / total - COINS[c] / share) * 100 for c in TRADING)
        if drift > THRESHOLD:
            return t, values, cash
        t += HOUR
    raise AssertionError("no rebalance is due in the gap: the case must trade")


def test_the_stopped_coin_is_held_and_the_others_rebalance_among_themselves(case: Case) -> None:
    orders = case.orders
    sol_last = case.opens["SOL"].dropna()
    last_time, last_open = sol_last.index[-1], float(sol_last.iloc[-1])
    assert last_time == STOP - HOUR

    # Said once, with the coin's last open.
    stops = [m for m in case.said if m.startswith("No candle")]
    assert stops == [
        f"No candle for SOL at 2024-05-19 12:00 UTC: SOL is held at its last price "
        f"({last_open:g}), no order is placed for it, and the other coins are rebalanced among "
        f"themselves until its candles return (if they do not, Freqtrade sells it at that price "
        f"when the backtest ends)"
    ]

    # SOL: bought once, never traded again, sold whole by Freqtrade at its last open.
    sol = orders[orders["coin"] == "SOL"]
    assert list(sol["tag"]) == ["", "force_exit"]
    bought, sold = sol.iloc[0], sol.iloc[1]
    assert sold["amount"] == bought["amount"]
    assert (sold["time"], sold["price"]) == (last_time, last_open)

    # The rebalances in the gap: only the trading coins, first when they drift apart.
    gap = orders[(orders["time"] >= STOP) & (orders["tag"] != "force_exit")]
    assert set(gap["coin"]) <= set(TRADING)
    t, values, cash = first_trigger(case)
    assert gap["time"].min() == t
    share = sum(COINS[c] for c in TRADING)
    want = ends(values, math.fsum(values.values()) + cash, {c: COINS[c] / share for c in TRADING})
    legs = gap[gap["time"] <= t + HOUR]  # the sells at t, the buys at t or at the next open
    assert sorted(legs["coin"]) == sorted(TRADING)
    sells = legs[legs["side"] == "sell"]
    for o in sells.itertuples():
        price = case.opens.at[t, o.coin]
        assert o.time == t and o.price == price
        assert o.amount == pytest.approx((values[o.coin] - want[o.coin]) / price, abs=STEP[o.coin])
    # The buys spend the planned shortfalls, scaled to the cash the sells freed if short.
    short = {c: want[c] - values[c] for c in TRADING if want[c] > values[c]}
    budget = cash + math.fsum(o.amount * o.price for o in sells.itertuples()) * (1 - FEE)
    scale = min(1.0, budget / (math.fsum(short.values()) * (1 + FEE)))
    buys = legs[legs["side"] == "buy"]
    assert set(buys["coin"]) == set(short)
    for o in buys.itertuples():
        assert o.price == case.opens.at[o.time, o.coin]
        value = short[o.coin] * scale
        assert o.amount * o.price == pytest.approx(value, abs=STEP[o.coin] * o.price + 0.5)

    # Sizing on the whole portfolio's targets (SOL counted at its last price) is far off.
    held, _ = book_before(orders, t)
    whole = math.fsum(values.values()) + cash + held["SOL"] * last_open
    other = ends(
        {**values, "SOL": held["SOL"] * last_open}, whole, {c: w / 100 for c, w in COINS.items()}
    )
    eth = sells[sells["coin"] == "ETH"].iloc[0]
    assert abs(values["ETH"] - other["ETH"] - eth["amount"] * eth["price"]) > 20.0


def harness_orders(config: Path, datadir: Path) -> tuple[list[tuple], float]:
    """The fast harness's orders (as Freqtrade's are compared) and final balance."""
    cfg = freqtrade_config(config, datadir, TIMERANGE, None)
    result = simulate(
        inputs.load(cfg), parse_rebalance_config(cfg["rebalance"], cfg["stake_currency"])
    )
    mine = sorted((int(o.time), o.coin, o.side, o.amount, o.price, o.tag) for o in result.orders)
    return mine, result.final_balance


def freqtrade_orders(orders: pd.DataFrame) -> list[tuple]:
    return sorted(
        (int(o.time.timestamp()), o.coin, o.side, o.amount, o.price, o.tag)
        for o in orders.itertuples()
    )


def test_the_fast_harness_gives_the_same_orders(case: Case) -> None:
    mine, final = harness_orders(case.config, case.datadir)
    theirs = freqtrade_orders(case.orders)
    assert len([o for o in theirs if o[5].startswith("rebalance")]) >= 3
    assert mine == theirs
    assert final == case.final_balance


OTHER_TRIGGERS: dict[str, dict[str, Any]] = {
    "threshold 1": {"threshold": 1},
    "interval 1d": {"trigger": "interval", "interval": "1d", "interval_min_drift": 1},
    "auto-invest": {
        "threshold": 2,
        "auto_invest": {"amount": 200, "every": "daily", "hour": 9},
        "_dry_run_wallet": 16000,
    },
}


@pytest.mark.parametrize("name", list(OTHER_TRIGGERS))
def test_the_fast_harness_gives_the_same_orders_with_other_triggers(
    case: Case, tmp_path: Path, name: str
) -> None:
    keys = OTHER_TRIGGERS[name]
    section = {k: v for k, v in keys.items() if not k.startswith("_")}
    config = make_config(tmp_path, coins=COINS, investment=INVESTMENT, **section)
    if "_dry_run_wallet" in keys:
        data = json.loads(config.read_text())
        data["dry_run_wallet"] = keys["_dry_run_wallet"]
        config.write_text(json.dumps(data))
    run = run_backtest(config, TIMERANGE, datadir=case.datadir)
    theirs = freqtrade_orders(orders_from_trades(run.trades))
    # The trading coins trade while SOL's candles are stopped.
    stop = int(STOP.timestamp())
    assert [o for o in theirs if o[0] >= stop and o[5] != "force_exit"]
    assert not [o for o in theirs if o[0] >= stop and o[1] == "SOL"]
    mine, final = harness_orders(config, case.datadir)
    assert mine == theirs
    assert final == run.final_balance


def test_a_buy_carried_to_a_candle_its_coin_does_not_have_is_dropped(tmp_path: Path) -> None:
    """With a 2-point threshold and only SOL's candles stopped, the 20:00 rebalance of May 20
    sells ETH and carries BTC's buy to 21:00 (BTC was visited before ETH's sell). Here BTC's
    candles stop at 21:00 too: the buy is dropped (no order for a coin without a candle), not
    kept waiting for ever with every decision after it, and ETH and BNB go on rebalancing
    among themselves."""
    carried = pd.Timestamp("2024-05-20 21:00", tz="UTC")
    runs = {}
    for name, stops in (("SOL", {"SOL": STOP}), ("SOL and BTC", {"SOL": STOP, "BTC": carried})):
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        write_candles(folder / "data", stops)
        config = make_config(folder, coins=COINS, investment=INVESTMENT, threshold=2)
        run = run_backtest(config, TIMERANGE, datadir=folder / "data")
        runs[name] = (config, folder / "data", run)
    only_sol = freqtrade_orders(orders_from_trades(runs["SOL"][2].trades))
    at = int(carried.timestamp())
    assert ("BTC", "buy", "rebalance buy") in {(o[1], o[2], o[5]) for o in only_sol if o[0] == at}
    assert ("ETH", "sell") in {(o[1], o[2]) for o in only_sol if o[0] == at - 3600}

    config, datadir, run = runs["SOL and BTC"]
    theirs = freqtrade_orders(orders_from_trades(run.trades))
    after = [o for o in theirs if o[0] >= at and o[5] != "force_exit"]
    assert after and {o[1] for o in after} == {"ETH", "BNB"}
    mine, final = harness_orders(config, datadir)
    assert mine == theirs
    assert final == run.final_balance
