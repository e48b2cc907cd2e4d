"""The portfolio's record (``core.book.Book``): the one copy in memory, and its persistence in
Freqtrade's database (dry/live; a backtest keeps it in memory only)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from freqtrade.persistence import KeyValueStore

from ..core.book import Book
from .context import Context

#: Key of the portfolio's record in Freqtrade's database (KeyValueStore: one per bot database).
STATE_KEY = "rebalance_state"


def dumps(book: Book) -> str:
    """The stored text of a record (stable: keys sorted)."""
    return json.dumps(book.to_dict(), sort_keys=True)


def loads(text: str) -> Book:
    return Book.from_dict(json.loads(text))


class StateStore:
    """Owns the current ``Book``; every glue object reads and replaces it here."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.book = Book.fresh(ctx.cfg)
        self._saved: str | None = None

    def update(self, **changes: Any) -> Book:
        """Replace fields of the record (in memory; ``save`` persists it)."""
        self.book = replace(self.book, **changes)
        return self.book

    def load(self) -> bool:
        """Dry/live: restore the record saved by an earlier run. True when one was found."""
        if self.ctx.backtest:
            return False
        saved = KeyValueStore.get_value(STATE_KEY)
        if not isinstance(saved, str):
            return False
        self.book = loads(saved)
        self._saved = saved
        return True

    def save(self) -> None:
        """Persist the record in Freqtrade's database when it changed (dry/live)."""
        if self.ctx.backtest:
            return
        text = dumps(self.book)
        if text != self._saved:
            KeyValueStore.store_value(STATE_KEY, text)
            self._saved = text
