"""The key tables of the store: the keyring (with each key's fingerprint), the account key
and where the INBOX scan stopped. ``Store`` mixes them in; they share its connection,
lock and transactions."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from .protocol.keyring import PeerEntry, entry_from_json


@dataclass(frozen=True)
class AccountKey:
    """The account's secret key (armored) and what orders two versions of it (§ account key)."""

    armored: str = field(repr=False)
    set_at: int
    fingerprint: str | None
    #: What unlocks ``armored`` when it is protected (Thunderbird's export always is):
    #: a one-time secret that travels with the key, sealed, so another Thunderbird can
    #: import it. Not part of the rank: it belongs to the key.
    passphrase: str | None = field(default=None, repr=False)

    def rank(self) -> tuple[int, str, str]:
        return (self.set_at, self.fingerprint or "", self.armored)


class KeyTables:
    _db: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # Store's

    # the account's Autocrypt secret key

    def set_account_key(self, account: str, key: AccountKey) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO account_key"
                " (account, armored, set_at, fingerprint, passphrase) VALUES (?, ?, ?, ?, ?)",
                (account, key.armored, key.set_at, key.fingerprint, key.passphrase),
            )

    def account_key(self, account: str) -> AccountKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT armored, set_at, fingerprint, passphrase FROM account_key"
                " WHERE account = ?",
                (account,),
            ).fetchone()
        return AccountKey(row[0], row[1], row[2], row[3]) if row else None

    def delete_account_key(self, account: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM account_key WHERE account = ?", (account,))

    # where the INBOX scan stopped

    def inbox_scan(self, account: str) -> tuple[int, int] | None:
        """(UIDVALIDITY, last UID scanned), or None before the first scan."""
        with self._lock:
            row = self._db.execute(
                "SELECT uidvalidity, last_uid FROM inbox_scan WHERE account = ?", (account,)
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def set_inbox_scan(self, account: str, uidvalidity: int, last_uid: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO inbox_scan VALUES (?, ?, ?)",
                (account, uidvalidity, last_uid),
            )

    # the keyring

    def keyring(self, account: str, addrs: Iterable[str] | None = None) -> dict[str, PeerEntry]:
        entries = [
            entry_from_json(json.loads(row[1])) for row in self._keyring_rows(account, addrs)
        ]
        return {e.addr: e for e in entries}

    def put_keyring(self, account: str, entries: Iterable[tuple[PeerEntry, str | None]]) -> None:
        """Store entries with their key's fingerprint (None: not known)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO keyring (account, addr, entry, fingerprint)"
                " VALUES (?, ?, ?, ?)",
                [(account, e.addr, json.dumps(e.to_json()), fp) for e, fp in entries],
            )

    def fingerprints(self, account: str, addrs: Iterable[str]) -> dict[str, str | None]:
        """The stored fingerprint of each of ``addrs`` that has an entry."""
        return {addr: fp for addr, _entry, fp in self._keyring_rows(account, addrs)}

    def keyring_listing(
        self, account: str, addrs: Iterable[str] | None = None, offset: int = 0, limit: int = -1
    ) -> list[tuple[str, str, str | None]]:
        """(addr, stored JSON, fingerprint) by address, ``limit`` rows from ``offset`` (of the
        whole keyring, or of ``addrs``): ``keys.list`` reads only the rows of its page."""
        if addrs is not None:
            return self._keyring_rows(account, addrs)[offset:][: limit if limit >= 0 else None]
        with self._lock:
            rows: list[tuple[str, str, str | None]] = self._db.execute(
                "SELECT addr, entry, fingerprint FROM keyring WHERE account = ?"
                " ORDER BY addr LIMIT ? OFFSET ?",
                (account, limit, offset),
            ).fetchall()
        return rows

    def keyring_size(self, account: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM keyring WHERE account = ?", (account,)
            ).fetchone()
        return int(row[0])

    def _keyring_rows(
        self, account: str, addrs: Iterable[str] | None
    ) -> list[tuple[str, str, str | None]]:
        query = "SELECT addr, entry, fingerprint FROM keyring WHERE account = ?"
        with self._lock:
            if addrs is None:
                return self._db.execute(query + " ORDER BY addr", (account,)).fetchall()
            wanted = sorted(set(addrs))
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows += self._db.execute(
                    query + f" AND addr IN ({','.join('?' * len(chunk))})", (account, *chunk)
                ).fetchall()
        return sorted(rows)
