"""``freqtrade-rebalance try-live``'s options for a stand-in you run yourself, as a user runs them
(the command in a subprocess, against ``python -m binance_standin`` on 127.0.0.1):

- ``--write-config --standin URL`` writes the bot's config, ``rest.json`` and the JWT secret,
  and prints how to start the bot: followed line by line, a dry-run bot starts on that stand-in
  and buys the portfolio at the stand-in's prices;
- ``--set-price COIN=PRICE --standin URL`` makes the stand-in quote that price (its Binance
  REST says so);
- without ``--standin`` (and no try-live running in the work folder) both are refused, with the
  fix, and nothing is written or moved.

The running try-live itself (its ``--move``, Ctrl-C): tests/e2e/test_try_live.py.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time

import requests

from tests.helpers.e2e import _clean_env, _spawn, _stop_process, free_port, tail
from tests.helpers.paths import ROOT

TRY_LIVE = [sys.executable, "-m", "rebalance_plugin.cli", "try-live"]
CONFIG = ROOT / "config.json"
WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}  # config.json's portfolio, 1000 USDT


def try_live(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TRY_LIVE, *(str(a) for a in args)],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def quote(url: str, symbol: str) -> float:
    """The stand-in's price of ``symbol``, as Binance's REST API gives it."""
    answer = requests.get(f"{url}/api/v3/ticker/price", params={"symbol": symbol}, timeout=10)
    answer.raise_for_status()
    return float(answer.json()["price"])


def test_write_config_makes_a_bot_that_trades_on_that_standin(fresh_sim, tmp_path):
    from freqtrade_client import FtRestClient

    sim = fresh_sim()
    # Prices held (as try-live holds them), BTC at a price only this stand-in quotes: the
    # replayed candles of January 2024 have BTC near 42,000.
    for coin in WEIGHTS:
        sim.set_price(f"{coin}USDT", sim.prices()[f"{coin}USDT"])
    sim.set_price("BTCUSDT", 12345.6)
    workdir, port = tmp_path / "mine", free_port()
    written = try_live("--config", CONFIG, "--write-config", "--workdir", workdir)
    assert written.returncode == 2  # refused without --standin, nothing written
    assert "--write-config needs --standin URL" in written.stderr and not workdir.exists()
    written = try_live(
        "--config", CONFIG, "--write-config", "--standin", sim.url, "--workdir", workdir,
        "--port", port,
    )  # fmt: skip
    assert written.returncode == 0, written.stdout + written.stderr
    bot_path, rest_path, jwt_path = (
        workdir / n for n in ("config.json", "rest.json", "jwt_secret")
    )
    assert written.stdout.startswith(
        f"wrote {bot_path} (a dry-run bot against {sim.url}), {rest_path} and {jwt_path}\n"
    )
    cfg = json.loads(bot_path.read_text())
    assert cfg["dry_run"] is True and cfg["exchange"]["key"] == ""
    assert cfg["exchange"]["ccxt_config"]["urls"]["api"]["public"] == f"{sim.url}/api/v3"
    api = cfg["api_server"]
    assert (api["listen_ip_address"], api["listen_port"]) == ("127.0.0.1", port)
    assert "password" not in api and "jwt_secret_key" not in api  # secrets stay out of it
    rest = json.loads(rest_path.read_text())["api_server"]
    assert rest["listen_port"] == port and len(rest["password"]) >= 16
    assert rest_path.stat().st_mode & 0o777 == jwt_path.stat().st_mode & 0o777 == 0o600

    # Start the bot with the printed lines, from the checkout, as docs/try-live.md#3-the-bot says.
    lines = written.stdout.splitlines()
    start = lines.index("start the bot with the password and JWT secret from those files:")
    exports, command = lines[start + 1 : start + 3], lines[start + 3].strip()
    assert command == f".venv/bin/freqtrade trade --config {bot_path}"
    script = "\n".join([*exports, f"exec {command}"])
    log = tmp_path / "bot.out"
    served = sim.state()["requests"]
    with log.open("wb") as out:
        bot = _spawn(
            ["bash", "-c", script], cwd=ROOT, env=_clean_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        client = FtRestClient(f"http://127.0.0.1:{port}", rest["username"], rest["password"])
        deadline = time.monotonic() + 180
        trades: list = []
        while not (len(trades) == 4 and not any(t["has_open_orders"] for t in trades)):
            assert bot.poll() is None, tail(log)
            assert time.monotonic() < deadline, tail(log) + "\n" + sim.summary()
            time.sleep(1)
            try:
                answer = client.status()
            except Exception:  # not answering yet
                answer = None
            trades = answer if isinstance(answer, list) else []
    finally:
        _stop_process(bot, signal.SIGTERM, 60)
    by_pair = {t["pair"]: t for t in trades}
    assert sorted(by_pair) == ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]
    btc = by_pair["BTC/USDT"]
    # Bought at the stand-in's BTC price (its ask: half the spread above), never Binance's.
    assert 12345.6 <= btc["open_rate"] <= 12345.6 * 1.001, btc["open_rate"]
    # 40% of 1000 USDT, less the 0.1% fee, in whole lot steps (0.00001 BTC, ~0.12 USDT here).
    step = 1e-05
    expected = math.floor(400 / 1.001 / btc["open_rate"] / step) * step
    assert abs(btc["amount"] - expected) <= step + 1e-12, (btc["amount"], expected)
    state = sim.state()
    assert state["requests"] > served and not state["unexpected_requests"]


def test_set_price_moves_the_standins_quote(fresh_sim, tmp_path):
    sim = fresh_sim()
    candle = quote(sim.url, "SOLUSDT")  # the replayed candles' price (it moves with the clock)
    moved = try_live(
        "--workdir", tmp_path / "none", "--standin", sim.url,
        "--set-price", "SOL=150", "--set-price", "btc=50000",
    )  # fmt: skip
    assert moved.returncode == 0, moved.stdout + moved.stderr
    was = re.search(r"^SOLUSDT: ([0-9.]+) -> 150, held there$", moved.stdout, re.M)
    assert was and abs(float(was.group(1)) / candle - 1) < 0.01, moved.stdout
    assert "BTCUSDT:" in moved.stdout and "-> 50000, held there" in moved.stdout
    # Binance's REST of the stand-in quotes them (January 2024: SOL near 100, BTC near 42,000).
    assert quote(sim.url, "SOLUSDT") == 150.0
    assert quote(sim.url, "BTCUSDT") == 50000.0
    book = requests.get(
        f"{sim.url}/api/v3/ticker/bookTicker", params={"symbol": "SOLUSDT"}, timeout=10
    ).json()
    assert float(book["bidPrice"]) < 150 < float(book["askPrice"])
    assert not (tmp_path / "none").exists()  # a price move writes nothing


def test_set_price_without_standin_or_a_running_try_live_is_refused(fresh_sim, tmp_path):
    sim = fresh_sim()
    workdir = tmp_path / "idle"
    refused = try_live("--workdir", workdir, "--set-price", "SOL=150")
    assert refused.returncode == 2
    assert refused.stderr == (
        f"freqtrade-rebalance try-live: no try-live running with the work folder {workdir} "
        f"(no {workdir / 'try-live.json'}); for a stand-in you started yourself, give "
        "--standin URL\n"
    )
    bad = try_live("--workdir", workdir, "--standin", sim.url, "--set-price", "SOL=-3")
    assert bad.returncode == 2
    assert "'SOL=-3': give COIN=NUMBER, a number > 0" in bad.stderr
    # Both commands have returned: neither set a price, the stand-in still follows its candles.
    sol = sim.state()["prices"]["SOLUSDT"]
    assert sol["override"] is None and sol["multiplier"] is None, sol
    assert not workdir.exists()
