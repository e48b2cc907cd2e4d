"""The portfolio's state per trade (rebalance_plugin/ft/status.py,
docs/live-trading.md#custom-data): what FreqUI's "Show custom data" and Telegram's
/list_custom_data show, and when it is published.

The portfolio: targets BTC 55% / ETH 45%, 800 USDT invested. It holds 0.0115 BTC (bought for 450)
and 0.2 ETH (bought for 325), fees left out for round numbers: its cash is
800 - 450 - 325 = 25 USDT. At BTC 50000 and ETH 2000 it is worth
0.0115 x 50000 + 0.2 x 2000 + 25 = 575 + 400 + 25 = 1000 USDT:
BTC 575 / 1000 = 57.50% (55 + 2.50 points), ETH 400 / 1000 = 40.00% (45 - 5.00 points).

Against the 800 invested: +200.00 USDT, +25.00%. The first buys bought 0.01 BTC and 0.25 ETH and
left 25 USDT: held, they would be worth 0.01 x 50000 + 0.25 x 2000 + 25 = 1025 now; the
portfolio is 25.00 USDT (2.44%) behind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from rebalance_plugin.core.engine import State
from rebalance_plugin.core.plan import Leg
from tests.unit.ft_fakes import T0, FakeTrade, Glue, make_glue

SECTION = {"coins": {"BTC": 55, "ETH": 45}, "investment": 800}
PRICES = {"BTC/USDT": 50000.0, "ETH/USDT": 2000.0}
NOW = datetime(2024, 1, 3, 15, 0, tzinfo=UTC).timestamp()


def portfolio(mocker: Any, section: dict[str, Any] = SECTION) -> tuple[Glue, list[FakeTrade]]:
    glue = make_glue(mocker, section, prices=PRICES)
    glue.start()
    glue.store.update(start_time=T0, start_holdings={"BTC": 0.01, "ETH": 0.25}, start_cash=25.0)
    trades = [
        FakeTrade("BTC/USDT", amount=0.0115, stake_amount=450.0, fee_open=0.0, id=1),
        FakeTrade("ETH/USDT", amount=0.2, stake_amount=325.0, fee_open=0.0, id=2),
    ]
    return glue, trades


def writes(trades: list[FakeTrade]) -> list[int]:
    return [t.custom_data_writes for t in trades]


# ---- portfolio_status ----------------------------------------------------------------------------
def test_each_coin_shows_its_target_weight_drift_and_the_portfolios_value(mocker):
    glue, trades = portfolio(mocker)
    glue.store.update(engine=State(last_rebalance=T0 + 3600, rebalances=3))

    status = glue.status.portfolio_status(trades, NOW, glue.applied)

    common = {
        "portfolio_state": "running, 3 rebalances",
        "portfolio_value": 1000.0,
        # the whole portfolio on every trade: 575 and 400 of 1000, 25 cash
        "BTC": "57.50% (target 55.00%, drift +2.50 points)",
        "ETH": "40.00% (target 45.00%, drift -5.00 points)",
        "cash": "25.00 USDT (2.50%)",
        # dry-run: the entry fees FreqUI's balance has not deducted (none here)
        "unbooked_fees": "0.00 USDT: the open trades' entry fees, paid, which Freqtrade's "
        "dry-run balance (FreqUI's) deducts only when a trade closes",
        "invested": 800.0,
        "vs_invested": "+25.00% (+200.00 USDT)",
        "buy_and_hold_value": 1025.0,
        "vs_buy_and_hold": "-2.44% (-25.00 USDT)",
        "rebalances": 3,
        "last_rebalance": "2024-01-01 11:00 UTC",  # T0 (10:00) + 1 h
        "last_announcement": "-",
        "next_check": "every loop (threshold 5 points)",
        "on_stop": "keep",  # the default
    }
    assert status == {
        "BTC": {**common, "target_weight": "55.00%", "weight": "57.50%", "drift": "+2.50 points"},
        "ETH": {**common, "target_weight": "45.00%", "weight": "40.00%", "drift": "-5.00 points"},
    }
    # shown first: the state, the value and the coins
    assert list(status["BTC"])[:4] == ["portfolio_state", "portfolio_value", "BTC", "ETH"]


def test_an_interval_trigger_shows_the_next_check(mocker):
    # First buy 2024-01-01 10:00, every day: on 2024-01-03 15:00 two checks have passed
    # (Jan 2 and Jan 3, 10:00); the next is 2024-01-04 10:00.
    glue, trades = portfolio(mocker, {**SECTION, "trigger": "interval", "interval": "1d"})

    status = glue.status.portfolio_status(trades, NOW, glue.applied)

    assert status["BTC"]["next_check"] == "2024-01-04 10:00 UTC"
    assert status["BTC"]["last_rebalance"] == "never"


def test_before_the_first_buys_the_next_check_waits_for_them(mocker):
    glue, trades = portfolio(mocker)
    glue.store.update(started=None)

    status = glue.status.portfolio_status(trades, NOW, glue.applied)

    assert status["ETH"]["next_check"] == "after the first buys"
    assert status["ETH"]["portfolio_state"] == "buying"


def test_a_coin_without_a_price_shows_nothing(mocker):
    glue, trades = portfolio(mocker)
    del glue.dp.prices["ETH/USDT"]
    assert glue.status.portfolio_status(trades, NOW, glue.applied) == {}


# ---- after_loop: when it is published ---------------------------------------------------------
def test_published_to_each_trade_once_then_not_again_while_nothing_changed(mocker):
    glue, trades = portfolio(mocker)

    glue.status.after_loop(trades, NOW, glue.applied)

    assert trades[0].custom_data["weight"] == "57.50%"
    assert trades[0].custom_data["drift"] == "+2.50 points"
    assert trades[1].custom_data["weight"] == "40.00%"
    assert trades[1].custom_data["portfolio_value"] == 1000.0
    # 3 keys of the trade's coin + 15 of the portfolio (11, each coin, cash, unbooked fees)
    assert writes(trades) == [18, 18]
    glue.kv.store_value.assert_called()  # the record is kept saved

    # 10 s later BTC moved (52000): within 30 s, nothing changed in the portfolio, not shown.
    glue.dp.prices["BTC/USDT"] = 52000.0
    glue.status.after_loop(trades, NOW + 10, glue.applied)
    assert writes(trades) == [18, 18]
    assert trades[0].custom_data["weight"] == "57.50%"

    # 31 s after the first: the new prices are shown. BTC 0.0115 x 52000 = 598; value
    # 598 + 400 + 25 = 1023; BTC 598 / 1023 = 58.46%, ETH 400 / 1023 = 39.10%.
    glue.status.after_loop(trades, NOW + 31, glue.applied)
    assert trades[0].custom_data["weight"] == "58.46%"
    assert trades[1].custom_data["weight"] == "39.10%"
    assert trades[0].custom_data["portfolio_value"] == 1023.0
    assert trades[1].custom_data["BTC"] == "58.46% (target 55.00%, drift +3.46 points)"
    # Only what changed is written: the value, vs_invested, buy-and-hold and vs_buy_and_hold,
    # both coins' lines, the cash share (25 / 1023 = 2.44%), and the trade's own weight and
    # drift: 9 values each.
    assert writes(trades) == [18 + 9, 18 + 9]

    # 31 s later again, prices unchanged: the same data is not written twice.
    glue.status.after_loop(trades, NOW + 62, glue.applied)
    assert writes(trades) == [27, 27]


def test_a_fill_is_published_at_once(mocker):
    glue, trades = portfolio(mocker)
    glue.status.after_loop(trades, NOW, glue.applied)

    # 5 s later a sell of 0.001 BTC at 50000 filled: Freqtrade holds 0.0105 BTC on a stake of
    # 410 and a realised profit of 10; the cash is 800 + 10 - 410 - 325 = 75 (25 + 50).
    # BTC 0.0105 x 50000 = 525 of 525 + 400 + 75 = 1000: 52.50%, 55 - 2.50 points.
    trades[0].amount, trades[0].stake_amount, trades[0].realized_profit = 0.0105, 410.0, 10.0
    glue.status.after_loop(trades, NOW + 5, glue.applied)

    assert trades[0].custom_data["weight"] == "52.50%"
    assert trades[0].custom_data["drift"] == "-2.50 points"
    assert trades[1].custom_data["BTC"] == "52.50% (target 55.00%, drift -2.50 points)"
    # What changed, and only that: BTC's line and the cash (75.00 USDT, 7.50%) on both trades,
    # BTC's own weight and drift on its trade, its unbooked fees (stake 410, no fee: unchanged).
    assert writes(trades) == [18 + 4, 18 + 2]


def test_nothing_is_published_while_the_loops_orders_are_pending(mocker):
    glue, trades = portfolio(mocker)
    glue.desk.orders = {"BTC/USDT": Leg("BTC", "sell", 0.001, 50000.0)}

    glue.status.after_loop(trades, NOW, glue.applied)
    trades[0].amount = 0.0105
    glue.status.after_loop(trades, NOW + 40, glue.applied)

    assert writes(trades) == [0, 0]

    glue.desk.orders = {}  # handed to Freqtrade: the next loop shows the portfolio
    glue.status.after_loop(trades, NOW + 41, glue.applied)
    assert writes(trades) == [18, 18]


def test_a_failure_to_publish_is_logged_and_trading_goes_on(mocker, caplog):
    glue, trades = portfolio(mocker)
    mocker.patch.object(trades[0], "set_custom_data", side_effect=RuntimeError("database locked"))
    caplog.set_level(logging.WARNING, "rebalance_plugin.ft")

    glue.status.after_loop(trades, NOW, glue.applied)  # does not raise

    assert "Could not publish the portfolio state: database locked" in caplog.messages


def test_a_backtest_publishes_nothing(mocker):
    glue = make_glue(mocker, SECTION, prices=PRICES, backtest=True)
    trade = FakeTrade("BTC/USDT", amount=0.0115, stake_amount=450.0)

    glue.status.after_loop([trade], NOW, glue.applied)

    assert trade.custom_data_writes == 0
    glue.kv.store_value.assert_not_called()


def test_relative_threshold_mode_shows_drift_in_percent_of_the_target(mocker):
    # The module's portfolio with threshold 20 relative: BTC +2.50 points of a 55% target is
    # +2.5 / 55 = +4.55% of it; ETH -5.00 of 45 is -11.11%.
    glue, trades = portfolio(mocker, {**SECTION, "threshold": 20, "threshold_mode": "relative"})

    status = glue.status.portfolio_status(trades, NOW, glue.applied)

    assert status["BTC"]["drift"] == "+4.55% of target"
    assert status["ETH"]["drift"] == "-11.11% of target"
    assert status["ETH"]["next_check"] == "every loop (threshold 20% of target)"


# ---- at a glance: the announcement, a stop, money moved, an older record ------------------------
def test_the_last_announcement_is_shown_and_kept_in_the_record(mocker):
    glue, trades = portfolio(mocker)
    mocker.patch("rebalance_plugin.ft.notify.time.time", return_value=NOW - 60)

    glue.lifecycle.stop("stop_loss reached (portfolio 790 <= 800)", NOW - 60)  # says it
    status = glue.status.portfolio_status(trades, NOW, glue.applied)

    said = status["BTC"]["last_announcement"]
    assert said.startswith("2024-01-03 14:59 UTC: Portfolio stopped: stop_loss reached"), said
    assert status["BTC"]["portfolio_state"].startswith("stopped (stop_loss reached")
    # Saved with the record: a restarted bot shows it again.
    assert glue.saved().said == (NOW - 60, said.split(" UTC: ", 1)[1])


def test_money_added_since_the_start_counts_in_buy_and_hold(mocker):
    # 200 USDT added after the first buys: invested 1000, buy-and-hold 1025 + 200.
    glue, trades = portfolio(mocker)
    glue.store.update(funded=1000.0)  # as a /reload_config with 200 more does: kept as a move
    assert [amount for _, amount in glue.book.moves] == [200.0]

    status = glue.status.portfolio_status(trades, NOW, glue.applied)["ETH"]

    assert status["invested"] == 1000.0
    assert status["buy_and_hold_value"] == 1225.0


def test_a_record_without_a_starting_allocation_takes_the_first_buys_of_the_trades(mocker):
    # A record written before this release: the first filled buy of each trade, 0.01 BTC for
    # 450 and 0.25 ETH for 325 (no fee): the cash left is 800 - 775 = 25, as above.
    from types import SimpleNamespace

    glue, trades = portfolio(mocker)
    glue.store.update(start_time=None, start_holdings={}, start_cash=None)
    when = datetime(2024, 1, 1, 10, tzinfo=UTC)
    for trade, qty, price in ((trades[0], 0.01, 45000.0), (trades[1], 0.25, 1300.0)):
        first = SimpleNamespace(
            ft_order_side="buy",
            safe_filled=qty,
            safe_amount_after_fee=qty,
            safe_price=price,
            order_filled_utc=when,
            order_date_utc=when,
        )
        trade.orders = [first]

    status = glue.status.portfolio_status(trades, NOW, glue.applied)["BTC"]

    assert status["buy_and_hold_value"] == 1025.0
    assert status["vs_buy_and_hold"] == "-2.44% (-25.00 USDT)"
