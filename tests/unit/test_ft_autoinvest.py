"""Auto-invest in the loop (dry-run, on fakes): a deposit at its time from the wallet's free
stake beyond the portfolio's own cash, never twice, none lost across a restart, and one that
cannot be paid skipped and said once.

The portfolio: BTC 0.012 at 50 000 (600) and ETH 0.2 at 2 000 (400) bought for 1000 with a fee
of 0.1% (its own cash 1000 - 1000 x 1.001 = -1, i.e. none); 100 USDT every hour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from freqtrade.enums import RunMode

from rebalance_plugin.core.messages import status_line
from rebalance_plugin.ft.plugin import RebalancePlugin
from tests.unit.ft_fakes import SECTION, T0, FakeTrade, Glue, make_glue

HOUR = 3600
HOURLY = {**SECTION, "auto_invest": {"amount": 100, "every": "hourly"}}
PRICES = {"BTC/USDT": 50000.0, "ETH/USDT": 2000.0}


def bot(mocker: Any, free: float) -> tuple[Glue, RebalancePlugin]:
    glue = make_glue(mocker, HOURLY, free=free, prices=PRICES)
    glue.strategy.config["runmode"] = RunMode.DRY_RUN
    trades = [
        FakeTrade("BTC/USDT", amount=0.012, stake_amount=600.0, id=1),
        FakeTrade("ETH/USDT", amount=0.2, stake_amount=400.0, id=2),
    ]
    glue.ft_trade.get_trades_proxy.return_value = trades
    glue.store.update(started=T0, triggered=True)
    glue.store.save()
    return glue, restart(glue)


def restart(glue: Glue) -> RebalancePlugin:
    """A new bot process on the same database (``start``'s record and markets; its checks of
    Freqtrade's settings need a real strategy)."""
    plugin = RebalancePlugin(glue.strategy, glue.ctx.cfg, glue.strategy.config)
    assert plugin.store.load()
    plugin.markets.add("BTC")
    plugin.markets.add("ETH")
    return plugin


def at(plugin: RebalancePlugin, ts: float) -> None:
    plugin.loop(datetime.fromtimestamp(ts, UTC))


def deposits(glue: Glue) -> list[str]:
    return [m for m in glue.said if m.startswith("Auto-invest: 100 USDT deposited")]


def test_a_deposit_at_its_time_buys_and_is_not_repeated_after_a_restart(mocker):
    glue, plugin = bot(mocker, free=150.0)
    at(plugin, T0 + HOUR / 2)  # 10:30: not yet
    assert plugin.book.deposited == 0 and not plugin.desk.orders
    at(plugin, T0 + HOUR)  # 11:00: the deposit
    book = plugin.book
    assert (book.deposited, book.funded, book.last_deposit) == (100, 1100, T0 + HOUR)
    # the cash after it is 1100 - 1001 = 99 and the portfolio 1099: BTC 600 is 54.6% (short
    # 59.4), ETH 400 is 36.4% (short 39.6): the 98.9 of coins bought close both shortfalls in
    # the same proportion: BTC 59.34 -> 0.00118 BTC, ETH 39.56 -> 0.0197 ETH (steps rounded down)
    orders = {c: (leg.side, leg.qty) for c, leg in plugin.desk.orders.items()}
    assert orders == {"BTC/USDT": ("buy", 0.00118), "ETH/USDT": ("buy", 0.0197)}
    assert len(deposits(glue)) == 1
    assert glue.saved().last_deposit == T0 + HOUR  # persisted at once
    assert status_line(plugin.book) == "running, 0 rebalances, 100 deposited"
    again = restart(glue)  # restarted within the hour: no second deposit for 11:00
    at(again, T0 + 1.5 * HOUR)
    assert again.book.deposited == 100 and len(deposits(glue)) == 1


def test_a_deposit_missed_while_down_is_made_once_and_said(mocker):
    glue, plugin = bot(mocker, free=150.0)
    at(plugin, T0 + HOUR)  # 11:00 made
    assert set(plugin.book.inflight) == {"BTC", "ETH"}  # its buys, followed until they fill
    plugin.store.update(inflight={})  # filled (the fakes' trades stand still: the wallet has
    plugin.store.save()  # 250, over 100 beyond the portfolio's own cash of 99)
    glue.wallets.free["USDT"] = 250.0
    later = restart(glue)  # down from 11:10 to 12:20: the 12:00 deposit is late
    at(later, T0 + 2 * HOUR + 20 * 60)
    assert later.book.deposited == 200 and later.book.last_deposit == T0 + 2 * HOUR
    assert len(deposits(glue)) == 2
    late = [m for m in glue.said if "was missed while the bot was not running" in m]
    assert late == [
        "Auto-invest: the deposit of 100 USDT due 2024-01-01 12:00 UTC was missed while the "
        "bot was not running; it is made now, once."
    ]
    at(later, T0 + 2 * HOUR + 25 * 60)  # the next loop: 13:00 is not due yet
    assert later.book.deposited == 200


def test_a_deposit_that_cannot_be_paid_is_skipped_said_once_and_the_next_tried(mocker):
    glue, plugin = bot(mocker, free=60.0)  # 60 free beyond the portfolio's own cash (none)
    at(plugin, T0 + HOUR)
    at(plugin, T0 + 2 * HOUR)
    book = plugin.book
    assert (book.deposited, book.funded, book.last_deposit) == (0, 1000, T0 + 2 * HOUR)
    skipped = [m for m in glue.said if "is skipped" in m]
    assert skipped == [
        "Auto-invest: the deposit of 100 USDT due 2024-01-01 11:00 UTC is skipped: the "
        "account's free USDT has 60.00 USDT beyond the portfolio's own money. The next ones "
        "are tried at their times; this is said once until one is made."
    ]
    glue.wallets.free["USDT"] = 160.0  # money arrives: 13:00 is paid
    at(plugin, T0 + 3 * HOUR)
    assert plugin.book.deposited == 100 and plugin.book.deposit_refused is None
    assert len(deposits(glue)) == 1


def test_available_capital_bounds_the_deposits_and_grows_with_them(mocker):
    # this bot's share is 1150: one deposit fits (1000 + 100), the second would not (1200)
    glue, plugin = bot(mocker, free=450.0)
    glue.strategy.config["available_capital"] = 1150
    plugin = restart(glue)
    at(plugin, T0 + HOUR)
    assert plugin.book.deposited == 100
    # Freqtrade's cap on the stakes: the share plus the deposits (in memory)
    assert glue.strategy.config["available_capital"] == 1250
    plugin.store.update(inflight={})
    at(plugin, T0 + 2 * HOUR)
    assert plugin.book.deposited == 100
    skipped = [m for m in glue.said if "is skipped" in m]
    assert skipped == [
        "Auto-invest: the deposit of 100 USDT due 2024-01-01 12:00 UTC is skipped: "
        "available_capital = 1150 is this bot's share of the account and the portfolio has "
        "1100 USDT of it; raise available_capital to make room for the deposits. The next ones "
        "are tried at their times; this is said once until one is made."
    ]
    glue.strategy.config["available_capital"] = 1150  # config.json read again
    again = restart(glue)  # the user's figure again, plus the deposits of the record
    at(again, T0 + 2.5 * HOUR)
    assert glue.strategy.config["available_capital"] == 1250
