"""The report's output: the summary text and the equity plot (matplotlib, imported on use)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rebalance_plugin.core.config import DEFAULTS

from .metrics import CashFlows, Drawdown, _times

if TYPE_CHECKING:
    from .build import Report

#: Where ``python -m rebalance_plugin.report`` saves the PNG (its folder is the user data's).
DEFAULT_PLOT = Path("user_data") / "backtest_results" / "rebalance_equity.png"

#: Printed before the portfolio view, which follows Freqtrade's own report in the demo: what
#: of Freqtrade's figures holds for a portfolio, and why most of them do not.
FREQTRADE_NOTE = """\
  Reading Freqtrade's report: each coin is one trade, kept open from its first buy until the
  backtest ends, when Freqtrade sells every coin. Its figures of closed trades therefore
  describe those few final sales, not the portfolio: "Drawdown" and the drawdowns "(closed
  trades)" see no loss before the end, "Win%", best/worst trade and pair give each coin's own
  result (a coin whose gains were sold into the others shows them as its profit), and Sharpe,
  Sortino, Calmar "(closed trades)", SQN, profit factor, expectancy, durations and best/worst
  day have only those sales to go on. Meaningful there: final balance, total profit, CAGR,
  market change and the "Wallet based Metrics". The portfolio's own figures:"""


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x * 100:+,.2f} %" if sign else f"{x * 100:,.2f} %"


def describe_trigger(section: Mapping[str, Any] | None) -> str:
    """The trigger a backtest ran with, from its config's ``rebalance`` section (defaults where
    a key is absent), with the threshold mode and rebalance target when not the defaults."""
    if section is None:
        return "unknown (no rebalance section stored with the result)"
    raw = {**DEFAULTS, **section}
    relative = raw.get("threshold_mode") == "relative"

    def drift(x: float) -> str:
        if relative:
            return f"{x:g}% of its target (relative)"
        return f"{x:g} percentage point{'' if x == 1 else 's'}"

    if raw.get("trigger") == "interval":
        text = f"interval {raw['interval']}, rebalancing a coin off by more than "
        text += drift(float(raw["interval_min_drift"]))
    else:
        text = f"threshold: a coin off by more than {drift(float(raw['threshold']))}"
    if raw.get("rebalance_to") == "band":
        text += ", rebalancing to the band's edge"
    return text


def format_summary(report: Report, note: str | None = None) -> str:
    v, r = report.view, report.result
    stake = r.stats.get("stake_currency", "USDT")
    days = (v.end - v.start) / pd.Timedelta(days=1)
    targets = ", ".join(
        f"{c} {report.targets[c] * 100:g}%" for c in report.coins if c in report.targets
    ) or ", ".join(report.coins)
    left = v.starting_balance - v.invested
    lines = [f"*** {note} ***"] if note else []
    lines += [
        f"PORTFOLIO VIEW - {r.strategy}, {r.path.name}",
        "",
        FREQTRADE_NOTE,
        "",
        f"  Period               {v.start:%Y-%m-%d %H:%M} -> {v.end:%Y-%m-%d %H:%M} UTC "
        f"({days:g} days, {r.stats.get('timeframe', '?')} candles)",
        f"  Portfolio            {targets}",
        f"  Trigger              {describe_trigger(r.config.get('rebalance'))}",
        f"  Candles              {report.datadir}",
        f"  Starting investment  {_money(v.starting_balance)} {stake} (first buys "
        f"{_money(v.invested)} incl. fees, {_money(left)} left as cash)",
        "",
    ]

    def span(dd: Drawdown) -> str:
        return f"{dd.peak:%Y-%m-%d} -> {dd.trough:%Y-%m-%d}" if dd.peak is not None else "-"

    rows = [
        ("", "Rebalanced", "Buy and hold"),
        (f"Final value ({stake})", _money(v.final_value), _money(v.bh_final_value)),
        ("Total return", _pct(v.total_return, True), _pct(v.bh_total_return, True)),
        ("Annualised (CAGR)", _pct(v.cagr, True), _pct(v.bh_cagr, True)),
        ("Max drawdown", _pct(v.drawdown.depth), _pct(v.bh_drawdown.depth)),
        ("  peak -> trough", span(v.drawdown), span(v.bh_drawdown)),
        ("Realised gain, FIFO", _money(v.realised_gain), _money(0.0)),
    ]
    w0, w1 = 21, max(24, max(len(b) for _, b, _ in rows) + 2)
    for a, b, c in rows:
        lines.append(f"  {a:<{w0}}{b:<{w1}}{c}".rstrip())
    verdict = (
        "ahead of" if v.difference_pp > 0 else "behind" if v.difference_pp < 0 else "level with"
    )
    multiple = v.turnover / v.starting_balance if v.starting_balance else float("nan")
    lines += [
        "",
        f"  Difference           {v.difference_pp:+.2f} percentage points of total return, "
        f"{verdict} buy-and-hold (CAGR {(v.cagr - v.bh_cagr) * 100:+.2f} points)",
        f"  Rebalances           {v.rebalances}",
        f"  Skipped rebalances   {v.skipped_rebalances}",
        f"  Skipped legs         {v.skipped_legs}",
        f"  Turnover             {_money(v.turnover)} {stake} in {v.rebalance_orders} rebalance "
        f"orders ({multiple:.1f}x the starting investment)",
        f"  Fees paid            {_money(v.fees)} {stake} on {v.orders} orders (first buys, "
        "rebalances and final exits)",
        f"  Realised gain        the FIFO gain of the {v.realised_sales} sales before the end "
        "(taxable as they happen; buy-and-hold sells nothing before the end); the closing "
        f"sales at the last candle add {_money(v.final_exit_gain)} {stake} (every sale: "
        "freqtrade-rebalance tax)",
    ]
    if r.stats.get("final_balance") is not None:
        lines.append(
            f"  Check                Freqtrade's final balance "
            f"{_money(float(r.stats['final_balance']))} {stake} (open trades "
            "force-exited at the last candle's open)"
        )
    if report.flows is not None:
        lines += ["", *cash_flow_lines(report.flows, stake)]
    for warning in report.warnings:
        lines.append(f"  WARNING: {warning}")
    return "\n".join(lines)


def _target_styles(targets: Mapping[str, float], coins: list[str]) -> dict[str, Any]:
    """A dash pattern per coin's target line: coins with the same target get interleaved
    dashes (one line in turn of each coin's colour), so that each stays visible."""
    groups: dict[float, list[str]] = {}
    for coin in coins:
        if coin in targets:
            groups.setdefault(round(targets[coin], 9), []).append(coin)
    dash = 8.0
    styles: dict[str, Any] = {}
    for group in groups.values():
        k = len(group)
        for j, coin in enumerate(group):
            styles[coin] = (j * dash, (dash, (k - 1) * dash)) if k > 1 else (0, (4.0, 3.0))
    return styles


def cash_flow_lines(f: CashFlows, stake: str) -> list[str]:
    """Auto-invest: the deposits as cash flows, against the two references."""
    lines = [
        f"  Auto-invest          {len(f.amounts)} deposits, {_money(f.deposited)} {stake} "
        f"deposited ({f.times[0]:%Y-%m-%d %H:%M} -> {f.times[-1]:%Y-%m-%d %H:%M} UTC); with "
        f"the investment of {_money(f.investment)}, {_money(f.total_in)} {stake} paid in "
        "(cash flows, not profit)",
        "  Note                 the figures above value the whole wallet (the deposits still to "
        "come held as cash) against the first buys alone held; below, like with like",
        "",
    ]
    rows = [
        ("", f"Final value ({stake})", "Money-weighted (XIRR)", "Time-weighted"),
        ("Rebalanced", _money(f.final_value), _pct(f.xirr, True), _pct(f.twr, True)),
        (
            "Same deposits, held",
            _money(f.schedule_final),
            _pct(f.schedule_xirr, True),
            "",
        ),
        ("All at the start", _money(f.lump_final), _pct(f.lump_xirr, True), ""),
    ]
    for a, b, c, d in rows:
        lines.append(f"  {a:<21}{b:<24}{c:<24}{d}".rstrip())
    lines.append(
        "  References           the same payments bought at the target weights and never "
        "rebalanced; the whole amount bought at the target weights at the first buy and held"
    )
    return lines


def _mark(ax: Any, series: pd.Series, times: Any, **style: Any) -> None:
    """Markers on ``series`` at ``times`` (each at the series' last value at or before it)."""
    marks = series.reindex(_times(times), method="ffill")
    ax.scatter(marks.index, marks.to_numpy(), **style)


def _draw_values(top: Any, report: Report, stake: str) -> None:
    """The value panel: equity and buy-and-hold, the rebalances, the deposits and the
    portfolio they grow, the skipped rebalances."""
    v = report.view
    top.plot(
        v.equity.index,
        v.equity.to_numpy(),
        lw=1.2,
        color="tab:blue",
        label=f"Rebalanced ({_money(v.final_value)} {stake}, CAGR {_pct(v.cagr)})",
    )
    top.plot(
        v.bh_equity.index,
        v.bh_equity.to_numpy(),
        lw=1.0,
        color="tab:gray",
        label=f"Buy and hold ({_money(v.bh_final_value)} {stake}, CAGR {_pct(v.bh_cagr)})",
    )
    if v.rebalance_times:
        _mark(
            top,
            v.equity,
            v.rebalance_times,
            s=14,
            marker="v",
            color="tab:orange",
            zorder=3,
            label=f"Rebalance ({v.rebalances})",
        )
    flows = report.flows
    if flows is not None:  # the portfolio itself, growing with the deposits, and the deposits
        top.plot(
            flows.value.index,
            flows.value.to_numpy(),
            lw=1.0,
            color="tab:green",
            label=f"Portfolio, deposits included ({_money(flows.final_value)} {stake}, "
            f"XIRR {_pct(flows.xirr)})",
        )
        _mark(
            top,
            flows.value,
            flows.times,
            s=24,
            marker="^",
            color="tab:green",
            edgecolors="black",
            linewidths=0.4,
            zorder=3,
            label=f"Deposit ({len(flows.amounts)}, {_money(flows.deposited)} {stake})",
        )
    if v.skipped_times:
        _mark(
            top,
            v.equity,
            v.skipped_times,
            s=18,
            marker="x",
            color="tab:red",
            zorder=3,
            label=f"Skipped rebalance ({v.skipped_rebalances})",
        )


def _log_scale(top: Any, report: Report) -> None:
    """The value axis in log scale, its ticks plain numbers (1-2-5 steps over a wide range)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    v = report.view
    top.set_yscale("log")
    plain = FuncFormatter(lambda y, _: f"{y:,.0f}")
    low = float(min(v.equity.min(), v.bh_equity.min()))
    high = float(max(v.equity.max(), v.bh_equity.max()))
    wide = low > 0 and high / low > 4  # 1-2-5 steps; else evenly spaced values
    top.yaxis.set_major_locator(
        LogLocator(base=10, subs=(1.0, 2.0, 5.0)) if wide else MaxNLocator(6)
    )
    top.yaxis.set_major_formatter(plain)
    top.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))


def _draw_weights(bottom: Any, report: Report, colors: list[str]) -> None:
    """The weights panel: each coin's share of the portfolio, and its target."""
    v, flows = report.view, report.flows
    weights = v.weights
    if flows is not None:  # shares of the portfolio, not of the wallet it is paid in from
        weights = weights.mul(v.equity / flows.value.where(flows.value > 0), axis=0).fillna(0.0)
    weights = weights[weights.sum(axis=1) > 0]  # not before the first buys / after exits
    styles = _target_styles(report.targets, list(weights.columns))
    for i, coin in enumerate(weights.columns):
        color = colors[i % len(colors)]
        target = report.targets.get(coin)
        label = f"{coin} (target {target * 100:g}%)" if target is not None else coin
        bottom.plot(weights.index, weights[coin].to_numpy() * 100, lw=0.8, color=color, label=label)
        if target is not None:
            bottom.axhline(target * 100, color=color, ls=styles[coin], lw=1.4, zorder=3)


def _watermark(fig: Any, note: str) -> None:
    """``note`` across the figure and as its title (SYNTHETIC DATA)."""
    fig.text(
        0.5,
        0.5,
        note,
        ha="center",
        va="center",
        fontsize=22,
        color="red",
        alpha=0.25,
        rotation=20,
        wrap=True,
    )
    fig.suptitle(note, color="red", fontweight="bold")


def plot(report: Report, path: Path, note: str | None = None, log_scale: bool = False) -> Path:
    """Equity vs buy-and-hold with the rebalances marked, and the weights, as a PNG.
    ``log_scale``: the value axis in log scale (a portfolio that grew tenfold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    v = report.view
    stake = report.result.stats.get("stake_currency", "USDT")
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(14, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    _draw_values(top, report, stake)
    if log_scale:
        _log_scale(top, report)
    top.set_ylabel(f"Portfolio value ({stake}{', log scale' if log_scale else ''})")
    top.set_title(
        f"{report.result.strategy}: {v.start:%Y-%m-%d} -> {v.end:%Y-%m-%d}, "
        f"{v.difference_pp:+.1f} pp vs buy-and-hold, max drawdown "
        f"{v.drawdown.depth * 100:.1f}% (buy-and-hold {v.bh_drawdown.depth * 100:.1f}%)"
    )
    top.grid(alpha=0.3)
    # Legends beside the plots, never over the lines.
    outside = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
    top.legend(fontsize=9, **outside)
    _draw_weights(bottom, report, plt.rcParams["axes.prop_cycle"].by_key()["color"])
    bottom.set_ylabel("Weight (% of portfolio)")
    bottom.set_title(
        "Weights over time (dashed: targets; equal targets in alternating colours)", fontsize=10
    )
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8, **outside)
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if note:
        _watermark(fig, note)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
