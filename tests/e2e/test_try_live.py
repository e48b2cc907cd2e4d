"""``freqtrade-rebalance try-live`` as a user runs it: a subprocess that starts the Binance
stand-in and a dry-run bot, prints ``url:``, ``username:`` and ``password:``; ``freqtrade-client``
(the command, with the ``rest.json`` it wrote, and the Python client with the printed login)
talks to the bot; ``try-live --move`` moves a price and a rebalance follows; SIGINT (Ctrl-C)
stops both processes. Nothing leaves 127.0.0.1: the stand-in lists no request it does not
serve, and the bot asks nothing of the internet (no ``fiat_display_currency``, no websocket).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.helpers.e2e import _clean_env, free_port
from tests.helpers.paths import ROOT


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _client_cli() -> list[str]:
    found = shutil.which("freqtrade-client", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "freqtrade_client.ft_client"]


class Printed:
    """What a process prints, read line by line in a thread; ``until`` waits for a line."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "\n".join(self.printed)
                continue
            self.printed.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line {pattern!r} in {timeout:.0f}s:\n" + "\n".join(self.printed))


def _four_trades_settled(rest: Path, env: dict[str, str]) -> list[dict]:
    """The four trades, once none has an open order, as the ``freqtrade-client`` command
    with the printed rest.json shows them."""
    deadline = time.monotonic() + 60
    while True:
        answer = subprocess.run(
            [*_client_cli(), "--config", str(rest), "status"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        trades = json.loads(answer.stdout) if answer.returncode == 0 else []
        if len(trades) == 4 and not any(t["has_open_orders"] for t in trades):
            return trades
        assert time.monotonic() < deadline, answer.stdout + answer.stderr
        time.sleep(1)


def test_try_live_starts_answers_rebalances_and_stops_on_ctrl_c(tmp_path):
    from freqtrade_client import FtRestClient

    workdir = tmp_path / "try-live"
    port = free_port()
    cmd = [sys.executable, "-m", "rebalance_plugin.cli", "try-live"]
    cmd += ["--config", str(ROOT / "config.json"), "--workdir", str(workdir), "--port", str(port)]
    env = _clean_env()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Printed(proc)
    printed, until = out.printed, out.until

    state: dict = {}
    try:
        url = until(r"^url: (http://127\.0\.0\.1:\d+)$", 180).group(1)
        username = until(r"^username: (\S+)$", 5).group(1)
        password = until(r"^password: (\S+)$", 5).group(1)
        until(r"^Ctrl-C stops the bot and the stand-in\.$", 5)
        assert url == f"http://127.0.0.1:{port}"
        # FreqUI's charts show the portfolio's panels after the strategy's plot_config is
        # loaded: the printout says how, and what each line is.
        shown = "\n".join(printed)
        assert '("Plot configurator", right of "default") > "From strategy" > "Save":' in shown
        assert "Weight %" in shown and "Portfolio value" in shown
        assert "(the target -/+\n" in shown and "5 points, threshold)" in shown
        state = json.loads((workdir / "try-live.json").read_text())

        # The Python client with the printed login, the command with rest.json.
        client = FtRestClient(url, username, password)
        assert client.show_config()["dry_run"] is True
        rest = workdir / "rest.json"
        assert any(x.strip().endswith(f"freqtrade-client --config {rest} status") for x in printed)
        until(r"Portfolio bought: BTC 40%, ETH 30%, BNB 15%, SOL 15%", 120)
        trades = _four_trades_settled(rest, env)
        assert sorted(t["pair"] for t in trades) == ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]

        # Move a price as the printed line says: SOL +60%, past the 5-point threshold.
        moved = subprocess.run(
            [*cmd[:4], "--workdir", str(workdir), "--move", "SOL=1.6"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert re.search(r"SOLUSDT: ([0-9.]+) -> ([0-9.]+), held there", moved.stdout), moved.stdout
        until(r"Rebalance \(drift [0-9.]+ points\): sell [0-9.]+ SOL", 90)
        until(r"Rebalance buys", 90)
        sol = next(t for t in client.status() if t["pair"] == "SOL/USDT")
        assert any(o["ft_order_side"] == "sell" for o in sol["orders"])
        # Nothing went anywhere but the stand-in.
        sim_state = requests.get(f"{state['standin']}/sim/state", timeout=10).json()
        assert not sim_state.get("unexpected_requests"), sim_state["unexpected_requests"]
        assert "coingecko" not in (workdir / "freqtrade.log").read_text().lower()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            for pid in (state.get("bot_pid"), state.get("standin_pid")):
                if pid and _alive(pid):
                    os.kill(pid, signal.SIGKILL)
    while not out.lines.empty():
        printed.append(out.lines.get())
    assert proc.returncode == 0, "\n".join(printed)
    stopped = printed[-1]
    assert stopped == (
        f"stopped: the bot (pid {state['bot_pid']}), the stand-in (pid {state['standin_pid']})"
    ), "\n".join(printed)
    assert not _alive(state["bot_pid"]) and not _alive(state["standin_pid"])
    assert not (workdir / "try-live.json").exists()
