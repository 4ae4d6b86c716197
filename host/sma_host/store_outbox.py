"""The outbox table of the store: sealed messages queued for a peer until their APPEND
succeeded. ``Store`` mixes it in; it shares its connection, lock and transactions."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass


@dataclass(frozen=True)
class OutboxItem:
    id: int
    recipient: str
    message: bytes


class OutboxTables:
    _db: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # Store's

    def enqueue(self, account: str, recipient: str, message: bytes, now: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO outbox (account, recipient, message, created) VALUES (?, ?, ?, ?)",
                (account, recipient, message, now),
            )

    def outbox(self, account: str) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, recipient, message FROM outbox WHERE account = ? ORDER BY id",
                (account,),
            ).fetchall()
        return [OutboxItem(*row) for row in rows]

    def last_outbox_id(self, account: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(MAX(id), 0) FROM outbox WHERE account = ?", (account,)
            ).fetchone()
        return int(row[0])

    def drop_outbox_after(self, account: str, item_id: int) -> None:
        """Forget what was queued after ``item_id`` (undoing an operation that failed)."""
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE account = ? AND id > ?", (account, item_id))

    def sent(self, item_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
