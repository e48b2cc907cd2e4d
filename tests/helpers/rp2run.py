"""An independent tax engine for the tests: rp2 (PyPI ``rp2``, the engine of its ``rp2_us`` /
``rp2_generic`` commands) computes the gains of a list of trades from its own input format.

rp2 reads an ODS spreadsheet (one sheet per coin with an ``IN`` table of purchases and an
``OUT`` table of sales, each closed by ``TABLE END``) and a config naming the columns (INI since
rp2 1.7; its older docs show the deprecated JSON form). :func:`rp2_sales` writes both files,
then runs what ``rp2_us`` runs (``Configuration``, ``open_ods``/``parse_ods``,
``compute_tax`` with the accounting method) in-process and reads the gains from rp2's
``GainLoss`` records (the command would write them to a report spreadsheet instead).
:func:`run_rp2_us` runs the real command on the same files, to show it accepts them.

How the trades are written (amounts in the stake currency, which rp2 takes as its fiat):

* a buy is an ``IN`` row, ``BUY``: ``crypto_in`` = quantity, ``spot_price`` = price,
  ``fiat_fee`` = fee; rp2's cost basis is then ``quantity × price + fee`` (its
  ``fiat_in_with_fee``);
* a sale is an ``OUT`` row, ``SELL``, whose fee rp2 expects in the coin: ``crypto_fee`` = fee /
  price, ``crypto_out_no_fee`` = quantity − crypto_fee, ``crypto_out_with_fee`` = quantity (the
  coins that left). rp2 matches ``crypto_out_with_fee`` against the lots and takes
  ``crypto_out_no_fee × price`` = value − fee as the proceeds.

rp2's ``hifo`` picks the lot with the highest ``spot_price`` first (then the oldest).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from pathlib import Path

HOLDER = "bot"
EXCHANGE = "Binance"
IN_COLUMNS = (
    "timestamp",
    "asset",
    "exchange",
    "holder",
    "transaction_type",
    "spot_price",
    "crypto_in",
    "fiat_fee",
    "unique_id",
)
OUT_COLUMNS = (
    "timestamp",
    "asset",
    "exchange",
    "holder",
    "transaction_type",
    "spot_price",
    "crypto_out_no_fee",
    "crypto_fee",
    "crypto_out_with_fee",
    "unique_id",
)


@dataclass(frozen=True)
class Trade:
    """One filled order, as the test read it from the source (stake currency)."""

    time: datetime  # timezone-aware
    coin: str
    side: str  # "buy" / "sell"
    quantity: float
    price: float
    fee: float


@dataclass(frozen=True)
class Rp2Sale:
    time: datetime
    coin: str
    quantity: float
    proceeds: float
    cost_basis: float
    gain: float


def write_input(trades: list[Trade], folder: Path) -> tuple[Path, Path]:
    """rp2's input: (config.ini, input.ods) in ``folder``."""
    import ezodf

    folder.mkdir(parents=True, exist_ok=True)
    coins = list(dict.fromkeys(t.coin for t in trades))
    ini = folder / "config.ini"
    sections = [
        f"[general]\nassets = {', '.join(coins)}\nexchanges = {EXCHANGE}\nholders = {HOLDER}\n",
        "[in_header]\n" + "".join(f"{c} = {i}\n" for i, c in enumerate(IN_COLUMNS)),
        "[out_header]\n" + "".join(f"{c} = {i}\n" for i, c in enumerate(OUT_COLUMNS)),
        # rp2 wants an INTRA header even without INTRA rows
        "[intra_header]\ntimestamp = 0\nasset = 1\nfrom_exchange = 2\nfrom_holder = 3\n"
        "to_exchange = 4\nto_holder = 5\nspot_price = 6\ncrypto_sent = 7\n"
        "crypto_received = 8\nunique_id = 9\n",
    ]
    ini.write_text("\n".join(sections))
    ods = folder / "input.ods"
    doc = ezodf.newdoc(doctype="ods", filename=str(ods))
    for coin in coins:
        buys = [(i, t) for i, t in enumerate(trades) if t.coin == coin and t.side == "buy"]
        sells = [(i, t) for i, t in enumerate(trades) if t.coin == coin and t.side == "sell"]
        rows: list[list[object]] = [["IN"], list(IN_COLUMNS)]
        for i, t in buys:
            rows.append([_ts(t), coin, EXCHANGE, HOLDER, "BUY", t.price, t.quantity, t.fee, str(i)])
        rows.append(["TABLE END"])
        if sells:
            rows += [[""], ["OUT"], list(OUT_COLUMNS)]
            for i, t in sells:
                fee_coins = t.fee / t.price
                rows.append(
                    [
                        _ts(t),
                        coin,
                        EXCHANGE,
                        HOLDER,
                        "SELL",
                        t.price,
                        t.quantity - fee_coins,
                        fee_coins,
                        t.quantity,
                        str(i),
                    ]
                )
            rows.append(["TABLE END"])
        sheet = ezodf.Sheet(coin, size=(len(rows), len(OUT_COLUMNS)))
        doc.sheets += sheet
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet[(r, c)].set_value(value)
    doc.save()
    return ini, ods


def _ts(t: Trade) -> str:
    return t.time.isoformat(sep=" ")


def rp2_sales(trades: list[Trade], method: str, folder: Path) -> list[Rp2Sale]:
    """rp2's gains, one record per sale (its per-lot ``GainLoss`` records summed), in the
    order of ``trades``."""
    ini, ods = write_input(trades, folder)
    with contextlib.chdir(folder):  # rp2 makes ./log and its log file when first imported
        import rp2.logger  # noqa: F401
    from prezzemolo.avl_tree import AVLTree
    from rp2.accounting_engine import AccountingEngine
    from rp2.configuration import MIN_DATE, Configuration
    from rp2.ods_parser import open_ods, parse_ods
    from rp2.plugin.country.us import US
    from rp2.tax_engine import compute_tax

    configuration = Configuration(str(ini), US())
    methods: AVLTree = AVLTree()
    module = import_module(f"rp2.plugin.accounting_method.{method}")
    methods.insert_node(MIN_DATE.year, module.AccountingMethod())
    engine = AccountingEngine(years_2_methods=methods)
    handle = open_ods(configuration, str(ods))
    proceeds: dict[int, float] = defaultdict(float)
    basis: dict[int, float] = defaultdict(float)
    for coin in dict.fromkeys(t.coin for t in trades):
        computed = compute_tax(configuration, engine, parse_ods(configuration, coin, handle))
        for gain_loss in computed.gain_loss_set:
            index = int(gain_loss.taxable_event.unique_id)
            proceeds[index] += float(gain_loss.taxable_event_fiat_amount_with_fee_fraction)
            basis[index] += float(gain_loss.fiat_cost_basis)
    return [
        Rp2Sale(t.time, t.coin, t.quantity, proceeds[i], basis[i], proceeds[i] - basis[i])
        for i, t in enumerate(trades)
        if t.side == "sell"
    ]


def run_rp2_us(folder: Path, method: str) -> subprocess.CompletedProcess[str]:
    """The ``rp2_us`` command on the files :func:`write_input` wrote in ``folder``."""
    script = Path(sys.executable).parent / "rp2_us"
    return subprocess.run(
        [str(script), "-m", method, "-o", str(folder / "output"), "config.ini", "input.ods"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rp2_us_gains(folder: Path, method: str) -> dict[tuple[int, str], float]:
    """Run ``rp2_us`` on the files in ``folder`` and read its full report's *Gain / Loss
    Summary* (one table per coin, rows per year and LONG/SHORT): the gain per (year, coin)."""
    import ezodf

    run = run_rp2_us(folder, method)
    if run.returncode != 0:
        raise AssertionError(f"rp2_us failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    doc = ezodf.opendoc(str(folder / "output" / f"{method}_rp2_full_report.ods"))
    gains: dict[tuple[int, str], float] = defaultdict(float)
    for sheet in doc.sheets:
        if not sheet.name.endswith(" Tax"):
            continue
        rows = [[sheet[(r, c)].value for c in range(8)] for r in range(sheet.nrows())]
        start = next(i for i, row in enumerate(rows) if row[0] == "Gain / Loss Summary")
        for row in rows[start + 3 :]:  # after the title and its two header rows
            if not isinstance(row[0], float):
                break
            gains[(int(row[0]), str(row[1]))] += float(row[2])
    return dict(gains)
