"""Shared test set-up: markers by folder, and the fixtures every kind of test uses.

Markers (``pytest -m``): ``unit`` (tests/unit, milliseconds, no Freqtrade process or backtest),
``cli`` (tests/cli: the ``freqtrade-rebalance`` command in-process on real candles and the
CoinGecko stand-in, about a second each), ``backtest`` (real in-process Freqtrade backtests),
``e2e`` (the Binance stand-in with real ``freqtrade trade`` processes or a real FreqtradeBot),
``docs`` (tests/docs: the figure blocks of README.md and docs/*.md rerun on the real candles),
``scale`` (tests/scale: twenty bots on one account, minutes; left out unless asked for,
``make test-scale``), ``exchange`` (tests/exchange: live bots facing halts, maintenance,
limits, rule changes and hands on the account, minutes; ``make test-exchange``), ``soak``
(tests/soak: a seeded random schedule on the accelerated stand-in; left out unless asked for,
``make test-soak``). A test in tests/unit that runs a backtest carries
``@pytest.mark.backtest`` itself; ``make test-fast`` runs ``-m unit``, and a ``unit`` test that
starts Freqtrade's backtesting fails, naming the marker (:func:`_unit_tests_start_no_backtest`).

Under ``CI=true`` a skipped test fails the run, each skip listed with its reason
(:class:`SkipsFailCI`): CI has the candles and PostgreSQL, so a skip there is something missing,
not something to pass over. Locally, tests that need the candles (``NO_SHARED_DATA``) or
PostgreSQL's binaries (tests/helpers/postgres.py) skip, saying which.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.paths import NO_SHARED_DATA, ROOT, SHARED_DATA

KINDS = ("unit", "cli", "backtest", "e2e", "exchange", "scale", "soak", "docs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        folder = Path(str(item.fspath)).parent.name
        item.add_marker(getattr(pytest.mark, folder if folder in KINDS else "unit"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root: config.json, strategies/."""
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real Binance candles; the test is skipped where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(NO_SHARED_DATA)
    return SHARED_DATA


# ---- a unit test starts no backtest ----------------------------------------------------------
#: Freqtrade's commands that run backtests (in a subprocess: ``freqtrade backtesting``,
#: ``python -m rebalance_plugin.marketdata.offline hyperopt``...).
BACKTEST_COMMANDS = frozenset(
    {"backtesting", "hyperopt", "lookahead-analysis", "recursive-analysis"}
)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_backtest(request: pytest.FixtureRequest, monkeypatch: Any) -> None:
    """A ``unit`` test (``make test-fast``: milliseconds, candles not needed) that starts
    Freqtrade's backtesting, in-process (``Backtesting``, which hyperopt and the project's
    sweep use too) or as a subprocess, fails at once, naming the marker it should carry.
    Misplaced decorators once ran a real backtest as a unit test: it failed without the
    candles instead of skipping, and slowed ``make test-fast`` down."""
    item = request.node
    if not item.get_closest_marker("unit") or item.get_closest_marker("backtest"):
        return
    why = (
        f"{item.nodeid} is a unit test but starts Freqtrade's backtesting: give it "
        "@pytest.mark.backtest (and a skip without the candles, tests/helpers/paths.py)"
    )
    from freqtrade.optimize.backtesting import Backtesting

    def no_backtesting(*args: Any, **kwargs: Any) -> None:
        pytest.fail(why)

    monkeypatch.setattr(Backtesting, "__init__", no_backtesting)
    popen_init = subprocess.Popen.__init__

    def no_backtest_command(self: subprocess.Popen, args: Any, *rest: Any, **kw: Any) -> None:
        words = str(args).split() if isinstance(args, (str, bytes)) else [str(a) for a in args]
        if BACKTEST_COMMANDS.intersection(words):
            pytest.fail(f"{why}; command: {args}")
        popen_init(self, args, *rest, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", no_backtest_command)


# ---- under CI, a skip fails the run ------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist workers forward their reports to the controller, which decides.
    if os.environ.get("CI") == "true" and not hasattr(config, "workerinput"):
        config.pluginmanager.register(SkipsFailCI(), "skips-fail-ci")


class SkipsFailCI:
    """Every skipped test (or module) of the run, and the run failed when there was one. A
    deselected test (``-m 'not scale'``) is not a skip; an expected failure (xfail) neither."""

    def __init__(self) -> None:
        self.skipped: dict[str, str] = {}

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            # (path, line, "Skipped: why"); a list once it came through pytest-xdist
            if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
                reason = str(longrepr[2])
            else:
                reason = str(longrepr)
            self.skipped.setdefault(report.nodeid, reason.removeprefix("Skipped: "))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        done = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)  # all else is worse
        if self.skipped and session.exitstatus in done:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.skipped:
            return
        terminalreporter.section("skipped under CI=true: the run fails", red=True, bold=True)
        for nodeid, reason in sorted(self.skipped.items()):
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.line(
            f"{len(self.skipped)} skipped: CI has the candles (../shared/data/binance) and "
            "PostgreSQL (Debian's postgresql), so nothing may skip there."
        )
