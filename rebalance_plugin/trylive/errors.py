"""try-live's one error: said in one line by the command, exit code 2."""

from __future__ import annotations


class TryLiveError(Exception):
    """Said in one line, exit code 2."""
