"""One guard for every reach into Freqtrade's code: "the source of these Freqtrade functions is
code this plugin was verified against, else warn once and fall back".

The plugin copies a few Freqtrade functions (``fastpath``), calls privates (``privates``) and
relies on how Freqtrade calls the strategy (``chart``). Each of those sites names the Freqtrade
functions it depends on and the sha256 of their source (``inspect.getsource``) in every release
of the supported window (:data:`RELEASES`, pyproject.toml's range) where that source was re-read
against the plugin's use and found safe; a :class:`SourceGuard` compares them once, the first
time the feature is asked for. A release may change a function in a way that does not touch the
plugin's use (a renamed unused variable, a futures-only branch): its new hash is added beside
the old one, with the releases it was read in. Where a release's code is not safe for the use,
its hash is not accepted and the feature is off on that release.

A failed check turns the feature off (Freqtrade's own code path: slower or more requests, never
a different result) and logs ONE warning naming the Freqtrade release, what is off, what the bot
does instead and the releases the feature is verified on; the other guards not yet checked are
checked with it, so that one warning names everything that is off. On a release outside the
window, the unit tests that compare the hashes fail (``tests/unit/test_ft_sourceguard.py``), so
the code is re-read against the new Freqtrade before its hashes are accepted.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

#: The Freqtrade releases the plugin is verified on, oldest first: every guarded site's source
#: in each of them was read against the plugin's use (``make test-compat`` runs the backtest
#: truth tests and a live flow on each). pyproject.toml's range is the same window.
RELEASES: tuple[str, ...] = ("2026.6", "2026.7", "2026.8", "2026.9")

#: One site's accepted source: a sha256 (the same source in every release of the window), or
#: ``{sha256: (releases it was read in, ...)}`` where releases differ.
Accepted = str | Mapping[str, tuple[str, ...]]

#: Every guard made, to check the others with the first that fails (one warning).
_GUARDS: weakref.WeakSet[SourceGuard] = weakref.WeakSet()


def source_sha256(func: Any) -> str:
    """sha256 of a function's source, as ``inspect.getsource`` gives it."""
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()


def freqtrade_release() -> str:
    """The installed Freqtrade's version (``freqtrade.__version__``, e.g. ``2026.9``)."""
    import freqtrade

    return str(getattr(freqtrade, "__version__", "unknown"))


def accepted(value: Accepted) -> dict[str, tuple[str, ...]]:
    """``{sha256: releases}`` of one site's entry (a bare sha256: every release)."""
    if isinstance(value, str):
        return {value: RELEASES}
    return {sha: tuple(releases) for sha, releases in value.items()}


class SourceGuard:
    """The Freqtrade functions ``sites()`` returns (by name) must hash to one of the hashes
    ``expected`` accepts for them; a site named in ``calls`` is not hashed but must contain
    that text (one call relied on in a function too large, and too often changed, to pin
    whole). Checked once: a failed check logs one warning (with ``fallback``: what is off and
    what the plugin does instead) and keeps answering False.

    ``sites`` is a function so that Freqtrade's heavy modules are imported only when the guard
    is first asked (a backtest never needs the live bot's)."""

    def __init__(
        self,
        sites: Callable[[], Mapping[str, Any]],
        expected: Mapping[str, Accepted],
        fallback: str,
        logger: logging.Logger,
        calls: Mapping[str, str] | None = None,
    ) -> None:
        self.sites = sites
        self.expected = expected
        self.fallback = fallback
        self.logger = logger
        self.calls: Mapping[str, str] = dict(calls or {})
        self._verdict: bool | None = None
        _GUARDS.add(self)

    def hashes(self) -> dict[str, str]:
        """The sha256 of the current source of every hashed site."""
        return self._hashes(self.sites())

    def _hashes(self, found: Mapping[str, Any]) -> dict[str, str]:
        return {name: source_sha256(func) for name, func in found.items() if name not in self.calls}

    def changed(self) -> list[str]:
        """The sites whose code is not code verified; [] when every one is."""
        try:
            found = self.sites()
            current = self._hashes(found)
        except Exception as error:  # a site Freqtrade no longer has (moved, renamed)
            return [f"{type(error).__name__}: {error}"]
        changed = [
            name
            for name, value in self.expected.items()
            if current.get(name) not in accepted(value)
        ]
        changed += [
            name
            for name, text in self.calls.items()
            if name not in found or text not in inspect.getsource(found[name])
        ]
        if not changed and set(current) != set(self.expected):
            changed.append("hash table incomplete")
        return changed

    def releases(self) -> tuple[str, ...]:
        """The releases of the window on which every hashed site's source is accepted."""
        common = set(RELEASES)
        for value in self.expected.values():
            common &= {r for releases in accepted(value).values() for r in releases}
        return tuple(r for r in RELEASES if r in common)

    def verified(self) -> bool:
        """True when Freqtrade's code is code the feature was verified against (checked once;
        the first failed check logs the warning, for every guard not yet checked)."""
        if self._verdict is None:
            changed = self.changed()
            self._verdict = not changed
            if changed:
                _warn_once(self, changed)
        return self._verdict

    def describe(self, changed: list[str]) -> str:
        """What is off, and why, for the warning."""
        verified_on = ", ".join(self.releases()) or "none"
        return f"{', '.join(changed)} (verified on {verified_on}): {self.fallback}"

    def reset(self) -> None:
        """Check again when next asked (a test that changes ``expected``)."""
        self._verdict = None


def _warn_once(first: SourceGuard, changed: list[str]) -> None:
    """One warning for ``first`` and every other guard not yet checked that fails too."""
    parts = [first.describe(changed)]
    for guard in list(_GUARDS):
        if guard is first or guard._verdict is not None:
            continue
        found = guard.changed()
        guard._verdict = not found
        if found:
            parts.append(guard.describe(found))
    first.logger.warning(
        "freqtrade-rebalance: Freqtrade %s: internals changed: %s",
        freqtrade_release(),
        "; ".join(parts),
    )
