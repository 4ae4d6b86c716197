"""Local state: one SQLite database (WAL) in the data dir, owner-only.

Every write that must land together goes through ``transaction()``. One connection,
shared by the host's threads behind a lock: the host's write rate is tiny, and one
connection keeps transactions simple.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import StorageFailed
from .protocol.crypto import Identity
from .store_keys import KeyTables
from .store_migrations import MIGRATIONS
from .store_outbox import OutboxTables
from .store_pairings import PairingTables
from .store_removals import RemovalTables

DB_NAME = "sma-host.sqlite3"
#: Sequence numbers kept above the replay floor per sender at most (§8.3).
MAX_SEEN_ABOVE_FLOOR = 256

#: SQLite's primary result codes that say the data dir cannot take writes, and why.
_SQLITE_STORAGE = {13: "disk_full", 8: "read_only", 14: "cannot_open", 10: "io_error"}
_OS_STORAGE = {errno.ENOSPC: "disk_full", errno.EDQUOT: "disk_full", errno.EROFS: "read_only"}


def storage_failure(exc: BaseException) -> StorageFailed | None:
    """The add-on's error for a database that cannot be written (a full disk, a read-only
    data dir), found anywhere in ``exc``'s chain; None for any other exception."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short; a cycle must not loop
        if seen is None:
            return None
        why: str | None = None
        if isinstance(seen, sqlite3.Error):
            why = _SQLITE_STORAGE.get(getattr(seen, "sqlite_errorcode", -1) & 0xFF)
        elif isinstance(seen, OSError):
            why = _OS_STORAGE.get(seen.errno or 0)
            if why is None and isinstance(seen, PermissionError):
                why = "read_only"
        if why is not None:
            return StorageFailed(
                f"the host cannot write its database ({why.replace('_', ' ')}): try again"
                " once its data dir has space and is writable",
                why=why,
            )
        seen = seen.__cause__ or seen.__context__
    return None


def default_data_dir() -> Path:
    from .config import CONFIG

    if CONFIG.data_dir is not None:
        return CONFIG.data_dir
    import platformdirs

    return Path(platformdirs.user_data_dir("sma-host", appauthor=False))


@dataclass(frozen=True)
class AccountSettings:
    """Everything about an account except the password, which never touches the disk."""

    account: str
    email: str
    device_name: str
    imap_host: str
    imap_port: int
    security: str
    username: str
    ca_file: str | None


@dataclass(frozen=True)
class Membership:
    account: str
    muaa_id: str
    identity: Identity
    created: int
    announced_at: int
    removed: bool = False


@dataclass(frozen=True)
class Peer:
    """A paired device."""

    muaa_id: str
    name: str
    sign_key: bytes
    dh_key: bytes
    paired_at: int


class Store(KeyTables, RemovalTables, PairingTables, OutboxTables):
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        path = data_dir / DB_NAME
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self._lock = threading.RLock()
        self._savepoints = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def release_cache(self) -> None:
        """Free SQLite's page cache (kept up to about 2 MB after a large batch wrote).
        Never raises: it runs on the way out of calls that may be failing already."""
        try:
            with self._lock:
                self._db.execute("PRAGMA shrink_memory")
        except sqlite3.Error:
            pass  # only memory is at stake

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        Nested use is a SAVEPOINT: an inner failure undoes only the inner part.
        """
        with self._lock:
            if self._db.in_transaction:
                self._savepoints += 1
                name = f"sp{self._savepoints}"
                self._db.execute(f"SAVEPOINT {name}")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute(f"ROLLBACK TO {name}")
                    self._db.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._savepoints -= 1
                self._db.execute(f"RELEASE {name}")
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    # accounts

    def save_account(self, settings: AccountSettings) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO account (account, email, device_name, imap_host, imap_port,
                   security, username, ca_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(account) DO UPDATE SET email=excluded.email,
                   device_name=excluded.device_name, imap_host=excluded.imap_host,
                   imap_port=excluded.imap_port, security=excluded.security,
                   username=excluded.username, ca_file=excluded.ca_file""",
                (
                    settings.account,
                    settings.email,
                    settings.device_name,
                    settings.imap_host,
                    settings.imap_port,
                    settings.security,
                    settings.username,
                    settings.ca_file,
                ),
            )

    def load_account(self, account: str) -> AccountSettings | None:
        with self._lock:
            row = self._db.execute(
                "SELECT account, email, device_name, imap_host, imap_port, security, username,"
                " ca_file FROM account WHERE account = ?",
                (account,),
            ).fetchone()
        return AccountSettings(*row) if row else None

    def keyring_entry(self, account: str) -> str | None:
        """The OS keyring entry this host stored the account's password under, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT keyring_entry FROM account WHERE account = ?", (account,)
            ).fetchone()
        return row[0] if row else None

    def set_keyring_entry(self, account: str, entry: str | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE account SET keyring_entry = ? WHERE account = ?", (entry, account))

    def accounts(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT account FROM account ORDER BY account").fetchall()
        return [row[0] for row in rows]

    # membership

    def membership(self, account: str) -> Membership | None:
        with self._lock:
            row = self._db.execute(
                "SELECT account, muaa_id, sign_secret, dh_secret, created, announced_at, removed"
                " FROM membership WHERE account = ?",
                (account,),
            ).fetchone()
        if row is None:
            return None
        return Membership(row[0], row[1], Identity(row[2], row[3]), row[4], row[5], bool(row[6]))

    def create_membership(self, account: str, muaa_id: str, identity: Identity, now: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO membership (account, muaa_id, sign_secret, dh_secret, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, muaa_id, identity.sign_secret, identity.dh_secret, now),
            )

    def set_announced(self, account: str, when: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE membership SET announced_at = ? WHERE account = ?", (when, account))

    # paired devices

    def add_peer(self, account: str, peer: Peer) -> bool:
        """Remember a paired device; False when it was known already (keys are kept) or
        was removed: a removed id never becomes a peer again."""
        with self.transaction() as db:
            if self.is_removed(account, peer.muaa_id):
                return False
            cursor = db.execute(
                "INSERT OR IGNORE INTO peer VALUES (?, ?, ?, ?, ?, ?)",
                (account, peer.muaa_id, peer.name, peer.sign_key, peer.dh_key, peer.paired_at),
            )
            return cursor.rowcount > 0

    def peers(self, account: str) -> list[Peer]:
        with self._lock:
            rows = self._db.execute(
                "SELECT muaa_id, name, sign_key, dh_key, paired_at FROM peer WHERE account = ?"
                " ORDER BY paired_at, muaa_id",
                (account,),
            ).fetchall()
        return [Peer(*row) for row in rows]

    def peer(self, account: str, muaa_id: str) -> Peer | None:
        return next((p for p in self.peers(account) if p.muaa_id == muaa_id), None)

    # sequence numbers

    def next_seq(self, account: str, recipient: str) -> int:
        with self.transaction() as db:
            row = db.execute(
                "SELECT next_seq FROM send_seq WHERE account = ? AND recipient = ?",
                (account, recipient),
            ).fetchone()
            seq = row[0] if row else 1
            db.execute(
                "INSERT OR REPLACE INTO send_seq VALUES (?, ?, ?)", (account, recipient, seq + 1)
            )
            return int(seq)

    def mark_seen(self, account: str, sender: str, seq: int) -> bool:
        """Record ``seq`` from ``sender``; False when it was seen before (a replay).

        Keeps a floor below which everything was seen, plus the seen numbers above it,
        so the table stays small whatever order messages arrive in.
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT floor FROM seen_floor WHERE account = ? AND sender = ?", (account, sender)
            ).fetchone()
            floor = row[0] if row else 0
            if seq <= floor:
                return False
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (account, sender, seq)
            )
            if cursor.rowcount == 0:
                return False
            floor = self._collapse_seen(db, account, sender, floor)
            above = db.execute(
                "SELECT COUNT(*), MIN(seq) FROM seen WHERE account = ? AND sender = ?",
                (account, sender),
            ).fetchone()
            if above[0] > MAX_SEEN_ABOVE_FLOOR:
                # A gap this old will not be filled (a dropped message): close it, so one
                # drop does not cost a row per later message. A very late message from
                # inside the gap is then refused as a replay.
                floor = self._collapse_seen(db, account, sender, above[1] - 1)
            db.execute(
                "INSERT OR REPLACE INTO seen_floor VALUES (?, ?, ?)", (account, sender, floor)
            )
            return True

    @staticmethod
    def _collapse_seen(db: sqlite3.Connection, account: str, sender: str, floor: int) -> int:
        """Raise the floor over every seen number right above it; returns the new floor."""
        while db.execute(
            "DELETE FROM seen WHERE account = ? AND sender = ? AND seq = ?",
            (account, sender, floor + 1),
        ).rowcount:
            floor += 1
        return floor

    def set_removed(self, account: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE membership SET removed = 1 WHERE account = ?", (account,))

    def forget_membership(self, account: str) -> None:
        """This device left or was removed: drop its SMA identity and everything tied to
        it (peers, pairings, queued messages, sequence state). The keyring stays."""
        with self.transaction() as db:
            for table in (
                "membership",
                "peer",
                "pairing",
                "outbox",
                "send_seq",
                "seen",
                "seen_floor",
                "removed_device",
                "removal_wait",
            ):
                db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))

    def remove_peer(self, account: str, muaa_id: str) -> bool:
        with self.transaction() as db:
            gone = db.execute(
                "DELETE FROM peer WHERE account = ? AND muaa_id = ?", (account, muaa_id)
            ).rowcount
            db.execute("DELETE FROM outbox WHERE account = ? AND recipient = ?", (account, muaa_id))
            db.execute("DELETE FROM device WHERE account = ? AND muaa_id = ?", (account, muaa_id))
            return gone > 0
