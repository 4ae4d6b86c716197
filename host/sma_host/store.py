"""Local state: one SQLite database (WAL) in the data dir, owner-only.

Every write that must land together goes through ``transaction()``. One connection,
shared by the host's threads behind a lock: the host's write rate is tiny, and one
connection keeps transactions simple.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .protocol.crypto import Identity

DB_NAME = "sma-host.sqlite3"
DATA_DIR_ENV = "SMA_HOST_DATA_DIR"

_MIGRATIONS: list[str] = [
    # 1: accounts and SMA membership
    """
    CREATE TABLE account (
        account      TEXT PRIMARY KEY,
        email        TEXT NOT NULL,
        device_name  TEXT NOT NULL,
        imap_host    TEXT NOT NULL,
        imap_port    INTEGER NOT NULL,
        security     TEXT NOT NULL,
        username     TEXT NOT NULL,
        ca_file      TEXT
    );
    CREATE TABLE membership (
        account      TEXT PRIMARY KEY REFERENCES account(account) ON DELETE CASCADE,
        muaa_id      TEXT NOT NULL,
        sign_secret  BLOB NOT NULL,
        dh_secret    BLOB NOT NULL,
        created      INTEGER NOT NULL,
        announced_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE device (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        muaa_id      TEXT NOT NULL,
        name         TEXT NOT NULL,
        sign_key     BLOB NOT NULL,
        dh_key       BLOB NOT NULL,
        created      INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        PRIMARY KEY (account, muaa_id)
    );
    """,
]


def default_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
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


@dataclass(frozen=True)
class KnownDevice:
    muaa_id: str
    name: str
    sign_key: bytes
    dh_key: bytes
    created: int
    last_seen: int


class Store:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        path = data_dir / DB_NAME
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; re-entrant."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
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
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    # accounts

    def save_account(self, settings: AccountSettings) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO account VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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

    # membership

    def membership(self, account: str) -> Membership | None:
        with self._lock:
            row = self._db.execute(
                "SELECT account, muaa_id, sign_secret, dh_secret, created, announced_at"
                " FROM membership WHERE account = ?",
                (account,),
            ).fetchone()
        if row is None:
            return None
        return Membership(row[0], row[1], Identity(row[2], row[3]), row[4], row[5])

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

    # devices seen in the announcement folder

    def replace_devices(self, account: str, devices: list[KnownDevice]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM device WHERE account = ?", (account,))
            db.executemany(
                "INSERT INTO device VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (account, d.muaa_id, d.name, d.sign_key, d.dh_key, d.created, d.last_seen)
                    for d in devices
                ],
            )

    def devices(self, account: str) -> list[KnownDevice]:
        with self._lock:
            rows = self._db.execute(
                "SELECT muaa_id, name, sign_key, dh_key, created, last_seen FROM device"
                " WHERE account = ? ORDER BY muaa_id",
                (account,),
            ).fetchall()
        return [KnownDevice(*row) for row in rows]
