"""The child processes of try-live (the stand-in and the bot): started in their own session,
stopped signal by signal, waited for; and the small waits and reads around them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import TryLiveError

#: The checkout holding rebalance_plugin/ and binance_standin/ (the children run from it).
ROOT = Path(__file__).resolve().parents[2]


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


def quiet_client(url: str, username: str, password: str) -> Any:
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
