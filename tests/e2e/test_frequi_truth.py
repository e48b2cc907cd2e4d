"""What FreqUI shows is what the bot knows (issue 22), through the REST endpoints FreqUI reads
(``freqtrade-client``): the chart's columns (``/api/v1/pair_candles``), each trade's custom data
(``/api/v1/trades/{id}/custom-data``) and the balance (``/api/v1/balance``).

A dry-run bot on 1-minute candles (the stand-in splits the real 5-minute ones along its price
path) with every price held, as ``try-live`` holds them. After the first buys, FreqUI's balance
is the portfolio's value plus the open trades' entry fees (Freqtrade's dry-run wallet deducts
them only when a trade closes), and the custom data names that amount. Then SOL is set 60%
higher, as ``try-live --move SOL=1.6`` sets it: the bot rebalances, a candle closes after the
last fill, and the chart's last candle shows the custom data's figures: every coin's weight to
0.01 points, the value and buy-and-hold to the cent. Before the stand-in's closed candles carried
its price path, that candle went back to the data file's close and the chart showed SOL near
its lower band while the bot saw it on target.

Then the words: a refused ``/reload_config`` is the last announcement until a fixed config is
reloaded, which the bot says it accepted; FreqUI's Pause leaves no next check.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests.helpers.flows import COINS, freeze, settled
from tests.helpers.paths import NO_SHARED_DATA, SHARED_DATA

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "SOL_USDT-5m.feather").exists(),
    reason=f"{NO_SHARED_DATA} (its 5m candles)",
)

TF = "1m"  # the bot's candles: one closes within a minute
TF_MS = 60_000
LINE = re.compile(r"(\d+\.\d\d)% \(target (\d+\.\d\d)%, drift ([+-]\d+\.\d\d) points\)")


def custom_data(bot, trade_id: int) -> dict[str, Any]:
    answer = bot.client.list_custom_data(trade_id)
    entries = answer[0]["custom_data"] if isinstance(answer, list) and answer else []
    return {e["key"]: e["value"] for e in entries}


def last_candle(bot, coin: str) -> dict[str, Any]:
    answer = bot.client.pair_candles(f"{coin}/USDT", TF)
    return dict(zip(answer["columns"], answer["data"][-1]))


def fill_times(bot) -> list[int]:
    return [
        o["order_filled_timestamp"] for t in bot.open_trades() for o in t["orders"] if o["filled"]
    ]


def money(text: str) -> float:
    """``"1.00 USDT: ..."`` -> 1.0"""
    return float(text.split(" ", 1)[0])


def test_the_chart_the_custom_data_and_the_balance_agree(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": 0}, timeframe="5m", start="2025-02-01")
    held = freeze(sim, COINS)  # try-live holds every price at start-up
    bot = make_bot(
        "truth", sim=sim, dry_run=True, rebalance={"coins": COINS}, extra={"timeframe": TF}
    )
    trades = bot.wait_for(lambda: settled(bot, sim, 4), 90, "4 coins bought (dry-run)")
    sol = next(t["trade_id"] for t in trades if t["pair"] == "SOL/USDT")

    # ---- right after the first buys: FreqUI's balance against the portfolio's value
    bot.wait_for(
        lambda: custom_data(bot, sol).get("portfolio_state") == "running, 0 rebalances",
        60,
        "the first buys in the custom data",
    )
    bot.wait_loops(2, what="with the first buys published")
    trades = bot.open_trades()
    data = custom_data(bot, sol)
    balance = bot.client.balance()
    fees = math.fsum(t["stake_amount"] * t["fee_open"] for t in trades)
    assert 0.9 < fees < 1.0  # 0.1% of the 1000 USDT spent, less the cash left
    assert money(data["unbooked_fees"]) == pytest.approx(fees, abs=0.005), data
    gap = balance["total_bot"] - data["portfolio_value"]
    assert gap == pytest.approx(fees, abs=0.006), (balance["total_bot"], data, fees)

    # ---- a price move, the rebalance, a candle closed after it
    moved_at = sim.state()["clock"]["now"]
    sim.set_price("SOLUSDT", held["SOL"] * 1.6)  # try-live --move SOL=1.6
    bot.wait_for(
        lambda: "Rebalance buys" in bot.log() and settled(bot, sim, 4), 90, "the rebalance"
    )

    def charted() -> bool:
        fills = fill_times(bot)
        if len(fills) != 8 or not settled(bot, sim, 4):  # 4 first buys, SOL sold, 3 bought
            return False
        done = max([*fills, moved_at])
        return all(last_candle(bot, c)["__date_ts"] + TF_MS > done for c in COINS)

    bot.wait_for(charted, 150, "a candle closed after the last fill, on every chart")
    bot.wait_for(
        lambda: custom_data(bot, sol).get("portfolio_state") == "running, 1 rebalances",
        60,
        "the rebalance in the custom data",
    )
    bot.wait_loops(2, what="with the rebalance published")
    data = custom_data(bot, sol)
    rows = {coin: last_candle(bot, coin) for coin in COINS}

    # The candles closed at the prices the bot valued at: the held ones, SOL's moved.
    price = {c: sim.prices()[f"{c}USDT"] for c in COINS}
    assert price["SOL"] == pytest.approx(held["SOL"] * 1.6, rel=1e-4)
    for coin, row in rows.items():
        assert row["close"] == price[coin], (coin, row)

    # Every coin's weight, to 0.01 points; the value and buy-and-hold to the cent.
    for coin, row in rows.items():
        line = LINE.fullmatch(data[coin])
        assert line, data[coin]
        weight, target, drift = (float(x) for x in line.groups())
        assert abs(row["rb_weight"] - weight) <= 0.005 + 1e-9, (coin, row, data[coin])
        assert row["rb_target"] == pytest.approx(target)
        assert drift == pytest.approx(weight - target, abs=0.011)
        assert abs(weight - COINS[coin]) < 1, data[coin]  # rebalanced: SOL not near its band
        assert abs(row["rb_value"] - data["portfolio_value"]) <= 0.005 + 1e-9, (row, data)
        assert abs(row["rb_buy_hold"] - data["buy_and_hold_value"]) <= 0.005 + 1e-9, (row, data)
    # All four trades show the same portfolio.
    for trade in bot.open_trades():
        other = custom_data(bot, trade["trade_id"])
        assert {c: other[c] for c in COINS} == {c: data[c] for c in COINS}

    # ---- a refused reload, then the fixed config: the last word is the acceptance
    good = dict(COINS)
    bot.edit_config(rebalance={"coins": {**good, "SOL": 14}})  # weights summing to 99
    bot.client.reload_config()
    refused = bot.wait_for(
        lambda: (
            "Config refused at /reload_config"
            in (d := custom_data(bot, sol)).get("last_announcement", "")
            and d
        ),
        90,
        "the refusal in the custom data",
    )
    assert "Fix config.json" in refused["last_announcement"]
    bot.edit_config(rebalance={"coins": good})
    bot.client.reload_config()
    accepted = bot.wait_for(
        lambda: (
            "Config accepted" in (d := custom_data(bot, sol)).get("last_announcement", "") and d
        ),
        90,
        "the acceptance in the custom data",
    )
    assert accepted["last_announcement"].endswith(
        "Config accepted: the portfolio runs on config.json, BTC 40%, ETH 30%, BNB 15%, "
        "SOL 15% for 1000 USDT"
    ), accepted
    assert "Config accepted: the portfolio runs on config.json" in bot.log()
    assert accepted["next_check"] == "every loop (threshold 5 points)"

    # ---- FreqUI's Pause: no next check
    bot.client.stopbuy()
    paused = bot.wait_for(
        lambda: (d := custom_data(bot, sol))["portfolio_state"].startswith("stopped") and d,
        60,
        "the pause in the custom data",
    )
    assert paused["next_check"] == "none while the portfolio is stopped (/start resumes it)"
    for trade in bot.open_trades():
        assert custom_data(bot, trade["trade_id"])["next_check"] == paused["next_check"]
