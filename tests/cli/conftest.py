"""Fixtures of the command-line tests: the command run in-process, the CoinGecko stand-in,
and small daily-candle directories written for a test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from coingecko_standin import CoinGeckoServer, start_server
from rebalance_plugin.cli import main
from tests.helpers.paths import ROOT


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``freqtrade-rebalance ARGS...`` in-process: exit code, stdout, stderr."""

    def run(*args: object) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A copy of the repository's config.json (the template users start from)."""
    path = tmp_path / "config.json"
    shutil.copy(ROOT / "config.json", path)
    return path


@pytest.fixture
def gecko() -> Iterator[CoinGeckoServer]:
    """The CoinGecko stand-in on 127.0.0.1 (coins set by the test: ``gecko.coins = [...]``)."""
    server = start_server([])
    yield server
    server.shutdown()
    server.server_close()
