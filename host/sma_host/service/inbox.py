"""Sync: send what is queued, apply what waits in this device's inbox folder, delete it.

Messages are dispatched by type through one table; each is applied inside its own
savepoint, so a message that fails leaves no half-applied trace and is dropped.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import HostError, ServerError
from ..imap.mailbox import Mailbox
from ..native.memory import TRIM_AFTER, release_freed_memory
from ..protocol import channel, envelope
from ..protocol.crypto import DecryptionFailed
from ..protocol.pairing_states import UnexpectedEvent
from ..store import Peer, Store
from .announcements import HEARTBEAT_S, Announcements
from .context import Account, Sessions, retry_once_on_lost_connection
from .notifications import Notifier
from .outbox import Outbox
from .push import Push

log = logging.getLogger(__name__)

#: Inbox messages applied per transaction (each still in a savepoint of its own).
COMMIT_EVERY = 32

#: A plain (unsealed) message: (account, envelope, changed addresses) → the summary key
#: it counts under.
PlainHandler = Callable[[Account, envelope.Envelope, set[str]], str]
#: A sealed message from a paired device: (account, sender, payload, changed addresses).
SealedHandler = Callable[[Account, Peer, dict[str, Any], set[str]], None]


@dataclass(eq=False)
class Inbox:
    store: Store
    sessions: Sessions
    outbox: Outbox
    notifier: Notifier
    announcements: Announcements
    push: Push
    now: Callable[[], int]
    #: Unsealed message type → handler (pairing).
    plain: Mapping[str, PlainHandler]
    #: Sealed message type → handler (key updates, membership).
    sealed: Mapping[str, SealedHandler]
    expire_pairings: Callable[[str], None]
    this_device_removed: Callable[[Account, str | None], None]
    #: Runs when this device's announcement is a day old.
    heartbeat: Callable[[Account], None]
    #: Removal records read in the announcement folder: removed id → remover.
    apply_removals: Callable[[Account, dict[str, str]], None] | None = None

    def _removed_by(self, joined: Account, mailbox: Mailbox) -> str | None:
        """The trusted device whose announcement records this device's removal, if any."""
        digest = self.announcements.read(joined.session, mailbox, joined.membership)
        return digest.removals.get(joined.muaa_id)

    def sync(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sma.sync``."""
        joined = self.sessions.joined(params["account"], allow_removed=True)
        return self._sync_with_retry(joined)

    def background_sync(self, account: str) -> None:
        """A sync that push asked for: failures are logged, never raised."""
        membership = self.store.membership(account)
        if membership is None or membership.removed:
            return
        try:
            self._sync_with_retry(Account(self.sessions.get(account), membership))
        except HostError as exc:
            log.info("account %s: background sync failed: %s", account, exc.reason)

    def _sync_with_retry(self, joined: Account) -> dict[str, Any]:
        """A sync, once more on a fresh connection if the first one dropped. Both attempts
        add to one summary: what the first committed before the drop was applied too."""
        summary: dict[str, Any] = {
            "processed": 0,
            "dropped": 0,
            "paired": 0,
            "pairing_failed": 0,
            "sent": 0,
            "keys_changed": 0,
            "removed": joined.membership.removed,
        }
        changed: set[str] = set()
        try:
            retry_once_on_lost_connection(
                joined.session, lambda: self._sync(joined, summary, changed)
            )
        finally:
            if summary["processed"] + summary["dropped"] >= TRIM_AFTER:
                self.store.release_cache()
                release_freed_memory()
        return summary

    def _sync(self, joined: Account, summary: dict[str, Any], changed: set[str]) -> None:
        """Costs one STATUS when nothing waits and nothing is queued. Counts into
        ``summary`` only what was committed, so that a retry can go on counting."""
        account, session, membership = joined.name, joined.session, joined.membership
        if membership.removed:
            return
        # Fresh enough by construction: a dead connection is caught by the caller's retry.
        mailbox = self.sessions.mailbox(session, check=False)
        self.expire_pairings(account)
        summary["sent"] += self.outbox.flush(session, mailbox)
        # Removal records first: a removed device's messages waiting below are refused.
        digest = self.announcements.check(session, mailbox)
        if digest is not None and digest.removals and self.apply_removals is not None:
            self.apply_removals(joined, digest.removals)
            now_member = self.store.membership(account)
            if now_member is None or now_member.removed:
                summary["removed"] = True
                return
        inbox = mailbox.namespace.inbox_folder(membership.muaa_id)
        try:
            waiting, _uidnext = mailbox.status(inbox)
        except ServerError:
            if mailbox.folder_exists(inbox):
                raise
            # A missing inbox is no evidence: only a removal signed by a trusted device is
            # (§14). Without one the folder is made again (a server that lost or hid it,
            # or whose folder list lags), and the sync goes on.
            remover = self._removed_by(joined, mailbox)
            if remover is not None:
                self.this_device_removed(joined, remover)
                summary["removed"] = True
                return
            log.warning("account %s: own inbox missing without a removal: made again", account)
            mailbox.create_folder(inbox)
            waiting = 0
        more = waiting > 0
        while more:
            mailbox.select(inbox)
            fetched = mailbox.fetch_all(max_size=envelope.MAX_MESSAGE_BYTES)
            more = fetched.more
            handled = [uid for uid, _ in fetched.messages] + fetched.oversize
            summary["dropped"] += len(fetched.oversize)
            self._apply_batch(joined, fetched.drain(), summary, changed)
            # Everything fetched is handled (applied or refused) and committed: delete it.
            mailbox.delete_messages(handled)
            mailbox.unselect()
            now_member = self.store.membership(account)
            if now_member is None or now_member.removed:  # told we were removed
                break
        summary["sent"] += self.outbox.flush(session, mailbox)
        current = self.store.membership(account)
        if current is not None and not current.removed:
            if self.now() - current.announced_at >= HEARTBEAT_S:
                self.heartbeat(Account(session, current))
        else:
            summary["removed"] = True
        self.push.update_live(account)

    def _apply_batch(
        self,
        joined: Account,
        bodies: Iterator[tuple[int, bytes]],
        summary: dict[str, Any],
        changed: set[str],
    ) -> None:
        """Apply a fetched batch, committing every ``COMMIT_EVERY`` messages (a batch of
        hostile messages never holds the store, shared by every account, for long); each
        chunk is counted once committed."""
        batch_changed: set[str] = set()
        try:
            while True:
                chunk_changed: set[str] = set()
                outcomes: Counter[str] = Counter()
                with self.store.transaction():
                    # Each body is freed once processed, not kept to the batch's end.
                    for _uid, raw in itertools.islice(bodies, COMMIT_EVERY):
                        outcomes[self._process(joined, raw, chunk_changed)] += 1
                batch_changed |= chunk_changed  # committed: now it is news
                for outcome, count in outcomes.items():
                    summary[outcome] = summary.get(outcome, 0) + count
                if sum(outcomes.values()) < COMMIT_EVERY:
                    break
        finally:
            # Told once per batch, right after its last commit: a failure further on (a
            # dropped connection, then the retry) must not lose what was committed.
            self.notifier.keys_changed(joined.name, batch_changed)
            changed |= batch_changed
            summary["keys_changed"] = len(changed)

    def _process(self, joined: Account, raw: bytes, changed: set[str]) -> str:
        """Apply one inbox message; returns the summary key it counts under."""
        try:
            # A savepoint per message: one that fails leaves no half-applied trace.
            with self.store.transaction():
                return self._dispatch(joined, raw, changed)
        except (envelope.MalformedMessage, DecryptionFailed, UnexpectedEvent) as exc:
            log.warning("account %s: dropped an inbox message: %s", joined.name, _why(exc))
        except Exception:
            # Whatever a hostile message triggers, it must not jam the inbox: every later
            # sync would fail on it again. Dropped like any other bad message, and logged.
            log.exception("account %s: dropped an inbox message that broke processing", joined.name)
        return "dropped"

    def _dispatch(self, joined: Account, raw: bytes, changed: set[str]) -> str:
        env = envelope.parse_message(raw)
        if env.sender == joined.muaa_id:
            raise envelope.MalformedMessage("from ourselves")
        plain = self.plain.get(env.sma_type)
        if plain is not None:
            return plain(joined, env, changed)
        sealed = self.sealed.get(env.sma_type)
        if sealed is None:
            raise envelope.MalformedMessage(f"unknown message type {env.sma_type}")
        peer = self.store.peer(joined.name, env.sender)
        if peer is None:
            raise envelope.MalformedMessage("sender is not a paired device")
        seq, payload = channel.open_sealed(
            joined.membership.identity, joined.muaa_id, peer.dh_key, env
        )
        # Seen-mark and effect commit together: a crash cannot keep one without the other.
        with self.store.transaction():
            if not self.store.mark_seen(joined.name, env.sender, seq):
                raise envelope.MalformedMessage("replayed or duplicate")
            sealed(joined, peer, payload, changed)
        return "processed"


def _why(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
