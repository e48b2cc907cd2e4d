"""FreqUI's "Start backtest" on ``freqtrade webserver``: when it is the plugin that cannot start,
FreqUI says why (issue 22).

FreqUI polls ``GET /api/v1/backtest`` and raises an alert ("Backtest failed: ...") only for the
status "error", which Freqtrade gives once its backtest object exists; an error raised while the
strategy is built (before it) leaves the status at "Backtest not yet executed" and FreqUI shows
nothing. So in a simulated run the plugin keeps its refusal for ``bot_start``, where Freqtrade
reports it: here the shipped placeholder JWT secret (config.json's own ``api_server``), which the
plugin refuses because anyone who reads the repository can sign a login with it, and a
rebalance section it refuses (weights summing to 99).

The webserver runs as the docs' offline recipe runs it (``python -m
rebalance_plugin.marketdata.offline webserver``, the real candles); FreqUI is the REST calls it
makes (``freqtrade-client``'s session, the same endpoints and bodies).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import _clean_env, _stop_process, free_port
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

PASSWORD = "webserver-test-password"


def quiet(call: Any) -> Any:
    log = logging.getLogger("ft_rest_client")
    level, log.level = log.level, logging.CRITICAL
    try:
        return call()
    except Exception:
        return None
    finally:
        log.setLevel(level)


@pytest.mark.parametrize(
    "case, said",
    [
        # config.json's api_server keeps its placeholder JWT secret: only the password exported
        ("jwt", ["Refusing to start: api_server.jwt_secret_key", "export FREQTRADE__API_SERVER__"]),
        # weights summing to 99 (the secrets exported)
        ("weights", ["Invalid rebalance config:", "sum to 100"]),
    ],
)
def test_a_refusal_of_the_plugin_reaches_frequis_backtest_alert(
    tmp_path: Path, case: str, said: list[str]
):
    from freqtrade_client import FtRestClient

    coins = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 14} if case == "weights" else None
    config = make_config(tmp_path, coins=coins)
    cfg = json.loads(config.read_text())
    assert cfg["api_server"]["jwt_secret_key"].startswith("set-me")
    port = free_port()
    env = _clean_env()
    env.update(
        FREQTRADE__API_SERVER__ENABLED="true",
        FREQTRADE__API_SERVER__LISTEN_PORT=str(port),
        FREQTRADE__API_SERVER__PASSWORD=PASSWORD,
    )
    if case != "jwt":
        env["FREQTRADE__API_SERVER__JWT_SECRET_KEY"] = "webserver-test-jwt-secret-0123456789"
    cmd = [sys.executable, "-m", "rebalance_plugin.marketdata.offline", "webserver"]
    cmd += ["--config", str(config), "--datadir", str(SHARED_DATA)]
    log = tmp_path / "webserver.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        client = FtRestClient(f"http://127.0.0.1:{port}", "freqtrader", PASSWORD)
        deadline = time.monotonic() + 90
        while not quiet(client.show_config):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)

        # FreqUI's strategy list, then the chosen strategy: it loads (no "Strategy not found").
        assert client._get("strategies") == {"strategies": ["RebalanceStrategy"]}
        strategy = client._get("strategy/RebalanceStrategy")
        assert (strategy or {}).get("strategy") == "RebalanceStrategy", strategy

        # "Start backtest", then FreqUI's polling.
        body = {"strategy": "RebalanceStrategy", "timerange": "20240101-20240110"}
        body.update(enable_protections=False, backtest_cache="none")
        started = client._post("backtest", data=body)
        assert started and started["status"] == "running", started
        deadline = time.monotonic() + 120
        while (state := client._get("backtest")) and state.get("running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
    finally:
        _stop_process(proc)
    assert state["status"] == "error", state  # FreqUI: showAlert("Backtest failed: ...")
    message = state["status_msg"]
    assert message.startswith(f"Backtest failed with {said[0]}"), message
    assert all(words in message for words in said), message
