"""End-to-end harness: a local Binance stand-in and real ``freqtrade trade`` processes.

Nothing here is mocked inside Freqtrade: :class:`Sim` runs ``python -m binance_standin``
(a Binance spot REST stand-in on 127.0.0.1) and :class:`Bot` runs ``python -m freqtrade trade``
with a config derived from the project's ``config.json``, pointed at the stand-in through
ccxt's URL overrides. Tests drive the bot through its REST API with ``freqtrade-client`` and
check the stand-in's account (balances, orders) and the bot's own view (trades, orders).

Typical use (see tests/e2e/test_e2e_smoke.py)::

    def test_x(sim, make_bot):              # fixtures from this module
        bot = make_bot("dry", dry_run=True)
        bot.wait_for(lambda: len(bot.open_trades()) == 4, 60, "4 trades open")
        bot.wait_loops(2)                   # two whole loops later: then "nothing happened"
        assert len(bot.open_trades()) == 4

Both classes are context managers; the fixtures :func:`sim`, :func:`fresh_sim` and
:func:`make_bot` guarantee every process is killed at the end of the test (or module), pass or
fail. Import them into a test module (``from tests.helpers.e2e import sim, make_bot``) to use them.

Candles for the stand-in: the real Binance candles in ``../shared/data/binance`` when present,
otherwise a small seeded SYNTHETIC market generated once per session with
``rebalance_plugin.marketdata.synthetic`` (so the e2e tests run anywhere; prices are then not
real).

Secrets: the API password and JWT secret are random per bot and reach Freqtrade only through
the environment (``FREQTRADE__API_SERVER__PASSWORD`` / ``FREQTRADE__API_SERVER__JWT_SECRET_KEY``),
never the config file.
"""

from __future__ import annotations

import atexit
import base64
import copy
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from rebalance_plugin.marketdata.synthetic import DEFAULT_PAIRS
from tests.helpers.paths import ROOT, SHARED_DATA, STRATEGIES

#: Pairs the synthetic fallback market provides (the same 12 as the real data set).
SYNTHETIC_PAIRS = DEFAULT_PAIRS
SIM_START = "2024-01-01"
SIM_KEY, SIM_SECRET = "simkey", "simsecret"
API_USER = "e2e"

_LISTENING = re.compile(r"sim listening on (http://127\.0\.0\.1:\d+)")
_synthetic_dir: Path | None = None


# ---- small helpers --------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def candles_dir() -> Path:
    """Candles for the stand-in: the real ones if present, else a synthetic market (cached)."""
    global _synthetic_dir
    if SHARED_DATA.is_dir() and any(SHARED_DATA.glob("*-1h.feather")):
        return SHARED_DATA
    if _synthetic_dir is None:
        from rebalance_plugin.marketdata.synthetic import generate_market

        path = Path(tempfile.mkdtemp(prefix="e2e-synthetic-"))
        atexit.register(shutil.rmtree, path, True)
        # A quarter of 1h candles around SIM_START, plus 1d: a few seconds to write.
        for timeframe in ("1h", "1d"):
            generate_market(
                path, SYNTHETIC_PAIRS, timeframe, start="2023-10-01", end="2024-04-01", seed=42
            )
        _synthetic_dir = path
    return _synthetic_dir


_children: set[subprocess.Popen] = set()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGKILL when the test process dies, even if that is SIGKILLed.
    (The kernel ties it to the *thread* that started it: start bots from the main thread or
    from a thread that outlives them.)"""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start a child process that cannot outlive the tests: killed by the fixtures' teardown,
    at interpreter exit (atexit) and, on Linux, by the kernel when the parent dies."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        **kwargs,
    )
    _children.add(proc)
    return proc


@atexit.register
def _kill_children() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _stop_process(
    proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Send ``sig`` to ``proc`` (only that pid) and wait; SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _quiet(call: Callable[[], Any]) -> Any:
    """``call()`` with freqtrade-client's "Connection error" warnings muted; None on error."""
    client_log = logging.getLogger("ft_rest_client")
    level = client_log.level
    client_log.setLevel(logging.ERROR)
    try:
        return call()
    except Exception:
        return None
    finally:
        client_log.setLevel(level)


def _clean_env() -> dict[str, str]:
    """The current environment without any FREQTRADE__* override that could leak into a child,
    and without pytest's markers: Freqtrade skips its logging set-up (``--logfile``) when it
    sees ``PYTEST_VERSION``."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FREQTRADE__") and not k.startswith("PYTEST_")
    }


# ---- the exchange stand-in ------------------------------------------------------------------
class Sim:
    """``python -m binance_standin`` as a subprocess, and a client for its control API.

    :param workdir: where the stand-in's stdout/stderr logs go.
    :param balances: the account's starting balances, e.g. ``{"USDT": 1000}``.
    :param datadir: candle directory (default :func:`candles_dir`).
    :param fee: the commission rate (default: Binance's 0.001; Kraken's 0.26% taker and 0.16%
        maker with ``dialect="kraken"``).
    :param extra_args: further CLI arguments (``["--spread", "0"]``...).
    :param dialect: the API served, ``"binance"`` or ``"kraken"`` (``binance_standin/kraken``;
        its secret is base64, and bots started against it trade as Freqtrade's Kraken).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        balances: dict[str, float] | None = None,
        datadir: Path | None = None,
        timeframe: str = "1h",
        start: str = SIM_START,
        fee: float | None = None,
        key: str = SIM_KEY,
        secret: str | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = 30.0,
        dialect: str = "binance",
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.balances_at_start = dict(balances if balances is not None else {"USDT": 10000})
        self.datadir = Path(datadir) if datadir else None
        self.dialect = dialect
        kraken = dialect == "kraken"
        self.fee = fee if fee is not None or kraken else 0.001
        self.timeframe, self.start_date = timeframe, start
        if secret is None:
            secret = base64.b64encode(SIM_SECRET.encode()).decode() if kraken else SIM_SECRET
        self.key, self.secret = key, secret
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.stdout_path = self.workdir / "sim.out"
        self.stderr_path = self.workdir / "sim.err"
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self._http = requests.Session()

    # lifecycle
    def start(self) -> Sim:
        datadir = self.datadir or candles_dir()
        cmd = [
            sys.executable,
            "-m",
            "binance_standin",
            "--port",
            "0",
            "--datadir",
            str(datadir),
            "--timeframe",
            self.timeframe,
            "--start",
            self.start_date,
            "--key",
            self.key,
            "--secret",
            self.secret,
            "--dialect",
            self.dialect,
        ]
        if self.fee is not None:
            cmd += ["--fee", str(self.fee)]
        for asset, amount in self.balances_at_start.items():
            cmd += ["--balance", f"{asset}={amount}"]
        cmd += self.extra_args
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = _spawn(cmd, cwd=ROOT, stdout=out, stderr=err, env=_clean_env())
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.stdout_path.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        rc = self.proc.poll()
        self.stop()
        raise RuntimeError(
            f"sim did not start ({'exit code ' + str(rc) if rc is not None else 'timeout'} "
            f"after {self.startup_timeout:.0f}s): {' '.join(cmd)}\n"
            f"--- stdout ---\n{tail(self.stdout_path)}\n--- stderr ---\n{tail(self.stderr_path)}"
        )

    def stop(self) -> None:
        _stop_process(self.proc, signal.SIGTERM, timeout=10)

    def __enter__(self) -> Sim:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # control API
    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        resp = self._http.request(method, f"{self.url}{path}", json=body, timeout=10)
        if resp.status_code >= 400:
            raise RuntimeError(f"sim {method} {path} {body} -> {resp.status_code}: {resp.text}")
        return resp.json() if resp.content else None

    def state(self) -> dict[str, Any]:
        """``GET /sim/state``: balances, open_orders, orders, trades, prices, faults."""
        return self._call("GET", "/sim/state")

    def set_price(self, symbol: str, price: float) -> Any:
        """Set a symbol's mid price (``"BTCUSDT"`` or ``"BTC/USDT"``)."""
        return self._call("POST", "/sim/price", {"symbol": _symbol(symbol), "price": price})

    def multiply(self, symbol: str, factor: float) -> Any:
        """Multiply a symbol's current price by ``factor``."""
        return self._call("POST", "/sim/price", {"multiplier": {_symbol(symbol): factor}})

    def clear_prices(self) -> Any:
        """Back to the candle prices."""
        return self._call("POST", "/sim/price", {"clear": True})

    def deposit(self, asset: str, delta: float) -> Any:
        """Add (or with a negative delta, withdraw) ``delta`` of ``asset`` to the account."""
        return self._call("POST", "/sim/balance", {"asset": asset, "delta": delta})

    def fault(self, kind: str, **params: Any) -> Any:
        """Arm a fault: reject|partial|expire|chase|http429|http5xx|timeout|maintenance|clock|
        stale (+count or seconds - a time window -, path, method...)."""
        return self._call("POST", "/sim/fault", {"kind": kind, **params})

    def symbol_status(self, symbol: str, status: str) -> Any:
        """A coin stops trading (``BREAK``/``HALT``), is delisted (``REMOVED``) or trades again
        (``TRADING``); ``"SOLUSDT"`` or ``"SOL/USDT"``."""
        return self._call("POST", "/sim/symbol", {"symbol": _symbol(symbol), "status": status})

    def set_rules(self, symbol: str, **filters: Any) -> Any:
        """New rules of a pair: ``tickSize``, ``stepSize``, ``minQty``, ``minNotional``; the
        symbol's exchangeInfo entry as served from now on."""
        return self._call("POST", "/sim/rules", {"symbol": _symbol(symbol), **filters})

    def weights(self) -> dict[str, Any]:
        """``GET /sim/weights``: the request weight limit, the largest weight of a calendar
        minute and of any rolling 60 s (also per client), 429/418 answered, every minute."""
        return self._call("GET", "/sim/weights")

    def limits(self) -> dict[str, Any]:
        """``GET /sim/limits``: the account's order counts (largest per 10 s and per day, the
        -1015 refusals, every 10-s window), the weight summary, and every request answered 418
        or 429 with its time (``refusals``)."""
        return self._call("GET", "/sim/limits")

    def ban(self, seconds: float) -> dict[str, Any]:
        """``POST /sim/ban``: every request answered 418 for ``seconds`` from now."""
        return self._call("POST", "/sim/ban", {"seconds": seconds})

    def balances(self) -> dict[str, float]:
        """Total (free + locked) per asset."""
        return {asset: _total(value) for asset, value in self.state()["balances"].items()}

    def prices(self) -> dict[str, float]:
        """Current price per symbol (``BTCUSDT``: price)."""
        return {sym: _price(v) for sym, v in (self.state().get("prices") or {}).items()}

    def lot_step(self, symbol: str) -> float:
        """The symbol's LOT_SIZE step, from the stand-in's ``exchangeInfo`` (Kraken: its
        ``AssetPairs`` ``lot_decimals``)."""
        if self.dialect == "kraken":
            from binance_standin.kraken import PAIRS

            resp = self._http.get(
                f"{self.url}/0/public/AssetPairs",
                params={"pair": PAIRS[_symbol(symbol)].pair_id},
                timeout=10,
            )
            resp.raise_for_status()
            (pair,) = resp.json()["result"].values()
            return 10.0 ** -int(pair["lot_decimals"])
        resp = self._http.get(
            f"{self.url}/api/v3/exchangeInfo", params={"symbol": _symbol(symbol)}, timeout=10
        )
        resp.raise_for_status()
        (info,) = resp.json()["symbols"]
        lot = next(f for f in info["filters"] if f["filterType"] == "LOT_SIZE")
        return float(lot["stepSize"])

    def summary(self, orders: int = 12) -> str:
        """A few lines for failure messages: balances, prices, the last orders, faults and
        requests the stand-in did not serve."""
        try:
            st = self.state()
        except Exception as err:
            return f"(sim state unavailable: {err!r})\n{tail(self.stderr_path, 20)}"
        bal = {a: _total(v) for a, v in st.get("balances", {}).items()}
        prices = {
            s: _price(v)
            for s, v in (st.get("prices") or {}).items()
            if bal.get(s.removesuffix("USDT"))
        }
        lines = [
            f"balances {bal}",
            f"prices of held coins {prices}",
            f"orders: {len(st.get('orders', []))} "
            f"({len(st.get('open_orders', []))} open); last {orders}:",
        ]
        keys = (
            "orderId",
            "symbol",
            "side",
            "type",
            "timeInForce",
            "status",
            "price",
            "origQty",
            "executedQty",
        )
        lines += [f"  {[o.get(k) for k in keys]}" for o in st.get("orders", [])[-orders:]]
        for key in ("faults_pending", "faults_fired", "unexpected_requests"):
            if st.get(key):
                lines.append(f"{key}: {json.dumps(st[key], default=str)[:1500]}")
        return "\n".join(lines)

    def orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every order the account ever placed (optionally one symbol's), open or not."""
        orders = self.state().get("orders") or []
        if symbol is None:
            return list(orders)
        return [o for o in orders if o.get("symbol") == _symbol(symbol)]


def _symbol(pair_or_symbol: str) -> str:
    return pair_or_symbol.replace("/", "").upper()


def _total(value: Any) -> float:
    if isinstance(value, dict):
        return float(value.get("free", 0) or 0) + float(value.get("locked", 0) or 0)
    return float(value)


def _price(value: Any) -> float:
    if isinstance(value, dict):
        for key in ("price", "mid", "last"):
            if key in value:
                return float(value[key])
    return float(value)


# ---- the bot ---------------------------------------------------------------------------------
class Bot:
    """One ``freqtrade trade`` process against a :class:`Sim`, with its own config, database,
    user_data and log in ``workdir``.

    :param rebalance: overrides of the project's ``rebalance`` section (``coins`` replaces the
        portfolio and the whitelist follows it).
    :param extra: top-level config overrides, merged one level deep for dicts
        (``{"dry_run_wallet": 5000}``, ``{"internals": {...}}``).
    """

    def __init__(
        self,
        workdir: Path,
        sim: Sim,
        name: str = "bot",
        *,
        dry_run: bool = True,
        rebalance: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sim, self.name, self.dry_run = sim, name, dry_run
        self.start_timeout = start_timeout
        self.config_path = self.workdir / "config.json"
        self.log_path = self.workdir / "freqtrade.log"
        self.stdio_path = self.workdir / "freqtrade.stdio"
        self.db_path = self.workdir / "tradesv3.sqlite"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = "pw-" + secrets.token_urlsafe(18)
        self.jwt_secret = "jwt-" + secrets.token_urlsafe(24)
        self.proc: subprocess.Popen | None = None
        self.client = None  # FtRestClient, set by start()
        self._launched = 0.0
        self.config: dict[str, Any] = {}
        self._write_config(rebalance or {}, extra or {})

    # config
    def _write_config(self, rebalance: dict[str, Any], extra: dict[str, Any]) -> None:
        from binance_standin import ccxt_overrides
        from binance_standin.kraken import ccxt_overrides as kraken_overrides
        from binance_standin.weights import CLIENT_HEADER

        cfg = json.loads((ROOT / "config.json").read_text())
        cfg["rebalance"].update(copy.deepcopy(rebalance))
        stake = cfg["stake_currency"]
        cfg["dry_run"] = self.dry_run
        cfg["dry_run_wallet"] = max(cfg["dry_run_wallet"], cfg["rebalance"]["investment"])
        cfg["bot_name"] = f"e2e-{self.name}"
        cfg["db_url"] = f"sqlite:///{self.db_path}"
        cfg["user_data_dir"] = str(self.workdir / "user_data")
        cfg["strategy_path"] = str(STRATEGIES)
        cfg["initial_state"] = "running"
        cfg.setdefault("internals", {})["process_throttle_secs"] = 1
        ex = cfg["exchange"]
        ex["pair_whitelist"] = [f"{coin}/{stake}" for coin in cfg["rebalance"]["coins"]]
        overrides = ccxt_overrides(self.sim.url)
        if self.sim.dialect == "kraken":  # Freqtrade's Kraken class, ccxt's kraken
            ex["name"] = "kraken"
            overrides = kraken_overrides(self.sim.url)
            # ccxt paces Kraken at 1 request a second (its public limit); the stand-in does not
            # model Kraken's limits, and a loop of a few requests would take seconds.
            overrides["rateLimit"] = 50
            # config.json's "fee" is Binance's 0.1%: without it the plugin takes the market's.
            cfg.pop("fee", None)
        # The stand-in books each request's weight under this name (one IP for every bot).
        overrides["headers"] = {CLIENT_HEADER: self.name}
        ex["ccxt_config"] = copy.deepcopy(overrides)
        ex["ccxt_async_config"] = copy.deepcopy(overrides)
        ex["enable_ws"] = False  # Freqtrade would otherwise open Binance websockets
        ex["key"], ex["secret"] = ("", "") if self.dry_run else (self.sim.key, self.sim.secret)
        # No price look-ups at api.coingecko.com (the only thing the bot asks outside
        # 127.0.0.1): Freqtrade converts profits to fiat only when this is set.
        cfg.pop("fiat_display_currency", None)
        api = cfg.setdefault("api_server", {})
        api.update(
            enabled=True,
            listen_ip_address="127.0.0.1",
            listen_port=self.port,
            username=API_USER,
            verbosity="error",
            enable_openapi=False,
            CORS_origins=[],
        )
        # The secrets reach Freqtrade only through the environment (see _env).
        api.pop("password", None)
        api.pop("jwt_secret_key", None)
        api.pop("ws_token", None)
        for key, value in copy.deepcopy(extra).items():
            if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                cfg[key].update(value)
            else:
                cfg[key] = value
        (self.workdir / "user_data").mkdir(exist_ok=True)
        self.config = cfg
        self.config_path.write_text(json.dumps(cfg, indent=2))

    def edit_config(self, rebalance: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
        """Rewrite the config file (e.g. before ``client.reload_config()``): ``rebalance``
        updates the section (``coins`` replaces it and the whitelist follows), ``top`` sets
        top-level keys. Returns the new config."""
        cfg = copy.deepcopy(self.config)
        if rebalance:
            cfg["rebalance"].update(copy.deepcopy(rebalance))
            if "coins" in rebalance:
                cfg["exchange"]["pair_whitelist"] = [
                    f"{coin}/{cfg['stake_currency']}" for coin in cfg["rebalance"]["coins"]
                ]
        for key, value in top.items():
            cfg[key] = copy.deepcopy(value)
        self.config = cfg
        self.config_path.write_text(json.dumps(cfg, indent=2))
        return cfg

    def _env(self) -> dict[str, str]:
        env = _clean_env()
        env["FREQTRADE__API_SERVER__PASSWORD"] = self.password
        env["FREQTRADE__API_SERVER__JWT_SECRET_KEY"] = self.jwt_secret
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # lifecycle
    def start(self) -> Bot:
        """Start ``freqtrade trade`` and wait until its API answers ``/ping``."""
        return self.launch().wait_started()

    def launch(self) -> Bot:
        """Start ``freqtrade trade`` without waiting (several bots start side by side; then
        :meth:`wait_started`)."""
        from freqtrade_client import FtRestClient

        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"bot {self.name} is already running")
        cmd = [
            sys.executable,
            "-m",
            "freqtrade",
            "trade",
            "--config",
            str(self.config_path),
            "--logfile",
            str(self.log_path),
        ]
        with self.stdio_path.open("ab") as out:
            self.proc = _spawn(
                cmd, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, env=self._env()
            )
        self.client = FtRestClient(self.url, API_USER, self.password, timeout=10)
        self._launched = time.monotonic()
        return self

    def wait_started(self) -> Bot:
        """Wait until the launched bot's API answers (``start_timeout`` from the launch)."""
        from freqtrade_client import FtRestClient

        assert self.proc is not None, f"bot {self.name} was not launched"
        # FtRestClient.ping() is show_config (authenticated) reduced to pong / not_running;
        # asking show_config directly also accepts a bot whose initial_state is "stopped".
        pinger = FtRestClient(self.url, API_USER, self.password, timeout=2)
        deadline = self._launched + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"freqtrade ({self.name}) exited with code "
                    f"{self.proc.returncode} during start-up\n{self.log_tail()}"
                )
            answer = _quiet(pinger.show_config)
            if isinstance(answer, dict) and "state" in answer:
                return self
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(
            f"freqtrade ({self.name}) API did not answer within "
            f"{self.start_timeout:.0f}s\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (Freqtrade's clean shutdown) and wait; SIGKILL after ``timeout``."""
        _stop_process(self.proc, signal.SIGTERM, timeout)
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        """SIGKILL: simulates a crash (no shutdown handlers run)."""
        _stop_process(self.proc, signal.SIGKILL, timeout=10)

    def restart(self) -> Bot:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Bot:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill() if exc and exc[0] else self.stop()

    # observation
    def log(self) -> str:
        """The whole Freqtrade log (plus anything printed to stdout/stderr)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        stdio = self.stdio_path.read_text(errors="replace") if self.stdio_path.exists() else ""
        return text + (f"\n--- stdout/stderr ---\n{stdio}" if stdio.strip() else "")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the log file; of stdout/stderr when the log file is empty (a crash before
        Freqtrade's logging was set up, or a Python traceback)."""
        text = tail(self.log_path, lines)
        if text.strip():
            out = f"--- {self.log_path} (tail) ---\n{text}"
            stdio = tail(self.stdio_path, 15)
            if "Traceback" in stdio:
                out += f"\n--- {self.stdio_path} (tail) ---\n{stdio}"
            return out
        return f"--- {self.stdio_path} (tail) ---\n{tail(self.stdio_path, lines)}"

    def open_trades(self) -> list[dict[str, Any]]:
        """The open trades (``/status``); [] while the API is not answering."""
        result = self.client.status() if self.client else None
        return result if isinstance(result, list) else []

    def closed_trades(self) -> list[dict[str, Any]]:
        """The closed trades with their orders (``/trades`` lists closed trades only)."""
        result = self.client.trades(limit=500) or {}
        return result.get("trades", [])

    def all_trades(self) -> list[dict[str, Any]]:
        """Every trade, open (``/status``) and closed (``/trades``), each with its ``orders``."""
        return self.open_trades() + self.closed_trades()

    def last_loop(self) -> str | None:
        """When the bot last finished a loop: Freqtrade's ``/api/v1/health`` ``last_process``
        (set at the end of each ``FreqtradeBot.process()``, to the microsecond; not when the
        loop raised). None before the first loop of the process or of a reloaded config, or
        while the API is not answering."""
        answer = _quiet(self.client.health) if self.client else None
        mark = answer.get("last_process") if isinstance(answer, dict) else None
        return str(mark) if mark else None

    def wait_loops(self, loops: int = 2, timeout: float = 90.0, what: str = "") -> None:
        """Wait until the bot has run ``loops`` whole loops that *began* after this call: the
        evidence that it had its chance before a test asserts that nothing happened (a sleep
        proves nothing on a loaded machine, where the bot may not have looped at all).

        A loop under way at the call began before it, so this waits for ``loops + 1`` new
        ``last_process`` marks (see :meth:`last_loop`). A reload (``/reload_config``) or a
        restart starts the marks again from None: any new mark counts. Fails (with the log)
        if the bot dies or does not loop in ``timeout``: a paused bot loops, a stopped one
        does not."""
        seen = {"mark": self.last_loop(), "new": 0}

        def looped() -> bool:
            mark = self.last_loop()
            if mark is not None and mark != seen["mark"]:
                seen["mark"] = mark
                seen["new"] += 1
            return seen["new"] > loops

        self.wait_for(
            looped,
            timeout,
            f"{loops} whole loop(s) of the bot{' ' + what if what else ''}",
            interval=0.2,
        )

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy (which is returned). On timeout
        (or if the bot dies) fail with ``what``, the last exception, the log tail and the sim's
        state."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            try:
                result = predicate()
                if result:
                    return result
                last_error = None
            except Exception as err:
                last_error = err
            if not self.running:
                reason = (
                    f"freqtrade ({self.name}) exited with code {self.proc.returncode}"
                    if self.proc
                    else f"freqtrade ({self.name}) not started"
                )
                break
            if time.monotonic() >= deadline:
                reason = f"timeout after {timeout:.0f}s"
                break
            time.sleep(interval)
        raise AssertionError(
            f"waiting for {what}: {reason}"
            + (f"; last error {last_error!r}" if last_error else "")
            + f"\n{self.log_tail()}\n--- sim ---\n{self.sim.summary()}"
        )


# ---- pytest fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(tmp_path_factory, request) -> Iterator[Sim]:
    """One stand-in shared by a test module. Its account starts with the module's
    ``SIM_BALANCES`` dict if it defines one, else USDT=1000."""
    balances = getattr(request.module, "SIM_BALANCES", {"USDT": 1000})
    with Sim(tmp_path_factory.mktemp("sim"), balances=balances) as s:
        yield s


@pytest.fixture
def fresh_sim(tmp_path) -> Iterator[Callable[..., Sim]]:
    """Factory for a private stand-in per test: ``fresh_sim(balances={...}, extra_args=[...])``
    (``dialect="kraken"``: the Kraken dialect)."""
    started: list[Sim] = []

    def factory(**kwargs: Any) -> Sim:
        s = Sim(tmp_path / f"sim{len(started)}", **kwargs)
        started.append(s)
        return s.start()

    yield factory
    for s in started:
        s.stop()


@pytest.fixture
def make_bot(tmp_path, request) -> Iterator[Callable[..., Bot]]:
    """Factory: ``make_bot(name, sim=..., dry_run=..., rebalance=..., extra=..., start=True)``.
    ``sim`` defaults to the module's shared ``sim`` fixture. Every bot is SIGKILLed at the end
    of the test unless it was stopped already."""
    bots: list[Bot] = []

    def factory(
        name: str = "bot", *, sim: Sim | None = None, start: bool = True, **kwargs: Any
    ) -> Bot:
        s = sim if sim is not None else request.getfixturevalue("sim")
        bot = Bot(tmp_path, s, name, **kwargs)
        bots.append(bot)
        return bot.start() if start else bot

    yield factory
    for bot in bots:
        bot.kill()
