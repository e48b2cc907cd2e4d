"""What one live bot costs: request weight per minute, memory and CPU (issue 12, item 2).

Runs the Binance stand-in and one real ``freqtrade trade`` process against it (live, the
stand-in's keys: the same harness as the end-to-end tests, ``tests/helpers/e2e.py``) for a few
minutes, then prints the bot's request weight per calendar minute (the stand-in books each
request under the bot's name), the largest weight of any 60 seconds (start-up included), the
weight per endpoint, the process's resident memory and its CPU seconds::

    python -m tools.botload --coins 4 --minutes 3
    python -m tools.botload --coins 10 --minutes 3
    python -m tools.botload --coins 4 --strategy buyhold          # Freqtrade alone, no plugin
    python -m tools.botload --coins 10 --move SOL=1.6@90           # and the reaction time
    python -m tools.botload --coins 10 --config '{"internals": {"process_throttle_secs": 5}}'

The bot runs the shipped ``config.json`` (5-second loop, order-book pricing) unless ``--config``
overrides top-level keys (merged one level deep). Prices are frozen at the start (the stand-in
otherwise replays candles in real time); ``--move COIN=FACTOR@SECONDS`` multiplies a coin's price
that many seconds after the bot started and reports the seconds until the bot's first order.
Needs ``../shared/data/binance`` (else a synthetic market) and Linux's ``/proc``. Prints only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.helpers.e2e import Bot, Sim
from tests.helpers.flows import freeze
from tests.helpers.load import client_minutes, endpoint_weights, proc_stat

ROOT = Path(__file__).resolve().parents[1]
FOUR = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
TEN = {c: 10 for c in ("BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LINK", "LTC", "TRX")}


def measure(
    coins: dict[str, float],
    minutes: float,
    strategy: str = "rebalance",
    config: dict[str, Any] | None = None,
    move: tuple[str, float, float] | None = None,
    name: str = "bot",
) -> dict[str, Any]:
    """Run the stand-in and one live bot; return the figures (see the module doc)."""
    workdir = Path(tempfile.mkdtemp(prefix="botload-"))
    extra: dict[str, Any] = {"internals": {"process_throttle_secs": 5}}
    if strategy == "buyhold":
        extra |= {"strategy": "BuyAndHoldStrategy", "strategy_path": str(ROOT / "tools/strategies")}
    for key, value in (config or {}).items():
        if isinstance(value, dict) and isinstance(extra.get(key), dict):
            extra[key] = {**extra[key], **value}
        else:
            extra[key] = value
    with Sim(workdir / "sim", balances={"USDT": 1000}) as sim:
        freeze(sim, coins)
        bot = Bot(
            workdir,
            sim,
            name,
            dry_run=False,
            rebalance={"coins": coins, "investment": 1000},
            extra=extra,
            start_timeout=120,
        )
        started = time.monotonic()
        start_ms = sim.state()["clock"]["now"]
        moved_ms: int | None = None
        bot.start()
        assert bot.proc is not None
        pid = bot.proc.pid
        moved_at: float | None = None
        reaction: float | None = None
        peak_rss = 0.0
        samples: list[tuple[int, float]] = []  # (wall ms, CPU seconds so far)
        try:
            while time.monotonic() - started < minutes * 60:
                now = time.monotonic() - started
                if move and moved_at is None and now >= move[2]:
                    orders_before = len(sim.orders())
                    sim.multiply(f"{move[0]}USDT", move[1])
                    moved_at = time.monotonic()
                    moved_ms = sim.state()["clock"]["now"]
                if moved_at is not None and reaction is None:
                    if len(sim.orders()) > orders_before:
                        reaction = time.monotonic() - moved_at
                stat = proc_stat(pid)
                if stat:
                    peak_rss = max(peak_rss, stat.rss_mib)
                    samples.append((int(time.time() * 1000), stat.cpu_s))
                time.sleep(0.5)
            stat = proc_stat(pid)
            trades = len(bot.open_trades())
        finally:
            bot.stop()
        end_ms = sim.state()["clock"]["now"]
        weights = sim.weights()
    per_minute = client_minutes(weights, name)
    # Quiet minutes: whole calendar minutes before the price move without the start-up's
    # requests (markets) and without orders (one bot: the stand-in's minutes are its own).
    quiet_end = moved_ms if moved_ms is not None else end_ms
    busy = ("GET /api/v3/exchangeInfo", "POST /api/v3/order")
    quiet_minutes = [
        m
        for m in weights["minutes"]
        if name in m["by_client"]
        and m["start_ms"] >= start_ms
        and m["start_ms"] + 60_000 <= quiet_end
        and not any(e in m["by_endpoint"] for e in busy)
    ]
    quiet = [m["by_client"][name] for m in quiet_minutes]
    elapsed = time.monotonic() - started
    # CPU over the same quiet stretch.
    first = min((m["start_ms"] for m in quiet_minutes), default=quiet_end)
    window = [(t, c) for t, c in samples if first <= t <= quiet_end]
    quiet_cpu = (
        round((window[-1][1] - window[0][1]) / ((window[-1][0] - window[0][0]) / 60_000), 2)
        if len(window) > 1 and window[-1][0] > window[0][0]
        else None
    )
    return {
        "coins": len(coins),
        "strategy": strategy,
        "open_trades": trades,
        "minutes": per_minute,
        "steady_per_minute": round(sum(quiet) / len(quiet)) if quiet else None,
        "max_60s": weights["max_rolling_60s_by_client"].get(name, 0),
        "by_endpoint": endpoint_weights(weights, name),
        "answered_429": weights["answered_429"],
        "answered_418": weights["answered_418"],
        "rss_mib": round(stat.rss_mib, 1) if stat else None,
        "peak_rss_mib": round(max(peak_rss, stat.peak_mib if stat else 0.0), 1),
        "cpu_s": round(stat.cpu_s, 1) if stat else None,
        "cpu_s_per_min": round(stat.cpu_s / (elapsed / 60), 2) if stat else None,
        "quiet_cpu_s_per_min": quiet_cpu,
        "reaction_s": round(reaction, 1) if reaction is not None else None,
    }


def _move(text: str) -> tuple[str, float, float]:
    coin, _, rest = text.partition("=")
    factor, _, at = rest.partition("@")
    return coin.upper(), float(factor), float(at or 60)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.botload", description=__doc__.split("\n")[0])
    p.add_argument("--coins", type=int, choices=(4, 10), default=4)
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--strategy", choices=("rebalance", "buyhold"), default="rebalance")
    p.add_argument("--config", type=json.loads, default=None, help="top-level config overrides")
    p.add_argument("--move", type=_move, default=None, metavar="COIN=FACTOR@SECONDS")
    p.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = p.parse_args(argv)
    result = measure(
        FOUR if args.coins == 4 else TEN, args.minutes, args.strategy, args.config, args.move
    )
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['strategy']}, {result['coins']} coins, {result['open_trades']} trades open")
    for start, w in result["minutes"]:
        print(f"  minute {start}: weight {w}")
    print(f"  weight per quiet minute (no start-up, no order): {result['steady_per_minute']}")
    print(f"  largest weight in any 60 s (start-up included): {result['max_60s']}")
    print(f"  429 answered {result['answered_429']}, 418 answered {result['answered_418']}")
    print("  weight per endpoint over the run:")
    for endpoint, w in result["by_endpoint"].items():
        print(f"    {endpoint:40s} {w}")
    print(f"  memory: RSS {result['rss_mib']} MiB (peak {result['peak_rss_mib']} MiB)")
    print(
        f"  CPU: {result['cpu_s']} s in all ({result['cpu_s_per_min']} s per minute), "
        f"{result['quiet_cpu_s_per_min']} s per quiet minute"
    )
    if args.move:
        print(f"  reaction: first order {result['reaction_s']} s after the price move")
    return 0


if __name__ == "__main__":
    sys.exit(main())
