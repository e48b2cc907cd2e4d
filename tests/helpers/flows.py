"""Helpers of the end-to-end flow tests: freezing and reading the stand-in's prices, the
portfolio's weights at the exchange, the bot's stored record, and the check that the exchange
and Freqtrade agree on every order."""

from __future__ import annotations

import json
import re
import sqlite3

from rebalance_plugin.ft.store import read_record

COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
FEE = 0.001


def freeze(sim, coins) -> dict[str, float]:
    """Fix every coin's price at its current value; returns {coin: price}."""
    prices = sim.prices()
    out = {}
    for coin in coins:
        out[coin] = prices[f"{coin}USDT"]
        sim.set_price(f"{coin}USDT", out[coin])
    return out


def values(sim, coins) -> tuple[dict[str, float], float]:
    bal, prices = sim.balances(), sim.prices()
    return {c: bal.get(c, 0.0) * prices[f"{c}USDT"] for c in coins}, bal.get("USDT", 0.0)


def weights(sim, coins) -> dict[str, float]:
    vals, cash = values(sim, coins)
    total = sum(vals.values()) + cash
    return {c: 100.0 * v / total for c, v in vals.items()}


def settled(bot, sim, n: int):
    """n open trades, none with an open order, nothing open at the exchange."""
    trades = bot.open_trades()
    if len(trades) != n or any(t.get("has_open_orders") or t["amount"] <= 0 for t in trades):
        return None
    if sim.state()["open_orders"]:
        return None
    return trades


def near_targets(sim, targets, tol):
    w = weights(sim, targets)
    return w if all(abs(w[c] - t) <= tol for c, t in targets.items()) else None


def book(bot) -> dict:
    """The portfolio's record in the bot's database (put together from its chunks)."""
    with sqlite3.connect(bot.db_path) as db:
        rows = dict(db.execute("select key, string_value from KeyValueStore").fetchall())
    text = read_record(rows.get)
    return json.loads(text) if text else {}


def said(bot, text: str) -> int:
    """How many times the bot said ``text`` (its log; Freqtrade's RPC line repeats it)."""
    return sum(
        1
        for line in bot.log_path.read_text().splitlines()
        if "rebalance_plugin.ft - INFO - " in line and text in line
    )


def order_requests(sim, symbol: str | None = None) -> list[dict]:
    """Every order request the stand-in answered (its request log), refused ones included:
    ``{"symbol", "side", "quantity", ..., "status": HTTP status}``, oldest first."""
    out = []
    for line in sim.stderr_path.read_text(errors="replace").splitlines():
        match = re.search(r"POST /api/v3/order \[(.*?)\] -> (\d+)", line)
        if not match:
            continue
        fields = dict(kv.split("=", 1) for kv in match.group(1).split() if "=" in kv)
        if symbol is None or fields.get("symbol") == symbol:
            out.append({**fields, "status": int(match.group(2))})
    return out


def sim_orders_since(sim, t0_ms, side=None, symbol=None):
    return [
        o
        for o in sim.orders()
        if o["time"] >= t0_ms
        and (side is None or o["side"] == side)
        and (symbol is None or o["symbol"] == symbol)
    ]


def now_ms(sim) -> int:
    return sim.state()["clock"]["now"]


STEP = {"BTC": 1e-05, "ETH": 1e-04, "BNB": 1e-03, "SOL": 1e-02}  # Binance's LOT_SIZE steps


def exchange_matches_freqtrade(bot, sim, coins) -> None:
    """Nothing lost: the exchange holds what Freqtrade's trades hold, give or take dust:
    Binance takes the buy fee in the coin; Freqtrade mostly rounds the net amount down to the
    step (leaving up to a step per buy at the exchange) and sometimes books a fill before its
    fee (holding 0.1% more than the exchange; it sells what the wallet has). And every filled
    order at the exchange is an order Freqtrade knows."""
    bots = bot if isinstance(bot, (list, tuple)) else [bot]
    bal = sim.balances()
    held: dict[str, float] = {}
    for one in bots:
        for t in one.open_trades():
            coin = t["pair"].split("/")[0]
            held[coin] = held.get(coin, 0.0) + t["amount"]
    for coin in coins:
        buys = [o for o in sim.orders(f"{coin}USDT") if o["side"] == "BUY" and o["executedQty"]]
        dust = bal.get(coin, 0.0) - held.get(coin, 0.0)
        low = -FEE * held.get(coin, 0.0) - 1e-9
        assert low <= dust <= len(buys) * STEP[coin] + 1e-9, (coin, bal.get(coin), held)
    known = {
        str(o.get("order_id"))
        for one in bots
        for t in one.all_trades()
        for o in t.get("orders", [])
    }
    filled = [o for o in sim.orders() if o["executedQty"] > 0]
    unknown = [o for o in filled if str(o["orderId"]) not in known]
    assert not unknown, f"orders at the exchange Freqtrade does not know: {unknown}"
    assert bal.get("USDT", 0.0) >= 0


def live_bot(make_bot, sim, name="live", coins=COINS, investment=1000, **rebalance):
    bot = make_bot(
        name,
        sim=sim,
        dry_run=False,
        rebalance={"coins": coins, "investment": investment, **rebalance},
    )
    bot.wait_for(lambda: settled(bot, sim, len(coins)), 90, f"{len(coins)} coins bought")
    return bot


# ---- tests -------------------------------------------------------------------------------------


def all_bought(bot, sim, coins) -> list | None:
    """The trades of ``coins`` once their orders are closed and the account holds every coin
    (None before)."""
    trades = bot.open_trades()
    if len(trades) != len(coins) or any(t.get("has_open_orders") for t in trades):
        return None
    held = sim.balances()
    return trades if all(held.get(coin, 0.0) > 0 for coin in coins) else None


def first_buys_missed_then_at_market(sim, coins, investment, missed) -> None:
    """Each coin's first buy: one limit order that filled nothing (its type, time in force and
    status ``missed``), then a market order that filled; the coin's value at the exchange is its
    weight of ``investment`` (the stake weight x investment / (1 + fee), sized at the ask before
    the price moved: within 1%)."""
    import pytest

    state = sim.state()
    prices = sim.prices()
    balances = sim.balances()
    for coin, weight in coins.items():
        orders = [o for o in state["orders"] if o["symbol"] == f"{coin}USDT"]
        kinds = [(o["type"], o.get("timeInForce"), o["status"]) for o in orders]
        assert kinds == [missed, ("MARKET", "GTC", "FILLED")], (coin, kinds)
        assert float(orders[0]["executedQty"]) == 0.0, orders[0]
        value = balances[coin] * prices[f"{coin}USDT"]
        assert value == pytest.approx(weight / 100 * investment, rel=0.01), (coin, value)
    assert balances["USDT"] >= 0.0
