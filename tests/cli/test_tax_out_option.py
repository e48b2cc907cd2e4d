"""``freqtrade-rebalance tax -o FILE``: the short form of ``--out`` every CSV tool offers.

The source is a backtest result in Freqtrade's own JSON layout, written here with one BTC trade:
0.02417 BTC bought at 16,529.59 on 2023-01-01 and sold at 23,141.57 on 2023-03-01, fee 0.1%
each way. By hand: proceeds 0.02417 x 23,141.57 = 559.3317469 less the fee 0.5593317469 =
558.77; cost 0.02417 x 16,529.59 = 399.5201903 plus the fee 0.3995201903 = 399.92; gain 158.85.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

STRATEGY = "RebalanceStrategy"


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def order(side: str, amount: float, price: float, day: str) -> dict:
    return {
        "amount": amount,
        "safe_price": price,
        "ft_order_side": side,
        "ft_is_entry": side == "buy",
        "order_filled_timestamp": ms(day),
        "ft_order_tag": "" if side == "buy" else "rebalance sell",
        "cost": amount * price,
    }


def result_file(tmp_path: Path) -> Path:
    trade = {
        "pair": "BTC/USDT",
        "open_date": "2023-01-01 00:00:00+00:00",
        "close_date": "2023-03-01 00:00:00+00:00",
        "fee_open": 0.001,
        "fee_close": 0.001,
        "enter_tag": "",
        "stake_amount": 399.5201903,
        "amount": 0.02417,
        "orders": [
            order("buy", 0.02417, 16529.59, "2023-01-01"),
            order("sell", 0.02417, 23141.57, "2023-03-01"),
        ],
    }
    stats = {
        "trades": [trade],
        "stake_currency": "USDT",
        "backtest_start_ts": ms("2023-01-01"),
        "backtest_end_ts": ms("2023-04-01"),  # after the sale: not a closing force_exit
    }
    path = tmp_path / "backtest-result-2023-04-01_00-00-00.json"
    path.write_text(json.dumps({"strategy": {STRATEGY: stats}}))
    return path


def test_tax_o_writes_the_gains_to_the_file_named(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default file would land in ./user_data/tax
    source = result_file(tmp_path)
    short = tmp_path / "short" / "gains.csv"
    result = cli("tax", "--backtest", source, "-o", short)
    assert result.code == 0, result.err
    assert f"1 sales written to {short.resolve()}" in result.out
    rows = list(csv.DictReader(short.open()))
    assert [
        (r["coin"], r["quantity"], r["proceeds"], r["cost_basis"], r["gain"]) for r in rows
    ] == [("BTC", "0.02417", "558.77", "399.92", "158.85")]
    assert not (tmp_path / "user_data").exists()  # nothing written to the default place
    # The same file as the long form writes.
    long = tmp_path / "long.csv"
    assert cli("tax", "--backtest", source, "--out", long).code == 0
    assert long.read_bytes() == short.read_bytes()


def test_tax_o_with_a_tax_tools_format(cli, tmp_path):
    out = tmp_path / "koinly.csv"
    result = cli("tax", "--backtest", result_file(tmp_path), "--format", "koinly", "-o", out)
    assert result.code == 0, result.err
    rows = list(csv.DictReader(out.open()))
    # One buy (USDT sent, BTC received) and one sale (BTC sent, USDT received), by date.
    assert [(r["Sent Currency"], r["Received Currency"]) for r in rows] == [
        ("USDT", "BTC"),
        ("BTC", "USDT"),
    ]
    assert rows[1]["Sent Amount"] == "0.02417"
