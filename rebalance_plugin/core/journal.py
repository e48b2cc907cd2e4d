"""The backtest journal: one JSON line per rebalance event, written by the strategy during
``freqtrade backtesting`` and read by the report, the benchmark and the tests. Its file name and
record format are defined here only. Pure Python, no Freqtrade import.

A record (one line of ``user_data/backtest_results/rebalance_journal.jsonl``)::

    {"time": "2024-01-03T05:00:00+00:00", "ts": 1704258000.0, "kind": "rebalance",
     "drift": 5.4, "weights_before": {...}, "weights_after": {...},
     "legs": [{"coin": "BTC", "side": "sell", "qty": 0.01, "price": 42000.0}],
     "skipped": [{"coin": "SOL", "side": "buy", "value": 3.2, "reason": "..."}],
     "message": null}

An auto-invest deposit is ``"kind": "deposit"`` with its ``"amount"`` and the buys it made.
``drift`` is in percentage points; with ``threshold_mode`` relative it is in percent of the
targets and the record carries ``"drift_unit": "% of target"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from .engine import Event

#: The journal's file name, in Freqtrade's ``backtest_results`` folder.
JOURNAL_NAME = "rebalance_journal.jsonl"
#: Where it is, relative to Freqtrade's ``user_data_dir``.
JOURNAL_PATH = Path("backtest_results") / JOURNAL_NAME


def journal_path(user_data_dir: str | Path) -> Path:
    """The journal of the backtests run with this ``user_data_dir``."""
    return Path(user_data_dir) / JOURNAL_PATH


def kept_name(written: float) -> str:
    """The name a finished run's journal is kept under, from the time it was last written:
    ``rebalance_journal.2024-01-03_05-00-00.jsonl``."""
    stamp = datetime.fromtimestamp(written).strftime("%Y-%m-%d_%H-%M-%S")
    return f"{Path(JOURNAL_NAME).stem}.{stamp}{Path(JOURNAL_NAME).suffix}"


def keep(path: Path) -> Path | None:
    """Before a new backtest empties the journal at ``path``: keep the last run's under
    :func:`kept_name`, beside it (the results of older runs stay in the folder too)."""
    if not path.is_file():
        return None
    kept = path.with_name(kept_name(path.stat().st_mtime))
    n = 1
    while kept.exists():
        kept = path.with_name(f"{Path(kept_name(path.stat().st_mtime)).stem}-{n}.jsonl")
        n += 1
    path.rename(kept)
    return kept


def kept(folder: Path) -> list[Path]:
    """The journals kept from earlier runs in ``folder``, newest first."""
    stem = Path(JOURNAL_NAME).stem
    return sorted(Path(folder).glob(f"{stem}.*.jsonl"), reverse=True)


def record(event: Event) -> dict[str, Any]:
    """The journal line of ``event`` (a plain dict, ready for ``json.dumps``)."""
    return {
        "time": datetime.fromtimestamp(event.time).astimezone().isoformat(),
        "ts": event.time,
        "kind": event.kind,
        "drift": round(event.drift, 6),
        "weights_before": event.weights_before,
        "weights_after": event.weights_after,
        "legs": [
            {"coin": leg.coin, "side": leg.side, "qty": leg.qty, "price": leg.price}
            for leg in event.legs
        ],
        "skipped": [
            {"coin": s.coin, "side": s.side, "value": s.value, "reason": s.reason}
            for s in event.skipped
        ],
        "message": event.message,
        **({"drift_unit": "% of target"} if event.relative else {}),
        **({"amount": event.amount} if event.kind == "deposit" else {}),
    }


def dumps(event: Event) -> str:
    """``event`` as one journal line, without the newline."""
    return json.dumps(record(event))


def parse(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The records of a journal's lines (blank lines ignored)."""
    return [json.loads(line) for line in lines if line.strip()]


def read(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at ``path`` (empty when it does not exist)."""
    if not path.exists():
        return []
    return parse(path.read_text().splitlines())
