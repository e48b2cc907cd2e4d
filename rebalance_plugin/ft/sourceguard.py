"""One guard for every reach into Freqtrade's code: "the source of these Freqtrade functions is
the code this plugin was written against (freqtrade==2026.9), else warn once and fall back".

The plugin copies a few Freqtrade functions (``fastpath``), calls privates (``privates``) and
relies on how Freqtrade calls the strategy (``chart``). Each of those sites names the Freqtrade
functions it depends on and the sha256 of their source (``inspect.getsource``) as of the pinned
release; a :class:`SourceGuard` compares them once, the first time the feature is asked for.
After an upgrade that changes one, the feature is off (one warning in the log says which
function changed and what the bot does instead) and the unit test that compares the hashes
fails, so the code is re-read against the new Freqtrade before the hashes are updated.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any


def source_sha256(func: Any) -> str:
    """sha256 of a function's source, as ``inspect.getsource`` gives it."""
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()


class SourceGuard:
    """The Freqtrade functions ``sites()`` returns (by name) must hash to ``expected``; a site
    named in ``calls`` is not hashed but must contain that text (one call relied on in a
    function too large, and too often changed, to pin whole). Checked once: a failed check logs
    one warning ending with ``fallback`` (what the plugin does instead) and keeps answering
    False.

    ``sites`` is a function so that Freqtrade's heavy modules are imported only when the guard
    is first asked (a backtest never needs the live bot's)."""

    def __init__(
        self,
        sites: Callable[[], Mapping[str, Any]],
        expected: Mapping[str, str],
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

    def hashes(self) -> dict[str, str]:
        """The sha256 of the current source of every hashed site (what ``expected`` must be)."""
        return self._hashes(self.sites())

    def _hashes(self, found: Mapping[str, Any]) -> dict[str, str]:
        return {name: source_sha256(func) for name, func in found.items() if name not in self.calls}

    def changed(self) -> list[str]:
        """The sites whose code is not the code expected; [] when every one is."""
        found = self.sites()
        current = self._hashes(found)
        changed = [name for name, sha in self.expected.items() if current.get(name) != sha]
        changed += [
            name
            for name, text in self.calls.items()
            if name not in found or text not in inspect.getsource(found[name])
        ]
        if not changed and set(current) != set(self.expected):
            changed.append("hash table incomplete")
        return changed

    def verified(self) -> bool:
        """True when Freqtrade's code is the code the feature was written against (checked
        once; the first failed check logs the warning)."""
        if self._verdict is None:
            changed = self.changed()
            self._verdict = not changed
            if changed:
                self.logger.warning(
                    "freqtrade-rebalance: Freqtrade internals changed (%s); %s",
                    ", ".join(changed),
                    self.fallback,
                )
        return self._verdict

    def reset(self) -> None:
        """Check again when next asked (a test that changes ``expected``)."""
        self._verdict = None
