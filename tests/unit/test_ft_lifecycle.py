"""The portfolio's life (rebalance_plugin/ft/lifecycle.py,
docs/live-trading.md#stopping-and-resuming): trigger_price, the first buys' stakes, stop and
on_stop, Freqtrade's /stopentry and /start read from the bot's state, and a user's /forceexit.

The portfolio: BTC 60% / ETH 40% for 1000 USDT, holding 0.01 BTC (500 USDT) and 0.2 ETH
(400 USDT); the taker fee is 0.1%.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from freqtrade.enums import State

from rebalance_plugin.core.inflight import InFlight
from rebalance_plugin.core.messages import STOPPED_BY_STOPENTRY
from rebalance_plugin.core.plan import Leg
from tests.unit.ft_fakes import SECTION, T0, FakeTrade, Glue, make_glue

PRICES = {"BTC/USDT": 50000.0, "ETH/USDT": 2000.0}
NOW = T0 + 86400
# The stop says exactly what it does with the coins held (holdings(): BTC 0.01, ETH 0.2).
SELL_ALL = (
    "Portfolio stopped: stopped from Telegram/FreqUI (/stopentry). on_stop = sell_all: selling "
    "every coin at market (BTC 0.01, ETH 0.2). Send /start to resume."
)
KEEP = (
    "Portfolio stopped: stopped from Telegram/FreqUI (/stopentry). on_stop = keep: nothing sold; "
    "BTC 0.01, ETH 0.2 stay in the account, no longer managed. Send /start to resume, or "
    "/forceexit all to sell every coin at market."
)
RESUMED = "Portfolio resumed (/start): managing the coins again"


def holdings() -> list[FakeTrade]:
    return [
        FakeTrade("BTC/USDT", amount=0.01, stake_amount=500.0, id=1),
        FakeTrade("ETH/USDT", amount=0.2, stake_amount=400.0, id=2),
    ]


def with_bot(mocker: Any, state: State = State.RUNNING, **kw: Any) -> tuple[Glue, Any]:
    """A running portfolio and the FreqtradeBot whose state /stopentry and /start set."""
    glue = make_glue(mocker, prices=PRICES, **kw)
    glue.start()
    bot = SimpleNamespace(state=state)
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=bot)
    return glue, bot


# ---- /stopentry, /start --------------------------------------------------------------------------
def test_stopentry_stops_the_portfolio_and_sell_all_exits_every_coin_at_market(mocker):
    glue, bot = with_bot(mocker)
    glue.store.update(inflight={"BTC": InFlight("sell", 0.002, 0.01, False, T0)})
    trades = holdings()
    glue.lifecycle.commands(NOW, trades)  # running: nothing to do
    assert glue.book.stopped is None

    bot.state = State.PAUSED  # /stopentry, or FreqUI's "Pause"
    glue.lifecycle.commands(NOW, trades)

    assert glue.book.stopped == "stopped from Telegram/FreqUI (/stopentry)"
    assert glue.book.stop_time == NOW
    assert glue.book.inflight == {}  # nothing is followed any more
    assert glue.saved().stopped == STOPPED_BY_STOPENTRY
    assert glue.said == [SELL_ALL]

    # The next loop: every coin held gets a whole-position sell, at market.
    glue.desk.new_loop()
    glue.lifecycle.stopped_loop(glue.reader.by_coin(trades))
    assert glue.desk.orders == {
        "BTC/USDT": Leg("BTC", "sell", 0.01, 0.0),
        "ETH/USDT": Leg("ETH", "sell", 0.2, 0.0),
    }
    assert glue.desk.market == {"BTC/USDT", "ETH/USDT"}
    assert glue.desk.stake_for(trades[0], 50000.0) == (-500.0, "portfolio stopped (sell_all)")
    assert glue.strategy.order_types["exit"] == "market"
    assert glue.desk.stake_for(trades[1], 2000.0) == (-400.0, "portfolio stopped (sell_all)")

    glue.lifecycle.commands(NOW + 5, trades)  # still paused: said once
    assert glue.said == [SELL_ALL]


def test_a_stopped_sell_all_skips_a_trade_with_an_open_order_or_nothing_held(mocker):
    glue, _ = with_bot(mocker)
    trades = holdings()
    trades[0].has_open_orders = True
    trades[1].amount = 0.0
    glue.lifecycle.stop(STOPPED_BY_STOPENTRY, NOW)
    glue.desk.new_loop()

    glue.lifecycle.stopped_loop(glue.reader.by_coin(trades))

    assert glue.desk.orders == {}


def test_stopentry_with_keep_leaves_the_coins(mocker):
    glue, bot = with_bot(mocker, section={**SECTION, "on_stop": "keep"})
    bot.state = State.PAUSED
    trades = holdings()

    glue.lifecycle.commands(NOW, trades)
    glue.desk.new_loop()
    glue.lifecycle.stopped_loop(glue.reader.by_coin(trades))

    assert glue.book.stopped == STOPPED_BY_STOPENTRY
    assert glue.said == [KEEP]
    assert glue.desk.orders == {}


def test_start_after_the_bot_was_seen_paused_resumes_the_portfolio(mocker):
    glue, bot = with_bot(mocker, State.PAUSED)
    trades = holdings()
    glue.lifecycle.commands(NOW, trades)  # /stopentry
    glue.lifecycle.commands(NOW + 5, trades)  # still paused

    bot.state = State.RUNNING  # /start
    glue.lifecycle.commands(NOW + 10, trades)

    assert glue.book.stopped is None
    assert glue.book.stop_time is None
    assert glue.book.started == T0  # the same portfolio, managed again
    assert glue.saved().stopped is None
    assert glue.said == [SELL_ALL, RESUMED]
    assert bot.state == State.RUNNING


def test_running_after_a_restart_keeps_a_stopped_portfolio_stopped(mocker):
    # The record says stopped (saved before a restart); Freqtrade starts RUNNING.
    glue, bot = with_bot(mocker, State.RUNNING)
    glue.store.update(stopped=STOPPED_BY_STOPENTRY, stop_time=NOW)
    trades = holdings()

    glue.lifecycle.commands(NOW + 60, trades)

    assert bot.state == State.PAUSED  # set back: it opens nothing
    assert glue.book.stopped == STOPPED_BY_STOPENTRY
    assert glue.said == []

    bot.state = State.RUNNING  # now the user's /start
    glue.lifecycle.commands(NOW + 120, trades)
    assert glue.book.stopped is None
    assert glue.said == [RESUMED]


def test_a_restart_seen_paused_resumes_at_the_first_start(mocker):
    # A stopped portfolio restarted with Freqtrade's initial_state "paused": the bot is seen
    # PAUSED, so the user's /start resumes it at once (not set back to PAUSED).
    glue, bot = with_bot(mocker, State.PAUSED)
    glue.store.update(stopped=STOPPED_BY_STOPENTRY, stop_time=NOW)
    glue.lifecycle.commands(NOW + 60, holdings())
    assert glue.said == []  # already stopped: not stopped again

    bot.state = State.RUNNING
    glue.lifecycle.commands(NOW + 120, holdings())

    assert bot.state == State.RUNNING
    assert glue.book.stopped is None
    assert glue.said == [RESUMED]


def test_start_after_everything_was_sold_buys_the_portfolio_again(mocker):
    # Sold at a loss: Freqtrade's closed profit is -10, so the portfolio's cash is
    # 1000 (funded) + 0 (no open trade) - 10 (closed profit) - 0 (closed base) = 990.
    glue, bot = with_bot(mocker, State.PAUSED, closed_profit=-10.0)
    glue.lifecycle.commands(NOW, holdings())  # /stopentry
    glue.dp.messages.clear()

    bot.state = State.RUNNING
    glue.lifecycle.commands(NOW + 60, [])  # /start, no trade left

    assert glue.book.stopped is None
    assert glue.book.started is None  # a new portfolio: the first buys again
    assert glue.book.funded == 990.0  # min(investment 1000, cash 990)
    assert glue.book.closed_base == -10.0  # closed trades count from here
    assert glue.strategy.unlocked == ["Auto lock"]
    assert glue.said == ["Portfolio restarted (/start): buying BTC 60%, ETH 40% for 990.00 USDT"]
    # Its first buys share what the sales returned: 0.6 x min(1000, 990) / 1.001 = 593.4066
    assert glue.lifecycle.entry_stake("BTC/USDT", 0.001, 50000.0) == pytest.approx(
        593.4066, abs=1e-4
    )


def test_stop_pauses_a_running_bot(mocker):
    glue, bot = with_bot(mocker, State.RUNNING)
    glue.ft_trade.get_trades_proxy.return_value = holdings()  # the open trades, read at the stop

    glue.lifecycle.stop("stop_loss reached: portfolio value 790.00 USDT <= 800 USDT", NOW)

    assert bot.state == State.PAUSED
    assert glue.book.stopped == "stop_loss reached: portfolio value 790.00 USDT <= 800 USDT"
    assert glue.said == [
        "Portfolio stopped: stop_loss reached: portfolio value 790.00 USDT <= 800 USDT. "
        "on_stop = sell_all: selling every coin at market (BTC 0.01, ETH 0.2). Send /start to "
        "resume."
    ]
    glue.lifecycle.commands(NOW + 5, holdings())  # seen paused: no second stop
    assert len(glue.said) == 1
    bot.state = State.RUNNING  # /start
    glue.lifecycle.commands(NOW + 10, holdings())
    assert glue.book.stopped is None


def test_a_backtest_never_reaches_for_the_bot(mocker):
    glue = make_glue(mocker, prices=PRICES, backtest=True)
    reach = mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot")

    glue.lifecycle.commands(NOW, holdings())
    glue.lifecycle.stop("take_profit reached", NOW)

    reach.assert_not_called()


# ---- trigger_price -------------------------------------------------------------------------------
def test_trigger_price_waits_then_allows_the_first_buys(mocker):
    # trigger_price 45000 (a plain number: the first coin, BTC). BTC at 50000 when waiting
    # begins: the level is below, the bot waits for a dip to 45000 or lower.
    glue = make_glue(mocker, {**SECTION, "trigger_price": 45000}, prices=PRICES)
    lc = glue.lifecycle

    lc.starting({}, NOW, busy=False)
    assert glue.book.trigger_ref == 50000.0
    assert glue.said == [
        "Portfolio waiting: buys start when BTC price 45000 USDT is reached (now 50000)"
    ]
    assert not lc.entry_allowed("BTC/USDT")
    assert not lc.entry_allowed("ETH/USDT")

    glue.dp.prices["BTC/USDT"] = 45100.0  # not yet
    lc.starting({}, NOW + 5, busy=False)
    assert not glue.book.triggered
    assert not lc.entry_allowed("BTC/USDT")
    assert len(glue.said) == 1

    glue.dp.prices["BTC/USDT"] = 44900.0  # crossed
    lc.starting({}, NOW + 10, busy=False)
    assert glue.book.triggered
    assert glue.saved().triggered
    assert glue.said[1:] == ["trigger_price reached (BTC at 44900): buying the portfolio"]
    assert lc.entry_allowed("BTC/USDT")
    assert lc.entry_allowed("ETH/USDT")
    assert not lc.entry_allowed("SOL/USDT")  # not in the allocation

    lc.starting({}, NOW + 15, busy=False)  # buying: nothing more said
    assert len(glue.said) == 2


def test_trigger_price_above_waits_for_a_breakout(mocker):
    glue = make_glue(mocker, {**SECTION, "trigger_price": {"ETH": 2500}}, prices=PRICES)
    lc = glue.lifecycle
    lc.starting({}, NOW, busy=False)  # ETH at 2000, the level above
    glue.dp.prices["ETH/USDT"] = 1500.0  # further away
    lc.starting({}, NOW + 5, busy=False)
    assert not lc.entry_allowed("ETH/USDT")
    glue.dp.prices["ETH/USDT"] = 2500.0  # reached (touching counts)
    lc.starting({}, NOW + 10, busy=False)
    assert lc.entry_allowed("ETH/USDT")
    assert glue.said[-1] == "trigger_price reached (ETH at 2500): buying the portfolio"


def test_first_buys_complete_start_the_portfolio(mocker):
    glue = make_glue(mocker, prices=PRICES, closed_profit=3.0)
    trades = glue.reader.by_coin(holdings())
    trades["ETH"].open_date_utc = trades["BTC"].open_date_utc.replace(minute=5)

    glue.lifecycle.starting(trades, NOW, busy=False)

    assert glue.book.started == T0  # the earlier of the two first buys
    assert glue.book.closed_base == 3.0
    # What the two first buys cost: (500 + 400) stake x 1.001 for the 0.1% fee = 900.90.
    assert glue.said == ["Portfolio bought: BTC 60%, ETH 40% for 900.90 USDT, fees included"]
    assert not glue.lifecycle.entry_allowed("BTC/USDT")  # bought: no new trade


def test_first_buys_wait_for_every_coin(mocker):
    glue = make_glue(mocker, prices=PRICES)
    trades = glue.reader.by_coin(holdings()[:1])  # only BTC bought so far

    glue.lifecycle.starting(trades, NOW, busy=False)

    assert glue.book.started is None
    assert glue.said == []
    assert glue.lifecycle.entry_allowed("ETH/USDT")


# ---- stakes and exits ----------------------------------------------------------------------------
def test_entry_stake_is_the_coins_weight_of_the_investment_less_the_fee(mocker):
    glue = make_glue(mocker, prices=PRICES)
    # 0.6 x min(1000, 1000) / 1.001 = 599.4006; 0.4 x 1000 / 1.001 = 399.6004
    assert glue.lifecycle.entry_stake("BTC/USDT", 0.001, 50000.0) == pytest.approx(
        599.4006, abs=1e-4
    )
    assert glue.lifecycle.entry_stake("ETH/USDT", 0.001, 2000.0) == pytest.approx(
        399.6004, abs=1e-4
    )


def test_a_new_coins_entry_stake_is_its_planned_buy(mocker):
    # A record of 0.1.0 keeps only the planned stake: it is the stake.
    glue, _ = with_bot(mocker)
    glue.store.update(entries={"SOL": 50.0})
    assert glue.lifecycle.entry_allowed("SOL/USDT")
    assert glue.lifecycle.entry_stake("SOL/USDT", 0.001, 101.0) == 50.0
    assert not glue.lifecycle.entry_allowed("BTC/USDT")  # held already: adjusted, not entered


def test_a_stopped_portfolio_opens_nothing(mocker):
    glue, _ = with_bot(mocker)
    glue.store.update(entries={"SOL": 50.0})
    glue.lifecycle.stop(STOPPED_BY_STOPENTRY, NOW)
    assert not glue.lifecycle.entry_allowed("SOL/USDT")
    assert glue.book.entries == {}


def test_a_user_force_exit_stops_the_portfolio(mocker):
    glue, bot = with_bot(mocker)
    glue.ft_trade.get_trades_proxy.return_value = holdings()

    glue.lifecycle.on_exit("BTC/USDT", "force_exit", NOW)

    assert glue.book.stopped == "BTC/USDT force-exited from Telegram/FreqUI"
    assert bot.state == State.PAUSED
    assert glue.said == [
        "Portfolio stopped: BTC/USDT force-exited from Telegram/FreqUI. on_stop = sell_all: "
        "selling every coin at market (BTC 0.01, ETH 0.2). Send /start to resume."
    ]
    glue.lifecycle.on_exit("ETH/USDT", "force_exit", NOW + 1)  # the next: already stopped
    assert glue.book.stopped == "BTC/USDT force-exited from Telegram/FreqUI"
    assert len(glue.said) == 1


@pytest.mark.parametrize(
    "reason", ["exit_signal", "roi", "stop_loss", "partial_exit", "portfolio stopped (sell_all)"]
)
def test_other_exits_do_not_stop_the_portfolio(mocker, reason):
    glue, bot = with_bot(mocker)

    glue.lifecycle.on_exit("BTC/USDT", reason, NOW)

    assert glue.book.stopped is None
    assert bot.state == State.RUNNING
    assert glue.said == []


def test_a_new_coins_entry_buys_the_planned_quantity_at_the_rate_freqtrade_buys_at(mocker):
    # Planned: 0.5 SOL at the last price 100 (50 USDT). Freqtrade buys at the ask, 101: a stake
    # of 50 would buy floor(50 / 101, step 0.001) = 0.495 SOL. The stake is the planned quantity
    # at 101, with half a step (0.0005) of margin against float truncation: 0.5005 x 101 =
    # 50.5505, of which Freqtrade buys floor(0.5005, 0.001) = 0.5 SOL, as announced.
    glue, _ = with_bot(mocker)
    glue.dp.markets["SOL/USDT"] = {
        **glue.dp.markets["ETH/USDT"],
        "symbol": "SOL/USDT",
        "base": "SOL",
        "precision": {"amount": 0.001, "price": 0.01},
    }
    assert glue.markets.add("SOL").qty_step == 0.001
    glue.store.update(entries={"SOL": 50.0}, entry_qty={"SOL": 0.5})

    stake = glue.lifecycle.entry_stake("SOL/USDT", 0.001, 101.0)

    assert stake == pytest.approx(50.5505, abs=1e-9)
    assert round(stake / 101.0 - 0.0005, 9) == 0.5  # Freqtrade's floor to the step
    assert glue.store.book.to_dict()["entry_qty"] == {"SOL": 0.5}  # kept for a restart
