"""The hash guards of every reach into Freqtrade (rebalance_plugin/ft/sourceguard.py): on each
release of the supported window the installed Freqtrade's code is the code the table accepts for
that release, the features off there are the ones the table says, and a release outside the
window fails here (its code must be re-read first). ``make test-compat`` runs this file under
each release of the window."""

from __future__ import annotations

import logging
import re
import tomllib
import weakref

import freqtrade
import pytest

from rebalance_plugin.ft import chart, fastpath, privates, sourceguard
from rebalance_plugin.ft.sourceguard import RELEASES, SourceGuard, accepted, source_sha256
from tests.helpers.paths import ROOT

#: Every guard, by the feature it guards.
GUARDS = {
    "fast path": fastpath.GUARD,
    "bot": privates.BOT_GUARD,
    "booking": privates.BOOKING_GUARD,
    "frugal": privates.FRUGAL_GUARD,
    "backoff": privates.BACKOFF_GUARD,
    "signal": chart.SIGNAL_GUARD,
}

#: What is off on each release, as read in its code (privates.py's docstring says why):
#: booking unacknowledged orders needs 2026.8's handle_onexchange_order and order_by_id.
OFF = {
    "2026.6": {"booking"},
    "2026.7": {"booking"},
    "2026.8": set(),
    "2026.9": set(),
}


def test_the_installed_freqtrade_is_a_release_of_the_window():
    # Fails on a Freqtrade release outside the window: re-read every site the guards name
    # (fastpath.py, privates.py, chart.py) against the new code, add its hashes with the
    # release, then add the release to RELEASES and to pyproject.toml's range.
    assert freqtrade.__version__ in RELEASES, (freqtrade.__version__, RELEASES)
    assert set(OFF) == set(RELEASES)


@pytest.mark.parametrize("feature", sorted(GUARDS))
def test_each_site_hashes_to_the_code_read_for_this_release(feature):
    guard = GUARDS[feature]
    release = freqtrade.__version__
    current = guard.hashes()
    assert set(current) == set(guard.expected), feature
    for site, sha in current.items():
        releases = accepted(guard.expected[site]).get(sha)
        if feature in OFF[release]:
            continue  # checked below: some site of it is not accepted here
        assert releases is not None and release in releases, (feature, site, sha, releases)
    assert (release in guard.releases()) == (feature not in OFF[release])


def test_exactly_the_features_read_as_unsafe_on_this_release_are_off():
    off = {feature for feature, guard in GUARDS.items() if guard.changed()}
    assert off == OFF[freqtrade.__version__]


def test_the_window_is_pyprojects_range_and_the_makefiles_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = {re.split(r"[\[<>=]", d, maxsplit=1)[0]: d for d in project["project"]["dependencies"]}
    low, high = RELEASES[0], RELEASES[-1]
    year, month = (int(x) for x in high.split("."))
    following = f"{year + month // 12}.{month % 12 + 1}"
    for name in ("freqtrade", "freqtrade-client"):
        assert deps[name].endswith(f">={low},<{following}"), deps[name]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^FREQTRADE := {re.escape(high)}$", makefile, re.M)


def test_an_entry_accepts_its_hashes_with_the_releases_they_were_read_in():
    assert accepted("ab") == {"ab": RELEASES}
    assert accepted({"ab": ("2026.6",), "cd": ("2026.7", "2026.8")}) == {
        "ab": ("2026.6",),
        "cd": ("2026.7", "2026.8"),
    }


def _used():
    return "self.strategy.get_entry_signal(pair)"


def _other():
    return 1


@pytest.fixture
def own_guards(monkeypatch):
    """The guards a test makes are the only ones a failure checks with it."""
    monkeypatch.setattr(sourceguard, "_GUARDS", weakref.WeakSet())


def test_a_source_guard_fails_on_changed_code_with_one_warning(own_guards, caplog):
    # A changed hash, a call no longer made, a missing site and an incomplete table each turn
    # the feature off; the warning names the release and the releases the feature is verified
    # on, once.
    sites = {"used": _used, "caller": _used}
    good = {"used": source_sha256(_used)}
    logger = logging.getLogger("test.sourceguard")
    calls = {"caller": "get_entry_signal("}
    assert SourceGuard(lambda: sites, good, "off", logger, calls=calls).verified()
    read_in = {"used": {"0" * 64: ("2026.8", "2026.9")}}
    changed = SourceGuard(lambda: sites, read_in, "the fast path is off", logger)
    assert changed.releases() == ("2026.8", "2026.9")
    assert not changed.verified() and not changed.verified()
    warned = [r.getMessage() for r in caplog.records if r.name == "test.sourceguard"]
    assert warned == [
        f"freqtrade-rebalance: Freqtrade {freqtrade.__version__}: internals changed: used "
        "(verified on 2026.8, 2026.9): the fast path is off"
    ]
    assert not SourceGuard(lambda: sites, good, "off", logger, calls={"caller": "x("}).verified()
    assert not SourceGuard(lambda: {}, good, "off", logger).verified()
    assert SourceGuard(lambda: sites, {}, "off", logger, calls=calls).changed() == [
        "hash table incomplete"
    ]

    def gone() -> dict:
        raise ImportError("cannot import name 'RPC'")

    assert SourceGuard(gone, good, "off", logger).changed() == [
        "ImportError: cannot import name 'RPC'"
    ]


def test_the_first_failure_names_every_feature_off_in_one_warning(own_guards, monkeypatch, caplog):
    logger = logging.getLogger("test.sourceguard.one")
    ok = SourceGuard(lambda: {"b": _other}, {"b": source_sha256(_other)}, "never off", logger)
    first = SourceGuard(lambda: {"a": _used}, {"a": "0" * 64}, "A is off", logger)
    second = SourceGuard(lambda: {"b": _other}, {"b": "1" * 64}, "B is off", logger)
    monkeypatch.setattr(sourceguard, "freqtrade_release", lambda: "2026.10")
    assert not first.verified()
    assert not second.verified() and ok.verified()  # settled with the first: no new warning
    warned = [r.getMessage() for r in caplog.records if r.name == "test.sourceguard.one"]
    window = ", ".join(RELEASES)
    assert warned == [
        f"freqtrade-rebalance: Freqtrade 2026.10: internals changed: a (verified on {window}): "
        f"A is off; b (verified on {window}): B is off"
    ]
