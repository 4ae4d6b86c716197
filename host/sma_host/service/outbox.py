"""The outbox: messages to other devices are committed locally first, then APPENDed to
their inbox folders; each is deleted from the outbox only after the server took it, so
a crash in between sends it again (receivers dedupe). Whatever a flush leaves queued is
retried on a backoff schedule (``retry.Backoff``), so no message waits for the next call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import HostError
from ..imap.mailbox import Mailbox
from ..protocol import channel, codec, envelope
from ..store import Peer, Store
from .context import Account, AccountSession, Sessions, retry_once_on_lost_connection
from .retry import Backoff, Schedule

log = logging.getLogger(__name__)

#: Largest plaintext of one key-update message; a larger batch is split. About a
#: thousand real keyring entries; base64'd once it stays well below ``MAX_MESSAGE_BYTES``.
KEY_UPDATE_MAX_BYTES = 1024 * 1024


@dataclass(eq=False)
class Outbox:
    store: Store
    sessions: Sessions
    now: Callable[[], int]
    random: Callable[[int], bytes]
    schedule: Schedule | None = None
    _backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self._backoff = Backoff(self.schedule)

    def enqueue(self, account: Account, recipient: str, sma_type: str, body: bytes) -> None:
        """Queue one SMA message (part of the caller's transaction)."""
        raw = envelope.build_message(
            sma_type=sma_type,
            sender=account.muaa_id,
            body=body,
            address=account.settings.email,
            now=self.now(),
            unique=self.random(8).hex(),
        )
        self.store.enqueue(account.name, recipient, raw, self.now())

    def send_sealed(
        self, account: Account, peer: Peer, sma_type: str, payload: dict[str, Any]
    ) -> None:
        """Queue ``payload`` sealed on the channel to a paired device, with its next
        sequence number (taken in the same transaction)."""
        with self.store.transaction():
            seq = self.store.next_seq(account.name, peer.muaa_id)
            body = channel.seal(
                account.membership.identity,
                account.muaa_id,
                peer.muaa_id,
                peer.dh_key,
                sma_type,
                seq,
                payload,
            )
            self.enqueue(account, peer.muaa_id, sma_type, body)

    def flush(self, session: AccountSession, mailbox: Mailbox) -> int:
        """APPEND every queued message, oldest first; returns how many were sent. What
        stays queued, whatever the reason, is retried later."""
        try:
            return self._append_queued(session, mailbox)
        finally:
            self.keep_trying(session.account)

    def _append_queued(self, session: AccountSession, mailbox: Mailbox) -> int:
        sent = 0
        held_back: set[str] = set()
        for item in self.store.outbox(session.account):
            if item.recipient in held_back:
                continue  # keeps each recipient's messages in order
            folder = mailbox.namespace.inbox_folder(item.recipient)
            try:
                mailbox.append(folder, item.message)
            except HostError as exc:
                if mailbox.broken:
                    raise  # the connection is gone (or out of step): nothing more here
                if not mailbox.folder_exists(folder):
                    # The recipient left or was removed: nobody will ever read it.
                    log.info("dropping a message to %s: its inbox is gone", item.recipient)
                    self.store.sent(item.id)
                    continue
                # One refusing recipient (quota, a hostile server) must not hold back the
                # others, nor the reading of our own inbox: retried later.
                log.warning("a message to %s stays queued: %s", item.recipient, exc.reason)
                held_back.add(item.recipient)
                continue
            self.store.sent(item.id)
            sent += 1
        return sent

    def flush_soon(self, session: AccountSession) -> None:
        """Send what is queued now if the server lets us; otherwise a retry does.

        Called after the state change was committed: a failure here must not fail the
        call, or the caller would retry something that already happened.
        """
        try:
            # A connection the server dropped since it last answered is replaced once.
            retry_once_on_lost_connection(
                session, lambda: self.flush(session, self.sessions.mailbox(session))
            )
        except HostError as exc:
            log.warning(
                "account %s: queued messages not sent yet (%s); retried later",
                session.account,
                exc.reason,
            )
            self.keep_trying(session.account)

    def keep_trying(self, account: str) -> None:
        """Arm the next retry while anything is queued (a cheap local query, no IMAP)."""
        if self.store.last_outbox_id(account) == 0:
            self._backoff.succeeded(account)
            return
        delay = self._backoff.arm(account, lambda: self._retry(account))
        if delay is not None:
            log.info("account %s: queued messages are tried again in %.0f s", account, delay)

    def _retry(self, account: str) -> None:
        """A retry that came due, on the account's worker."""
        session = self.sessions.find(account)
        if session is not None and session.has_credentials:
            self.flush_soon(session)

    def close(self) -> None:
        self._backoff.close()


def chunks(items: list[dict[str, Any]], budget: int) -> list[list[dict[str, Any]]]:
    """Split ``items`` into runs whose JSON stays within ``budget`` bytes (at least one each)."""
    runs: list[list[dict[str, Any]]] = [[]]
    used = 0
    for item in items:
        size = len(codec.dumps(item)) + 1
        if runs[-1] and used + size > budget:
            runs.append([])
            used = 0
        runs[-1].append(item)
        used += size
    return runs
