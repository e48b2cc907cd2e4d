"""The portfolio's own record, kept across restarts: what allocation and investment are applied,
how much money the portfolio owns, whether it has started or stopped, and the orders in flight.
Pure Python, no Freqtrade import: the adapter stores ``Book.to_dict()`` in Freqtrade's database.

Money: ``funded`` is the stake currency put into the portfolio (the investment, plus funds
added and auto-invest deposits, less funds removed as actually freed). The portfolio's cash is
``funded`` plus what its trades have returned and less what they cost; several bots sharing one
account each spend only their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import RebalanceConfig
from .engine import State
from .inflight import InFlight


@dataclass(frozen=True)
class Book:
    coins: tuple[tuple[str, float], ...]  # the allocation applied (percentages)
    investment: float  # the investment applied
    funded: float  # stake currency the portfolio owns, before trading
    closed_base: float = 0.0  # Freqtrade's closed profit when the portfolio started
    started: float | None = None  # time of the first buy, once every coin was bought
    triggered: bool = False  # trigger_price reached (or none set)
    trigger_ref: float | None = None  # the trigger coin's price when waiting began
    stopped: str | None = None  # why the portfolio stopped; None while it runs
    stop_time: float | None = None
    refused: str | None = None  # a refused change and its reason (funds.refusal_key): said once
    entries: Mapping[str, float] = field(default_factory=dict)  # coin -> stake of a first buy
    # coin -> coins planned for that first buy: its stake is this quantity at the rate Freqtrade
    # buys at (the ask), so the quantity announced is the quantity bought
    entry_qty: Mapping[str, float] = field(default_factory=dict)
    inflight: Mapping[str, InFlight] = field(default_factory=dict)  # coin -> order
    engine: State = field(default_factory=State)
    # The last rebalance section accepted (raw, as in config.json): the portfolio a bot runs on
    # when a /reload_config brings a section it must refuse.
    section: Mapping[str, Any] | None = None
    # What FreqUI's chart and custom data compare against (dry/live): the starting allocation
    # (the coins the first buys bought, the cash they left, when they were complete), money moved
    # in (+) or out (-) of the portfolio besides trading (time, amount), and the last thing the
    # bot announced (time, text).
    start_time: float | None = None
    start_holdings: Mapping[str, float] = field(default_factory=dict)
    start_cash: float | None = None
    moves: tuple[tuple[float, float], ...] = ()
    said: tuple[float, str] | None = None
    # Auto-invest: the stake currency deposited so far (the investment grows by it; ``investment``
    # stays the figure of config.json, which a /reload_config compares), the scheduled time of
    # the last deposit handled (made or skipped: the next is the slot after it, so a restart
    # neither repeats nor loses one), and the first of a run of skipped ones (said once).
    deposited: float = 0.0
    last_deposit: float | None = None
    deposit_refused: float | None = None
    # Hands on the account (live): coin -> quantity adopted into the holdings besides Freqtrade's
    # trade (negative: sold or withdrawn by hand), and coin -> what the account lacked of the
    # book's holding when the bot said so (said once).
    adopted: Mapping[str, float] = field(default_factory=dict)
    short: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def fresh(cls, cfg: RebalanceConfig, closed_base: float = 0.0) -> Book:
        return cls(
            coins=cfg.coins,
            investment=cfg.investment,
            funded=cfg.investment,
            closed_base=closed_base,
            triggered=cfg.trigger_price is None,
        )

    def applied(self, cfg: RebalanceConfig) -> RebalanceConfig:
        """``cfg`` with the allocation and investment the portfolio actually runs on."""
        if cfg.coins == self.coins and cfg.investment == self.investment:
            return cfg
        return replace(cfg, coins=self.coins, investment=self.investment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "coins": [list(c) for c in self.coins],
            "investment": self.investment,
            "funded": self.funded,
            "closed_base": self.closed_base,
            "started": self.started,
            "triggered": self.triggered,
            "trigger_ref": self.trigger_ref,
            "stopped": self.stopped,
            "stop_time": self.stop_time,
            "refused": self.refused,
            "entries": dict(self.entries),
            **({"entry_qty": qty} if (qty := self._entry_qty()) else {}),
            "inflight": {c: v.to_dict() for c, v in self.inflight.items()},
            "engine": self.engine.to_dict(),
            **({"section": dict(self.section)} if self.section is not None else {}),
            **self._shown(),
            **({"deposited": self.deposited} if self.deposited else {}),
            **({"last_deposit": self.last_deposit} if self.last_deposit is not None else {}),
            **(
                {"deposit_refused": self.deposit_refused}
                if self.deposit_refused is not None
                else {}
            ),
            **({"adopted": dict(self.adopted)} if self.adopted else {}),
            **({"short": dict(self.short)} if self.short else {}),
        }

    def _shown(self) -> dict[str, Any]:
        """The fields kept for the chart and the custom data, when set (a record without them
        is written as before)."""
        shown: dict[str, Any] = {}
        if self.start_time is not None:
            shown["start"] = {
                "time": self.start_time,
                "holdings": dict(self.start_holdings),
                "cash": self.start_cash,
            }
        if self.moves:
            shown["moves"] = [list(m) for m in self.moves]
        if self.said is not None:
            shown["said"] = list(self.said)
        return shown

    def _entry_qty(self) -> dict[str, float]:
        """The planned quantities of the first buys still to make (others are history)."""
        return {c: q for c, q in self.entry_qty.items() if c in self.entries}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Book:
        start = data.get("start") or {}
        said = data.get("said")
        return cls(
            coins=tuple((str(c), float(w)) for c, w in data["coins"]),
            investment=float(data["investment"]),
            funded=float(data["funded"]),
            closed_base=float(data.get("closed_base", 0.0)),
            started=data.get("started"),
            triggered=bool(data.get("triggered", True)),
            trigger_ref=data.get("trigger_ref"),
            stopped=data.get("stopped"),
            stop_time=data.get("stop_time"),
            refused=data.get("refused"),
            entries=dict(data.get("entries", {})),
            entry_qty=dict(data.get("entry_qty", {})),
            inflight={c: InFlight.from_dict(v) for c, v in data.get("inflight", {}).items()},
            engine=State.from_dict(data.get("engine", {})),
            section=data.get("section"),
            start_time=start.get("time"),
            start_holdings={str(c): float(q) for c, q in start.get("holdings", {}).items()},
            start_cash=start.get("cash"),
            moves=tuple((float(t), float(a)) for t, a in data.get("moves", [])),
            said=(float(said[0]), str(said[1])) if said else None,
            deposited=float(data.get("deposited", 0.0)),
            last_deposit=data.get("last_deposit"),
            deposit_refused=data.get("deposit_refused"),
            adopted={str(c): float(q) for c, q in (data.get("adopted") or {}).items()},
            short={str(c): float(q) for c, q in (data.get("short") or {}).items()},
        )
