"""The tax export's formats: one row per sale with its gain, or every trade in Koinly's or
CoinTracking's CSV import; and the totals per year and per coin."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..core import taxlots
from ..core.taxlots import Fill, Sale
from .sources import History, TaxError

FORMATS = ("gains", "koinly", "cointracking")
DEFAULT_OUT = Path("user_data") / "tax"
GAINS_COLUMNS = (
    "date",
    "coin",
    "quantity",
    "proceeds",
    "cost_basis",
    "gain",
    "fee",
    "holding_days",
    "method",
)
KOINLY_COLUMNS = (
    "Date",
    "Sent Amount",
    "Sent Currency",
    "Received Amount",
    "Received Currency",
    "Fee Amount",
    "Fee Currency",
    "Net Worth Amount",
    "Net Worth Currency",
    "Label",
    "Description",
    "TxHash",
)
COINTRACKING_COLUMNS = (
    "Type",
    "Buy Amount",
    "Buy Currency",
    "Sell Amount",
    "Sell Currency",
    "Fee",
    "Fee Currency",
    "Exchange",
    "Trade-Group",
    "Comment",
    "Date",
)
TRADE_GROUP = "freqtrade-rebalance"


# ---- amounts ------------------------------------------------------------------------------------
def cents(x: float) -> Decimal:
    """``x`` rounded to the cent, half away from zero, on the float's shortest decimal form
    (64.615 -> 64.62, -0.004 -> 0.00)."""
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) + 0


def amount(x: float, places: int = 8) -> str:
    """A quantity with up to ``places`` decimals, no trailing zeros ('0.02417', '15')."""
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def money(x: float) -> str:
    return f"{cents(x):.2f}"


# ---- formats ------------------------------------------------------------------------------------
def gains_rows(sales: Iterable[Sale]) -> list[dict[str, str]]:
    return [
        {
            "date": f"{s.time.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            "coin": s.coin,
            "quantity": amount(s.quantity),
            "proceeds": money(s.proceeds),
            "cost_basis": money(s.cost_basis),
            "gain": money(s.gain),
            "fee": money(s.fee),
            "holding_days": f"{s.holding_days:.2f}",
            "method": s.method,
        }
        for s in sales
    ]


def _comment(fill: Fill, history: History) -> str:
    parts = [fill.tag or ("first buy" if fill.side == "buy" else "sell")]
    if fill.final:
        parts.append("closing sale at the end of the backtest")
    if history.backtest:
        parts.append(f"BACKTEST {Path(history.source).name}, not a real trade")
    return "freqtrade-rebalance: " + "; ".join(parts)


def koinly_rows(history: History) -> list[dict[str, str]]:
    rows = []
    for f in history.fills:
        coin, stake = (amount(f.quantity), f.coin), (amount(f.value), history.stake)
        sent, received = (stake, coin) if f.side == "buy" else (coin, stake)
        rows.append(
            {
                "Date": f"{f.time.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
                "Sent Amount": sent[0],
                "Sent Currency": sent[1],
                "Received Amount": received[0],
                "Received Currency": received[1],
                "Fee Amount": amount(f.fee),
                "Fee Currency": history.stake,
                "Net Worth Amount": "",
                "Net Worth Currency": "",
                "Label": "",
                "Description": _comment(f, history),
                "TxHash": f.ref,
            }
        )
    return rows


def cointracking_rows(history: History) -> list[dict[str, str]]:
    rows = []
    for f in history.fills:
        coin, stake = (amount(f.quantity), f.coin), (amount(f.value), history.stake)
        bought, sold = (coin, stake) if f.side == "buy" else (stake, coin)
        rows.append(
            {
                "Type": "Trade",
                "Buy Amount": bought[0],
                "Buy Currency": bought[1],
                "Sell Amount": sold[0],
                "Sell Currency": sold[1],
                "Fee": amount(f.fee),
                "Fee Currency": history.stake,
                "Exchange": history.exchange.capitalize() or "Freqtrade",
                "Trade-Group": TRADE_GROUP,
                "Comment": _comment(f, history) + (f" (order {f.ref})" if f.ref else ""),
                "Date": f"{f.time.astimezone(UTC):%d.%m.%Y %H:%M:%S}",
            }
        )
    return rows


def write_csv(
    rows: Sequence[dict[str, str]], columns: Sequence[str], path: Path, quote_all: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=list(columns), quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def export(history: History, fmt: str, method: str, path: Path) -> Path:
    if fmt == "gains":
        return write_csv(gains_rows(taxlots.match(history.fills, method)), GAINS_COLUMNS, path)
    if fmt == "koinly":
        return write_csv(koinly_rows(history), KOINLY_COLUMNS, path)
    if fmt == "cointracking":
        return write_csv(cointracking_rows(history), COINTRACKING_COLUMNS, path, quote_all=True)
    raise TaxError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")


def format_totals(sales: Sequence[Sale], stake: str, method: str) -> str:
    """The totals per year and per coin, and over everything."""
    header = ("", "sales", "proceeds", "cost basis", "gain", "fees")

    def cells(name: str, t: taxlots.Totals) -> tuple[str, ...]:
        return (
            name,
            str(t.sales),
            money(t.proceeds),
            money(t.cost_basis),
            money(t.gain),
            money(t.fee),
        )

    groups = [
        [cells(str(y), t) for y, t in taxlots.by_year(sales).items()],
        [cells(c, t) for c, t in taxlots.by_coin(sales).items()],
        [cells("total", taxlots.total(sales))],
    ]
    rows = [r for g in groups for r in g]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [f"Realised gains by {method.upper()} ({stake}):", "  " + line.format(*header)]
    for i, group in enumerate(groups):
        out.append("  " + line.format(*("-" * w for w in widths)))
        label = ("per year (UTC)", "per coin", "")[i]
        out += [
            "  " + line.format(*r) + (f"   {label}" if j == 0 and label else "")
            for j, r in enumerate(group)
        ]
    return "\n".join(out)


def summary(history: History, sales: Sequence[Sale], method: str, fmt: str, path: Path) -> str:
    """What the export says once written: the source, the totals, the closing sales of a
    backtest, and where the file went."""
    what = "backtest result" if history.backtest else "database"
    buys = sum(1 for f in history.fills if f.side == "buy")
    lines = [
        f"{what.capitalize()} {history.source}: {buys} buys and {len(history.fills) - buys} "
        f"sales in {len({f.coin for f in history.fills})} coins, "
        f"{history.fills[0].time:%Y-%m-%d} -> {history.fills[-1].time:%Y-%m-%d}",
        format_totals(sales, history.stake, method),
    ]
    final = [s for s in sales if s.final]
    if final:
        lines.append(
            f"  of which the {len(final)} closing sales at the backtest's last candle "
            f"(Freqtrade's force_exit of the open trades): gain "
            f"{money(math.fsum(s.gain for s in final))} {history.stake} "
            "(--without-final-exits leaves them out)"
        )
    if history.backtest:
        lines.append("  A backtest's trades are simulated: never file them as real trades.")
    if fmt == "gains":
        lines.append(f"\n{len(sales)} sales written to {path.resolve()}")
    else:
        lines.append(
            f"\n{len(history.fills)} trades written to {path.resolve()} ({fmt}'s CSV "
            "import; your tax tool applies your country's rules to them)"
        )
    return "\n".join(lines)
