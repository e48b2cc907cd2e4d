"""The soak's runner: one seed's world (tests/soak/events.py) on the Binance stand-in replaying
history at ``--speed`` with real live ``freqtrade trade`` bots sharing one account, its
schedule of events carried out one step at a time, and after every step the invariants
(tests/soak/invariants.py) checked once every bot has run a whole loop since (the evidence it
had its chance: ``last_process`` marks, as :meth:`tests.helpers.e2e.Bot.wait_loops` counts
them).

A state invariant (account and books, orders known once) that fails is checked again after each
of the next loops of every bot (an order a bot is placing while the snapshot is taken is in
one view and not yet in the other); only what persists for :data:`RECHECKS` loops is a
violation. The log invariants (refusals, repeated messages) are cumulative: each violation is
counted once.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from binance_standin.weights import CLIENT_HEADER
from tests.helpers.e2e import Bot, Sim, _stop_process
from tests.soak import invariants as inv
from tests.soak.events import Event, Kind, Plan, Schedule, World

DAY_MS = 86_400_000
#: The seeds ``make test-soak`` runs without ``SOAK_SEED``.
SEEDS = (1, 5, 11)
DAYS = 14.0
#: History per wall second: 4 hours (two simulated weeks in 84 s of wall time).
SPEED = 14400.0
#: Loops of every bot a failing state invariant is given before it counts as a violation.
RECHECKS = 4
#: Seconds a quiet period waits for every portfolio to be back within its threshold.
QUIET_S = 90.0


def seeds() -> list[int]:
    """``SOAK_SEED`` (one seed or a comma-separated list), else :data:`SEEDS`."""
    raw = os.environ.get("SOAK_SEED", "").strip()
    return [int(s) for s in raw.split(",") if s.strip()] if raw else list(SEEDS)


def setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class Violation:
    seed: int
    step: int
    event: str
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"seed {self.seed}, step {self.step} ({self.event}), {self.invariant}: {self.detail}"


@dataclass
class Figures:
    """What one seed's soak did, for the closing note."""

    seed: int
    start: str = ""
    end: str = ""
    plans: tuple[Plan, ...] = ()
    simulated_days: float = 0.0
    steps: int = 0
    events: Counter = field(default_factory=Counter)
    orders: int = 0
    filled: int = 0
    faults_armed: Counter = field(default_factory=Counter)
    faults_fired: Counter = field(default_factory=Counter)
    restarts: int = 0
    start_retries: int = 0  # starts refused (the exchange unavailable), tried again
    reloads: int = 0
    deposited: float = 0.0
    checks: int = 0
    violations: list[Violation] = field(default_factory=list)
    loops: Counter = field(default_factory=Counter)
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        bots = "; ".join(
            f"{p.name} {'/'.join(f'{c} {w}' for c, w in p.coins.items())} "
            f"({p.investment:g} of {p.capital:g} USDT, threshold {p.threshold:g})"
            for p in self.plans
        )
        return [
            f"soak seed {self.seed}: {self.simulated_days:.1f} simulated days "
            f"({self.start[:16]} -> {self.end[:16]}) in {self.wall_s:.0f} s wall; {bots}",
            f"  steps {self.steps}: "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.events.items())),
            f"  orders {self.orders} ({self.filled} filled); faults armed "
            f"{dict(sorted(self.faults_armed.items()))}, fired "
            f"{dict(sorted(self.faults_fired.items()))}",
            f"  restarts (kill -9) {self.restarts} (starts tried again: {self.start_retries}), "
            f"config reloads {self.reloads}, deposits "
            f"{self.deposited:g} USDT; loops {dict(sorted(self.loops.items()))}",
            f"  invariant checks {self.checks}, violations {len(self.violations)}",
        ]


class Soak:
    """One seed's soak in ``workdir``: :meth:`run` returns its :class:`Figures`. ``say``
    prints progress (a line per simulated day); ``kinds`` replaces the event kinds drawn."""

    def __init__(
        self,
        w: World,
        workdir: Path,
        *,
        days: float = DAYS,
        speed: float = SPEED,
        say: Callable[[str], None] = print,
        kinds: dict[str, Kind] | None = None,
    ) -> None:
        self.world, self.workdir, self.days, self.speed, self.say = w, workdir, days, speed, say
        self.kinds = kinds  # the event kinds drawn (default: events.EVENTS)
        self.fig = Figures(w.seed, plans=w.plans)
        self.sim: Sim | None = None
        self.bots: dict[str, Bot] = {}
        self.threshold = {p.name: p.threshold for p in w.plans}
        self.owners = {c: p.name for p in w.plans for c in p.coins}
        self.mult: dict[str, float] = {}  # the price multipliers the soak set, per symbol
        self.moved: list[tuple[int, str]] = []  # (wall ms, symbol): the soak moved a price
        self.halted: set[str] = set()
        self.steps: dict[str, float] = {}  # the largest lot step each coin had
        self.unowned = w.unowned
        self.reported: set[tuple[str, str]] = set()
        self.event = Event(0, "start")
        self.day_said = 0
        self.hist0 = 0

    # ------------------------------------------------------------ the run
    def run(self) -> Figures:
        started = time.monotonic()
        w = self.world
        deposit = sum(p.capital for p in w.plans) + w.unowned
        self.sim = Sim(
            self.workdir / "sim",
            balances={"USDT": deposit},
            start=w.start,
            extra_args=["--speed", f"{self.speed:g}"],
        ).start()
        try:
            self.lot_steps()
            self.start_bots()
            clock = self.sim.state()["clock"]
            self.hist0, self.fig.start = clock["history_now_ms"], clock["history_now"]
            self.say(
                f"soak seed {w.seed}: history from {clock['history_now'][:16]} at speed "
                f"{self.speed:g}, {len(w.plans)} bots"
            )
            schedule = Schedule(w, self.kinds)
            end = self.hist0 + self.days * DAY_MS
            while self.history_ms() < end:
                event = schedule.next()
                self.step(event, lambda e=event: schedule.run(self, e))
            self.step(Event(schedule.index + 1, "quiet"), self.quiet)  # the closing one
            self.record_totals()
        finally:
            self.stop()
            self.fig.wall_s = time.monotonic() - started
        return self.fig

    def start_bots(self) -> None:
        assert self.sim is not None
        for plan in self.world.plans:
            self.bots[plan.name] = Bot(
                self.workdir,
                self.sim,
                plan.name,
                dry_run=False,
                rebalance={
                    "coins": plan.coins,
                    "investment": plan.investment,
                    "threshold": plan.threshold,
                },
                extra={"available_capital": plan.capital},
                start_timeout=180,
            )
        for bot in self.bots.values():
            bot.launch()
        for bot in self.bots.values():
            bot.wait_started()
        for plan in self.world.plans:
            bot = self.bots[plan.name]
            bot.wait_for(lambda b=bot, n=len(plan.coins): _settled(b, n), 180, "the first buys")

    def stop(self) -> None:
        for bot in self.bots.values():  # SIGTERM all at once, then wait for each
            if bot.proc is not None and bot.proc.poll() is None:
                bot.proc.send_signal(signal.SIGTERM)
        for bot in self.bots.values():
            _stop_process(bot.proc, signal.SIGTERM, timeout=30)
        if self.sim is not None:
            self.sim.stop()

    def step(self, event: Event, action: Callable[[], str]) -> None:
        self.event = event
        what = action()
        self.fig.steps += 1
        self.fig.events[event.kind] += 1
        self.wait_loops(1)
        self.check()
        self.progress(f"{event} {what}")

    def progress(self, last: str) -> None:
        day = int((self.history_ms() - self.hist0) // DAY_MS)
        if day > self.day_said:
            self.day_said = day
            f = self.fig
            self.say(
                f"  seed {f.seed} day {day}/{self.days:g}: steps {f.steps}, restarts "
                f"{f.restarts}, faults {sum(f.faults_armed.values())}, checks {f.checks}, "
                f"violations {len(f.violations)}; last {last[:110]}"
            )

    def record_totals(self) -> None:
        state = self.state()
        self.fig.end = state["clock"]["history_now"]
        self.fig.simulated_days = (state["clock"]["history_now_ms"] - self.hist0) / DAY_MS
        self.fig.orders = len(state["orders"])
        self.fig.filled = sum(1 for o in state["orders"] if o["executedQty"] > 0)
        self.fig.faults_fired = Counter(f["kind"] for f in state["faults_fired"])

    # ------------------------------------------------------------ the stand-in
    def control(self, path: str, body: dict[str, Any]) -> Any:
        assert self.sim is not None
        resp = requests.post(f"{self.sim.url}{path}", json=body, timeout=10)
        if resp.status_code >= 400:
            raise RuntimeError(f"soak seed {self.world.seed}: {path} {body} -> {resp.text}")
        return resp.json() if resp.content else None

    def state(self) -> dict[str, Any]:
        assert self.sim is not None
        return self.sim.state()

    def history_ms(self) -> int:
        return int(self.state()["clock"]["history_now_ms"])

    def wall_ms(self) -> int:
        return int(time.time() * 1000)

    def symbol_rules(self, symbol: str) -> dict[str, str]:
        """The symbol's filters as exchangeInfo serves them now, by filter type."""
        assert self.sim is not None
        deadline = time.monotonic() + 60
        while True:  # an IP ban (418) or rate limit (429) of the soak's events: wait it out
            resp = requests.get(
                f"{self.sim.url}/api/v3/exchangeInfo",
                params={"symbol": symbol},
                headers={CLIENT_HEADER: "soak"},  # its weight booked as the soak's
                timeout=10,
            )
            if resp.status_code not in (418, 429) or time.monotonic() > deadline:
                break
            time.sleep(1)
        resp.raise_for_status()
        (entry,) = resp.json()["symbols"]
        return {f["filterType"]: f for f in entry["filters"]}

    def lot_steps(self) -> dict[str, float]:
        """Each coin's largest LOT_SIZE step so far (a rule change may have moved it): asked
        at the start and after each rule change only (exchangeInfo weighs 20, and the bots
        share the account's weight limit)."""
        for coin in self.owners:
            step = float(self.symbol_rules(f"{coin}USDT")["LOT_SIZE"]["stepSize"])
            self.steps[coin] = max(step, self.steps.get(coin, 0.0))
        return dict(self.steps)

    # ------------------------------------------------------------ the events
    def jump(self, moves: dict[str, float], fixed: bool = False) -> str:
        assert self.sim is not None
        prices = self.sim.prices() if fixed else {}
        for coin, factor in moves.items():
            symbol = f"{coin}USDT"
            if fixed:
                self.sim.set_price(symbol, prices[symbol] * factor)
            else:
                self.mult[symbol] = min(5.0, max(0.2, self.mult.get(symbol, 1.0) * factor))
                self.control("/sim/price", {"multiplier": {symbol: self.mult[symbol]}})
            self.moved.append((self.wall_ms(), symbol))
        held = "held at" if fixed else "x"
        return "prices " + ", ".join(f"{c} {held} {f:g}" for c, f in moves.items())

    def kill_and_restart(
        self, name: str, coin: str | None, factor: float | None, down_s: float = 0.0
    ) -> str:
        bot = self.bots[name]
        what = "at rest"
        if coin is not None and factor is not None:
            t0 = self.wall_ms()
            self.jump({coin: factor})
            symbols = {f"{c}USDT" for c, owner in self.owners.items() if owner == name}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                orders = self.state()["orders"]
                if any(o["symbol"] in symbols and o["time"] >= t0 for o in orders):
                    what = "mid-rebalance (after its first order)"
                    break
                time.sleep(0.25)
            else:
                what = "after a jump that brought no order in 20 s"
        bot.kill()
        time.sleep(down_s)
        self.start(bot)
        self.fig.restarts += 1
        return f"{name} killed -9 {what}, restarted after {down_s:g} s"

    def start(self, bot: Bot, tries: int = 20) -> None:
        """Start ``bot`` as a supervisor (systemd, docker's restart policy) would: again, 3 s
        later, while it exits during start-up (Freqtrade cannot start without the exchange's
        markets: during a maintenance or an IP ban it exits with code 2)."""
        for _ in range(tries - 1):
            try:
                bot.start()
                return
            except RuntimeError:
                if bot.running:  # up, but its API did not answer: not a refused start
                    raise
                self.fig.start_retries += 1
                time.sleep(3)
        bot.start()

    def reload(self, name: str, threshold: float) -> str:
        bot = self.bots[name]
        old = self.threshold[name]
        bot.edit_config(rebalance={"threshold": threshold})
        bot.client.reload_config()
        self.threshold[name] = threshold
        self.fig.reloads += 1
        return f"{name} /reload_config threshold {old:g} -> {threshold:g}"

    def deposit(self, usdt: float) -> str:
        assert self.sim is not None
        self.sim.deposit("USDT", usdt)
        self.unowned += usdt
        self.fig.deposited += usdt
        return f"{usdt:g} USDT deposited (no portfolio's)"

    def fault(self, kind: str, params: dict[str, Any], moves: dict[str, float]) -> str:
        self.control("/sim/fault", {"kind": kind, **params})
        self.fig.faults_armed[kind] += 1
        moved = f"; {self.jump(moves)}" if moves else ""
        return f"fault {kind} {params}{moved}"

    def halt(self, coin: str, status: str, loops: int) -> str:
        symbol = f"{coin}USDT"
        self.control("/sim/symbol", {"symbol": symbol, "status": status})
        self.halted.add(symbol)
        try:
            self.wait_loops(loops)
        finally:
            self.control("/sim/symbol", {"symbol": symbol, "status": "TRADING"})
            self.halted.discard(symbol)
        return f"{coin} {status} for {loops} loops, then TRADING"

    def change_rules(self, coin: str, change: str, min_notional: float, factor: float) -> str:
        assert self.sim is not None
        symbol = f"{coin}USDT"
        filters = self.symbol_rules(symbol)
        step = float(filters["LOT_SIZE"]["stepSize"])
        price = self.sim.prices()[symbol]
        if change == "step_coarser" and step * 10 * price > 20:  # a step worth > 20 USDT
            change = "step_finer"
        if change == "min_notional":
            body: dict[str, Any] = {"minNotional": min_notional}
        else:
            body = {"stepSize": step * 10 if change == "step_coarser" else step / 10}
        self.control("/sim/rules", {"symbol": symbol, **body})
        self.lot_steps()
        return f"{coin} rules {body}; {self.jump({coin: factor})}"

    def ban(self, seconds: float) -> str:
        self.control("/sim/ban", {"seconds": seconds})
        return f"IP banned (418) for {seconds:g} s"

    def order_limit(self, per_10s: int, moves: dict[str, float]) -> str:
        from binance_standin.orderlimits import DEFAULT_PER_10S

        self.control("/sim/limits", {"per_10s": per_10s})
        try:
            what = self.jump(moves)
            self.wait_loops(3)
        finally:
            self.control("/sim/limits", {"per_10s": DEFAULT_PER_10S})
        return f"order limit {per_10s} per 10 s for 3 loops; {what}"

    def quiet(self) -> str:
        """A quiet period: no fault armed, every symbol trading, every price held where it is;
        then every portfolio must be back within its threshold (and settled) within
        :data:`QUIET_S`; then the prices move on (the multipliers the soak set)."""
        assert self.sim is not None
        self.control("/sim/fault", {"clear": True})
        for symbol in sorted(self.halted):
            self.control("/sim/symbol", {"symbol": symbol, "status": "TRADING"})
        self.halted.clear()
        prices = self.sim.prices()
        for coin in self.owners:
            self.sim.set_price(f"{coin}USDT", prices[f"{coin}USDT"])
            self.moved.append((self.wall_ms(), f"{coin}USDT"))
        started = time.monotonic()
        found: list[str] = []
        try:
            self.wait_loops(2)
            while True:
                found = self.thresholds()
                if not found or time.monotonic() - started > QUIET_S:
                    break
                self.wait_loops(1)
            self.fig.checks += 1
            for detail in found:
                self.violation("back within threshold", detail)
        finally:
            for coin in self.owners:
                symbol = f"{coin}USDT"
                if self.mult.get(symbol, 1.0) != 1.0:
                    self.control("/sim/price", {"multiplier": {symbol: self.mult[symbol]}})
                else:
                    self.control("/sim/price", {"clear": True, "symbol": symbol})
                self.moved.append((self.wall_ms(), symbol))
        took = time.monotonic() - started
        return f"quiet {took:.0f} s: " + (
            "; ".join(found) or "every portfolio within its threshold"
        )

    # ------------------------------------------------------------ the bots' chance
    def wait_loops(self, loops: int, timeout: float = 180.0) -> None:
        """Until every bot has run ``loops`` whole loops that began after this call (a bot
        that died is a violation, and is started again)."""
        marks = {name: bot.last_loop() for name, bot in self.bots.items()}
        new: Counter = Counter()
        deadline = time.monotonic() + timeout
        while True:
            for name, bot in self.bots.items():
                if new[name] > loops:
                    continue
                if not bot.running:
                    self.violation("bot alive", f"{name} exited\n{bot.log_tail(20)}")
                    self.start(bot)
                    self.fig.restarts += 1
                    marks[name] = None
                    continue
                mark = bot.last_loop()
                if mark is not None and mark != marks[name]:
                    marks[name] = mark
                    new[name] += 1
            if all(new[name] > loops for name in self.bots):
                break
            if time.monotonic() > deadline:
                late = [n for n in self.bots if new[n] <= loops]
                self.violation("bot loops", f"{late} did not loop {loops} times in {timeout:.0f} s")
                break
            time.sleep(0.3)
        self.fig.loops.update(new)

    # ------------------------------------------------------------ the invariants
    def violation(self, invariant: str, detail: str) -> None:
        key = (invariant, detail)
        if key in self.reported:
            return
        self.reported.add(key)
        v = Violation(self.world.seed, self.event.index, str(self.event), invariant, detail)
        self.fig.violations.append(v)
        self.say(f"  VIOLATION {v}")

    def check(self) -> None:
        """Every invariant once the bots had their chance; a failing state invariant again
        after each of the next :data:`RECHECKS` loops before it counts."""
        for attempt in range(RECHECKS + 1):
            found = self.findings()
            if not any(found[k] for k in STATE_INVARIANTS) or attempt == RECHECKS:
                break
            self.wait_loops(1)
        for name, details in found.items():
            self.fig.checks += 1
            for detail in details:
                self.violation(name, detail)

    def findings(self) -> dict[str, list[str]]:
        assert self.sim is not None
        trades = {name: bot.all_trades() for name, bot in self.bots.items()}
        state = self.state()
        known = {name: inv.bot_orders(t) for name, t in trades.items()}
        plans = {p.name: p for p in self.world.plans}
        books = {name: inv.ledger(plans[name].capital, orders) for name, orders in known.items()}
        balances = {a: v["free"] + v["locked"] for a, v in state["balances"].items()}
        fills = Counter(t["symbol"].removesuffix("USDT") for t in state["trades"])
        amounts = {
            t["pair"].split("/")[0]: float(t["amount"])
            for ts in trades.values()
            for t in ts
            if t.get("is_open")
        }
        logs = {name: bot.log() for name, bot in self.bots.items()}
        said = {name: inv.legs(text) for name, text in logs.items()}
        return {
            "account = books": inv.account_matches_books(
                balances, books, self.owners, self.unowned, dict(fills)
            ),
            "trades = account": inv.trades_match_account(
                balances, amounts, books, self.owners, self.steps
            ),
            "orders known once": inv.orders_known_once(state["orders"], known),
            "no order sent twice": inv.sent_twice(
                state["orders"], [leg for legs in said.values() for leg in legs], self.steps
            )
            + [
                v
                for p in self.world.plans
                for v in inv.legs_unread(state["orders"], said[p.name], p.coins)
            ],
            "no balance refusal": inv.balance_refusals(
                inv.refusals(self.sim.stderr_path.read_text(errors="replace")),
                state["faults_fired"],
            ),
            "no message repeated": [
                v for name, text in logs.items() for v in inv.repeated_messages(name, text)
            ],
            "no error logged": [
                v for name, text in logs.items() for v in inv.errors_logged(name, text)
            ],
        }

    def thresholds(self) -> list[str]:
        """The portfolios not settled or not within their thresholds at the held prices."""
        assert self.sim is not None
        state = self.state()
        prices = {s.removesuffix("USDT"): v["price"] for s, v in state["prices"].items()}
        balances = {a: v["free"] + v["locked"] for a, v in state["balances"].items()}
        open_symbols = {o["symbol"] for o in state["open_orders"]}
        out = []
        for plan in self.world.plans:
            bot = self.bots[plan.name]
            trades = bot.all_trades()
            if open_symbols & {f"{c}USDT" for c in plan.coins} or any(
                t.get("has_open_orders") for t in trades
            ):
                out.append(f"{plan.name} still has open orders")
                continue
            book = inv.ledger(plan.capital, inv.bot_orders(trades))
            cash = book.cash - (plan.capital - plan.investment)  # the portfolio's own
            holdings = {c: balances.get(c, 0.0) for c in plan.coins}
            drift = inv.drifts({c: float(w) for c, w in plan.coins.items()}, holdings, prices, cash)
            out += inv.beyond_threshold(plan.name, drift, self.threshold[plan.name])
        return out


#: The invariants over a snapshot of the exchange and the bots (the others read logs).
STATE_INVARIANTS = ("account = books", "trades = account", "orders known once")


def _settled(bot: Bot, n: int) -> bool:
    trades = bot.open_trades()
    return len(trades) == n and not any(t.get("has_open_orders") for t in trades)
