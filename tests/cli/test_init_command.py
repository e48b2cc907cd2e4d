"""``freqtrade-rebalance init``: one command writes the portfolio, the pair whitelist and
max_open_trades, keeps everything else, and refuses a bad portfolio without touching the file.
Also the command line itself: ``--help`` everywhere, ``report`` = ``python -m
rebalance_plugin.report``, the console script."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import tomllib

import pytest

from rebalance_plugin.cli import SUBCOMMANDS, build_parser
from rebalance_plugin.core.config import TEMPLATES
from rebalance_plugin.report import __main__ as report
from tests.helpers.paths import CCXT_STATIC, NO_SHARED_DATA, ROOT, SHARED_DATA

CHANGED_KEYS = {"rebalance", "exchange", "max_open_trades"}


def test_init_template_writes_the_three_settings_and_keeps_the_rest(cli, config_copy):
    before_text = config_copy.read_text()
    before = json.loads(before_text)
    res = cli("init", "--config", config_copy, "--template", "diversified")
    assert res.code == 0, res.err
    after = json.loads(config_copy.read_text())
    coins = TEMPLATES["diversified"]
    assert after["rebalance"]["coins"] == coins
    assert after["exchange"]["pair_whitelist"] == [f"{c}/USDT" for c in coins]
    assert after["max_open_trades"] == 9
    # Everything else as it was: the same keys in the same order, the same values.
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k not in CHANGED_KEYS} == {
        k: v for k, v in before.items() if k not in CHANGED_KEYS
    }
    assert {k: v for k, v in after["exchange"].items() if k != "pair_whitelist"} == {
        k: v for k, v in before["exchange"].items() if k != "pair_whitelist"
    }
    assert {k: v for k, v in after["rebalance"].items() if k != "coins"} == {
        k: v for k, v in before["rebalance"].items() if k != "coins"
    }
    # ... and in the text only those three lines changed (compact lines stay compact).
    lines = difflib.unified_diff(
        before_text.splitlines(), config_copy.read_text().splitlines(), n=0
    )
    changed = [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    keys = [line[1:].split(":")[0].strip() for line in changed]
    assert keys == ['"max_open_trades"', '"max_open_trades"', '"pair_whitelist"',
                    '"pair_whitelist"', '"coins"', '"coins"']  # fmt: skip
    # What it says: old -> new per key.
    assert "max_open_trades: 10 → 9" in res.out
    assert (
        "rebalance.coins: BTC 40 · ETH 30 · BNB 15 · SOL 15 → BTC 30 · ETH 25 · BNB 10" in res.out
    )
    assert "exchange.pair_whitelist: BTC/USDT, ETH/USDT, BNB/USDT, SOL/USDT → BTC/USDT" in res.out


@pytest.mark.parametrize(
    ("coins", "message"),
    [
        ("BTC=40,ETH=50", "rebalance.coins: weights must sum to 100 (within 1e-06), got 90.0 "
                          "(BTC 40 + ETH 50) (from --coins BTC=40,ETH=50)"),
        ("BTC=50,btc=50", "rebalance.coins (--coins): coin BTC is listed twice ('BTC=50' and "
                          "'btc=50'); list each coin once"),
        ("BTC=abc,ETH=50", "rebalance.coins (--coins): weight of BTC must be a number, got 'abc'"),
        ("BTC40,ETH60", "--coins: 'BTC40' is not COIN=WEIGHT; write e.g. --coins BTC=60,ETH=40"),
        ("BTC=100", "rebalance.coins must list 2 to 10 coins, got 1: BTC"),
        ("BTC=50,USDT=50", "rebalance.coins: 'USDT' is the stake currency USDT"),
    ],
)  # fmt: skip
def test_a_bad_coins_list_is_refused_and_the_file_untouched(cli, config_copy, coins, message):
    before = config_copy.read_bytes()
    res = cli("init", "--config", config_copy, "--coins", coins)
    assert res.code == 2
    assert f"refused, {config_copy} is unchanged." in res.err
    assert message in res.err
    assert config_copy.read_bytes() == before


def test_an_investment_under_the_exchange_minimum_is_refused_with_the_amount_needed(
    cli, config_copy
):
    # Binance's BTC/USDT and ETH/USDT minimum order is 5 USDT; the bot's first buy needs it
    # times Freqtrade's 1.5 reserve times (1 + fee 0.001): 7.5075. ETH at 5 % of 100 is 5.00;
    # the investment needed is 7.5075 / 5 % = 150.15.
    before = config_copy.read_bytes()
    res = cli("init", "--config", config_copy, "--coins", "BTC=95,ETH=5", "--investment", "100")
    assert res.code == 2
    assert (
        "rebalance.investment = 100 is too small: ETH gets 5% = 5.00 USDT, below the exchange "
        "minimum of 7.51 USDT for ETH/USDT; rebalance.investment needs at least 150.15 USDT"
    ) in res.err
    assert "pass --investment with at least that" in res.err
    assert config_copy.read_bytes() == before


def test_more_investment_than_the_dry_run_wallet_names_the_setting_and_the_fix(cli, config_copy):
    before = config_copy.read_bytes()
    res = cli("init", "--config", config_copy, "--template", "blue-chip", "--investment", "5000")
    assert res.code == 2
    assert (
        "dry_run_wallet = 1000 is below rebalance.investment = 5000. Fix: raise dry_run_wallet"
        in res.err
    )
    assert config_copy.read_bytes() == before


def test_settings_are_written_and_a_coin_outside_the_bundled_markets_is_said(cli, config_copy):
    res = cli("init", "--config", config_copy, "--coins", "btc=50,PEPE=50", "--trigger",
              "interval", "--interval", "1d", "--investment", 800, "--threshold", 2)  # fmt: skip
    assert res.code == 0, res.err
    section = json.loads(config_copy.read_text())["rebalance"]
    assert section["coins"] == {"BTC": 50, "PEPE": 50}
    settings = ("trigger", "interval", "investment", "threshold")
    assert [section[k] for k in settings] == ["interval", "1d", 800, 2]
    assert '"investment": 800,' in config_copy.read_text()  # written as 800, not 800.0
    assert "Not checked offline: PEPE/USDT (not in the bundled Binance spot markets" in res.out


def test_check_writes_nothing_and_comments_survive(cli, tmp_path):
    path = tmp_path / "config.json"
    text = (ROOT / "config.json").read_text().replace('"bot_name"', '// my bot\n    "bot_name"')
    path.write_text(text)
    res = cli("init", "--config", path, "--template", "blue-chip", "--check")
    assert res.code == 0 and "would change (--check: nothing written)" in res.out
    assert path.read_text() == text
    assert cli("init", "--config", path, "--template", "blue-chip").code == 0
    assert "// my bot\n" in path.read_text()


def test_a_missing_config_says_how_to_get_one(cli, tmp_path):
    res = cli("init", "--config", tmp_path / "mine.json", "--template", "blue-chip")
    assert res.code == 2
    assert f"config file {tmp_path / 'mine.json'} does not exist" in res.err
    assert f"cp {ROOT / 'config.json'} {tmp_path / 'mine.json'}" in res.err
    assert not (tmp_path / "mine.json").exists()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED_DATA)
def test_init_preset_writes_the_weights_presets_shows(cli, config_copy):
    shown = cli("presets", "--json", "--datadir", SHARED_DATA, "--source", "snapshot",
                "--config", config_copy)  # fmt: skip
    top5 = next(e for e in json.loads(shown.out) if e["name"] == "top5-mcap")
    res = cli("init", "--config", config_copy, "--preset", "top5-mcap", "--datadir",
              SHARED_DATA, "--source", "snapshot")  # fmt: skip
    assert res.code == 0, res.err
    after = json.loads(config_copy.read_text())
    assert after["rebalance"]["coins"] == top5["coins"]
    assert len(top5["coins"]) == 5 and sum(top5["coins"].values()) == pytest.approx(100)
    assert after["exchange"]["pair_whitelist"] == [f"{c}/USDT" for c in top5["coins"]]
    assert after["max_open_trades"] == 5
    assert (
        "Preset top5-mcap (top 5 coins by market cap, weighted by market cap); "
        "market caps: snapshot"
    ) in res.out


# ---- the command line -----------------------------------------------------------------------
@pytest.mark.parametrize("command", [name.replace("_", "-") for name in SUBCOMMANDS])
def test_every_subcommand_has_help(cli, command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(command, "--help")
    assert exit_.value.code == 0
    assert f"usage: freqtrade-rebalance {command}" in capsys.readouterr().out


def test_report_is_the_portfolio_view_with_the_same_arguments(cli, tmp_path, capsys):
    import argparse

    from rebalance_plugin.cli.report import add_arguments

    # The same options with the same defaults as `python -m rebalance_plugin.report`.
    direct = argparse.ArgumentParser()
    add_arguments(direct)
    via = vars(build_parser().parse_args(["report"]))
    assert {k: v for k, v in via.items() if k not in ("command", "_run")} == vars(
        direct.parse_args([])
    )
    # Same run, same outcome: no backtest result in an empty folder.
    args = ["--config", str(tmp_path / "none.json"), "--result", str(tmp_path / "nothing")]
    via_cli = cli("report", *args)
    assert report.main(args) == via_cli.code == 2
    assert capsys.readouterr().err == via_cli.err != ""


def test_the_console_script_is_declared_and_runs_as_a_module():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"freqtrade-rebalance": "rebalance_plugin.cli:main"}
    out = subprocess.run(
        [sys.executable, "-m", "rebalance_plugin.cli", "--help"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("usage: freqtrade-rebalance [-h] COMMAND ...")
    for command in ("init", "presets", "report"):
        assert f"\n    {command} " in out


# ---- --exchange and --stake-currency (issue 19) ------------------------------------------------
KRAKEN_MARKETS = CCXT_STATIC / "markets" / "kraken.json"


def test_init_exchange_kraken_writes_the_exchange_and_its_fee(cli, config_copy):
    res = cli(
        "init", "--config", config_copy, "--exchange", "kraken", "--markets", KRAKEN_MARKETS,
        "--coins", "BTC=40,ETH=30,ADA=15,XRP=15",
    )  # fmt: skip
    assert res.code == 0, res.err
    after = json.loads(config_copy.read_text())
    assert after["exchange"]["name"] == "kraken"
    assert after["exchange"]["pair_whitelist"] == ["BTC/USDT", "ETH/USDT", "ADA/USDT", "XRP/USDT"]
    # Kraken's BTC/USDT taker fee in ccxt's markets: 0.26 % (info.fees [[0, 0.26], ...]).
    assert after["fee"] == 0.0026
    # Kraken has Immediate-Or-Cancel orders: the unfilledtimeout is left alone.
    assert (
        after["unfilledtimeout"]
        == json.loads((ROOT / "config.json").read_text())["unfilledtimeout"]
    )


def test_init_exchange_okx_sets_a_short_unfilledtimeout_for_its_gtc_orders(cli, config_copy):
    res = cli("init", "--config", config_copy, "--exchange", "okx", "--template", "blue-chip")
    assert res.code == 0, res.err
    after = json.loads(config_copy.read_text())
    assert after["exchange"]["name"] == "okx"
    assert after["unfilledtimeout"] == {
        "entry": 30, "exit": 30, "exit_timeout_count": 0, "unit": "seconds"
    }  # fmt: skip
    assert "limit GTC at the best price" in res.out
    assert "Not checked offline: BTC/USDT, ETH/USDT (no markets file for okx" in res.out


def test_init_stake_currency_kraken_lacks_is_refused_with_what_it_trades(cli, config_copy):
    before = config_copy.read_text()
    res = cli(
        "init", "--config", config_copy, "--exchange", "kraken", "--markets", KRAKEN_MARKETS,
        "--stake-currency", "EUR", "--coins", "BTC=50,XRP=50",
    )  # fmt: skip
    assert res.code == 2
    assert "no spot market for BTC/EUR, XRP/EUR" in res.err
    assert "pass --stake-currency USD or USDT" in res.err
    assert config_copy.read_text() == before
    res = cli(
        "init", "--config", config_copy, "--exchange", "kraken", "--markets", KRAKEN_MARKETS,
        "--stake-currency", "USD", "--coins", "BTC=50,XRP=50",
    )  # fmt: skip
    assert res.code == 0, res.err
    after = json.loads(config_copy.read_text())
    assert (after["stake_currency"], after["exchange"]["pair_whitelist"]) == (
        "USD", ["BTC/USD", "XRP/USD"]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "said"),
    [("poloniex", "Freqtrade refuses poloniex"), ("krakn", "'krakn' is not an exchange ccxt")],
)
def test_init_refuses_an_exchange_freqtrade_cannot_use(cli, config_copy, name, said):
    before = config_copy.read_text()
    res = cli("init", "--config", config_copy, "--exchange", name, "--template", "blue-chip")
    assert res.code == 2
    assert said in res.err
    assert config_copy.read_text() == before
