"""The pairing table of the store: one row per pairing attempt and direction, its state
and its typed record (``protocol.pairing_states.Attempt``). ``Store`` mixes it in; it
shares its connection, lock and transactions."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from typing import Any

from .protocol.pairing_states import Attempt


class PairingTables:
    _db: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # Store's

    def save_pairing(self, p: Attempt) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO pairing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.account,
                    p.pairing_id,
                    p.direction.value,
                    p.peer,
                    p.peer_name,
                    p.phase.state,
                    p.reason,
                    p.created,
                    p.expires_at,
                    json.dumps(p.data()),
                ),
            )

    def pairing(self, account: str, pairing_id: str, direction: str) -> Attempt | None:
        rows = self._pairings(
            "WHERE account = ? AND pairing_id = ? AND direction = ?",
            (account, pairing_id, direction),
        )
        return rows[0] if rows else None

    def pairings(self, account: str, live_only: bool = False) -> list[Attempt]:
        where = "WHERE account = ?" + (" AND state = 'waiting'" if live_only else "")
        return self._pairings(where + " ORDER BY created, pairing_id", (account,))

    def count_incoming(self, account: str) -> tuple[int, int]:
        """(waiting, all) incoming attempts of ``account``: one query, no rows loaded."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FILTER (WHERE state = 'waiting'), COUNT(*) FROM pairing"
                " WHERE account = ? AND direction = 'incoming'",
                (account,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def drop_oldest_ended_incoming(self, account: str) -> bool:
        """Make room for a new incoming attempt; False when every one is still waiting."""
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM pairing WHERE rowid = (SELECT rowid FROM pairing WHERE account = ?"
                " AND direction = 'incoming' AND state != 'waiting' ORDER BY created LIMIT 1)",
                (account,),
            )
            return cursor.rowcount > 0

    def purge_pairings(self, account: str, now: int, cutoff: int) -> int:
        """Ended attempts are stamped ``now`` when first seen ended (``data.ended_at``) and
        deleted once that stamp is at or before ``cutoff``; returns how many were deleted."""
        with self.transaction() as db:
            db.execute(
                "UPDATE pairing SET data = json_object('ended_at', ?) WHERE account = ?"
                " AND state != 'waiting' AND json_extract(data, '$.ended_at') IS NULL",
                (now, account),
            )
            cursor = db.execute(
                "DELETE FROM pairing WHERE account = ? AND state != 'waiting'"
                " AND json_extract(data, '$.ended_at') <= ?",
                (account, cutoff),
            )
            return cursor.rowcount

    def _pairings(self, where: str, args: tuple[Any, ...]) -> list[Attempt]:
        with self._lock:
            rows = self._db.execute(
                "SELECT account, pairing_id, direction, peer, peer_name, state, reason, created,"
                f" expires_at, data FROM pairing {where}",
                args,
            ).fetchall()
        return [
            Attempt.from_row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]))
            for r in rows
        ]
