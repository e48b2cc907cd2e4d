"""The harness checked against Freqtrade: a sample of the sweep's points (the best and the
worst final value, then points drawn at random) run again by Freqtrade's own ``Backtesting``
(:mod:`.engine`), both final values side by side; any that differ by more than
``TOLERANCE`` fail the sweep."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .engine import Row, sweep
from .grid import Point

#: The largest relative difference of a final value accepted (0.01%).
TOLERANCE = 1e-4


class VerificationError(RuntimeError):
    """A verified point's final value differs from Freqtrade's beyond ``TOLERANCE``."""


@dataclass(frozen=True)
class Check:
    why: str  # "best", "worst", "random"
    fast: Row
    freqtrade: Row

    @property
    def difference(self) -> float:
        """Relative difference of the final values (harness against Freqtrade)."""
        base = self.freqtrade.final_value
        return (self.fast.final_value - base) / base if base else self.fast.final_value

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= TOLERANCE


def sample(rows: Sequence[Row], n: int, seed: int = 0) -> list[tuple[int, str]]:
    """Which rows to verify: the best final value, the worst, then random ones, ``n`` in all
    (fewer when the grid is smaller); (index, why)."""
    if n <= 0 or not rows:
        return []
    order = sorted(range(len(rows)), key=lambda i: rows[i].final_value)
    chosen: list[tuple[int, str]] = [(order[-1], "best")]
    if n >= 2 and order[0] != order[-1]:
        chosen.append((order[0], "worst"))
    rest = [i for i in range(len(rows)) if i not in {c for c, _ in chosen}]
    rng = random.Random(seed)
    rng.shuffle(rest)
    chosen += [(i, "random") for i in rest[: max(0, n - len(chosen))]]
    return chosen


def verify(
    configs: Mapping[str, dict[str, Any]],
    points: Sequence[Point],
    rows: Sequence[Row],
    n: int,
    jobs: int = 0,
    seed: int = 0,
) -> list[Check]:
    """The sampled points through Freqtrade's engine, portfolio by portfolio."""
    chosen = sample(rows, n, seed)
    checks: list[Check] = []
    for name in dict.fromkeys(points[i].portfolio for i, _ in chosen):
        mine = [(i, why) for i, why in chosen if points[i].portfolio == name]
        ft_rows = sweep(configs[name], [points[i] for i, _ in mine], jobs)
        checks += [Check(why, rows[i], r) for (i, why), r in zip(mine, ft_rows, strict=True)]
    return checks


def table(checks: Sequence[Check], stake: str = "USDT") -> str:
    """The verified points, the harness's final value beside Freqtrade's."""
    head = ("point", "why", "harness", "Freqtrade", "difference", "harness s", "Freqtrade s")
    cells = [
        (
            f"{c.fast.portfolio + ': ' if c.fast.portfolio else ''}{c.fast.label}",
            c.why,
            f"{c.fast.final_value:,.2f}",
            f"{c.freqtrade.final_value:,.2f}",
            f"{c.difference * 100:+.4f}%",
            f"{c.fast.seconds:.2f}",
            f"{c.freqtrade.seconds:.1f}",
        )
        for c in checks
    ]
    widths = [max(len(h), *(len(x[i]) for x in cells)) for i, h in enumerate(head)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    out.append(f"final values in {stake}; a difference beyond {TOLERANCE:.2%} fails the sweep")
    return "\n".join(out)
