"""FreqUI's backtest view of the portfolio, through the REST endpoints FreqUI reads from
``freqtrade webserver``: ``/api/v1/plot_config`` and ``/api/v1/pair_history`` (what "Visualize
result" asks for each pair, with the result's own timerange).

Every figure is checked against a computation written here from the result file's orders and
the candle files alone, one candle after the other (rebalance_plugin/report/columns.py, which
the strategy uses, is vectorised): at each candle, the orders filled before the candle closed,
valued at its close, with the portfolio's cash (the investment, less what buys cost with their
fee, plus what sells brought less theirs); buy-and-hold: the first buys held, plus the cash they
left, from the candle in which they were complete.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers.e2e import free_port
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, cli_output, freqtrade, make_config

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

RANGE = "20240101-20240301"
COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0
THRESHOLD = 2  # absolute points: a dozen rebalances over the two months
HOUR = 3_600_000  # ms


class Web:
    """``freqtrade webserver`` on a config, as FreqUI's backtest tab reaches it."""

    def __init__(self, config: Path, workdir: Path) -> None:
        from freqtrade_client import FtRestClient

        self.port = free_port()
        cfg = json.loads(config.read_text())
        cfg["api_server"].update(
            enabled=True,
            listen_port=self.port,
            username="ui",
            password="test-password-1",
            jwt_secret_key="test-jwt-secret-0123456789-abcdefghij",
        )
        path = workdir / "web.json"
        path.write_text(json.dumps(cfg))
        self.log = workdir / "web.log"
        cmd = [
            sys.executable,
            "-m",
            "rebalance_plugin.marketdata.offline",
            "webserver",
            "-c",
            str(path),
        ]
        cmd += ["--datadir", str(SHARED_DATA)]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self.client = FtRestClient(f"http://127.0.0.1:{self.port}", "ui", "test-password-1")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._quiet(self.client.show_config):
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the webserver did not start\n{self.log.read_text()[-3000:]}")

    @staticmethod
    def _quiet(call: Any) -> Any:
        import logging

        log = logging.getLogger("ft_rest_client")
        level, log.level = log.level, logging.CRITICAL
        try:
            return call()
        except Exception:
            return None
        finally:
            log.setLevel(level)

    def get(self, path: str, **params: Any) -> Any:
        return self.client._get(path, params=params)

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client._post(path, data=data)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def backtested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Web]]:
    """A backtest of Balanced growth (threshold 2), and a webserver on its folder."""
    tmp = tmp_path_factory.mktemp("charts")
    config = make_config(tmp, coins=COINS, threshold=THRESHOLD)
    result = freqtrade(config, "backtesting", "--timerange", RANGE)
    assert result.returncode == 0, cli_output(result)[-3000:]
    web = Web(config, tmp)
    try:
        yield config, web
    finally:
        web.stop()


# ---- the independent computation ------------------------------------------------------------
def result_trades(config: Path) -> list[dict[str, Any]]:
    """The trades (with their orders) of the latest result in the config's folder."""
    folder = Path(json.loads(config.read_text())["user_data_dir"]) / "backtest_results"
    latest = json.loads((folder / ".last_result.json").read_text())["latest_backtest"]
    with zipfile.ZipFile(folder / latest) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json") and "_config" not in n)
        data = json.loads(zf.read(name))
    return data["strategy"]["RebalanceStrategy"]["trades"]


def filled_orders(trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every filled order: time (ms), coin, signed quantity, signed cash (fee included)."""
    out = []
    for trade in trades:
        coin = trade["pair"].split("/")[0]
        for order in trade["orders"]:
            amount, price = float(order["amount"]), float(order["safe_price"])
            buy = order["ft_order_side"] == "buy"
            fee = trade["fee_open"] if buy else trade["fee_close"]
            value = amount * price
            out.append(
                {
                    "ts": int(order["order_filled_timestamp"]),
                    "coin": coin,
                    "qty": amount if buy else -amount,
                    "cash": -value * (1 + fee) if buy else value * (1 - fee),
                    "buy": buy,
                    "price": price,
                    "fee": fee,
                }
            )
    return sorted(out, key=lambda o: o["ts"])


def closes_by_time(coin: str) -> dict[int, float]:
    df = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather")
    ms = df["date"].dt.as_unit("ms").astype("int64")
    return dict(zip(ms.tolist(), df["close"].tolist()))


def expected_rows(trades: list[dict[str, Any]], dates: list[int]) -> dict[int, dict[str, Any]]:
    """Per candle (open time, ms): each coin's weight %, the value and buy-and-hold, walking
    the candles in order and taking in the orders filled before each one closed."""
    orders = filled_orders(trades)
    closes = {coin: closes_by_time(coin) for coin in COINS}
    first: dict[str, dict[str, Any]] = {}
    for o in orders:
        if o["buy"] and o["coin"] not in first:
            first[o["coin"]] = o
    start_ts = max(o["ts"] for o in first.values())
    spent = math.fsum(o["qty"] * o["price"] * (1 + o["fee"]) for o in first.values())
    start_cash = INVESTMENT - spent
    held = dict.fromkeys(COINS, 0.0)
    cash = INVESTMENT
    i = 0
    out = {}
    for date in dates:
        closes_at = date + HOUR
        while i < len(orders) and orders[i]["ts"] < closes_at:
            held[orders[i]["coin"]] += orders[i]["qty"]
            cash += orders[i]["cash"]
            i += 1
        if i == 0:
            out[date] = None  # before the first order: no portfolio yet
            continue
        prices = {coin: closes[coin][date] for coin in COINS}
        worth = {coin: held[coin] * prices[coin] for coin in COINS}
        value = math.fsum(worth.values()) + cash
        bh = (
            math.fsum(first[c]["qty"] * prices[c] for c in COINS) + start_cash
            if closes_at > start_ts
            else None
        )
        out[date] = {
            "weights": {c: worth[c] / value * 100 for c in COINS},
            "value": value,
            "buy_hold": bh,
        }
    return out


def rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(answer["columns"], row)) for row in answer["data"]]


# ---- the tests -------------------------------------------------------------------------------
def test_plot_config_names_the_portfolio_columns(backtested):
    _, web = backtested
    answer = web.get("plot_config", strategy="RebalanceStrategy")
    weight = answer["subplots"]["Weight %"]
    assert set(weight) == {"rb_weight", "rb_target", "rb_band_low", "rb_band_high"}
    assert weight["rb_band_low"]["fill_to"] == "rb_band_high"
    assert set(answer["subplots"]["Portfolio value"]) == {"rb_value", "rb_buy_hold"}


@pytest.mark.parametrize("coin", list(COINS))
def test_pair_history_shows_the_weights_and_values_of_the_backtest(backtested, coin):
    config, web = backtested
    answer = web.get(
        "pair_history",
        pair=f"{coin}/USDT",
        timeframe="1h",
        strategy="RebalanceStrategy",
        timerange=RANGE,
    )
    assert isinstance(answer, dict) and "data" in answer, answer
    got = rows(answer)
    trades = result_trades(config)
    want = expected_rows(trades, [r["__date_ts"] for r in got])
    checked = 0
    for row in got:
        expected = want[row["__date_ts"]]
        if expected is None:
            assert row["rb_value"] is None and row["rb_weight"] is None, row
            continue
        assert row["rb_weight"] == pytest.approx(expected["weights"][coin], abs=1e-9), row
        assert row["rb_value"] == pytest.approx(expected["value"], abs=1e-6), row
        if expected["buy_hold"] is None:
            assert row["rb_buy_hold"] is None, row
        else:
            assert row["rb_buy_hold"] == pytest.approx(expected["buy_hold"], abs=1e-6), row
        assert row["rb_target"] == COINS[coin]
        assert (row["rb_band_low"], row["rb_band_high"]) == pytest.approx(
            (COINS[coin] - THRESHOLD, COINS[coin] + THRESHOLD)
        )
        checked += 1
    assert checked > 1400  # every candle of the two months but the first
    # The weight moved out of its band and back: the rebalances are on the chart.
    weights = [r["rb_weight"] for r in got if r["rb_weight"]]
    assert max(weights) > COINS[coin] + 1 or min(weights) < COINS[coin] - 1
    # One entry marked, the real first buy: on the candle before the trade opened.
    opened = [t["open_timestamp"] for t in trades if t["pair"] == f"{coin}/USDT"]
    assert answer["enter_long_signals"] == len(opened) == 1
    marked = [r["__date_ts"] for r in got if r["enter_long"] == 1]
    assert marked == [opened[0] - HOUR]


def test_a_backtest_run_from_frequi_is_charted_too(backtested):
    """FreqUI's "Run backtest" (POST /api/v1/backtest): the webserver keeps the result in
    memory; "Visualize result" then charts it (BTC/SOL, two weeks, threshold 10)."""
    _, web = backtested
    timerange = "20240301-20240315"
    started = web.post(
        "backtest",
        {"strategy": "RebalanceStrategy", "timerange": timerange, "enable_protections": False},
    )
    assert started and started.get("running") is not None, started
    deadline = time.monotonic() + 180
    state = started
    while time.monotonic() < deadline:
        state = web.get("backtest")
        if state and not state.get("running") and state.get("status") != "running":
            break
        time.sleep(1)
    stats = state["backtest_result"]["strategy"]["RebalanceStrategy"]
    assert stats["timerange"] == timerange
    answer = web.get(
        "pair_history",
        pair="ETH/USDT",
        timeframe="1h",
        strategy="RebalanceStrategy",
        timerange=timerange,
    )
    got = rows(answer)
    want = expected_rows(stats["trades"], [r["__date_ts"] for r in got])
    last = got[-2]  # the last candle holds the final force-exits
    assert last["rb_weight"] == pytest.approx(want[last["__date_ts"]]["weights"]["ETH"], abs=1e-9)
    assert last["rb_value"] == pytest.approx(want[last["__date_ts"]]["value"], abs=1e-6)
    assert answer["enter_long_signals"] == 1
