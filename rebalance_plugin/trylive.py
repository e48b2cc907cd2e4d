"""``freqtrade-rebalance try-live``: the portfolio of ``config.json`` as a dry-run bot on this
machine, against a local stand-in for Binance, with no internet and no money.

1. Finds candles of the portfolio's coins (``--datadir``, the config's ``datadir``,
   ``user_data/data/<exchange>``, ``../shared/data/binance``), else generates a seeded
   SYNTHETIC market in the work folder and says so.
2. Starts the stand-in (``python -m binance_standin``: Binance's spot REST API on 127.0.0.1,
   the candles replayed in the present) and writes the bot's config for it (:func:`bot_config`:
   ccxt pointed at the stand-in, ``enable_ws`` off, no ``fiat_display_currency``, the REST
   API on 127.0.0.1), a ``rest.json`` for ``freqtrade-client`` and a JWT secret kept in the
   work folder (FreqUI stays logged in across restarts).
3. Starts ``freqtrade trade`` (dry-run) on it, waits until its REST API answers, prints
   ``url:``, ``username:`` and ``password:`` (generated), a few ``freqtrade-client`` commands
   and how to move a price, then echoes what the bot announces.
4. Ctrl-C (or SIGTERM) stops the bot, then the stand-in, and waits until both are gone.

The coins' prices are held at their value when it starts (:func:`freeze`); ``--move
COIN=FACTOR`` / ``--set-price COIN=PRICE`` move one (the stand-in's ``POST /sim/price``).
``--write-config --standin URL`` only writes the config, ``rest.json`` and the JWT secret for
a stand-in you run yourself (README, "Try it live").
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The checkout holding rebalance_plugin/ and binance_standin/.
ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = "try-live.json"
LISTENING = re.compile(r"sim listening on (http://127\.0\.0\.1:\d+)")
SYNTHETIC = ("2024-01-01", "2024-04-01", "2024-03-01")  # generated range, stand-in's start
API_USER = "freqtrader"


class TryLiveError(Exception):
    """Said in one line, exit code 2."""


# ---- the bot's config --------------------------------------------------------------------------
def load_json(path: Path) -> dict[str, Any]:
    """A Freqtrade config (comments and trailing commas allowed, as Freqtrade reads it)."""
    from freqtrade.configuration.load_config import load_config_file

    return dict(load_config_file(str(path)))


def _absolute(value: str | None, base: Path) -> str | None:
    if not value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def bot_config(
    config: dict[str, Any], config_dir: Path, standin: str, workdir: Path, port: int
) -> dict[str, Any]:
    """``config`` as a dry-run bot against the stand-in at ``standin``: everything else (the
    portfolio, pricing, the strategy) as the user has it. No secret is written: the password
    and the JWT secret reach Freqtrade through the environment (:func:`secret_env`)."""
    # binance_standin is the repository's stand-in (beside rebalance_plugin/): imported by
    # name, so that type checking of the plugin stays within the plugin.
    ccxt_overrides = importlib.import_module("binance_standin").ccxt_overrides

    cfg = copy.deepcopy(config)
    cfg["dry_run"] = True
    cfg["db_url"] = f"sqlite:///{(workdir / 'tradesv3.dryrun.sqlite').resolve()}"
    cfg["user_data_dir"] = str((workdir / "user_data").resolve())
    for key in ("strategy_path", "hyperopt_path", "datadir"):
        if cfg.get(key):
            cfg[key] = _absolute(cfg[key], config_dir)
    cfg["initial_state"] = "running"
    exchange = cfg.setdefault("exchange", {})
    overrides = ccxt_overrides(standin)
    exchange["ccxt_config"] = copy.deepcopy(overrides)
    exchange["ccxt_async_config"] = copy.deepcopy(overrides)
    exchange["enable_ws"] = False  # the stand-in serves no websocket
    exchange["key"], exchange["secret"] = "", ""
    cfg.pop("fiat_display_currency", None)  # would ask api.coingecko.com for USD prices
    cfg.setdefault("telegram", {})["enabled"] = False
    api = cfg.setdefault("api_server", {})
    api.update(enabled=True, listen_ip_address="127.0.0.1", listen_port=port)
    api["username"] = api.get("username") or API_USER
    for key in ("password", "jwt_secret_key", "ws_token"):
        api.pop(key, None)
    return cfg


def jwt_secret(workdir: Path) -> str:
    """The JWT secret kept in ``workdir/jwt_secret``: made once, so that a restarted bot
    accepts FreqUI's login of before (a new secret logs every browser out)."""
    path = workdir / "jwt_secret"
    if path.is_file() and len(path.read_text().strip()) >= 32:
        return path.read_text().strip()
    secret = secrets.token_hex(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def write_rest_json(workdir: Path, port: int, username: str, password: str) -> Path:
    """``rest.json`` as ``freqtrade-client --config`` reads it."""
    path = workdir / "rest.json"
    rest = {
        "api_server": {
            "listen_ip_address": "127.0.0.1",
            "listen_port": port,
            "username": username,
            "password": password,
        }
    }
    path.write_text(json.dumps(rest, indent=4) + "\n")
    path.chmod(0o600)
    return path


def secret_env(password: str, jwt: str) -> dict[str, str]:
    """The environment of the bot: the user's, without other FREQTRADE__ overrides, plus the
    password and the JWT secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    env["FREQTRADE__API_SERVER__PASSWORD"] = password
    env["FREQTRADE__API_SERVER__JWT_SECRET_KEY"] = jwt
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---- candles ---------------------------------------------------------------------------------
def find_candles(
    config: dict[str, Any], config_dir: Path, datadir: Path | None, workdir: Path, say: Any
) -> tuple[Path, str | None, bool]:
    """(datadir, stand-in start or None, synthetic)."""
    from .report.loading import has_candles

    stake = config.get("stake_currency", "USDT")
    pairs = [f"{c}/{stake}" for c in (config.get("rebalance") or {}).get("coins") or {}]
    if not pairs:
        raise TryLiveError("the config has no rebalance.coins")
    timeframe = config.get("timeframe", "1h")
    fmt = config.get("dataformat_ohlcv", "feather")
    exchange = (config.get("exchange") or {}).get("name", "binance")
    user_data = Path(_absolute(config.get("user_data_dir") or "user_data", config_dir) or "")
    candidates = [datadir] if datadir else []
    if not datadir:
        if config.get("datadir"):
            candidates.append(Path(_absolute(config["datadir"], config_dir) or ""))
        candidates += [user_data / "data" / exchange, ROOT.parent / "shared" / "data" / "binance"]
    for candidate in candidates:
        if candidate and has_candles(candidate, pairs, timeframe, fmt):
            return candidate, None, False
    if datadir:
        raise TryLiveError(f"no {timeframe} candles of {', '.join(pairs)} in {datadir}")
    from .synthetic import generate_market

    target = workdir / "synthetic"
    if not has_candles(target, pairs, timeframe, "feather"):
        say(f"  no candles of {', '.join(pairs)} found: generating a SYNTHETIC market in {target}")
        generate_market(target, pairs, timeframe, SYNTHETIC[0], SYNTHETIC[1], seed=42)
    return target, SYNTHETIC[2], True


# ---- processes -------------------------------------------------------------------------------
def _detach() -> None:  # pragma: no cover - runs in the child before exec
    """The child gets its own session (Ctrl-C reaches try-live only, which stops the bot
    first, then the stand-in) and dies with try-live if that is killed (Linux)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_detach,
        )


def stop(proc: subprocess.Popen | None, first: int = signal.SIGINT, wait: float = 30) -> None:
    """``first`` to that process only, then SIGTERM, then SIGKILL, until it is gone."""
    if proc is None:
        return
    for sig, timeout in ((first, wait), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def free_port(preferred: int) -> int:
    """``preferred`` if it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As the bot's server binds: a port left in TIME_WAIT by the last run is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise TryLiveError("no free TCP port on 127.0.0.1")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_for(check: Callable[[], Any], timeout: float, procs: list[subprocess.Popen]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if any(p.poll() is not None for p in procs):
            return None
        time.sleep(0.25)
    return None


def _quiet_client(url: str, username: str, password: str) -> Any:
    import logging

    from freqtrade_client import FtRestClient

    logging.getLogger("ft_rest_client").setLevel(logging.CRITICAL)
    return FtRestClient(url, username, password, timeout=3)


def tool(name: str) -> str:
    """How to call a command of this Python environment (``.venv/bin/freqtrade-client``), or
    its bare name when it is not installed beside the interpreter."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        return name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def frequi_installed() -> bool:
    import freqtrade.rpc.api_server as api

    return (Path(api.__file__).parent / "ui" / "installed" / "index.html").is_file()


# ---- the command -----------------------------------------------------------------------------
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

    config_path = Path(config_path)
    if not config_path.is_file():
        raise TryLiveError(f"no config {config_path}: run from the checkout, or pass --config")
    config = load_json(config_path)
    config_dir = config_path.resolve().parent
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "user_data").mkdir(exist_ok=True)
    for old in ("tradesv3.dryrun.sqlite", "freqtrade.log", "standin.log", "freqtrade.out"):
        (workdir / old).unlink(missing_ok=True)  # a fresh portfolio every time
    candles, start_at, synthetic = find_candles(config, config_dir, datadir, workdir, say)
    timeframe = config.get("timeframe", "1h")

    procs: list[subprocess.Popen] = []
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    standin = bot = None
    try:
        cmd = [sys.executable, "-m", "binance_standin", "--port", str(standin_port)]
        cmd += ["--datadir", str(candles), "--timeframe", timeframe]
        cmd += ["--start", start_at] if start_at else []
        standin_log = workdir / "standin.log"
        standin = spawn(cmd, standin_log)
        procs.append(standin)
        found = wait_for(lambda: LISTENING.search(tail(standin_log, 200)), 60, procs)
        if not found:
            raise TryLiveError(f"the stand-in did not start:\n{tail(standin_log)}")
        standin_url = found.group(1)
        frozen = freeze(standin_url, config)

        api_port = free_port(port)
        if api_port != port:
            say(f"  port {port} is taken: the REST API listens on {api_port}")
        cfg = bot_config(config, config_dir, standin_url, workdir, api_port)
        bot_path = workdir / "config.json"
        bot_path.write_text(json.dumps(cfg, indent=4) + "\n")
        username = cfg["api_server"]["username"]
        password = secrets.token_urlsafe(18)
        rest = write_rest_json(workdir, api_port, username, password)
        log = workdir / "freqtrade.log"
        cmd = [sys.executable, "-m", "freqtrade", "trade", "--config", str(bot_path)]
        cmd += ["--logfile", str(log)]
        bot = spawn(cmd, workdir / "freqtrade.out", env=secret_env(password, jwt_secret(workdir)))
        procs.append(bot)
        url = f"http://127.0.0.1:{api_port}"
        client = _quiet_client(url, username, password)

        def answers() -> bool:
            try:
                shown = client.show_config()
            except Exception:
                return False
            return isinstance(shown, dict) and "state" in shown

        if not wait_for(answers, 120, procs):
            raise TryLiveError(
                "the bot did not start (its log follows)\n"
                + (tail(log) or tail(workdir / "freqtrade.out"))
            )
        (workdir / STATE_FILE).write_text(
            json.dumps(
                {
                    "standin": standin_url,
                    "url": url,
                    "pid": os.getpid(),
                    "bot_pid": bot.pid,
                    "standin_pid": standin.pid,
                    "stake": config.get("stake_currency", "USDT"),
                }
            )
        )
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
        stop(bot, signal.SIGINT, 30)
        stop(standin, signal.SIGTERM, 10)
        (workdir / STATE_FILE).unlink(missing_ok=True)
        named = [("the bot", bot), ("the stand-in", standin)]
        gone = [
            f"{name} (pid {p.pid})" for name, p in named if p is not None and p.poll() is not None
        ]
        if gone:
            say("stopped: " + ", ".join(gone))
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
    say("Ctrl-C stops the bot and the stand-in.")
    say("")
    say("What the bot announces:")


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


# ---- moving a price, writing a config ----------------------------------------------------------
def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def prices_now(standin: str) -> dict[str, float]:
    """The stand-in's price of every symbol now (``GET /sim/state``)."""
    with urllib.request.urlopen(f"{standin}/sim/state", timeout=10) as answer:
        state = json.loads(answer.read())
    out = {}
    for symbol, value in (state.get("prices") or {}).items():
        if isinstance(value, dict):
            value = value.get("price", value.get("mid", value.get("last")))
        out[symbol] = float(value)
    return out


def freeze(standin: str, config: dict[str, Any]) -> dict[str, float]:
    """Hold every coin's price at its value now. The stand-in replays the candles in real
    time, and Freqtrade's dry-run fills a limit order only if it crosses the book when placed
    (it keeps an unfilled one open until ``unfilledtimeout``, as no IOC expires in a
    dry-run): with prices that move by a tick between pricing and placing, a first buy could
    wait minutes. Held prices move only when you move them."""
    stake = config.get("stake_currency", "USDT")
    coins = (config.get("rebalance") or {}).get("coins") or {}
    now = prices_now(standin)
    held = {}
    for coin in coins:
        symbol = f"{coin}{stake}"
        if symbol in now:
            _post(f"{standin}/sim/price", {"symbol": symbol, "price": now[symbol]})
            held[symbol] = now[symbol]
    return held


def move(
    workdir: Path,
    moves: list[str],
    prices: list[str],
    out: Any = None,
    standin: str | None = None,
    stake: str = "USDT",
) -> int:
    """Move prices of the running try-live (or of the stand-in at ``standin``):
    ``COIN=FACTOR`` multiplies the price now, ``COIN=PRICE`` sets it; either is then held."""
    out = out or sys.stdout
    path = Path(workdir) / STATE_FILE
    if standin:
        state = {"standin": standin.rstrip("/"), "stake": stake}
    elif path.is_file():
        state = json.loads(path.read_text())
    else:
        raise TryLiveError(
            f"no try-live running with the work folder {workdir} (no {path}); for a stand-in "
            "you started yourself, give --standin URL"
        )
    stake = state.get("stake", "USDT")
    for item, kind in [(m, "multiplier") for m in moves] + [(p, "price") for p in prices]:
        coin, sep, number = item.partition("=")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not sep or not coin or not value > 0:
            raise TryLiveError(f"{item!r}: give COIN=NUMBER, a number > 0")
        symbol = f"{coin.upper()}{stake}"
        now = prices_now(state["standin"]).get(symbol)
        if now is None:
            raise TryLiveError(f"the stand-in has no {symbol}")
        price = now * value if kind == "multiplier" else value
        _post(f"{state['standin']}/sim/price", {"symbol": symbol, "price": price})
        print(f"{symbol}: {now:g} -> {price:g}, held there", file=out)
    print(
        "The bot sees it at its next loop (seconds); a rebalance is announced in try-live's "
        "window and its log.",
        file=out,
    )
    return 0


def write_config(config_path: Path, workdir: Path, standin: str, port: int, out: Any = None) -> int:
    """Only the files: the bot's config for a stand-in at ``standin``, ``rest.json`` (its
    password kept when the file exists) and the JWT secret, and how to start the bot."""
    out = out or sys.stdout
    config_path = Path(config_path)
    config = load_json(config_path)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "user_data").mkdir(exist_ok=True)
    cfg = bot_config(config, config_path.resolve().parent, standin, workdir, port)
    bot_path = workdir / "config.json"
    bot_path.write_text(json.dumps(cfg, indent=4) + "\n")
    password = ""
    rest_path = workdir / "rest.json"
    if rest_path.is_file():
        password = json.loads(rest_path.read_text()).get("api_server", {}).get("password", "")
    password = password or secrets.token_urlsafe(18)
    rest = write_rest_json(workdir, port, cfg["api_server"]["username"], password)
    jwt_path = workdir / "jwt_secret"
    jwt_secret(workdir)
    print(f"wrote {bot_path} (a dry-run bot against {standin}), {rest} and {jwt_path}", file=out)
    print("start the bot with the password and JWT secret from those files:", file=out)
    print(
        f"  export FREQTRADE__API_SERVER__PASSWORD=\"$(.venv/bin/python -c 'import json; "
        f'print(json.load(open("{rest}"))["api_server"]["password"])\')"',
        file=out,
    )
    print(f'  export FREQTRADE__API_SERVER__JWT_SECRET_KEY="$(cat {jwt_path})"', file=out)
    print(f"  .venv/bin/freqtrade trade --config {bot_path}", file=out)
    print(f"then: .venv/bin/freqtrade-client --config {rest} status", file=out)
    return 0
