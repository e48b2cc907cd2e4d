"""FreqUI's view of a running dry-run portfolio, through the REST endpoints FreqUI reads:
``/api/v1/plot_config``, ``/api/v1/pair_candles`` (the live chart of each pair) and
``/api/v1/trades/{id}/custom-data`` ("Show custom data"), before and after a stop and a restart.

The bot runs on 1-minute candles (the stand-in splits the real 5-minute candles along its
price path), so that a candle closes within a minute of the rebalance: a candle's figures count
only the orders filled before it closed, and Freqtrade analyses a pair when a new candle has
closed. Every figure is checked against a
computation written here from the bot's orders (``/api/v1/status``) and the candles
(``pair_candles``' own ``close`` of each coin), one candle after the other.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from rebalance_plugin.ft.chart import PLOT_CONFIG
from tests.helpers.flows import COINS, freeze, settled
from tests.helpers.paths import NO_SHARED_DATA, SHARED_DATA

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "SOL_USDT-5m.feather").exists(),
    reason=f"{NO_SHARED_DATA} (its 5m candles)",
)

TF = "1m"  # the bot's candles
TF_MS = 60_000
PRICE_TF = "5m"  # the stand-in's price path: the finest real candles
INVESTMENT = 1000.0


def custom_data(bot, trade_id: int) -> dict[str, Any]:
    answer = bot.client.list_custom_data(trade_id)
    entries = answer[0]["custom_data"] if isinstance(answer, list) and answer else []
    return {e["key"]: e["value"] for e in entries}


def versus(text: str, value: float, base: float) -> bool:
    """``text`` is "+1.23% (+12.30 USDT)" for ``value`` against ``base``, give or take the
    last digit (the bot rounds the exact value; the test has the value to the cent)."""
    match = re.fullmatch(r"([+-]\d+\.\d\d)% \(([+-][\d,]+\.\d\d) USDT\)", text)
    assert match, text
    pct, amount = float(match[1]), float(match[2].replace(",", ""))
    return abs(pct - (value / base - 1) * 100) <= 0.011 and abs(amount - (value - base)) <= 0.011


def candles(bot, pair: str) -> list[dict[str, Any]]:
    answer = bot.client.pair_candles(pair, TF)
    return [dict(zip(answer["columns"], row)) for row in answer["data"]]


def expected(trades: list[dict[str, Any]], closes: dict[str, dict[int, float]], date: int):
    """Each coin's weight %, the value and buy-and-hold at the candle opening at ``date``."""
    held = dict.fromkeys(COINS, 0.0)
    cash = INVESTMENT
    first: dict[str, tuple[float, float]] = {}
    first_done = 0
    for trade in trades:
        coin = trade["pair"].split("/")[0]
        orders = sorted(trade["orders"], key=lambda o: o["order_filled_timestamp"])
        for order in orders:
            if not order["filled"]:
                continue
            buy = order["ft_order_side"] == "buy"
            fee = trade["fee_open"] if buy else trade["fee_close"]
            value = order["filled"] * order["safe_price"]
            if coin not in first:
                first[coin] = (order["filled"], value * (1 + fee))
                first_done = max(first_done, order["order_filled_timestamp"])
            if order["order_filled_timestamp"] < date + TF_MS:
                held[coin] += order["filled"] if buy else -order["filled"]
                cash += -value * (1 + fee) if buy else value * (1 - fee)
    prices = {c: closes[c][date] for c in COINS}
    worth = {c: held[c] * prices[c] for c in COINS}
    value = math.fsum(worth.values()) + cash
    bh = math.fsum(q * prices[c] for c, (q, _) in first.items())
    bh += INVESTMENT - math.fsum(cost for _, cost in first.values())
    return {c: worth[c] / value * 100 for c in COINS}, value, bh


def test_frequi_live_chart_and_custom_data(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 0}, timeframe=PRICE_TF, start="2025-02-01")
    freeze(sim, COINS)
    bot = make_bot(
        "ui",
        sim=sim,
        dry_run=True,
        rebalance={"coins": COINS, "on_stop": "keep"},
        extra={"timeframe": TF},
    )
    bot.wait_for(lambda: settled(bot, sim, 4), 90, "4 coins bought (dry-run)")

    # plot_config, as FreqUI asks a running bot for it.
    assert bot.client.plot_config() == PLOT_CONFIG

    # SOL x 1.6: 22% of the portfolio, 7 points over the 5-point threshold: a rebalance.
    sim.multiply("SOLUSDT", 1.6)
    bot.wait_for(
        lambda: "Rebalance buys" in bot.log() and settled(bot, sim, 4), 90, "the rebalance"
    )

    def fill_times() -> list[int]:
        trades = bot.open_trades()
        return [o["order_filled_timestamp"] for t in trades for o in t["orders"] if o["filled"]]

    # The chart, once a candle has closed after the last fill (within a minute) and every
    # leg has filled (first buys, SOL sold, BTC, ETH and BNB bought).
    def charted() -> Any:
        fills = fill_times()
        rows = candles(bot, "SOL/USDT")
        done = len(fills) == 8 and settled(bot, sim, 4)
        return done and rows and rows[-1]["__date_ts"] + TF_MS > max(fills)

    bot.wait_for(charted, 150, "a candle closed after the rebalance, analysed")
    trades = bot.open_trades()
    fills = fill_times()
    charts = {coin: candles(bot, f"{coin}/USDT") for coin in COINS}
    closes = {c: {r["__date_ts"]: r["close"] for r in rows} for c, rows in charts.items()}
    common = set.intersection(*(set(v) for v in closes.values()))
    checked = 0
    for coin, rows in charts.items():
        for row in rows:
            if row["__date_ts"] not in common:
                continue
            if row["__date_ts"] + TF_MS <= min(fills):
                assert row["rb_value"] is None and row["rb_weight"] is None, row
                continue
            weights, value, bh = expected(trades, closes, row["__date_ts"])
            assert row["rb_weight"] == pytest.approx(weights[coin], abs=1e-6), (coin, row)
            assert row["rb_value"] == pytest.approx(value, abs=1e-4), (coin, row)
            assert row["rb_target"] == pytest.approx(COINS[coin])
            assert row["rb_band_low"] == pytest.approx(COINS[coin] - 5)
            assert row["rb_band_high"] == pytest.approx(COINS[coin] + 5)
            if row["__date_ts"] + TF_MS > max(fills):
                assert row["rb_buy_hold"] == pytest.approx(bh, abs=1e-4), (coin, row)
            checked += 1
    assert checked >= 4
    # The entry signal marks the real first buy only: one per pair, the candle before it.
    for coin in COINS:
        answer = bot.client.pair_candles(f"{coin}/USDT", TF)
        assert answer["enter_long_signals"] == 1, (coin, answer["enter_long_signals"])
        trade = next(t for t in trades if t["pair"] == f"{coin}/USDT")
        marked = [r["__date_ts"] for r in charts[coin] if r["enter_long"] == 1]
        assert marked == [trade["open_timestamp"] // TF_MS * TF_MS - TF_MS], coin

    # At a glance: the custom data of every trade.
    sol = next(t for t in trades if t["pair"] == "SOL/USDT")
    data = bot.wait_for(
        lambda: (d := custom_data(bot, sol["trade_id"])).get("rebalances") == 1 and d,
        60,
        "the custom data after the rebalance",
    )
    ticker = sim.prices()  # SOL: 1.6 x its candle price, which moves
    now = {c: ticker[f"{c}USDT"] for c in COINS}
    held = {t["pair"].split("/")[0]: t["amount"] for t in trades}
    cash = INVESTMENT
    for trade in trades:
        for order in trade["orders"]:
            value = order["filled"] * order["safe_price"]
            buy = order["ft_order_side"] == "buy"
            cash += -value * (1 + trade["fee_open"]) if buy else value * (1 - trade["fee_close"])
    first = {
        t["pair"].split("/")[0]: min(t["orders"], key=lambda o: o["order_filled_timestamp"])
        for t in trades
    }
    cost = math.fsum(o["filled"] * o["safe_price"] * 1.001 for o in first.values())
    bh = math.fsum(first[c]["filled"] * now[c] for c in COINS) + INVESTMENT - cost
    value = float(data["portfolio_value"])
    assert 0 <= cash < 5
    assert value == pytest.approx(math.fsum(held[c] * now[c] for c in COINS) + cash, rel=2e-3)
    assert data["invested"] == INVESTMENT
    assert versus(data["vs_invested"], value, INVESTMENT), data
    assert float(data["buy_and_hold_value"]) == pytest.approx(bh, rel=2e-3)
    assert versus(data["vs_buy_and_hold"], value, float(data["buy_and_hold_value"])), data
    assert "Rebalance buys" in data["last_announcement"], data
    assert data["portfolio_state"] == "running, 1 rebalances"

    # A stop (FreqUI's "Pause"): every trade says so at once, with what was announced.
    bot.client.stopbuy()
    stopped = bot.wait_for(
        lambda: (
            (d := custom_data(bot, sol["trade_id"]))["portfolio_state"].startswith("stopped") and d
        ),
        60,
        "the stopped state in the custom data",
    )
    assert "Portfolio stopped" in stopped["last_announcement"], stopped
    for trade in trades:
        assert custom_data(bot, trade["trade_id"])["portfolio_state"] == stopped["portfolio_state"]

    # A restart: the same, and the chart is there again at once.
    bot.restart()
    bot.wait_loops(2, what="after the restart")
    again = custom_data(bot, sol["trade_id"])
    assert again["portfolio_state"] == stopped["portfolio_state"]
    assert again["last_announcement"] == stopped["last_announcement"]
    rows = candles(bot, "SOL/USDT")
    assert rows[-1]["rb_weight"] is not None and rows[-1]["rb_value"] is not None
