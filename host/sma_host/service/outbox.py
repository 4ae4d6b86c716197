"""The outbox: messages to other devices are committed locally first, then APPENDed to
their inbox folders; each is deleted from the outbox only after the server took it, so
a crash in between sends it again (receivers dedupe)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConnectionFailed, HostError
from ..imap.mailbox import Mailbox
from ..protocol import channel, codec, envelope
from ..store import Peer, Store
from .context import Account, AccountSession, Sessions, retry_once_on_lost_connection

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
        """APPEND every queued message, oldest first; returns how many were sent."""
        sent = 0
        held_back: set[str] = set()
        for item in self.store.outbox(session.account):
            if item.recipient in held_back:
                continue  # keeps each recipient's messages in order
            folder = mailbox.namespace.inbox_folder(item.recipient)
            try:
                mailbox.append(folder, item.message)
            except ConnectionFailed:
                raise
            except HostError as exc:
                if not mailbox.folder_exists(folder):
                    # The recipient left or was removed: nobody will ever read it.
                    log.info("dropping a message to %s: its inbox is gone", item.recipient)
                    self.store.sent(item.id)
                    continue
                # One refusing recipient (quota, a hostile server) must not hold back the
                # others, nor the reading of our own inbox: retried at the next sync.
                log.warning("a message to %s stays queued: %s", item.recipient, exc.reason)
                held_back.add(item.recipient)
                continue
            self.store.sent(item.id)
            sent += 1
        return sent

    def flush_soon(self, session: AccountSession) -> None:
        """Send what is queued now if the server lets us; otherwise the next sync does.

        Called after the state change was committed: a failure here must not fail the
        call, or the caller would retry something that already happened.
        """
        try:
            # A connection the server dropped since it was last used is replaced once:
            # otherwise every call within FRESH_S would fail on it again.
            retry_once_on_lost_connection(
                session, lambda: self.flush(session, self.sessions.mailbox(session))
            )
        except HostError as exc:
            log.warning(
                "account %s: queued messages not sent yet (%s); the next sync retries",
                session.account,
                exc.reason,
            )


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
