"""Every custom-data value describes the portfolio as it is now (issue 22; rebalance_plugin/ft/
status.py and notify.py): FreqUI's "Show custom data" and Telegram's /list_custom_data.

- a paused portfolio (FreqUI's "Pause": /stopentry) has no next check;
- a refusal of config.json is not the last announcement once a fixed config is accepted;
- every trade carries the whole portfolio: each coin's weight, target and drift, and the cash;
- a coin no longer in the portfolio is not shown with its old weight;
- in dry-run, the open trades' entry fees name the difference between the portfolio's value and
  FreqUI's balance (Freqtrade's dry-run wallet deducts an entry fee only when its trade closes).

The portfolio of tests/unit/test_ft_status.py: targets BTC 55% / ETH 45%, 800 USDT invested,
0.0115 BTC (bought for 450) and 0.2 ETH (for 325), 25 USDT cash. At BTC 50000 and ETH 2000 it is
worth 575 + 400 + 25 = 1000: BTC 57.50%, ETH 40.00%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freqtrade.enums import State as BotState

from rebalance_plugin.core import messages
from rebalance_plugin.core.book import Book
from tests.unit.ft_fakes import FakeTrade, make_glue, plain
from tests.unit.test_ft_status import NOW, PRICES, SECTION, portfolio


def status_of(glue: Any, trades: list[Any], coin: str = "BTC") -> dict[str, Any]:
    return glue.status.portfolio_status(trades, NOW, glue.applied)[coin]


# ---- next_check ----------------------------------------------------------------------------------
def test_after_pause_there_is_no_next_check(mocker):
    glue, trades = portfolio(mocker)
    assert status_of(glue, trades)["next_check"] == "every loop (threshold 5 points)"
    bot = mocker.Mock(state=BotState.PAUSED)  # FreqUI's Pause: /stopentry
    mocker.patch("rebalance_plugin.ft.lifecycle.privates.freqtrade_bot", return_value=bot)

    glue.lifecycle.commands(NOW, trades)

    shown = status_of(glue, trades)
    assert shown["portfolio_state"] == f"stopped ({messages.STOPPED_BY_STOPENTRY})"
    assert shown["next_check"] == "none while the portfolio is stopped (/start resumes it)"

    # /start: checked every loop again
    bot.state = BotState.RUNNING
    glue.lifecycle.commands(NOW + 5, trades)
    assert status_of(glue, trades)["next_check"] == "every loop (threshold 5 points)"


def test_an_interval_portfolio_paused_has_no_next_check_either(mocker):
    glue, trades = portfolio(mocker, {**SECTION, "trigger": "interval", "interval": "1d"})
    assert status_of(glue, trades)["next_check"] == "2024-01-04 10:00 UTC"
    glue.lifecycle.stop("stop_loss reached", NOW)
    assert status_of(glue, trades)["next_check"].startswith("none while the portfolio is stopped")


def test_waiting_for_trigger_price_the_next_check_says_so(mocker):
    glue, trades = portfolio(mocker)
    glue.store.update(started=None, triggered=False)
    assert status_of(glue, trades)["next_check"] == "after trigger_price and first buys"


# ---- the last announcement after a refusal -------------------------------------------------------
def refused_reload(glue: Any) -> str:
    text = messages.reload_refused(
        "Invalid rebalance config: coin weights must sum to 100", glue.book, "USDT"
    )
    glue.notifier.say(text)
    return text


def test_a_fixed_config_reloaded_replaces_the_refusal_as_the_last_word(mocker):
    glue, trades = portfolio(mocker)
    refused_reload(glue)
    assert "Fix config.json" in status_of(glue, trades)["last_announcement"]

    glue.notifier.config_accepted()  # the next /reload_config's bot_start: the section is good

    accepted = "Config accepted: the portfolio runs on config.json, BTC 55%, ETH 45% for 800 USDT"
    assert glue.said[-1] == accepted  # Telegram / FreqUI's message feed
    last = status_of(glue, trades)["last_announcement"]
    assert last.endswith(f"UTC: {accepted}"), last
    assert "refused" not in last
    assert glue.saved().said is not None and glue.saved().said[1] == accepted  # kept


def test_a_config_accepted_with_nothing_refused_before_says_nothing(mocker):
    glue, trades = portfolio(mocker)
    glue.notifier.say("Rebalance buys (drift 6.00 points): buy 0.001 BTC (50.00 USDT)")
    glue.notifier.config_accepted()  # a plain restart
    assert len(glue.said) == 1
    assert "Rebalance buys" in status_of(glue, trades)["last_announcement"]


def test_a_refused_change_no_longer_asked_for_is_superseded(mocker):
    # 800 -> 2000 USDT refused for want of money; config.json back at 800: nothing is asked
    # any more, the refusal is untrue now.
    glue, trades = portfolio(mocker)
    glue.notifier.say(messages.change_refused("not enough USDT", True, True, glue.book, "USDT"))
    glue.store.update(refused="investment 2000: not enough USDT")

    glue.notifier.config_accepted()

    assert glue.said[-1].startswith("Config accepted: the portfolio runs on config.json")
    assert glue.book.refused is None  # asked again later, it is checked and said again


def test_a_refused_change_still_asked_for_stays_the_last_word(mocker):
    # config.json still asks for 2000: the loop checks the change again; until then the
    # refusal is what is true.
    glue, trades = portfolio(mocker, {**SECTION, "investment": 2000})
    glue.store.update(investment=800.0)
    said = messages.change_refused("not enough USDT", True, True, glue.book, "USDT")
    glue.notifier.say(said)

    glue.notifier.config_accepted()

    assert [plain(said)] == glue.said
    assert status_of(glue, trades)["last_announcement"].endswith(said)


def test_a_backtest_says_nothing_at_start(mocker):
    glue = make_glue(mocker, SECTION, prices=PRICES, backtest=True)
    glue.store.book = Book.fresh(glue.ctx.cfg)
    glue.notifier.config_accepted()
    assert glue.said == []


# ---- the whole portfolio on every trade ----------------------------------------------------------
def test_every_trade_shows_every_coin_and_the_cash(mocker):
    glue, trades = portfolio(mocker)
    btc, eth = status_of(glue, trades, "BTC"), status_of(glue, trades, "ETH")
    for shown in (btc, eth):
        assert shown["BTC"] == "57.50% (target 55.00%, drift +2.50 points)"
        assert shown["ETH"] == "40.00% (target 45.00%, drift -5.00 points)"
        assert shown["cash"] == "25.00 USDT (2.50%)"
    # the trade's own coin, as before
    assert (btc["weight"], btc["target_weight"], btc["drift"]) == (
        "57.50%",
        "55.00%",
        "+2.50 points",
    )


def test_relative_mode_and_a_coin_held_but_not_targeted(mocker):
    # threshold 20 relative; targets BTC 60%, SOL 40% (not bought yet); ETH removed, still
    # held. BTC 57.50% is -2.50 points, -2.5 / 60 = -4.17% of its target; SOL 0%: -100.00%;
    # ETH 40.00% held, target 0: +40.00 points (no relative measure of a 0 target).
    section = {"coins": {"BTC": 60, "SOL": 40}, "investment": 800, "threshold": 20}
    glue, trades = portfolio(mocker, {**section, "threshold_mode": "relative"})
    shown = status_of(glue, trades, "ETH")
    assert shown["BTC"] == "57.50% (target 60.00%, drift -4.17% of target)"
    assert shown["SOL"] == "0.00% (target 40.00%, drift -100.00% of target)"
    assert shown["ETH"] == "40.00% (target 0.00%, drift +40.00 points)"
    assert list(shown)[2:5] == ["BTC", "SOL", "ETH"]  # the targets, then what is held besides


@dataclass
class Entry:
    cd_key: str
    value: Any


@dataclass
class StoredTrade(FakeTrade):
    """A trade whose custom data a database holds (``Trade.get_all_custom_data``)."""

    def get_all_custom_data(self) -> list[Entry]:
        return [Entry(k, v) for k, v in self.custom_data.items()]


def test_a_coin_gone_from_the_portfolio_is_not_shown_with_its_old_weight(mocker):
    # The last run showed SOL too; SOL was sold and removed. After the restart, every trade
    # still holding SOL's line says "-", and the rest is written as it is now.
    glue, _ = portfolio(mocker)
    old = {"SOL": "15.02% (target 15.00%, drift +0.02 points)", "portfolio_value": 998.73}
    trades = [
        StoredTrade("BTC/USDT", amount=0.0115, stake_amount=450.0, fee_open=0.0, id=1,
                    custom_data=dict(old)),
        StoredTrade("ETH/USDT", amount=0.2, stake_amount=325.0, fee_open=0.0, id=2,
                    custom_data=dict(old)),
    ]  # fmt: skip

    glue.status.after_loop(trades, NOW, glue.applied)

    for trade in trades:
        assert trade.custom_data["SOL"] == "-"
        assert trade.custom_data["portfolio_value"] == 1000.0
        assert trade.custom_data["BTC"].startswith("57.50%")
    written = trades[0].custom_data_writes
    glue.status.after_loop(trades, NOW + 31, glue.applied)  # nothing changed: nothing written
    assert trades[0].custom_data_writes == written


# ---- FreqUI's balance and the portfolio's value (dry-run) ----------------------------------------
def test_dry_run_names_the_entry_fees_freqtrades_balance_has_not_deducted(mocker):
    # Entry fee 0.2%: 450 x 0.002 + 325 x 0.002 = 0.90 + 0.65 = 1.55 USDT paid, counted by the
    # portfolio (its cash) but deducted by Freqtrade's dry-run wallet only at exit.
    glue, trades = portfolio(mocker)
    for trade in trades:
        trade.fee_open = 0.002
    shown = status_of(glue, trades)
    assert shown["unbooked_fees"].startswith("1.55 USDT: the open trades' entry fees, paid,")


def test_live_shows_no_unbooked_fees(mocker):
    # Live, Freqtrade's balance is the exchange's: the fee was taken there.
    glue = make_glue(mocker, SECTION, prices=PRICES, dry_run=False)
    glue.start()
    trades = [FakeTrade("BTC/USDT", amount=0.0115, stake_amount=450.0, id=1)]
    assert "unbooked_fees" not in status_of(glue, trades)


def test_a_coin_on_target_shows_no_negative_zero():
    # ETH 30.00% of a 30% target less float noise: "+0.00 points", not "-0.00 points"
    assert messages.drift_text(-0.004, False, "+") == "+0.00 points"
    assert messages.drift_text(-0.006, False, "+") == "-0.01 points"
    assert messages.coin_weight(0.3, 0.3, messages.drift_text(-1e-12, False, "+")) == (
        "30.00% (target 30.00%, drift +0.00 points)"
    )
