"""``make test-compat`` (tools/compat.py): what each release's virtualenv gets, and the summary
a reader (or CI) judges the run by."""

from __future__ import annotations

from rebalance_plugin.ft.sourceguard import RELEASES
from tools import compat


def test_each_release_is_installed_pinned_with_what_it_needs_today():
    for release in RELEASES:
        found = compat.requirements(release)
        assert found[:2] == [f"freqtrade[plot,hyperopt]=={release}", f"freqtrade-client=={release}"]
    # joblib 1.6 dropped joblib.externals.cloudpickle, which hyperopt imports before 2026.9.
    assert "joblib<1.6" in compat.requirements("2026.8")
    assert compat.requirements("2026.9") == compat.requirements("2026.9")[:2]


def test_the_summary_names_each_release_its_result_and_what_is_off():
    ok = compat.Outcome("2026.9", installed="2026.9", returncode=0, counts="33 passed in 76s")
    ok.on = {"fast path": True, "booking": True}
    off = compat.Outcome("2026.6", installed="2026.6", returncode=1)
    off.counts = "2 failed, 31 passed, 43 warnings in 75.28s"
    off.on = {"fast path": True, "booking": False}
    off.warnings = ["freqtrade-rebalance: Freqtrade 2026.6: internals changed: ..."]
    broken = compat.Outcome("2026.7", error="install failed: pip")
    text = compat.summary([off, broken, ok])
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:6]}
    assert rows["2026.6"][1:4] == ["FAILED", "on", "booking"]
    assert rows["2026.7"][1:3] == ["FAILED", "?"]
    assert rows["2026.9"][1:4] == ["passed", "on", "-"]
    assert text.splitlines()[-1].startswith("2026.6 warns: freqtrade-rebalance: Freqtrade 2026.6")
    assert (off.count("passed"), off.count("failed"), ok.count("failed")) == (31, 2, 0)
    assert not broken.passed and not off.passed and ok.passed
