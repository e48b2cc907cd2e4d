"""``make test-compat``: the release-sensitive tests under every Freqtrade release of the supported
window (``rebalance_plugin.ft.sourceguard.RELEASES``), each in a virtualenv of its own.

For each release: ``.venv-compat/<release>`` is made with the Python .venv was made with (kept
between runs; reinstalled when pyproject.toml changes), ``freqtrade[plot,hyperopt]==<release>``,
``freqtrade-client==<release>`` (with ``PINS``) and the project ``-e .[test]`` installed in one
resolution (pip's cache is reused); then, in it:

- a probe: the installed release, which hash-guarded features are on (the fast path first),
  and the warnings the plugin logs when every guard is asked (at most one);
- pytest on ``TESTS``: the guards' tables and the fast path's identical results, the backtest
  truth tests, Freqtrade's own commands the tests use (backtesting, hyperopt, the analyses, the
  plots, webserver) and a real ``freqtrade trade`` bot in dry-run and live against the Binance
  stand-in.

A summary per release follows (passed/failed, fast path on/off, what is off, minutes); the exit
code is 1 when any release failed. Not part of ``make test`` (about 3 minutes per release on 2
cores, plus about a minute to install one the first time)::

    python -m tools.compat [--releases 2026.6 2026.9] [--tests FILE ...] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rebalance_plugin.ft.sourceguard import RELEASES

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venv-compat"

#: What a release needs beyond its own requirements today: Freqtrade 2026.6 to 2026.8's
#: hyperopt imports ``joblib.externals.cloudpickle``, which joblib 1.6 no longer ships (2026.9
#: imports ``cloudpickle`` itself and requires it); their requirements leave joblib open.
PINS: dict[str, tuple[str, ...]] = {
    "2026.6": ("joblib<1.6",),
    "2026.7": ("joblib<1.6",),
    "2026.8": ("joblib<1.6",),
}

#: The tests run under each release.
TESTS = (
    "tests/unit/test_ft_sourceguard.py",
    "tests/unit/test_ft_fastpath.py",
    "tests/backtest/test_backtest_truth.py",
    "tests/backtest/test_freqtrade_commands.py",
    "tests/e2e/test_e2e_smoke.py",
)

#: Run in each virtualenv: the release, the features each guard leaves on or off, and what the
#: plugin logs when all of them are asked (as a live bot asks them in its first loop).
PROBE = """
import json, logging, freqtrade
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger().addHandler(Keep(logging.WARNING))
from rebalance_plugin.ft import chart, fastpath, privates
guards = {
    "fast path": fastpath.GUARD,
    "bot state": privates.BOT_GUARD,
    "booking": privates.BOOKING_GUARD,
    "frugal exchange": privates.FRUGAL_GUARD,
    "chart signal": chart.SIGNAL_GUARD,
}
on = {name: guard.verified() for name, guard in guards.items()}
warnings = [m for m in records if m.startswith("freqtrade-rebalance:")]
print(json.dumps({"release": freqtrade.__version__, "on": on, "warnings": warnings}))
"""


@dataclass
class Outcome:
    """One release's run."""

    release: str
    installed: str = ""
    install_s: float = 0.0
    tests_s: float = 0.0
    returncode: int | None = None
    counts: str = ""
    on: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def count(self, word: str) -> int:
        """How many tests pytest's closing line counts as ``word`` (passed, failed, error)."""
        found = re.search(rf"(\d+) {word}", self.counts)
        return int(found.group(1)) if found else 0

    @property
    def passed(self) -> bool:
        return not self.error and self.returncode == 0 and self.installed == self.release


def base_python() -> str:
    """The interpreter .venv was made with (this one's base when run from .venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def requirements(release: str) -> list[str]:
    """What is installed beside the project for ``release``."""
    pinned = [f"freqtrade[plot,hyperopt]=={release}", f"freqtrade-client=={release}"]
    return pinned + list(PINS.get(release, ()))


def _stamp_text(release: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{' '.join(requirements(release))} pyproject.toml sha256 {digest}\n"


def install(release: str, python: str) -> Path:
    """``.venv-compat/<release>`` with that release and the project; reused while its stamp
    (release, pyproject.toml) is current."""
    venv = VENVS / release
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == _stamp_text(release):
        return venv
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip += ["--disable-pip-version-check", "-e", ".[test]", *requirements(release)]
    subprocess.run(pip, cwd=ROOT, check=True)
    stamp.write_text(_stamp_text(release))
    return venv


def probe(venv: Path, outcome: Outcome) -> None:
    """The release installed and the guards' verdicts in ``venv``."""
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        outcome.error = f"probe failed: {result.stderr.strip()[-2000:]}"
        return
    found = json.loads(result.stdout.strip().splitlines()[-1])
    outcome.installed, outcome.on, outcome.warnings = (
        found["release"],
        found["on"],
        found["warnings"],
    )


def run_tests(venv: Path, tests: list[str], workers: int, outcome: Outcome) -> None:
    """pytest under ``venv``; its output goes through, its closing line is kept."""
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", *tests]
    cmd += ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else ["-p", "no:xdist"]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(f"[{outcome.release}] {line}")
        if line.strip():
            last = line.strip()
    outcome.returncode = proc.wait()
    outcome.tests_s = time.monotonic() - started
    outcome.counts = last.strip("= ")


def run_release(release: str, args: argparse.Namespace) -> Outcome:
    outcome = Outcome(release)
    started = time.monotonic()
    try:
        venv = install(release, args.python)
    except subprocess.CalledProcessError as error:
        outcome.error = f"install failed: {error}"
        return outcome
    outcome.install_s = time.monotonic() - started
    probe(venv, outcome)
    if outcome.error:
        return outcome
    if outcome.installed != release:
        outcome.error = f"installed freqtrade {outcome.installed}, not {release}"
        return outcome
    run_tests(venv, args.tests, args.workers, outcome)
    return outcome


def summary(outcomes: list[Outcome]) -> str:
    """One line per release, then each release's warning."""
    lines = ["", "test-compat: Freqtrade releases"]
    lines.append(
        f"{'release':9} {'result':7} {'fast path':9} {'off':24} {'install':>8} {'tests':>8}"
    )
    for o in outcomes:
        off = ", ".join(name for name, on in o.on.items() if not on) or "-"
        fast = "?" if "fast path" not in o.on else ("on" if o.on["fast path"] else "off")
        result = "passed" if o.passed else "FAILED"
        lines.append(
            f"{o.release:9} {result:7} {fast:9} {off:24} {o.install_s:7.0f}s {o.tests_s:7.0f}s"
            f"  {o.error or o.counts}"
        )
    for o in outcomes:
        for warning in o.warnings:
            lines.append(f"{o.release} warns: {warning}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(RELEASES))
    parser.add_argument("--tests", nargs="+", default=list(TESTS))
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (1: none)")
    parser.add_argument("--python", default=base_python(), help="the venvs' interpreter")
    args = parser.parse_args()
    started = time.monotonic()
    outcomes = [run_release(release, args) for release in args.releases]
    print(summary(outcomes))
    print(f"test-compat: {len(outcomes)} releases in {time.monotonic() - started:.0f} s")
    passed = sum(o.count("passed") for o in outcomes)
    failed = sum(o.count("failed") + o.count("error") for o in outcomes)
    print(f"compat: {passed} passed, {failed} failed")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
