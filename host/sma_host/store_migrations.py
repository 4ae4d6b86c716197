"""The database schema, as the migrations that build it: ``PRAGMA user_version`` says how
many have run. A migration, once released, never changes; a new one is appended."""

from __future__ import annotations

#: Migration n (1-based) is ``MIGRATIONS[n - 1]``; ``Store`` runs those above the
#: database's ``user_version``, each in the transaction that sets it.
MIGRATIONS: list[str] = [
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
    -- device: written by 0.1 only and never read, kept as migrations never change
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
    # 2: pairing, paired devices, the outbox, replay protection, the account key
    """
    CREATE TABLE pairing (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        pairing_id   TEXT NOT NULL,
        direction    TEXT NOT NULL,
        peer         TEXT,
        peer_name    TEXT,
        state        TEXT NOT NULL,
        reason       TEXT,
        created      INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        data         TEXT NOT NULL,
        PRIMARY KEY (account, pairing_id, direction)
    );
    CREATE TABLE peer (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        muaa_id      TEXT NOT NULL,
        name         TEXT NOT NULL,
        sign_key     BLOB NOT NULL,
        dh_key       BLOB NOT NULL,
        paired_at    INTEGER NOT NULL,
        PRIMARY KEY (account, muaa_id)
    );
    CREATE TABLE send_seq (
        account      TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        next_seq     INTEGER NOT NULL,
        PRIMARY KEY (account, recipient)
    );
    CREATE TABLE seen_floor (
        account      TEXT NOT NULL,
        sender       TEXT NOT NULL,
        floor        INTEGER NOT NULL,
        PRIMARY KEY (account, sender)
    );
    CREATE TABLE seen (
        account      TEXT NOT NULL,
        sender       TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        PRIMARY KEY (account, sender, seq)
    );
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        account      TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        message      BLOB NOT NULL,
        created      INTEGER NOT NULL
    );
    CREATE TABLE account_key (
        account      TEXT PRIMARY KEY REFERENCES account(account) ON DELETE CASCADE,
        armored      TEXT NOT NULL
    );
    """,
    # 3: the replicated keyring; removal of this device
    """
    CREATE TABLE keyring (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        addr         TEXT NOT NULL,
        entry        TEXT NOT NULL,
        PRIMARY KEY (account, addr)
    );
    ALTER TABLE membership ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: fingerprints (NULL: not computed yet), the account key's date, the INBOX scan
    """
    ALTER TABLE keyring ADD COLUMN fingerprint TEXT;
    ALTER TABLE account_key ADD COLUMN set_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE account_key ADD COLUMN fingerprint TEXT;
    CREATE TABLE inbox_scan (
        account      TEXT PRIMARY KEY REFERENCES account(account) ON DELETE CASCADE,
        uidvalidity  INTEGER NOT NULL,
        last_uid     INTEGER NOT NULL
    );
    """,
    # 5: the one-time passphrase that protects an account key exported by Thunderbird
    """
    ALTER TABLE account_key ADD COLUMN passphrase TEXT;
    """,
    # 6: durable removals (issue 12): who is out for good, and which peers still have to
    # confirm a removal this device made
    """
    CREATE TABLE removed_device (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        muaa_id      TEXT NOT NULL,
        removed_by   TEXT NOT NULL,
        at           INTEGER NOT NULL,
        PRIMARY KEY (account, muaa_id)
    );
    CREATE TABLE removal_wait (
        account      TEXT NOT NULL REFERENCES account(account) ON DELETE CASCADE,
        muaa_id      TEXT NOT NULL,
        peer         TEXT NOT NULL,
        sent_at      INTEGER NOT NULL,
        PRIMARY KEY (account, muaa_id, peer)
    );
    """,
    # 7: the OS keyring entry holding the account's password, if one was ever stored: an
    # account without one never loads the keyring package (about 4 MB resident). Accounts
    # from before may have one under their current login.
    """
    ALTER TABLE account ADD COLUMN keyring_entry TEXT;
    UPDATE account SET keyring_entry =
        account || '|' || username || '@' || imap_host || ':' || imap_port;
    """,
    # 8: whether this device has erased a device it removed (inbox, announcement) from the
    # server: a retry of a cut `device.remove` finishes it (removals from before: done)
    """
    ALTER TABLE removed_device ADD COLUMN erased INTEGER NOT NULL DEFAULT 1;
    """,
]
