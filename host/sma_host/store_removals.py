"""The removal tables of the store (§14): devices removed for good, and the peers that
have not confirmed a removal this device made. ``Store`` mixes them in; they share its
connection, lock and transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager


class RemovalTables:
    _db: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # Store's

    def mark_removed(
        self, account: str, muaa_id: str, by: str, at: int, erased: bool = True
    ) -> bool:
        """Record that ``muaa_id`` is out for good; False when it was known already.
        ``erased=False``: this device has still to delete its traces on the server."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO removed_device (account, muaa_id, removed_by, at, erased)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, muaa_id, by, at, int(erased)),
            )
            return cursor.rowcount > 0

    def mark_erased(self, account: str, muaa_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE removed_device SET erased = 1 WHERE account = ? AND muaa_id = ?",
                (account, muaa_id),
            )

    def erase_pending(self, account: str, muaa_id: str) -> bool:
        """True when this device removed ``muaa_id`` but has not erased it yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM removed_device WHERE account = ? AND muaa_id = ? AND erased = 0",
                (account, muaa_id),
            ).fetchone()
        return row is not None

    def is_removed(self, account: str, muaa_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM removed_device WHERE account = ? AND muaa_id = ?",
                (account, muaa_id),
            ).fetchone()
        return row is not None

    def removed_by(self, account: str, by: str, limit: int) -> list[str]:
        """The ``limit`` most recent removals ``by`` made, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT muaa_id FROM removed_device WHERE account = ? AND removed_by = ?"
                " ORDER BY at DESC, muaa_id LIMIT ?",
                (account, by, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def wait_for_confirmation(
        self, account: str, muaa_id: str, peers: Iterable[str], sent_at: int
    ) -> None:
        """``peers`` were sent a removal of ``muaa_id`` at ``sent_at`` and must confirm it."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO removal_wait VALUES (?, ?, ?, ?)",
                [(account, muaa_id, peer, sent_at) for peer in peers],
            )

    def confirmed(self, account: str, muaa_id: str, peer: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM removal_wait WHERE account = ? AND muaa_id = ? AND peer = ?",
                (account, muaa_id, peer),
            )
            return cursor.rowcount > 0

    def unconfirmed(self, account: str, sent_before: int | None = None) -> dict[str, list[str]]:
        """Removed id → the peers that have not confirmed its removal yet (those last sent
        it before ``sent_before``, when given)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT muaa_id, peer FROM removal_wait WHERE account = ? AND sent_at < ?"
                " ORDER BY muaa_id, peer",
                (account, 2**62 if sent_before is None else sent_before),
            ).fetchall()
        waiting: dict[str, list[str]] = {}
        for muaa_id, peer in rows:
            waiting.setdefault(muaa_id, []).append(peer)
        return waiting
