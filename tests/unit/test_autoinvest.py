"""Auto-invest (docs/auto-invest.md, issue 10): the ``auto_invest`` key, its schedule and how a
deposit is shared between the coins. The expected times and values are worked out by hand in the
comments (2024-01-01 is a Monday; 2024 has 366 days, hence 53 Mondays)."""

from datetime import UTC, datetime

import pytest

from rebalance_plugin.core.autoinvest import (
    AutoInvest,
    cash_flow_values,
    deposit_refusal,
    deposit_times,
    next_deposit,
    parse_auto_invest,
)
from rebalance_plugin.core.config import ConfigError, parse_rebalance_config
from rebalance_plugin.core.plan import plan_cash_flow
from rebalance_plugin.core.portfolio import Portfolio
from rebalance_plugin.core.rules import MarketRules

WEEKLY = {"amount": 100, "every": "weekly", "weekday": "MON", "hour": 9}


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def section(auto_invest) -> dict:
    return {"coins": {"BTC": 60, "ETH": 40}, "investment": 1000, "auto_invest": auto_invest}


# --- the key ---------------------------------------------------------------------------------


def test_readme_example_parses():
    cfg = parse_rebalance_config(section(WEEKLY))
    assert cfg.auto_invest == AutoInvest(100.0, "weekly", hour=9, weekday=0)


def test_null_or_absent_is_off():
    assert parse_rebalance_config(section(None)).auto_invest is None
    assert (
        parse_rebalance_config({"coins": {"BTC": 60, "ETH": 40}, "investment": 1}).auto_invest
        is None
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"amount": 10, "every": "hourly"},
        {"amount": 10, "every": "4h", "hour": 1},
        {"amount": 10, "every": "8h"},
        {"amount": 10, "every": "12h", "hour": 23},
        {"amount": 10, "every": "daily", "hour": 0},
        {"amount": 10, "every": "biweekly", "weekday": "sun"},
        {"amount": 10.5, "every": "monthly", "day": 28, "hour": 9},
    ],
)
def test_every_cycle_is_accepted(raw):
    assert parse_rebalance_config(section(raw)).auto_invest is not None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("weekly", "rebalance.auto_invest must be null (off) or an object"),
        ({"every": "weekly", "weekday": "MON"}, "rebalance.auto_invest.amount is missing"),
        ({**WEEKLY, "amount": 0}, "rebalance.auto_invest.amount = 0: write the amount"),
        ({**WEEKLY, "amount": True}, "rebalance.auto_invest.amount = True"),
        ({**WEEKLY, "every": "2d"}, "rebalance.auto_invest.every = '2d': write one of hourly, 4h"),
        ({**WEEKLY, "weekday": "MONDAY"}, "weekday = 'MONDAY': write one of MON, TUE"),
        ({"amount": 1, "every": "weekly"}, "rebalance.auto_invest.weekday is missing"),
        ({"amount": 1, "every": "daily", "weekday": "MON"}, "weekday is for weekly and biweekly"),
        ({"amount": 1, "every": "monthly"}, "rebalance.auto_invest.day is missing"),
        (
            {"amount": 1, "every": "monthly", "day": 29},
            "day = 29: write a whole number from 1 to 28",
        ),
        ({"amount": 1, "every": "weekly", "weekday": "MON", "day": 3}, "day is for monthly"),
        ({**WEEKLY, "hour": 24}, "hour = 24: write a whole number from 0 to 23"),
        ({**WEEKLY, "hour": 9.5}, "hour = 9.5: write a whole number"),
        ({"amount": 1, "every": "hourly", "hour": 3}, "hourly deposits are made every hour"),
        ({**WEEKLY, "amont": 5}, "unknown key(s) amont; known keys are amount, every"),
    ],
)
def test_a_bad_setting_is_refused_naming_key_value_and_fix(raw, says):
    with pytest.raises(ConfigError, match=None) as err:
        parse_rebalance_config(section(raw))
    assert says in str(err.value)


def test_parse_auto_invest_alone():
    assert parse_auto_invest({"amount": 5, "every": "monthly", "day": 1}) == AutoInvest(
        5.0, "monthly", 0, None, 1
    )


# --- the schedule ----------------------------------------------------------------------------

WEEKLY_PLAN = AutoInvest(100, "weekly", hour=9, weekday=0)


@pytest.mark.parametrize(
    ("plan", "after", "expected"),
    [
        # Monday 2024-01-01 00:00 -> that Monday 09:00; exactly at 09:00 -> the next Monday
        (WEEKLY_PLAN, ts(2024, 1, 1), ts(2024, 1, 1, 9)),
        (WEEKLY_PLAN, ts(2024, 1, 1, 9), ts(2024, 1, 8, 9)),
        (WEEKLY_PLAN, ts(2024, 1, 3, 15), ts(2024, 1, 8, 9)),
        # hourly: the next full hour
        (AutoInvest(1, "hourly"), ts(2024, 1, 1, 10, 30), ts(2024, 1, 1, 11)),
        (AutoInvest(1, "hourly"), ts(2024, 1, 1, 11), ts(2024, 1, 1, 12)),
        # 8h from 09:00: 01:00, 09:00, 17:00
        (AutoInvest(1, "8h", hour=9), ts(2024, 1, 1, 10), ts(2024, 1, 1, 17)),
        (AutoInvest(1, "8h", hour=9), ts(2024, 1, 1, 18), ts(2024, 1, 2, 1)),
        (AutoInvest(1, "4h", hour=2), ts(2024, 1, 1, 23), ts(2024, 1, 2, 2)),
        (AutoInvest(1, "12h"), ts(2024, 1, 1, 0), ts(2024, 1, 1, 12)),
        # daily at 23:00 over the leap day
        (AutoInvest(1, "daily", hour=23), ts(2024, 2, 28, 23), ts(2024, 2, 29, 23)),
        # monthly: the 28th, then the next month's; over the new year
        (AutoInvest(1, "monthly", day=28), ts(2024, 1, 28), ts(2024, 2, 28)),
        (AutoInvest(1, "monthly", hour=12, day=15), ts(2024, 12, 20), ts(2025, 1, 15, 12)),
        (AutoInvest(1, "monthly", hour=12, day=15), ts(2024, 12, 15, 11), ts(2024, 12, 15, 12)),
    ],
)
def test_next_deposit(plan, after, expected):
    assert next_deposit(plan, after) == expected


def test_biweekly_counts_from_the_first_slot_after_the_start():
    # started Monday 2024-01-01: the Wednesdays 01-03, 01-17, 01-31 at 09:00
    plan = AutoInvest(1, "biweekly", hour=9, weekday=2)
    start = ts(2024, 1, 1)
    assert next_deposit(plan, start, start) == ts(2024, 1, 3, 9)
    assert next_deposit(plan, ts(2024, 1, 3, 9), start) == ts(2024, 1, 17, 9)
    assert next_deposit(plan, ts(2024, 1, 10), start) == ts(2024, 1, 17, 9)
    assert next_deposit(plan, ts(2024, 1, 18), start) == ts(2024, 1, 31, 9)
    assert deposit_times(plan, start, ts(2024, 2, 1)) == [
        ts(2024, 1, 3, 9),
        ts(2024, 1, 17, 9),
        ts(2024, 1, 31, 9),
    ]


def test_deposit_times_over_2024_are_its_53_mondays():
    times = deposit_times(WEEKLY_PLAN, ts(2024, 1, 1), ts(2024, 12, 31, 23))
    assert len(times) == 53
    assert times[0] == ts(2024, 1, 1, 9) and times[-1] == ts(2024, 12, 30, 9)
    assert all(datetime.fromtimestamp(t, UTC).strftime("%a %H") == "Mon 09" for t in times)


def test_monthly_over_a_year_is_twelve():
    plan = AutoInvest(1, "monthly", day=1)
    assert len(deposit_times(plan, ts(2023, 12, 31), ts(2024, 12, 31))) == 12


# --- whether a deposit can be paid ----------------------------------------------------------

WALLET = "the account's free USDT"


def refusal(amount, funded, capital, spare, slack=1.0):
    return deposit_refusal(
        amount, funded, capital, lambda: spare, slack=slack, wallet=WALLET, stake="USDT"
    )


def test_a_deposit_within_the_capital_and_the_spare_money_is_paid():
    # 1000 funded + 100 = 1100 <= 1150; 150 spare >= 100
    assert refusal(100.0, 1000.0, 1150.0, 150.0) is None
    assert refusal(100.0, 1000.0, None, 150.0) is None  # no available_capital: no cap


def test_a_deposit_beyond_available_capital_is_refused_without_reading_the_wallet():
    def wallet_read():
        raise AssertionError("the wallet is read only when the capital holds")

    why = deposit_refusal(
        100.0, 1100.0, 1150.0, wallet_read, slack=1.1, wallet=WALLET, stake="USDT"
    )
    assert why == (
        "available_capital = 1150 is this bot's share of the account and the portfolio has "
        "1100 USDT of it; raise available_capital to make room for the deposits"
    )


def test_the_capital_is_passed_by_no_more_than_fee_rounding():
    # 1100.00001 is beyond 1100 by 1e-7 of the deposit: within CAPITAL_SLACK (1e-6 of it)
    assert refusal(100.0, 1000.00001, 1100.0, 150.0) is None
    assert refusal(100.0, 1000.001, 1100.0, 150.0) is not None  # 1e-5 of it: refused


def test_a_deposit_short_of_spare_money_is_refused_naming_the_wallet():
    # 60 spare + 1 of slack < 100
    assert refusal(100.0, 1000.0, None, 60.0) == (
        "the account's free USDT has 60.00 USDT beyond the portfolio's own money"
    )
    # the portfolio's own cash beyond the wallet: nothing spare, shown as 0
    assert "has 0.00 USDT beyond" in refusal(100.0, 1000.0, None, -5.0)


def test_cents_of_rounding_do_not_refuse_a_deposit():
    assert refusal(100.0, 1000.0, None, 99.0, slack=1.0) is None  # 99 + 1 covers 100
    assert refusal(100.0, 1000.0, None, 98.99, slack=1.0) is not None


def test_without_a_wallet_to_ask_only_the_capital_limits():
    assert refusal(100.0, 1000.0, None, None) is None


# --- cash-flow sharing -----------------------------------------------------------------------

TARGETS = {"BTC": 0.5, "ETH": 0.3, "BNB": 0.2}
ONE = {"BTC": 1.0, "ETH": 1.0, "BNB": 1.0}


def test_the_two_underweight_coins_are_topped_up_equally_short():
    # BTC 400 / ETH 400 / BNB 100 + 100 -> 1000: short BTC 100, ETH -100 (over), BNB 100.
    # The 100 closes both shortfalls equally: BTC 50, BNB 50 (each ends 50 short); ETH nothing.
    values = {"BTC": 400.0, "ETH": 400.0, "BNB": 100.0}
    assert cash_flow_values(values, TARGETS, 1000.0, 100.0) == {"BTC": 50.0, "BNB": 50.0}


def test_the_most_underweight_coin_first():
    # 300 each + 100 -> 1000: short BTC 200, ETH 0, BNB -100: all 100 to BTC (ends 100 short)
    values = {"BTC": 300.0, "ETH": 300.0, "BNB": 300.0}
    assert cash_flow_values(values, TARGETS, 1000.0, 100.0) == {"BTC": 100.0}


def test_at_the_targets_a_deposit_is_bought_at_the_targets():
    # BTC 500 / ETH 300 / BNB 200 + 100 -> 1100: short 50 / 30 / 20, exactly the deposit
    values = {"BTC": 500.0, "ETH": 300.0, "BNB": 200.0}
    got = cash_flow_values(values, TARGETS, 1100.0, 100.0)
    assert got == pytest.approx({"BTC": 50.0, "ETH": 30.0, "BNB": 20.0})


def test_plan_cash_flow_pays_the_fee_and_sells_nothing():
    # 100.1 deposited, fee 0.1%: 100 of coins bought, 0.1 of fee; the portfolio is then
    # 900 + 100.1 - 0.1 = 1000 and the buys are those of the first example: BTC 50, BNB 50.
    pf = Portfolio({"BTC": 400.0, "ETH": 400.0, "BNB": 100.0}, ONE, cash=100.1)
    plan = plan_cash_flow(pf, TARGETS, 100.1, fee=0.001)
    assert not plan.sells and not plan.skipped
    assert {leg.coin: leg.qty for leg in plan.buys} == pytest.approx({"BTC": 50.0, "BNB": 50.0})


def test_a_leg_under_the_minimum_gives_its_share_to_the_others():
    # BTC 440 / ETH 400 / BNB 130 + 30 -> 1000: short BTC 60, ETH -100, BNB 70.
    # Shared: BNB 70-50 = 20, BTC 60-50 = 10; BTC's 10 is under the minimum of 15, so BNB gets
    # all 30.
    rules = {c: MarketRules(qty_step=0.001, min_notional=15) for c in ONE}
    pf = Portfolio({"BTC": 440.0, "ETH": 400.0, "BNB": 130.0}, ONE, cash=30.0)
    plan = plan_cash_flow(pf, TARGETS, 30.0, rules)
    assert {leg.coin: leg.qty for leg in plan.buys} == pytest.approx({"BNB": 30.0})
    assert not plan.skipped


def test_no_leg_can_trade_all_are_skipped():
    rules = {c: MarketRules(qty_step=0.001, min_notional=50) for c in ONE}
    pf = Portfolio({"BTC": 440.0, "ETH": 400.0, "BNB": 130.0}, ONE, cash=30.0)
    plan = plan_cash_flow(pf, TARGETS, 30.0, rules)
    assert not plan.legs
    assert {s.coin: s.value for s in plan.skipped} == pytest.approx({"BNB": 20.0, "BTC": 10.0})


def test_quantities_are_rounded_down_to_the_step():
    # BTC at 40000, step 0.00001: 50 USDT = 0.00125 BTC exactly; BNB at 300, step 0.001:
    # 50 / 300 = 0.16666 -> 0.166
    prices = {"BTC": 40000.0, "ETH": 1.0, "BNB": 300.0}
    qty = {"BTC": 400 / 40000, "ETH": 400.0, "BNB": 100 / 300}
    rules = {"BTC": MarketRules(qty_step=1e-05), "BNB": MarketRules(qty_step=0.001)}
    plan = plan_cash_flow(Portfolio(qty, prices, cash=100.0), TARGETS, 100.0, rules)
    assert {leg.coin: leg.qty for leg in plan.buys} == pytest.approx({"BTC": 0.00125, "BNB": 0.166})


# --- the engine and the journal --------------------------------------------------------------


def test_the_engine_invests_a_deposit_selling_nothing_and_journals_its_amount():
    from rebalance_plugin.core import journal
    from rebalance_plugin.core.engine import Snapshot, State, step

    cfg = parse_rebalance_config(
        {"coins": {"BTC": 50, "ETH": 30, "BNB": 20}, "investment": 900, "auto_invest": WEEKLY}
    )
    # the first example: 400 / 400 / 100 and the deposit of 100 in cash -> BTC 50, BNB 50
    pf = Portfolio({"BTC": 400.0, "ETH": 400.0, "BNB": 100.0}, ONE, cash=100.0)
    snap = Snapshot(
        now=ts(2024, 1, 8, 9), portfolio=pf, rules={}, fee=0.0, first_buy=0.0, deposit=100.0
    )
    out = step(cfg, State(), snap)
    assert out.state == State()  # a deposit is no rebalance: the trigger's state is untouched
    assert {c: (leg.side, leg.qty) for c, leg in out.orders.items()} == {
        "BTC": ("buy", 50.0),
        "BNB": ("buy", 50.0),
    }
    (event,) = out.events
    assert event.kind == "deposit" and event.amount == 100.0
    assert event.weights_after == pytest.approx({"BTC": 0.45, "ETH": 0.4, "BNB": 0.15})
    line = journal.record(event)
    assert line["kind"] == "deposit" and line["amount"] == 100.0
    assert [leg["side"] for leg in line["legs"]] == ["buy", "buy"]
