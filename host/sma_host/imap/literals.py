"""A cap on what the server may send, counted on the bytes that arrive, not on its claims.

imaplib reads each literal (``{n}`` then n bytes) with one ``read(n)`` on the connection,
whatever n the server announces. The guard wraps that ``read``: while a limit is set, a
literal over the per-message cap, or one that would take the command past its total, is
refused before a byte of it is read; the connection is then unusable (``abort``).
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class LiteralGuard:
    """Installed once per connection; ``limit()`` arms it for one command."""

    def __init__(self, imap: Any) -> None:
        self._read: Callable[[int], bytes] = imap.read
        self._each: int | None = None
        self._total = 0
        self.received = 0
        imap.read = self.read  # imaplib calls self.read(size) for every literal

    @contextmanager
    def limit(self, each: int, total: int) -> Iterator[None]:
        """No literal over ``each`` bytes, at most ``total`` bytes of literals in all."""
        self._each, self._total, self.received = each, total, 0
        try:
            yield
        finally:
            self._each = None

    def read(self, size: int) -> bytes:
        if self._each is not None:
            if size > self._each or self.received + size > self._total:
                raise imaplib.IMAP4.abort(
                    f"the server sent a {size}-byte literal: more than was asked for"
                )
            self.received += size
        return self._read(size)
