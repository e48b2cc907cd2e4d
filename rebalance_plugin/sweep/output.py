"""The sweep's output: the table printed, the CSV and the heatmap written."""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .engine import Row

HEADER = (
    "point",
    "final value",
    "gain FIFO",
    "vs B&H (pp)",
    "CAGR",
    "max DD",
    "rebalances",
    "turnover",
    "fees",
)


def table(rows: Sequence[Row], stake: str = "USDT") -> str:
    cells = [
        (
            r.label,
            f"{r.final_value:,.2f}",
            f"{r.realised_gain:,.2f}",
            f"{r.difference_pp:+.2f}",
            f"{r.cagr * 100:+.2f}%",
            f"{r.max_drawdown * 100:.2f}%",
            str(r.rebalances),
            f"{r.turnover:,.2f}",
            f"{r.fees:,.2f}",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADER)]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [line.format(*HEADER), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    if rows:
        out.append(
            f"buy-and-hold of the starting allocation: {rows[0].bh_final_value:,.2f} {stake}; "
            "money columns in " + stake + "; gain FIFO: the gain the sales realised before the "
            "end (taxable as they happen), where buy-and-hold realises none"
        )
    return "\n".join(out)


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return path


#: The heatmap's rows: (title, Row attribute, format, higher is better).
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("final value", "final_value", "{:,.0f}", True),
    ("realised gain (FIFO)", "realised_gain", "{:,.0f}", False),
    ("vs B&H (pp)", "difference_pp", "{:+.1f}", True),
    ("CAGR", "cagr", "{:+.1%}", True),
    ("max drawdown", "max_drawdown", "{:.1%}", False),
    ("rebalances", "rebalances", "{:d}", False),
    ("turnover", "turnover", "{:,.0f}", False),
    ("fees", "fees", "{:,.2f}", False),
)


Panels = dict[tuple[str, str], list[Row]]


def _panels(rows: Sequence[Row]) -> tuple[list[str], list[str], Panels]:
    """The heatmap's layout: the triggers (columns of panels), the threshold mode and target
    suffixes (rows of panels), and each panel's grid points."""
    kinds = [k for k in ("threshold", "interval") if any(r.group.startswith(k) for r in rows)]
    suffixes = list(dict.fromkeys(r.group.split(" ", 1)[1] if " " in r.group else "" for r in rows))
    panels = {
        (suffix, kind): [r for r in rows if r.group == (f"{kind} {suffix}" if suffix else kind)]
        for suffix in suffixes
        for kind in kinds
    }
    return kinds, suffixes, panels


def _scores(rows: Sequence[Row], group: Sequence[Row]) -> Any:
    """Each metric of ``group`` scaled from worst (0) to best (1) across the whole grid."""
    import numpy as np

    score = np.zeros((len(METRICS), len(group)))
    for i, (_, attr, _, higher) in enumerate(METRICS):
        values = np.array([float(getattr(r, attr)) for r in rows])
        lo, hi = values.min(), values.max()
        mine = np.array([float(getattr(r, attr)) for r in group])
        scaled = (mine - lo) / (hi - lo) if hi > lo else np.full(len(group), 0.5)
        score[i] = scaled if higher else 1.0 - scaled
    return score


def _tick(label: str) -> str:
    """A point's column in its panel: its threshold or interval (and minimum drift)."""
    parts = label.split(" ")
    extra = [p for p in parts[2:] if p.startswith(">")]
    return " ".join([parts[1], *extra])


def _draw_panel(ax: Any, rows: Sequence[Row], group: Sequence[Row], title: str) -> None:
    """One panel: the metrics (rows) by grid point (columns), coloured and written in."""
    ax.imshow(_scores(rows, group), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for i, (_, attr, fmt, _) in enumerate(METRICS):
        for j, r in enumerate(group):
            text = fmt.format(getattr(r, attr))
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(group)), [_tick(r.label) for r in group])
    ax.set_yticks(range(len(METRICS)), [m[0] for m in METRICS])
    ax.set_title(title, fontsize=10)


def heatmap(rows: Sequence[Row], path: Path, title: str) -> Path:
    """One panel per trigger: metrics (rows) by grid point (columns), each metric coloured
    from worst (red) to best (green) across the whole grid, with its value written in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds, suffixes, panels = _panels(rows)
    widths = [max(1, max(len(panels[(sfx, k)]) for sfx in suffixes)) for k in kinds]
    fig, axes = plt.subplots(
        len(suffixes),
        len(kinds),
        figsize=(max(8.0, 1.05 * sum(widths) + 2.5), 4.6 * len(suffixes)),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for row_axes, suffix in zip(axes, suffixes, strict=True):
        for ax, kind in zip(row_axes, kinds, strict=True):
            group = panels[(suffix, kind)]
            if not group:
                ax.axis("off")
                continue
            _draw_panel(ax, rows, group, f"{kind} {suffix}".strip())
            if ax is not row_axes[0]:
                ax.set_yticklabels([])
    fig.suptitle(textwrap.fill(title, 90), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


RANKED_HEADER = (
    "rank",
    "portfolio",
    "point",
    "final value",
    "CAGR",
    "max DD",
    "turnover",
    "fees",
    "gain FIFO",
)


def ranked(rows: Sequence[Row], top: int = 20, stake: str = "USDT") -> str:
    """The rows by final value, best first (the first ``top``): what each portfolio and trigger
    ended with, and what it cost on the way."""
    order = sorted(rows, key=lambda r: r.final_value, reverse=True)[: max(top, 0)]
    cells = [
        (
            str(k),
            r.portfolio or "config",
            r.label,
            f"{r.final_value:,.2f}",
            f"{r.cagr * 100:+.2f}%",
            f"{r.max_drawdown * 100:.2f}%",
            f"{r.turnover:,.2f}",
            f"{r.fees:,.2f}",
            f"{r.realised_gain:,.2f}",
        )
        for k, r in enumerate(order, start=1)
    ]
    head = RANKED_HEADER
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "  ".join(f"{{:<{w}}}" if 0 < i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    out.append(
        f"{len(order)} of {len(rows)} points, by final value; money columns in {stake}; gain "
        "FIFO: the gain the sales realised before the end"
    )
    return "\n".join(out)


def describe(config: dict[str, Any]) -> str:
    coins = ", ".join(f"{c} {w:g}%" for c, w in config["rebalance"]["coins"].items())
    return (
        f"{coins}; {config['rebalance'].get('investment', '?')} {config['stake_currency']}; "
        f"{config['timeframe']} candles, {config.get('timerange') or 'all candles'}"
    )
