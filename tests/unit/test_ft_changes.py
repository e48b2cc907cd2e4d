"""Config changes under a running portfolio (rebalance_plugin/ft/changes.py,
docs/live-trading.md#funds-and-coins): funds added or removed, coins changed, and the refusals the
user is told about once.

The portfolio in every test: BTC 60% / ETH 40% for 1000 USDT, BTC at 50000 and ETH at 2000.
It holds 0.01 BTC (bought for 500 USDT) and 0.2 ETH (bought for 400 USDT), each with a 0.1% fee:
its own cash is 1000 - 500 x 1.001 - 400 x 1.001 = 1000 - 500.5 - 400.4 = 99.1 USDT,
its value 0.01 x 50000 + 0.2 x 2000 + 99.1 = 500 + 400 + 99.1 = 999.1 USDT.
Each coin's smallest order is Freqtrade's first-buy minimum: 5 USDT x 1.5 = 7.5 USDT.
"""

from __future__ import annotations

from typing import Any

import pytest

from rebalance_plugin.core.funds import refusal_key
from tests.unit.ft_fakes import FakeTrade, Glue, make_glue

PRICES = {"BTC/USDT": 50000.0, "ETH/USDT": 2000.0}
NOW = 1_700_000_000.0


def running(mocker: Any, *, free: float = 600.0, dry_run: bool = True) -> tuple[Glue, list]:
    """The portfolio above, with ``free`` USDT free in the wallet (its own 99.1 included)."""
    glue = make_glue(mocker, dry_run=dry_run, free=free, prices=PRICES)
    glue.start()
    trades = [
        FakeTrade("BTC/USDT", amount=0.01, stake_amount=500.0, id=1),
        FakeTrade("ETH/USDT", amount=0.2, stake_amount=400.0, id=2),
    ]
    return glue, trades


def apply(glue: Glue, trades: list) -> tuple[bool, float, Any]:
    return glue.changes.apply(glue.reader.by_coin(trades), NOW, trades, glue.applied)


# ---- add funds -----------------------------------------------------------------------------------
def test_adding_funds_within_the_free_wallet_invests_them_now(mocker):
    # Most that may be added: the wallet's free 600, less the portfolio's own 99.1, plus a slack
    # of 0.1% of the investment (1 USDT) = 501.9. Least: 7.5 / 0.4 = 18.75 (ETH's share clears
    # its minimum). 500 is within.
    glue, trades = running(mocker, free=600.0)
    cfg = glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 1500})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw) == (True, 0.0)
    assert applied is cfg
    assert glue.book.investment == 1500.0
    assert glue.book.funded == 1500.0  # 1000 + 500
    assert glue.book.refused is None
    assert glue.said == ["Adding 500 USDT to the portfolio: rebalancing to invest it"]
    assert glue.saved().funded == 1500.0
    assert glue.wallets.updates >= 1  # a deposit made just now is seen


@pytest.mark.parametrize(
    ("dry_run", "hint"),
    [
        (True, "raise dry_run_wallet as well"),
        (False, "deposit the funds on the exchange first"),
    ],
)
def test_adding_more_than_the_free_wallet_is_refused_once(mocker, dry_run, hint):
    # Most that may be added: 600 - 99.1 + 1 = 501.9 (above); 600 is more.
    glue, trades = running(mocker, free=600.0, dry_run=dry_run)
    cfg = glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 1600})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw) == (False, 0.0)
    assert applied.investment == 1000.0  # the portfolio runs on as it was
    assert applied.coins == (("BTC", 60.0), ("ETH", 40.0))
    assert glue.book.investment == 1000.0
    assert glue.book.funded == 1000.0
    reason = "add funds: 600 USDT is above the maximum of 501.9 USDT"
    assert glue.book.refused == refusal_key(cfg, reason)
    assert glue.saved().refused == refusal_key(cfg, reason)  # a restart does not say it again
    assert glue.said == [
        "Config change refused: add funds: 600 USDT is above the maximum of 501.9 USDT "
        f"(adding funds: {hint}). The portfolio keeps running on 1000 USDT: BTC 60%, ETH 40%"
    ]

    # The next loop (and every loop after it) on the same config says nothing more.
    for _ in range(3):
        assert apply(glue, trades)[:2] == (False, 0.0)
    assert len(glue.said) == 1


def test_the_refusal_names_dry_run_wallet_as_code_in_telegram(mocker):
    # Telegram reads strategy messages as Markdown: dry_run_wallet unquoted would be italics.
    glue, trades = running(mocker, free=600.0, dry_run=True)
    glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 1600})
    apply(glue, trades)
    assert "raise `dry_run_wallet` as well" in glue.dp.messages[0]


def test_a_new_edit_after_a_refusal_is_judged_afresh(mocker):
    glue, trades = running(mocker, free=600.0)
    glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 1600})  # 600: refused
    apply(glue, trades)
    glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 1400})  # 400 <= 501.9

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw, applied.investment) == (True, 0.0, 1400.0)
    assert glue.book.funded == 1400.0  # 1000 + 400
    assert glue.book.refused is None
    assert glue.said[1:] == ["Adding 400 USDT to the portfolio: rebalancing to invest it"]


# ---- remove funds --------------------------------------------------------------------------------
def test_removing_funds_asks_the_engine_to_withdraw_them(mocker):
    # Least that may be removed: min(7.5 / 0.6, 7.5 / 0.4) = 12.5; most: the value less what
    # keeps every share above its minimum, 999.1 - 18.75 = 980.35. 200 is within.
    glue, trades = running(mocker)
    cfg = glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": 800})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw) == (False, 200.0)
    assert applied is cfg
    assert glue.book.investment == 800.0
    assert glue.book.funded == 1000.0  # reduced only by what the sells actually free
    assert glue.said == ["Removing 200 USDT from the portfolio: selling each coin's share"]


@pytest.mark.parametrize(
    ("investment", "refusal"),
    [
        (990, "remove funds: 10 USDT is below the minimum of 12.5 USDT"),  # 10 < 12.5
        (5, "remove funds: 995 USDT is above the maximum of 980.35 USDT"),  # 995 > 980.35
    ],
)
def test_removing_funds_out_of_range_is_refused(mocker, investment, refusal):
    glue, trades = running(mocker)
    cfg = glue.reconfigure({"coins": {"BTC": 60, "ETH": 40}, "investment": investment})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw, applied.investment) == (False, 0.0, 1000.0)
    assert glue.book.investment == 1000.0
    assert glue.book.refused == refusal_key(cfg, refusal)
    assert glue.said == [
        f"Config change refused: {refusal}. The portfolio keeps running on 1000 USDT: "
        "BTC 60%, ETH 40%"
    ]


# ---- coins ---------------------------------------------------------------------------------------
def test_changing_coins_while_removing_funds_is_refused_in_two_steps(mocker):
    glue, trades = running(mocker)
    glue.reconfigure({"coins": {"BTC": 50, "ETH": 50}, "investment": 900})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw) == (False, 0.0)
    assert applied.coins == (("BTC", 60.0), ("ETH", 40.0))
    assert applied.investment == 1000.0
    assert glue.book.coins == (("BTC", 60.0), ("ETH", 40.0))
    assert len(glue.said) == 1
    assert glue.said[0].startswith(
        "Config change refused: change the coins and remove funds in two steps: first the coins "
        "(same or higher investment), then the investment"
    )
    assert glue.said[0].endswith("The portfolio keeps running on 1000 USDT: BTC 60%, ETH 40%")


@pytest.mark.parametrize("sol_market", [None, "inactive"])
def test_a_new_coin_without_a_spot_market_is_refused_naming_the_pair(mocker, sol_market):
    glue, trades = running(mocker)
    if sol_market == "inactive":
        glue.dp.markets["SOL/USDT"] = {**glue.dp.markets["ETH/USDT"], "active": False}
    glue.reconfigure({"coins": {"BTC": 40, "ETH": 30, "SOL": 30}, "investment": 1000})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw) == (False, 0.0)
    assert applied.coins == (("BTC", 60.0), ("ETH", 40.0))
    assert glue.book.coins == (("BTC", 60.0), ("ETH", 40.0))
    assert len(glue.said) == 1
    assert glue.said[0].startswith("Config change refused: no spot market for SOL/USDT")
    assert "The portfolio keeps running on 1000 USDT: BTC 60%, ETH 40%" in glue.said[0]
    apply(glue, trades)
    assert len(glue.said) == 1  # said once


def test_a_coin_change_refused_without_added_funds_gives_no_funding_hint(mocker):
    glue, trades = running(mocker)
    glue.reconfigure({"coins": {"BTC": 40, "ETH": 30, "SOL": 30}, "investment": 1000})
    apply(glue, trades)
    assert "dry_run_wallet" not in glue.said[0]


def test_a_new_allocation_with_a_market_rebalances_now(mocker):
    glue, trades = running(mocker)
    glue.dp.markets["SOL/USDT"] = glue.dp.markets["ETH/USDT"]
    cfg = glue.reconfigure({"coins": {"BTC": 40, "ETH": 30, "SOL": 30}, "investment": 1000})

    force, withdraw, applied = apply(glue, trades)

    assert (force, withdraw, applied) == (True, 0.0, cfg)
    assert glue.book.coins == (("BTC", 40.0), ("ETH", 30.0), ("SOL", 30.0))
    assert glue.book.funded == 1000.0  # no funds added
    assert "SOL" in glue.markets.rules  # its rules are known before its first order
    assert glue.said == ["New allocation BTC 40%, ETH 30%, SOL 30%: rebalancing"]


def test_the_same_add_is_accepted_after_the_user_raised_the_wallet_and_reloaded(mocker):
    glue, trades = running(mocker, free=600.0)
    section = {"coins": {"BTC": 60, "ETH": 40}, "investment": 1600}
    glue.reconfigure(section)
    apply(glue, trades)  # 600 > 501.9: refused, "raise dry_run_wallet as well"
    saved = dict(glue.kv.rows)

    # dry_run_wallet raised to 1200, then /reload_config: a new strategy loads the record.
    # Most that may be added now: 1200 - 99.1 + 1 = 1101.9 >= 600.
    again, trades = running(mocker, free=1200.0)
    again.kv.rows.update(saved)
    assert again.store.load()
    again.reconfigure(section)

    force, _, applied = apply(again, trades)

    assert (force, applied.investment) == (True, 1600.0)
    assert again.said == ["Adding 600 USDT to the portfolio: rebalancing to invest it"]


def test_a_reload_with_the_same_refusal_says_nothing_more(mocker):
    # Refused (600 > 501.9); then /reload_config (or a restart) with the wallet unchanged: the
    # limits are checked again, the reason is the same, so nothing is said again.
    glue, trades = running(mocker, free=600.0)
    section = {"coins": {"BTC": 60, "ETH": 40}, "investment": 1600}
    glue.reconfigure(section)
    apply(glue, trades)
    saved = dict(glue.kv.rows)

    again, trades = running(mocker, free=600.0)
    again.kv.rows.update(saved)
    assert again.store.load()
    again.reconfigure(section)

    assert apply(again, trades)[:2] == (False, 0.0)
    assert again.said == []
    assert again.wallets.updates >= 1  # checked again, not skipped


def test_a_reload_with_a_new_reason_says_it(mocker):
    # Refused at 600 free (most 501.9); reloaded with 550 free: most is now 550 - 99.1 + 1 =
    # 451.9, a different reason, said once.
    glue, trades = running(mocker, free=600.0)
    section = {"coins": {"BTC": 60, "ETH": 40}, "investment": 1600}
    glue.reconfigure(section)
    apply(glue, trades)
    saved = dict(glue.kv.rows)

    again, trades = running(mocker, free=550.0)
    again.kv.rows.update(saved)
    assert again.store.load()
    again.reconfigure(section)

    apply(again, trades)
    assert len(again.said) == 1
    assert again.said[0].startswith(
        "Config change refused: add funds: 600 USDT is above the maximum of 451.9 USDT"
    )
