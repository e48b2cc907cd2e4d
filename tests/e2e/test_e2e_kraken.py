"""End to end on a second exchange: real ``freqtrade trade`` processes with
``"exchange": {"name": "kraken"}`` (Freqtrade's own Kraken class, ccxt's ``kraken``) against the
stand-in's Kraken dialect (binance_standin/kraken: Kraken's REST API, names, rules, nonce and
signature), live (``dry_run: false``), driven through Freqtrade's REST API.

The portfolio is BTC 40 / ETH 30 / ADA 15 / XRP 15 of 1000 USDT: Kraken has USDT pairs of these
coins, and the shared Binance candles give their prices. Prices are frozen at the start of each
test and moved explicitly, so every figure follows from them and Kraken's rules:

* fee 0.26% (Kraken's first tier, taker) charged in USDT on both sides, so a buy of stake S
  costs S x 1.0026 and receives its whole quantity;
* the limit buy goes at the best ask, ceil(price x (1 + spread/2), tick) with the stand-in's
  spread 0.0005, for weight x 1000 / 1.0026 USDT, its quantity truncated to Kraken's 8 volume
  decimals;
* Kraken's minimums per pair: volume ``ordermin`` (BTC 0.0001, ETH 0.01, ADA 20, XRP 10) and
  cost ``costmin`` 0.5 USDT, which every leg below clears with Freqtrade's 5% reserve (checked).
"""

from __future__ import annotations

import time
from decimal import ROUND_CEILING, Decimal

import pytest

from binance_standin.kraken import PAIRS, txid
from tests.helpers.flows import (
    book,
    freeze,
    near_targets,
    now_ms,
    settled,
    sim_orders_since,
    values,
    weights,
)

COINS = {"BTC": 40, "ETH": 30, "ADA": 15, "XRP": 15}
INVESTMENT = 1000.0
FEE = 0.0026
SPREAD = 0.0005
RESERVE = 1.05  # Freqtrade's amount_reserve_percent on top of an exchange minimum


def kraken_sim(fresh_sim):
    sim = fresh_sim(balances={"USDT": INVESTMENT}, dialect="kraken")
    freeze(sim, COINS)
    return sim


def kraken_bot(make_bot, sim, name="live", **rebalance):
    bot = make_bot(
        name,
        sim=sim,
        dry_run=False,
        rebalance={"coins": COINS, "investment": INVESTMENT, **rebalance},
    )
    bot.wait_for(lambda: settled(bot, sim, len(COINS)), 120, "4 coins bought on Kraken")
    return bot


def ask(coin: str, price: float) -> float:
    """The stand-in's best ask at ``price``: ceil(price x (1 + spread/2), the pair's tick)."""
    tick = PAIRS[f"{coin}USDT"].tick
    raw = Decimal(str(price)) * (1 + Decimal(str(SPREAD)) / 2)
    return float((raw / tick).to_integral_value(ROUND_CEILING) * tick)


def legs(sim, coins) -> dict[str, float]:
    """What each coin must buy (> 0) or sell (< 0), in USDT, to be back at its weight."""
    vals, cash = values(sim, coins)
    total = sum(vals.values()) + cash
    return {c: w / 100 * total - vals[c] for c, w in coins.items()}


def clears_minimums(coin: str, usdt: float, price: float) -> bool:
    pair = PAIRS[f"{coin}USDT"]
    amount = abs(usdt) / price
    return amount >= float(pair.ordermin) * RESERVE and abs(usdt) >= float(pair.costmin) * RESERVE


def short_of_usdt(bot) -> bool:
    """Kraken refused a buy for its fee: cost + 0.26% in USDT was more than the account had."""
    return "EOrder:Insufficient funds" in bot.log()


def first_buys_as_worked_out(sim, prices) -> None:
    """First buys: weight x 1000 / 1.0026 at the ask, Kraken's 8 volume decimals, each above
    Kraken's minimums; what is left of the 1000 USDT is their rounding."""
    held = sim.balances()
    for coin, weight in COINS.items():
        stake = weight / 100 * INVESTMENT / (1 + FEE)
        assert clears_minimums(coin, stake, prices[coin]), coin
        expected = stake / ask(coin, prices[coin])
        assert held[coin] == pytest.approx(expected, rel=1e-5), (coin, held[coin], expected)
    spent = sum(o["cummulativeQuoteQty"] for o in sim.orders()) * (1 + FEE)
    assert held["USDT"] == pytest.approx(INVESTMENT - spent, abs=1e-6)
    assert 0 <= held["USDT"] < 0.5  # all of it invested
    start = weights(sim, COINS)
    for coin, target in COINS.items():
        assert start[coin] == pytest.approx(target, abs=0.2), start
    assert all(o["type"] == "LIMIT" and o["timeInForce"] == "IOC" for o in sim.orders())


def kraken_matches_freqtrade(bot, sim, coins) -> None:
    """Nothing lost: Kraken takes the fee in USDT, so the account holds exactly what
    Freqtrade's trades hold (each order's quantity has Kraken's 8 decimals); every order that
    filled at the exchange is an order Freqtrade knows, by Kraken's order id."""
    held = {t["pair"].split("/")[0]: t["amount"] for t in bot.open_trades()}
    balances = sim.balances()
    for coin in coins:
        assert balances.get(coin, 0.0) == pytest.approx(held.get(coin, 0.0), abs=1e-8), coin
    known = {str(o.get("order_id")) for t in bot.all_trades() for o in t.get("orders", [])}
    filled = [o for o in sim.orders() if o["executedQty"] > 0]
    unknown = [o for o in filled if txid(o["orderId"]) not in known]
    assert not unknown, f"orders at the exchange Freqtrade does not know: {unknown}"
    assert balances.get("USDT", 0.0) >= 0


def test_first_buys_then_a_price_move_rebalances_on_kraken(fresh_sim, make_bot):
    sim = kraken_sim(fresh_sim)
    prices = {c: sim.prices()[f"{c}USDT"] for c in COINS}
    bot = kraken_bot(make_bot, sim)
    first_buys_as_worked_out(sim, prices)

    # XRP x 2: its weight goes from 15 to 15 x 2 / 1.15 = 26.1%, 11 points over the 5-point
    # threshold: sell XRP, then buy the others, each leg above Kraken's minimums.
    t0 = now_ms(sim)
    sim.multiply("XRPUSDT", 2.0)
    after = {c: sim.prices()[f"{c}USDT"] for c in COINS}
    expected_legs = legs(sim, COINS)
    assert expected_legs["XRP"] < 0 < min(expected_legs[c] for c in ("BTC", "ETH", "ADA"))
    assert all(clears_minimums(c, leg, after[c]) for c, leg in expected_legs.items())
    bot.wait_for(lambda: sim_orders_since(sim, t0, "BUY"), 60, "the rebalance's buys")
    final = bot.wait_for(
        lambda: short_of_usdt(bot) or (settled(bot, sim, 4) and near_targets(sim, COINS, 0.6)),
        90,
        "weights back at the targets",
    )
    assert not short_of_usdt(bot), "a buy was refused: its cost plus fee exceeded the USDT"
    sells, buys = sim_orders_since(sim, t0, "SELL"), sim_orders_since(sim, t0, "BUY")
    assert {o["symbol"] for o in sells} == {"XRPUSDT"}
    assert {o["symbol"] for o in buys} == {"BTCUSDT", "ETHUSDT", "ADAUSDT"}
    assert max(o["time"] for o in sells) < min(o["time"] for o in buys)  # sells first
    sold = sum(o["executedQty"] for o in sells) * after["XRP"]
    assert sold == pytest.approx(-expected_legs["XRP"], rel=0.02)
    assert all(o["type"] == "LIMIT" and o["timeInForce"] == "IOC" for o in sells + buys)
    kraken_matches_freqtrade(bot, sim, COINS)
    assert "Rebalance (drift" in bot.log(), final


@pytest.mark.parametrize("moment", ["after the sell", "sell answer in flight"])
def test_killed_mid_rebalance_finishes_on_restart_on_kraken(fresh_sim, make_bot, moment):
    """SIGKILL between the rebalance's sell and its buys, then a restart: the rebalance
    finishes, nothing is sent twice. "sell answer in flight": the stand-in executes the sell
    (``AddOrder``) but holds its answer; the bot is killed waiting, its database never hears
    of the order, and finds it at Kraken after the restart."""
    sim = kraken_sim(fresh_sim)
    bot = make_bot(
        "live",
        sim=sim,
        dry_run=False,
        rebalance={"coins": COINS, "investment": INVESTMENT},
        extra={"internals": {"process_throttle_secs": 5}},
    )
    bot.wait_for(lambda: settled(bot, sim, 4), 120, "4 coins bought")
    t0 = now_ms(sim)
    if moment == "sell answer in flight":
        sim.fault("timeout", count=1, path="/0/private/AddOrder", seconds=60, process=True)
    sim.multiply("XRPUSDT", 2.0)
    deadline = time.monotonic() + 60
    while not sim_orders_since(sim, t0, "SELL") and time.monotonic() < deadline:
        time.sleep(0.05)
    bot.kill()
    assert sim_orders_since(sim, t0, "SELL"), "no sell within 60 s"
    assert sim_orders_since(sim, t0, "BUY") == [], "killed too late: buys were already sent"
    assert book(bot)["engine"]["phase"] == "selling"
    bot.start()
    bot.wait_for(
        lambda: short_of_usdt(bot) or (settled(bot, sim, 4) and near_targets(sim, COINS, 0.6)),
        120,
        "the rebalance finished after the restart",
    )
    assert not short_of_usdt(bot), "a buy was refused: its cost plus fee exceeded the USDT"
    assert len(sim_orders_since(sim, t0, "SELL")) == 1  # no duplicate
    assert {o["symbol"] for o in sim_orders_since(sim, t0, "BUY")} == {
        "BTCUSDT",
        "ETHUSDT",
        "ADAUSDT",
    }
    kraken_matches_freqtrade(bot, sim, COINS)


def test_first_buys_then_stop_sells_everything_on_kraken(fresh_sim, make_bot):
    """The first buys as worked out (:func:`first_buys_as_worked_out`); then ``on_stop:
    sell_all`` at /stopentry: every coin sold at market. Kraken takes the fee in USDT, so the
    whole quantity is sold (no dust); the account ends with 1000 less two fees of 0.26% and
    the spread. The stopped state survives a restart."""
    sim = kraken_sim(fresh_sim)
    prices = {c: sim.prices()[f"{c}USDT"] for c in COINS}
    bot = kraken_bot(make_bot, sim, on_stop="sell_all")
    first_buys_as_worked_out(sim, prices)
    bot.client.stopbuy()
    bot.wait_for(
        lambda: not bot.open_trades() and not sim.state()["open_orders"], 90, "every coin sold"
    )
    balances = sim.balances()
    for coin in COINS:
        assert balances.get(coin, 0.0) == pytest.approx(0.0, abs=1e-12), (coin, balances)
    floor = INVESTMENT * (1 - FEE) ** 2 * (1 - 2 * SPREAD)  # bought at the ask, sold at the bid
    assert floor < balances["USDT"] < INVESTMENT * (1 - FEE) ** 2, balances
    sells = [o for o in sim.orders() if o["side"] == "SELL"]
    assert {o["symbol"] for o in sells} == {f"{c}USDT" for c in COINS}
    assert {o["type"] for o in sells} == {"MARKET"}
    assert bot.client.show_config()["state"] == "paused"
    assert "Portfolio stopped" in bot.log()
    bot.restart()  # still stopped after a restart: nothing bought
    bot.wait_loops(2, what="after the restart")
    assert not bot.open_trades() and bot.client.show_config()["state"] == "paused"
    assert not [o for o in sim.orders() if o["side"] == "BUY" and o["time"] > sells[-1]["time"]]
