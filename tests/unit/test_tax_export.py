"""The tax export's formats and refusals (rebalance_plugin/tax/), on small histories worked by
hand; the example of docs/taxes.md#worked-example cross-checked with rp2. Real backtests and a
real bot's database: tests/backtest/test_tax_backtest.py and tests/e2e/test_tax_database.py."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from rebalance_plugin import tax
from rebalance_plugin.cli import main
from rebalance_plugin.core import taxlots
from tests.helpers.rp2run import Trade, rp2_sales
from tests.unit.test_taxlots import BY_HAND, EXAMPLE, at, fill

# A buy of 0.02417 BTC at 16,529.59 (value 399.5201903, fee 0.1% = 0.3995201903) and its sale
# at 23,141.57 (value 559.3317469, fee 0.5593317469): gain 559.3317469 - 0.5593317469 -
# 399.5201903 - 0.3995201903 = 158.8527046697.
BUY = fill("2023-01-01", "buy", 0.02417, 16529.59, tag="", ref="8841")
SELL = fill("2023-03-01", "sell", 0.02417, 23141.57, tag="rebalance sell", ref="9902")
HISTORY = tax.History([BUY, SELL], "USDT", "binance", "tradesv3.dryrun.sqlite", backtest=False)


def test_the_gains_row_of_a_sale():
    (row,) = tax.gains_rows(taxlots.match(HISTORY.fills))
    assert row == {
        "date": "2023-03-01 00:00:00",
        "coin": "BTC",
        "quantity": "0.02417",
        "proceeds": "558.77",  # 558.7724151531
        "cost_basis": "399.92",  # 399.9197104903
        "gain": "158.85",
        "fee": "0.56",
        "holding_days": "59.00",
        "method": "fifo",
    }


def test_money_is_rounded_half_up_to_the_cent():
    assert [tax.money(x) for x in (64.615, -24.116, -4.096, 0.004, -0.004, 1e6 / 3)] == [
        "64.62",
        "-24.12",
        "-4.10",
        "0.00",
        "0.00",
        "333333.33",
    ]
    assert [tax.amount(x) for x in (0.02417, 15.0, 0.1 + 0.2, 1e-9)] == [
        "0.02417",
        "15",
        "0.3",
        "0",
    ]


def test_koinly_rows_send_and_receive_before_the_fee():
    buy, sell = tax.koinly_rows(HISTORY)
    assert buy == {
        "Date": "2023-01-01 00:00:00 UTC",
        "Sent Amount": "399.5201903",
        "Sent Currency": "USDT",
        "Received Amount": "0.02417",
        "Received Currency": "BTC",
        "Fee Amount": "0.39952019",
        "Fee Currency": "USDT",
        "Net Worth Amount": "",
        "Net Worth Currency": "",
        "Label": "",
        "Description": "freqtrade-rebalance: first buy",
        "TxHash": "8841",
    }
    assert (sell["Sent Amount"], sell["Sent Currency"]) == ("0.02417", "BTC")
    assert (sell["Received Amount"], sell["Received Currency"]) == ("559.3317469", "USDT")
    assert (sell["Fee Amount"], sell["Description"]) == (
        "0.55933175",
        "freqtrade-rebalance: rebalance sell",
    )


def test_cointracking_rows_are_trades_with_the_fee_apart():
    buy, sell = tax.cointracking_rows(HISTORY)
    assert buy == {
        "Type": "Trade",
        "Buy Amount": "0.02417",
        "Buy Currency": "BTC",
        "Sell Amount": "399.5201903",
        "Sell Currency": "USDT",
        "Fee": "0.39952019",
        "Fee Currency": "USDT",
        "Exchange": "Binance",
        "Trade-Group": "freqtrade-rebalance",
        "Comment": "freqtrade-rebalance: first buy (order 8841)",
        "Date": "01.01.2023 00:00:00",
    }
    assert (sell["Buy Amount"], sell["Buy Currency"], sell["Sell Currency"]) == (
        "559.3317469",
        "USDT",
        "BTC",
    )


def test_the_csv_files_have_the_tools_headers(tmp_path):
    koinly = tax.export(HISTORY, "koinly", "fifo", tmp_path / "k.csv").read_text()
    assert koinly.splitlines()[0] == (
        "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,"
        "Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash"
    )
    ct = tax.export(HISTORY, "cointracking", "fifo", tmp_path / "c.csv").read_text()
    assert ct.splitlines()[0] == (
        '"Type","Buy Amount","Buy Currency","Sell Amount","Sell Currency","Fee","Fee Currency",'
        '"Exchange","Trade-Group","Comment","Date"'
    )
    gains = tax.export(HISTORY, "gains", "hifo", tmp_path / "g.csv").read_text()
    assert gains.splitlines()[0] == (
        "date,coin,quantity,proceeds,cost_basis,gain,fee,holding_days,method"
    )
    assert gains.splitlines()[1].endswith(",hifo")


def test_a_backtest_says_so_in_every_imported_row():
    history = tax.History(
        [BUY, fill("2023-03-01", "sell", 0.02417, 23141.57, tag="force_exit", final=True)],
        "USDT",
        "binance",
        "/x/backtest-result-2026-12-01_18-45-10.zip",
        backtest=True,
    )
    _, sell = tax.koinly_rows(history)
    assert sell["Description"] == (
        "freqtrade-rebalance: force_exit; closing sale at the end of the backtest; "
        "BACKTEST backtest-result-2026-12-01_18-45-10.zip, not a real trade"
    )


def test_the_totals_per_year_and_coin():
    text = tax.format_totals(taxlots.match(EXAMPLE, "fifo"), "USDT", "fifo")
    lines = text.splitlines()
    assert lines[0] == "Realised gains by FIFO (USDT):"
    # 2023: 239.76 - 170.17 = 69.59; 2024: 45.954 - 70.07 = -24.116; all: 45.474
    assert lines[3].split()[:6] == ["2023", "1", "239.76", "170.17", "69.59", "0.24"]
    assert lines[4].split()[:6] == ["2024", "1", "45.95", "70.07", "-24.12", "0.05"]
    assert lines[6].split()[:6] == ["BTC", "2", "285.71", "240.24", "45.47", "0.29"]
    assert lines[8].split() == ["total", "2", "285.71", "240.24", "45.47", "0.29"]


@pytest.mark.parametrize("method", ["fifo", "hifo"])
def test_the_readme_example_agrees_with_rp2(tmp_path, method):
    trades = [Trade(f.time, f.coin, f.side, f.quantity, f.price, f.fee) for f in EXAMPLE]
    theirs = rp2_sales(trades, method, tmp_path)
    assert [s.cost_basis for s in theirs] == pytest.approx([b for b, _, _ in BY_HAND[method]])
    assert [s.gain for s in theirs] == pytest.approx([g for _, g, _ in BY_HAND[method]])


# ---- refusals ---------------------------------------------------------------------------------
def run_cli(*args: object, capsys) -> tuple[int, str, str]:
    code = main(["tax", *(str(a) for a in args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_missing_database_file_is_named_with_the_fix(tmp_path, capsys):
    code, _, err = run_cli("--db-url", f"sqlite:///{tmp_path}/nope.sqlite", capsys=capsys)
    assert code == 2
    assert err == (
        f"freqtrade-rebalance tax: --db-url sqlite:///{tmp_path}/nope.sqlite: no database file "
        f"{tmp_path}/nope.sqlite (give the bot's db_url: by default sqlite:///tradesv3.sqlite, "
        "or tradesv3.dryrun.sqlite in dry-run, beside the bot's config)\n"
    )
    assert not (tmp_path / "nope.sqlite").exists()  # not created


def test_a_database_without_freqtrade_tables_is_refused_and_left_alone(tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table notes (x int)")
    before = path.read_bytes()
    code, _, err = run_cli("--db-url", f"sqlite:///{path}", capsys=capsys)
    assert code == 2
    assert "is not a Freqtrade database (no trades and orders tables): give the bot's db_url" in err
    assert path.read_bytes() == before


def test_a_missing_backtest_result_says_how_to_make_one(tmp_path, capsys):
    code, _, err = run_cli("--backtest", tmp_path / "none.zip", capsys=capsys)
    assert code == 2
    assert "no backtest result" in err and "run a backtest first" in err


def test_final_exits_are_a_backtest_option(tmp_path, capsys):
    code, _, err = run_cli(
        "--db-url", f"sqlite:///{tmp_path}/x.sqlite", "--without-final-exits", capsys=capsys
    )
    assert code == 2
    assert "--without-final-exits applies to a backtest" in err


def test_the_written_gains_csv_parses_back(tmp_path):
    path = tax.export(HISTORY, "gains", "fifo", tmp_path / "g.csv")
    (row,) = csv.DictReader(io.StringIO(path.read_text()))
    assert float(row["gain"]) == pytest.approx(158.85)
    assert at("2023-03-01").strftime("%Y-%m-%d %H:%M:%S") == row["date"]


def test_the_export_opens_sqlite_read_only(tmp_path):
    import sqlalchemy

    path = tmp_path / "bot.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table trades (x int)")
    engine = tax._readonly_engine(f"sqlite:///{path}")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="readonly database"):
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("insert into trades values (1)"))
    engine.dispose()
