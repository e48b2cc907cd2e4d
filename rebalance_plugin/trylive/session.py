"""``freqtrade-rebalance try-live`` running: the candles found (or a synthetic market made), the
stand-in started and its prices held, the bot started on it, its login and commands printed,
its announcements echoed until Ctrl-C, then both stopped."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..marketdata import find_candles, has_candles
from .botconfig import bot_config, jwt_secret, load_json, secret_env, write_rest_json
from .errors import TryLiveError
from .prices import STATE_FILE, freeze
from .processes import (
    free_port,
    frequi_installed,
    quiet_client,
    spawn,
    stop,
    tail,
    tool,
    wait_for,
)

LISTENING = re.compile(r"sim listening on (http://127\.0\.0\.1:\d+)")
SYNTHETIC = ("2024-01-01", "2024-04-01", "2024-03-01")  # generated range, stand-in's start
#: What a new try-live removes from its work folder: a fresh portfolio every time.
STALE = ("tradesv3.dryrun.sqlite", "freqtrade.log", "standin.log", "freqtrade.out")


# ---- candles ---------------------------------------------------------------------------------
def portfolio_candles(
    config: dict[str, Any], config_dir: Path, datadir: Path | None, workdir: Path, say: Any
) -> tuple[Path, str | None, bool]:
    """(datadir, stand-in start or None, synthetic): ``--datadir`` (refused without the
    portfolio's candles), else the first folder of :func:`~rebalance_plugin.marketdata.find_candles`
    holding them (the config's paths taken from its folder), else a seeded synthetic market
    generated once in the work folder."""
    stake = config.get("stake_currency", "USDT")
    pairs = [f"{c}/{stake}" for c in (config.get("rebalance") or {}).get("coins") or {}]
    if not pairs:
        raise TryLiveError("the config has no rebalance.coins")
    timeframe = config.get("timeframe", "1h")
    fmt = config.get("dataformat_ohlcv", "feather")
    if datadir and not has_candles(datadir, pairs, timeframe, fmt):
        raise TryLiveError(f"no {timeframe} candles of {', '.join(pairs)} in {datadir}")
    found = find_candles(config, pairs, given=datadir or None, base=config_dir)
    if found is not None:
        return found, None, False
    from ..marketdata.synthetic import generate_market

    target = workdir / "synthetic"
    if not has_candles(target, pairs, timeframe, "feather"):
        say(f"  no candles of {', '.join(pairs)} found: generating a SYNTHETIC market in {target}")
        generate_market(target, pairs, timeframe, SYNTHETIC[0], SYNTHETIC[1], seed=42)
    return target, SYNTHETIC[2], True


# ---- the command -----------------------------------------------------------------------------
def _prepare(config_path: Path, workdir: Path) -> tuple[dict[str, Any], Path]:
    """The config and its folder; the work folder made, last run's database and logs gone."""
    if not config_path.is_file():
        raise TryLiveError(f"no config {config_path}: run from the checkout, or pass --config")
    config = load_json(config_path)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "user_data").mkdir(exist_ok=True)
    for old in STALE:
        (workdir / old).unlink(missing_ok=True)  # a fresh portfolio every time
    return config, config_path.resolve().parent


def _standin_command(candles: Path, timeframe: str, start_at: str | None, port: int) -> list[str]:
    """The children run from the checkout (``processes.ROOT``): every path they get is
    absolute, so that try-live runs from any folder."""
    cmd = [sys.executable, "-m", "binance_standin", "--port", str(port)]
    cmd += ["--datadir", str(candles.resolve()), "--timeframe", timeframe]
    return cmd + (["--start", start_at] if start_at else [])


def _standin_url(log: Path, procs: list[subprocess.Popen]) -> str:
    """The stand-in's address, once it says it listens."""
    found = wait_for(lambda: LISTENING.search(tail(log, 200)), 60, procs)
    if not found:
        raise TryLiveError(f"the stand-in did not start:\n{tail(log)}")
    return str(found.group(1))


def _bot_files(
    config: dict[str, Any], config_dir: Path, standin_url: str, workdir: Path, api_port: int
) -> tuple[Path, str, str, Path]:
    """The bot's config and ``rest.json`` written (a new password): (config path, username,
    password, rest.json)."""
    cfg = bot_config(config, config_dir, standin_url, workdir, api_port)
    bot_path = workdir / "config.json"
    bot_path.write_text(json.dumps(cfg, indent=4) + "\n")
    username = cfg["api_server"]["username"]
    password = secrets.token_urlsafe(18)
    rest = write_rest_json(workdir, api_port, username, password)
    return bot_path, username, password, rest


def _wait_for_api(
    url: str, username: str, password: str, workdir: Path, procs: list[subprocess.Popen]
) -> None:
    """Until the bot's REST API answers (its log shown if it never does)."""
    client = quiet_client(url, username, password)

    def answers() -> bool:
        try:
            shown = client.show_config()
        except Exception:
            return False
        return isinstance(shown, dict) and "state" in shown

    if not wait_for(answers, 120, procs):
        raise TryLiveError(
            "the bot did not start (its log follows)\n"
            + (tail(workdir / "freqtrade.log") or tail(workdir / "freqtrade.out"))
        )


def _write_state(
    workdir: Path,
    standin_url: str,
    url: str,
    bot: subprocess.Popen,
    standin: subprocess.Popen,
    stake: str,
) -> None:
    """Where this try-live's stand-in is, for ``--move`` from another terminal."""
    state = {
        "standin": standin_url,
        "url": url,
        "pid": os.getpid(),
        "bot_pid": bot.pid,
        "standin_pid": standin.pid,
        "stake": stake,
    }
    (workdir / STATE_FILE).write_text(json.dumps(state))


def _shutdown(
    say: Any, bot: subprocess.Popen | None, standin: subprocess.Popen | None, workdir: Path
) -> None:
    """The bot stopped first (SIGINT: Freqtrade's clean exit), then the stand-in."""
    stop(bot, signal.SIGINT, 30)
    stop(standin, signal.SIGTERM, 10)
    (workdir / STATE_FILE).unlink(missing_ok=True)
    named = [("the bot", bot), ("the stand-in", standin)]
    gone = [f"{name} (pid {p.pid})" for name, p in named if p is not None and p.poll() is not None]
    if gone:
        say("stopped: " + ", ".join(gone))


def start(
    config_path: Path,
    workdir: Path,
    port: int = 8080,
    datadir: Path | None = None,
    standin_port: int = 0,
    out: Any = None,
) -> int:
    """Run the stand-in and the bot until Ctrl-C (or SIGTERM); the exit code."""
    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    workdir = Path(workdir)
    config, config_dir = _prepare(Path(config_path), workdir)
    candles, start_at, synthetic = portfolio_candles(config, config_dir, datadir, workdir, say)
    timeframe = config.get("timeframe", "1h")

    procs: list[subprocess.Popen] = []
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    standin = bot = None
    try:
        standin_log = workdir / "standin.log"
        standin = spawn(_standin_command(candles, timeframe, start_at, standin_port), standin_log)
        procs.append(standin)
        standin_url = _standin_url(standin_log, procs)
        frozen = freeze(standin_url, config)

        api_port = free_port(port)
        if api_port != port:
            say(f"  port {port} is taken: the REST API listens on {api_port}")
        bot_path, username, password, rest = _bot_files(
            config, config_dir, standin_url, workdir, api_port
        )
        log = workdir / "freqtrade.log"
        cmd = [sys.executable, "-m", "freqtrade", "trade", "--config", str(bot_path.resolve())]
        cmd += ["--logfile", str(log.resolve())]  # the bot runs from the checkout
        bot = spawn(cmd, workdir / "freqtrade.out", env=secret_env(password, jwt_secret(workdir)))
        procs.append(bot)
        url = f"http://127.0.0.1:{api_port}"
        _wait_for_api(url, username, password, workdir, procs)
        stake = config.get("stake_currency", "USDT")
        _write_state(workdir, standin_url, url, bot, standin, stake)
        _print_intro(say, config, workdir, candles, synthetic, standin_url, url, frozen)
        say(f"url: {url}")
        say(f"username: {username}")
        say(f"password: {password}")
        _print_commands(say, rest, config, standin_url, workdir, frozen)
        _follow(say, log, procs, stopping)
        if stopping["signal"] == 0:
            dead = "the bot" if bot.poll() is not None else "the stand-in"
            say(f"\n{dead} stopped on its own: stopping the rest (log: {log})")
            say(tail(log, 15))
            return 1
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _shutdown(say, bot, standin, workdir)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def _print_intro(
    say: Any,
    config: dict[str, Any],
    workdir: Path,
    candles: Path,
    synthetic: bool,
    standin: str,
    url: str,
    frozen: dict[str, float],
) -> None:
    section = config.get("rebalance") or {}
    stake = config.get("stake_currency", "USDT")
    coins = " · ".join(f"{c} {w:g}%" for c, w in (section.get("coins") or {}).items())
    kind = "SYNTHETIC (seeded random walk, not real prices)" if synthetic else "real"
    say("freqtrade-rebalance try-live: a dry-run bot against a local Binance stand-in")
    say("(127.0.0.1 only: no internet, no exchange account, no money)")
    say(f"  portfolio   {coins}, {section.get('investment')} {stake} (dry-run wallet)")
    say(f"  candles     {kind}, {candles}, replayed in the present")
    held = ", ".join(f"{symbol} {price:g}" for symbol, price in frozen.items())
    say(f"  prices      held at their value now ({held}) until you move them")
    say(f"  stand-in    {standin} (log {workdir / 'standin.log'})")
    say(f"  bot         {workdir / 'config.json'} (log {workdir / 'freqtrade.log'})")
    if frequi_installed():
        say(f"  FreqUI      {url} (log in with the lines below)")
    else:
        say("  FreqUI      not installed (`freqtrade install-ui` once, with the internet)")
    say("")


def _print_commands(
    say: Any,
    rest: Path,
    config: dict[str, Any],
    standin: str,
    workdir: Path,
    frozen: dict[str, float],
) -> None:
    coins = list((config.get("rebalance") or {}).get("coins") or {})
    coin = coins[-1] if coins else "BTC"
    stake = config.get("stake_currency", "USDT")
    timeframe = config.get("timeframe", "1h")
    client = f"{tool('freqtrade-client')} --config {rest}"
    say("")
    say("Try (rest.json holds the url, username and password):")
    say(f"  {client} status")
    say(f"  {client} list_custom_data <trade_id>")
    say(f"  {client} pair_candles {coin}/{stake} {timeframe}")
    say(f"  {client} plot_config")
    say(f"Move a price to watch a rebalance ({coin} +60%):")
    say(f"  {tool('freqtrade-rebalance')} try-live --workdir {workdir} --move {coin}=1.6")
    price = frozen.get(f"{coin}{stake}")
    if price:
        body = json.dumps({"symbol": f"{coin}{stake}", "price": float(f"{price * 1.6:.6g}")})
        say(
            f"  (or the stand-in's endpoint: curl -X POST {standin}/sim/price "
            f"-H 'Content-Type: application/json' -d '{body}')"
        )
    _print_frequi(say, config)
    say("Ctrl-C stops the bot and the stand-in.")
    say("")
    say("What the bot announces:")


def _print_frequi(say: Any, config: dict[str, Any]) -> None:
    """Where FreqUI shows the portfolio. Its charts draw the plot configuration saved in the
    browser ("default", empty at first), not the strategy's ``plot_config``: the panels need
    three clicks once, and nothing else says so."""
    section = config.get("rebalance") or {}
    timeframe = config.get("timeframe", "1h")
    if section.get("trigger", "threshold") == "interval":
        key, value = "interval_min_drift", section.get("interval_min_drift", 0.5)
    else:
        key, value = "threshold", section.get("threshold", 5)
    unit = "% of the target" if section.get("threshold_mode") == "relative" else " points"
    say("FreqUI: a trade's \"Show custom data\" lists the whole portfolio (every coin's weight,")
    say("target and drift). The charts' portfolio panels appear once you load them: the cog")
    say('("Plot configurator", right of "default") > "From strategy" > "Save":')
    say("  Weight %         rb_weight, the coin's share of the portfolio (coins and cash), against")
    say("                   rb_target and the band rb_band_low..rb_band_high (the target -/+")
    say(f"                   {value:g}{unit}, {key}): outside it, a rebalance")
    say("  Portfolio value  rb_value, the coins at the candle's close plus the cash, against")
    say("                   rb_buy_hold, the first buys held")
    say(f"  A {timeframe} candle shows what was filled before it closed: a rebalance appears then.")


def _follow(say: Any, log: Path, procs: list[subprocess.Popen], stopping: dict[str, int]) -> None:
    """Echo the bot's announcements (the rebalancer's log lines) until a signal or a child
    exits."""
    offset = 0
    while not stopping["signal"] and all(p.poll() is None for p in procs):
        try:
            with log.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except OSError:
            chunk = b""
        if chunk:
            text = chunk.decode(errors="replace")
            cut = text.rfind("\n") + 1
            offset += len(text[:cut].encode())
            for line in text[:cut].splitlines():
                if " - rebalance_plugin.ft - " in line:
                    when, _, rest = line.partition(" - rebalance_plugin.ft - ")
                    say(f"  {when[11:19]} {rest.split(' - ', 1)[-1]}")
        time.sleep(0.5)
