"""The presets overview as a readable table, and as JSON."""

from __future__ import annotations

import textwrap
from typing import Any

from ..core.presets import MAX_WEIGHT, MIN_WEIGHT, PERIODS
from . import Entry, Overview

DASH = "–"
FORMULA = (
    "r_t = Σ w_i × close_i,t / close_i,t−1 − 1 (rebalanced daily), R = Π(1 + r_t) − 1, "
    "simple = R × 365 / N, compound = (1 + R)^(365/N) − 1; no fees"
)


def weight_text(weight: float) -> str:
    return f"{weight:g}"


def coins_text(coins: dict[str, float]) -> str:
    return " · ".join(f"{c} {weight_text(w)}" for c, w in coins.items())


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:+,.2f} %"


def to_json(overview: Overview) -> list[dict[str, Any]]:
    """``[{"name", "kind", "description", "coins", "as_of", "returns", "unavailable",
    "source"}]``; returns are fractions (0.12 = 12 %), null where the history is too short,
    with the reason in ``unavailable``."""
    out = []
    for e in overview.entries:
        returns: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for days in PERIODS:
            r = e.returns.get(days)
            returns[f"{days}d"] = (
                None if r is None else {"simple": r.simple, "compound": r.compound}
            )
            why = e.returns.reason(days)
            if why:
                unavailable[f"{days}d"] = why
        item: dict[str, Any] = {
            "name": e.name,
            "kind": e.kind,
            "description": e.description,
            "coins": e.coins,
            "as_of": e.returns.as_of.isoformat() if e.returns.as_of else None,
            "returns": returns,
            "unavailable": unavailable,
            "source": e.source,
        }
        if e.note:
            item["note"] = e.note
        out.append(item)
    return out


def _row(e: Entry) -> str:
    cells = []
    for days in PERIODS:
        r = e.returns.get(days)
        cells += [pct(r.simple if r else None), pct(r.compound if r else None)]
    as_of = e.returns.as_of.isoformat() if e.returns.as_of else DASH
    return f"  {e.name:<17}{as_of:<12}" + "".join(f"{c:>14}" for c in cells)


WIDTH = 100


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent="  ", subsequent_indent="    ")


def format_table(overview: Overview) -> str:
    o = overview
    lines = [f"Presets and templates · candles {o.datadir} · stake {o.stake}"]
    lines += _wrap(f"Market caps: {o.caps.description}.")
    lines += _wrap(
        f"Coins: an active {o.stake} spot market in {o.markets} and daily candles in the "
        "datadir; stablecoins and wrapped/staked coins excluded; each preset weight between "
        f"{MIN_WEIGHT:g} % and {MAX_WEIGHT:g} %."
    )
    lines += _wrap(
        "Returns, annualised, over the last N daily closes up to 'as of' (the latest complete "
        f"day common to the coins): {FORMULA}."
    )
    lines += [
        "",
        (" " * 31 + "".join(f"{f'{d} days':^28}" for d in PERIODS)).rstrip(),
        f"  {'name':<17}{'as of':<12}"
        + "".join(f"{'simple':>14}{'compound':>14}" for _ in PERIODS),
    ]
    for kind, title in (("preset", "presets"), ("template", "templates")):
        rows = [e for e in o.entries if e.kind == kind]
        if not rows:
            continue
        lines.append(f"  -- {title} --")
        for e in rows:
            lines.append(_row(e))
            lines.append(f"    {coins_text(e.coins)}")
    notes = [f"{e.name}: {e.note}" for e in o.entries if e.note]
    for e in o.entries:
        for days in PERIODS:
            why = e.returns.reason(days)
            if why:
                notes.append(f"{e.name} {days}d {DASH}: {why}")
    notes += o.errors
    if o.passed_over:
        notes.append(
            "left out despite a larger market cap: "
            + ", ".join(f"{c} ({why})" for c, why in o.passed_over)
        )
    notes += list(o.caps.notes)
    if notes:
        lines += ["", "  Notes:"]
        for note in notes:
            lines += textwrap.wrap(note, WIDTH, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)
