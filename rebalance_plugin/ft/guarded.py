"""State read by the bot's thread and the API server's, behind one lock."""

from __future__ import annotations

import threading
from typing import Any


class Guarded:
    """Holds ``self._lock`` (an ``RLock`` when ``reentrant``). Hyperopt's worker processes
    receive the strategy pickled: the lock is not sent, and a new one is made on arrival."""

    reentrant = False

    def _new_lock(self) -> None:
        self._lock: Any = threading.RLock() if self.reentrant else threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._new_lock()
