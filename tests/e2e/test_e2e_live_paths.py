"""Live paths that otherwise run only in backtests or unit tests (issue 17), each once with a
real ``freqtrade trade`` bot trading the Binance stand-in's account:

1. ``threshold_mode: "relative"``: a small coin's fall fires relatively, not absolutely;
2. ``rebalance_to: "band"``: only the coin off its band trades, back to the band's edge;
3. ``trigger_price``: no order until the coin's price reaches the level, then the first buys;
4. ``stop_loss`` as a coin's price (``{"BTC": level}``): the portfolio stops, ``on_stop``
   ``sell_all`` sells every coin at market;
5. ``take_profit`` as the portfolio's value (a number): the portfolio stops, ``on_stop``
   ``keep`` leaves every coin in the account.

Prices are frozen at the start of each test and moved with ``set_price`` only (``multiply``
would multiply the moving candle price, not the frozen one), so every expected figure follows
from the prices, the targets and the exchange's rules, worked out in the test from the
exchange's balances: a coin's value is its balance x price, the portfolio's value the coins'
values plus the account's USDT (each account holds this portfolio's money only). Binance's fee
(0.1%) is taken from what is received; quantities are rounded down to the lot step, so a
figure is expected within the steps' worth (stated at each assertion).

A "nothing happened" is asserted only after ``Bot.wait_loops`` saw the bot finish whole loops
begun after the price was set (Freqtrade's ``/api/v1/health`` ``last_process``; each loop
fetches the tickers at its start, so it saw the price), never after a sleep.
Each test has its own stand-in (``fresh_sim``): every one of them trades its account's money.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests.helpers.e2e import Bot, Sim
from tests.helpers.flows import freeze, live_bot, now_ms, settled, sim_orders_since

FEE = 0.001  # the stand-in's fee, of the asset received
INVESTMENT = 1000.0
STOPPED = "Portfolio stopped"


# ---- helpers ------------------------------------------------------------------------------------
def set_prices(sim: Sim, prices: dict[str, float]) -> dict[str, float]:
    """Fix each coin's price; returns the prices the stand-in quotes (on its tick grid)."""
    for coin, price in prices.items():
        sim.set_price(f"{coin}USDT", price)
    quoted = sim.prices()
    return {coin: quoted[f"{coin}USDT"] for coin in prices}


def holdings(sim: Sim, coins) -> tuple[dict[str, float], float]:
    """The account's coins (quantities) and USDT."""
    bal = sim.balances()
    return {c: bal.get(c, 0.0) for c in coins}, bal.get("USDT", 0.0)


def value_of(qty: dict[str, float], cash: float, prices: dict[str, float]) -> float:
    return math.fsum(q * prices[c] for c, q in qty.items()) + cash


def step_values(sim: Sim, prices: dict[str, float]) -> dict[str, float]:
    """One lot step of each coin, in USDT at ``prices``."""
    return {c: sim.lot_step(f"{c}USDT") * p for c, p in prices.items()}


def filled(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if float(o["executedQty"]) > 0]


def sold_or_bought(orders: list[dict[str, Any]], symbol: str) -> float:
    """The quantity ``orders`` traded on ``symbol``."""
    return math.fsum(float(o["executedQty"]) for o in orders if o["symbol"] == symbol)


def said(bot: Bot, text: str) -> bool:
    return text in bot.log_path.read_text(errors="replace")


# ---- 1. threshold_mode: "relative" --------------------------------------------------------------
def test_relative_threshold_fires_on_a_small_coin_that_absolute_would_leave(fresh_sim, make_bot):
    """BTC 60 / ETH 35 / DOGE 5, threshold 5 relative. DOGE halves: at about 600 / 350 / 25
    USDT its weight is 25 / 975 = 2.56%: 2.44 points under target, inside an absolute 5-point
    threshold, but 48.7% of its target under it, far past 5% relative; BTC and ETH are 2.6%
    of their targets over, inside. So only relative mode rebalances, all the way to the
    targets (rebalance_to's default): BTC and ETH sell down to 60% and 35% of the portfolio,
    DOGE buys up to 5%."""
    coins = {"BTC": 60, "ETH": 35, "DOGE": 5}
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    prices = freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=5, threshold_mode="relative")
    qty0, cash0 = holdings(sim, coins)
    t0 = now_ms(sim)
    prices.update(set_prices(sim, {"DOGE": prices["DOGE"] / 2}))
    total = value_of(qty0, cash0, prices)
    weight = {c: 100 * qty0[c] * prices[c] / total for c in coins}
    # The premise: absolutely every coin is inside 5 points; relatively DOGE alone is off.
    assert all(abs(weight[c] - t) <= 5 for c, t in coins.items()), weight
    relative = {c: 100 * (weight[c] - t) / t for c, t in coins.items()}
    assert relative["DOGE"] < -40 and abs(relative["BTC"]) < 5 and abs(relative["ETH"]) < 5

    bot.wait_for(lambda: sim_orders_since(sim, t0, "BUY"), 60, "the rebalance's buy")
    bot.wait_for(lambda: settled(bot, sim, 3), 60, "the rebalance done")
    orders = filled(sim_orders_since(sim, t0))
    sells = [o for o in orders if o["side"] == "SELL"]
    buys = [o for o in orders if o["side"] == "BUY"]
    assert {o["symbol"] for o in sells} == {"BTCUSDT", "ETHUSDT"}, orders
    assert {o["symbol"] for o in buys} == {"DOGEUSDT"}, orders
    assert max(o["time"] for o in sells) < min(o["time"] for o in buys)  # sells first
    # Each leg is the coin's target share of the portfolio less what it held (fees on some
    # 50 USDT of turnover take 0.05 USDT off the portfolio). Every quantity is rounded down
    # to its step, and the buy spends what the sells freed: each figure within the steps of
    # all three coins plus 0.2 USDT (about 0.9 USDT here; to a band's edge instead of the
    # target, DOGE would stop 2.4 USDT short).
    steps = step_values(sim, prices)
    tol = sum(steps.values()) + 0.2
    legs = {
        "BTC": -sold_or_bought(sells, "BTCUSDT"),
        "ETH": -sold_or_bought(sells, "ETHUSDT"),
        "DOGE": sold_or_bought(buys, "DOGEUSDT"),
    }
    for coin, target in coins.items():
        expected = target / 100 * total - qty0[coin] * prices[coin]
        assert legs[coin] * prices[coin] == pytest.approx(expected, abs=tol), (coin, legs)
    qty1, cash1 = holdings(sim, coins)
    for coin, target in coins.items():
        end = qty1[coin] * prices[coin]
        assert end == pytest.approx(target / 100 * total, abs=tol), (coin, qty1, cash1)
    # The cash was invested too: what is left is the DOGE buy's rounding, under a step.
    assert 0 <= cash1 < steps["DOGE"] + 0.2, (cash0, cash1)
    assert "Rebalance (drift" in bot.log()


# ---- 2. rebalance_to: "band" --------------------------------------------------------------------
def test_band_trades_only_the_coin_off_its_band_back_to_its_edge(fresh_sim, make_bot):
    """BTC 50 / ETH 30 / BNB 20, threshold 5 (points), rebalance_to band. BNB rises by half:
    at about 500 / 300 / 300 USDT of 1100 the weights are 45.5 / 27.3 / 27.3%: BNB is 7.3
    points over its target, off; BTC (-4.5) and ETH (-2.7) are inside the band. The rule of
    docs/configuration.md#relative-thresholds-and-band-rebalancing: BNB is sold to its band's
    edge, 20 + 5 = 25% of the portfolio, one BNB step inside; the money freed, with the cash,
    buys the coin furthest below its target, BTC, which has room for it (50 USDT to its
    target); ETH, inside its band and not the furthest below, does not trade. (To the targets
    BNB would sell 80 USDT, to 20%, and ETH would buy.)"""
    coins = {"BTC": 50, "ETH": 30, "BNB": 20}
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    prices = freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=5, rebalance_to="band")
    qty0, cash0 = holdings(sim, coins)
    t0 = now_ms(sim)
    prices.update(set_prices(sim, {"BNB": prices["BNB"] * 1.5}))
    total = value_of(qty0, cash0, prices)
    weight = {c: 100 * qty0[c] * prices[c] / total for c in coins}
    assert weight["BNB"] - 20 > 6 and -5 < weight["BTC"] - 50 < weight["ETH"] - 30 < 0, weight

    bot.wait_for(lambda: sim_orders_since(sim, t0, "BUY"), 60, "the rebalance's buy")
    bot.wait_for(lambda: settled(bot, sim, 3), 60, "the rebalance done")
    bot.wait_loops(2)  # and nothing more: the new weights are inside every band
    orders = filled(sim_orders_since(sim, t0))
    assert [(o["symbol"], o["side"]) for o in orders] == [
        ("BNBUSDT", "SELL"),
        ("BTCUSDT", "BUY"),
    ], orders
    qty1, cash1 = holdings(sim, coins)
    steps = step_values(sim, prices)
    assert qty1["ETH"] == qty0["ETH"]
    # BNB ends one step inside the edge, its sale rounded down to the step: between 25% of
    # the portfolio less a step and 25%. The bot values the portfolio from Freqtrade's
    # amounts, which differ from the exchange's balances by up to a step of each coin, and
    # fees take some 0.05 USDT: 0.5 USDT of slack each way (BNB to its target would be 55
    # USDT lower).
    edge = 0.25 * total
    bnb = qty1["BNB"] * prices["BNB"]
    assert edge - steps["BNB"] - 0.5 <= bnb <= edge + 0.5, (bnb, edge, steps)
    # BTC bought with the sale's proceeds after its fee and the cash, less the buy's fee
    # (taken from the BTC received): within a BTC step (its quantity rounded down) and 0.5.
    freed = (qty0["BNB"] - qty1["BNB"]) * prices["BNB"] * (1 - FEE) + cash0
    btc = qty1["BTC"] * prices["BTC"]
    expected = qty0["BTC"] * prices["BTC"] + freed * (1 - FEE)
    assert btc == pytest.approx(expected, abs=steps["BTC"] + 0.5), (btc, expected)
    assert 0 <= cash1 < steps["BTC"] + 0.5, cash1
    end = value_of(qty1, cash1, prices)
    assert 100 * bnb / end < 25 and 100 * btc / end < 50  # inside the band, not past target


# ---- 3. trigger_price ---------------------------------------------------------------------------
def test_trigger_price_waits_for_the_level_then_buys(fresh_sim, make_bot):
    """BTC 60 / ETH 40, ``"trigger_price": {"ETH": level}`` 5% under ETH's price: the bot
    waits for a dip. Nothing is bought at the price of the start, nor 1% above the level;
    when ETH touches the level exactly, the portfolio is bought at the prices then."""
    coins = {"BTC": 60, "ETH": 40}
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    prices = freeze(sim, coins)
    level = round(prices["ETH"] * 0.95, 2)  # on ETH's tick (0.01)
    bot = make_bot(
        "trigger",
        sim=sim,
        dry_run=False,
        rebalance={"coins": coins, "investment": INVESTMENT, "trigger_price": {"ETH": level}},
    )
    bot.wait_for(lambda: said(bot, "Portfolio waiting: buys start when"), 60, "the wait said")
    bot.wait_loops(3)
    assert sim.orders() == [] and bot.open_trades() == []
    prices.update(set_prices(sim, {"ETH": round(level * 1.01, 2)}))
    bot.wait_loops(3)
    assert sim.orders() == [] and bot.open_trades() == []
    assert not said(bot, "trigger_price reached")

    t0 = now_ms(sim)
    prices.update(set_prices(sim, {"ETH": level}))
    assert prices["ETH"] == level
    bot.wait_for(lambda: settled(bot, sim, 2), 90, "the first buys after the trigger")
    assert said(bot, f"trigger_price reached (ETH at {level:g})")
    orders = sim.orders()
    assert all(o["time"] >= t0 and o["side"] == "BUY" for o in orders), orders
    assert sorted(o["symbol"] for o in filled(orders)) == ["BTCUSDT", "ETHUSDT"], orders
    # The first buys: weight x investment / (1 + fee) of each coin at the ask, the fee taken
    # from the coin bought; the ask is half the 0.05% spread over the price, and the quantity
    # is rounded down to the step: within one step and 0.1% of the value.
    qty, cash = holdings(sim, coins)
    steps = step_values(sim, prices)
    for coin, weight in coins.items():
        expected = weight / 100 * INVESTMENT / (1 + FEE) * (1 - FEE)
        held = qty[coin] * prices[coin]
        assert held == pytest.approx(expected, abs=steps[coin] + 0.001 * expected), (coin, qty)
    # Left in cash: the investment less the stakes, 1000 - 1000 / 1.001 = 0.999, and what the
    # rounding of each quantity left unspent, up to a step of each coin.
    unspent = INVESTMENT - INVESTMENT / (1 + FEE)
    assert unspent - 0.01 <= cash <= unspent + sum(steps.values()) + 0.01, cash


# ---- 4. stop_loss: a coin's price ---------------------------------------------------------------
def test_stop_loss_on_a_coin_price_stops_and_sells_everything(fresh_sim, make_bot):
    """BTC 50 / ETH 50, ``"stop_loss": {"BTC": level}`` 10% under BTC's price, on_stop
    sell_all. BTC 1% above the level: the portfolio has lost about 4.5% and runs on (its
    weights 47.6 / 52.4 are inside the 5-point threshold: no rebalance either). BTC at the
    level: the portfolio stops and every coin is sold at market, at the best bid."""
    coins = {"BTC": 50, "ETH": 50}
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    prices = freeze(sim, coins)
    level = round(prices["BTC"] * 0.9, 2)
    bot = live_bot(make_bot, sim, coins=coins, stop_loss={"BTC": level}, on_stop="sell_all")
    t0 = now_ms(sim)
    prices.update(set_prices(sim, {"BTC": round(level * 1.01, 2)}))
    bot.wait_loops(3)
    assert sim_orders_since(sim, t0) == [] and not said(bot, STOPPED)
    assert bot.client.show_config()["state"] == "running"

    qty0, cash0 = holdings(sim, coins)
    t1 = now_ms(sim)
    prices.update(set_prices(sim, {"BTC": level}))
    bot.wait_for(
        lambda: not bot.open_trades() and not sim.state()["open_orders"], 60, "every coin sold"
    )
    assert said(bot, f"{STOPPED}: stop_loss reached: BTC price {level:.2f} USDT <= {level:g}")
    orders = sim_orders_since(sim, t1)
    assert sorted((o["symbol"], o["side"], o["type"]) for o in orders) == [
        ("BTCUSDT", "SELL", "MARKET"),
        ("ETHUSDT", "SELL", "MARKET"),
    ], orders
    # Every coin sold but dust under one step (Freqtrade sells its own amount, the fill less
    # the fee rounded down to the step); at the best bid, less the 0.1% fee. Expected USDT:
    # the cash plus each holding x bid x 0.999, less up to one step of each coin unsold.
    quoted = sim.state()["prices"]
    bid = {c: float(quoted[f"{c}USDT"]["bid"]) for c in coins}
    qty1, cash1 = holdings(sim, coins)
    unsold = 0.0
    for coin in coins:
        step = sim.lot_step(f"{coin}USDT")
        assert qty1[coin] < step, (coin, qty1)
        unsold += step * bid[coin]
    expected = cash0 + math.fsum(qty0[c] * bid[c] * (1 - FEE) for c in coins)
    assert expected - unsold - 0.01 <= cash1 <= expected + 0.01, (cash1, expected, unsold)
    assert bot.client.show_config()["state"] == "paused"


# ---- 5. take_profit: the portfolio's value ------------------------------------------------------
def test_take_profit_on_the_portfolio_value_stops_and_keeps_the_coins(fresh_sim, make_bot):
    """BTC 50 / ETH 50, ``"take_profit": 1100`` (the portfolio's value in USDT), on_stop keep.
    Both prices rise together (the weights stay, no rebalance): at a value of 1085 the
    portfolio runs on; at 1115 it stops, sells nothing, and the bot pauses."""
    coins = {"BTC": 50, "ETH": 50}
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    start = freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, take_profit=1100, on_stop="keep")
    qty0, cash0 = holdings(sim, coins)
    coins_value = value_of(qty0, 0.0, start)
    prices = dict(start)

    def rise_to(value: float) -> float:
        """Both prices times one factor from the start, the portfolio then worth ``value``:
        its value at the prices the stand-in then quotes (on its tick grid)."""
        factor = (value - cash0) / coins_value
        prices.update(set_prices(sim, {c: start[c] * factor for c in coins}))
        return value_of(qty0, cash0, prices)

    t0 = now_ms(sim)
    assert 1084 < rise_to(1085) < 1086  # the premise
    bot.wait_loops(3)
    assert sim_orders_since(sim, t0) == [] and not said(bot, STOPPED)
    assert bot.client.show_config()["state"] == "running"

    reached = rise_to(1115)
    assert 1114 < reached < 1116
    bot.wait_for(lambda: said(bot, STOPPED), 60, "the take_profit stop")
    line = next(ln for ln in bot.log().splitlines() if f"{STOPPED}: take_profit" in ln)
    assert "on_stop = keep: nothing sold" in line, line
    # The value the bot measured: the coins it holds at the price, and its cash. Freqtrade's
    # amounts are the exchange's within a step of each coin: within those steps of ours.
    match = re.search(r"portfolio value ([0-9.]+) USDT >= 1100", line)
    assert match, line
    measured = float(match.group(1))
    assert measured == pytest.approx(reached, abs=sum(step_values(sim, prices).values()) + 0.5)
    bot.wait_loops(3)  # keep: nothing sold, then or since
    assert sim_orders_since(sim, t0) == []
    assert holdings(sim, coins) == (qty0, cash0)
    assert len(bot.open_trades()) == 2
    assert bot.client.show_config()["state"] == "paused"
