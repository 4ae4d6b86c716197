"""``mail.scan``: correspondents' keys from the Autocrypt headers of incoming mail
(Autocrypt Level 1 "update peer state", ``protocol/autocrypt.py``).

Only INBOX is read (never Junk), only the header fields Level 1 needs, incrementally by
UID: the UIDVALIDITY and the last UID scanned are kept per account; the first scan (or one
after UIDVALIDITY changed) reads the mail received in the last 90 days. What changes is
merged into the keyring and queued to every paired device as a key update in the same
transaction that stores the scan position, so a crash never skips or loses an update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import HostError
from ..imap.mailbox import InboxMessage
from ..native.memory import TRIM_AFTER, release_freed_memory
from ..protocol import autocrypt, codec, keyring
from ..protocol.paging import page_by_size
from ..store import Store
from .announcements import PAGE_BUDGET
from .context import Account, AccountSession, Sessions, retry_once_on_lost_connection
from .keys import Identities, Keys, identify
from .notifications import Notifier
from .outbox import Outbox

log = logging.getLogger(__name__)

#: The first scan reads the mail received in this many days.
FIRST_SCAN_DAYS = 90


@dataclass(eq=False)
class MailScan:
    store: Store
    sessions: Sessions
    keys: Keys
    outbox: Outbox
    notifier: Notifier
    now: Callable[[], int]

    def scan(self, params: dict[str, Any]) -> dict[str, Any]:
        """``mail.scan``: the changed addresses are in the result (no ``keys.changed``)."""
        session = self.sessions.get(params["account"])
        updated = retry_once_on_lost_connection(session, lambda: self._scan(session))
        if updated[0] >= TRIM_AFTER:
            self.store.release_cache()
            release_freed_memory()  # a first scan reads up to thousands of messages
        listed, _rest = page_by_size(updated[1], 0, PAGE_BUDGET)
        result: dict[str, Any] = {"scanned": updated[0], "updated": listed}
        if len(listed) < len(updated[1]):
            result["truncated"] = True
        return result

    def background_scan(self, joined: Account) -> None:
        """The heartbeat's scan: failures are logged; changes are told as ``keys.changed``."""
        try:
            scanned, updated = self._scan(joined.session)
        except HostError as exc:
            log.info("account %s: INBOX scan failed: %s", joined.name, exc.reason)
            return
        if scanned >= TRIM_AFTER:
            self.store.release_cache()
            release_freed_memory()
        self.notifier.keys_changed(joined.name, updated)

    def _scan(self, session: AccountSession) -> tuple[int, list[str]]:
        account = session.account
        # No NOOP first: a dead connection fails the scan, which is retried once on a new
        # one (the scan is idempotent), as a sync is.
        mailbox = self.sessions.mailbox(session, check=False)
        position = self.store.inbox_scan(account)
        validity, after = position if position is not None else (None, 0)
        since = datetime.fromtimestamp(self.now() - FIRST_SCAN_DAYS * 86400, UTC).date()
        found = mailbox.scan_inbox(after, validity, since)
        membership = self.store.membership(account)
        joined = Account(session, membership) if membership and not membership.removed else None
        peers = self.store.peers(account) if joined is not None else []
        scanned, updated = 0, set[str]()
        for batch in found.batches:
            scanned += len(batch.messages)
            with self.store.transaction():
                changes = self._apply(account, batch.messages)
                if changes and joined is not None:
                    self.keys.send(joined, peers, changes.values())
                self.store.set_inbox_scan(account, found.uidvalidity, batch.highest_uid)
            updated |= changes.keys()
        self.store.set_inbox_scan(account, found.uidvalidity, found.end_uid)
        mailbox.unselect()
        if updated and peers:
            self.outbox.flush_soon(session)
        if scanned:
            log.info("account %s: %d mail(s) scanned, %d updated", account, scanned, len(updated))
        return scanned, sorted(updated)

    def _apply(self, account: str, messages: list[InboxMessage]) -> dict[str, keyring.PeerEntry]:
        """Level 1 over one batch, in UID order; returns the keyring entries that changed."""
        parsed = []
        for message in messages:
            headers = autocrypt.read_headers(message.header)
            addr = autocrypt.from_address(headers.from_header)
            if addr is not None and headers.from_header is not None:
                parsed.append((message, headers, headers.from_header, addr))
        current = self.store.keyring(account, {addr for *_rest, addr in parsed})
        known: Identities = {}
        now = self.now()

        def verify(keydata: bytes) -> object:
            return identify(codec.b64(keydata), known)

        entries = []
        for message, headers, from_header, addr in parsed:
            try:
                after = autocrypt.peer_update(
                    from_header,
                    headers.date_header,
                    headers.autocrypt,
                    now,
                    current.get(addr),
                    verify,
                    received=message.received,
                    auto_submitted=headers.auto_submitted,
                    content_type=headers.content_type,
                )
            except Exception:
                # A hostile header must not stop the scan, nor be retried for ever.
                log.exception("account %s: skipped a message whose headers broke the scan", account)
                continue
            if after is not None:
                current[addr] = after  # the next message from the same sender sees it
                entries.append(after)
        return self.keys.merge(account, entries, known)
