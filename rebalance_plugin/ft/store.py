"""The portfolio's record (``core.book.Book``): the one copy in memory, and its persistence in
Freqtrade's database (dry/live; a backtest keeps it in memory only).

Storage: Freqtrade's ``KeyValueStore``, whose string column is ``VARCHAR(255)``. SQLite ignores
the length, PostgreSQL and MariaDB (Freqtrade's documented production databases) refuse a
longer value, and a record is 400-1 500 characters. So the record's text is stored in chunks of
at most ``CHUNK`` characters under ``rebalance_state.<buffer>.<i>``, and ``rebalance_state``
holds a short header naming the buffer and its chunk count. A write fills the buffer not in use,
then switches the header: a crash in between leaves the previous record whole. A record written
by release 0.1.0 (the whole text under ``rebalance_state``) still loads; the next change writes
it in chunks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from freqtrade.persistence import KeyValueStore

from ..core.book import Book
from .context import Context

#: Key of the portfolio's record in Freqtrade's database (KeyValueStore: one per bot database).
STATE_KEY = "rebalance_state"
#: Longest text stored under one key (the column is VARCHAR(255)).
CHUNK = 250
#: The header's format number.
FORMAT = 2


def dumps(book: Book) -> str:
    """The stored text of a record (stable: keys sorted)."""
    return json.dumps(book.to_dict(), sort_keys=True)


def loads(text: str) -> Book:
    return Book.from_dict(json.loads(text))


def chunk_key(buffer: int, index: int) -> str:
    return f"{STATE_KEY}.{buffer}.{index}"


def _read(get: Callable[[str], Any]) -> tuple[str, dict[str, Any] | None] | None:
    """The record's text and its header (None for a 0.1.0 record, stored whole), or None."""
    head = get(STATE_KEY)
    if not isinstance(head, str):
        return None
    data = json.loads(head)
    if data.get("format") != FORMAT:
        return head, None
    buffer = int(data["buffer"])
    text = "".join(str(get(chunk_key(buffer, i))) for i in range(int(data["sizes"][buffer])))
    return text, data


def read_record(get: Callable[[str], Any]) -> str | None:
    """The record's text from a key lookup (``KeyValueStore.get_value``, or a database row
    reader): the chunks the header names, or a 0.1.0 record's single value. None if absent."""
    found = _read(get)
    return found[0] if found else None


class StateStore:
    """Owns the current ``Book``; every glue object reads and replaces it here."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.book = Book.fresh(ctx.cfg)
        self._saved: str | None = None
        self._head: dict[str, Any] = {"format": FORMAT, "buffer": 1, "sizes": [0, 0]}

    def update(self, **changes: Any) -> Book:
        """Replace fields of the record (in memory; ``save`` persists it). Dry/live, a change
        of ``funded`` (funds added or removed) is kept with its time in ``moves``: the chart's
        cash before it (``ft.chart``)."""
        funded = changes.get("funded")
        if funded is not None and funded != self.book.funded and not self.ctx.backtest:
            move = (time.time(), float(funded) - self.book.funded)
            changes["moves"] = (*changes.get("moves", self.book.moves), move)
        self.book = replace(self.book, **changes)
        return self.book

    def keep_section(self, section: Any) -> None:
        """Dry/live: config.json's accepted ``rebalance`` section (as written), kept in the
        record: the portfolio a later reload with a refused section runs on
        (``startup.last_good``)."""
        if isinstance(section, dict) and self.book.section != section:
            self.update(section=section)
            self.save()

    def load(self) -> bool:
        """Dry/live: restore the record saved by an earlier run. True when one was found."""
        if self.ctx.backtest:
            return False
        found = _read(KeyValueStore.get_value)
        if found is None:
            return False
        text, head = found
        if head is not None:
            self._head = {"format": FORMAT, "buffer": head["buffer"], "sizes": head["sizes"]}
        self.book = loads(text)
        self._saved = text
        return True

    def save(self) -> None:
        """Persist the record in Freqtrade's database when it changed (dry/live)."""
        if self.ctx.backtest:
            return
        text = dumps(self.book)
        if text == self._saved:
            return
        buffer = 1 - int(self._head["buffer"])  # the one not in use
        sizes = list(self._head["sizes"])
        chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        for i, chunk in enumerate(chunks):
            KeyValueStore.store_value(chunk_key(buffer, i), chunk)
        for i in range(len(chunks), sizes[buffer]):  # left over from a longer record
            KeyValueStore.delete_value(chunk_key(buffer, i))
        sizes[buffer] = len(chunks)
        head = {"format": FORMAT, "buffer": buffer, "sizes": sizes}
        KeyValueStore.store_value(STATE_KEY, json.dumps(head))
        self._head = head
        self._saved = text
