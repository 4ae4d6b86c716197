"""The announcement folder: who is in the SMA. Each device keeps exactly one fresh,
signed announcement of itself there (``sma.join``, refreshed daily by the heartbeat)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ServerError
from ..imap.mailbox import Mailbox
from ..protocol import announce, envelope
from ..protocol.announce import Digest
from ..protocol.crypto import Identity
from ..protocol.folders import muaa_id_from_random
from ..protocol.paging import page_by_size
from ..store import Membership, Store
from .context import Account, AccountSession, Sessions
from .notifications import Notifier
from .push import Push

log = logging.getLogger(__name__)

#: An announcement older than this is refreshed when the device runs.
HEARTBEAT_S = 24 * 3600
#: Budget for the list part of a paged answer, well inside the 1 MiB frame.
PAGE_BUDGET = 512 * 1024


#: What a UID of the announcement folder holds: an announcement we can use, ``JUNK`` (what
#: no SMA version can read, deleted at the next announce), or ``KEPT`` (another version's,
#: or an SMA message that is no usable announcement: left alone).
JUNK, KEPT = "junk", "kept"
Parsed = announce.Announcement | str


def _classify(raw: bytes, addr: str) -> Parsed:
    try:
        sma = envelope.parse_message(raw)
    except envelope.UnsupportedVersion:
        return KEPT  # another version's: a newer device may read it
    except envelope.MalformedMessage:
        return JUNK
    try:
        return announce.decode(sma, addr)
    except envelope.MalformedMessage:
        return KEPT  # an SMA message, only not an announcement we can use


@dataclass(eq=False)
class Announcements:
    store: Store
    sessions: Sessions
    notifier: Notifier
    push: Push
    now: Callable[[], int]
    random: Callable[[int], bytes]
    #: Per account: (UIDVALIDITY, UID → what it is) of the last read.
    _parsed: dict[str, tuple[int, dict[int, Parsed]]] = field(default_factory=dict)

    def join(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sma.join``: idempotent; a removed device joins again under a new id."""
        account = params["account"]
        session = self.sessions.get(account)
        mailbox = self.sessions.mailbox(session)
        membership = self.store.membership(account)
        if membership is not None and membership.removed:
            log.info("account %s: joining again after this device was removed", account)
            self.store.forget_membership(account)
            membership = None
        if membership is None:
            # Persist the id and keys before touching the server: a crash in between
            # then re-uses them instead of leaving an orphan inbox behind.
            muaa_id = muaa_id_from_random(self.random(8))
            self.store.create_membership(account, muaa_id, Identity.generate(), self.now())
            membership = self.sessions.membership(account)
            log.info("account %s: new MUAA id %s", account, muaa_id)
        ns = mailbox.namespace
        created_sma = mailbox.create_folder(ns.announcement_folder())
        inbox = ns.inbox_folder(membership.muaa_id)
        mailbox.create_folder(inbox)
        self.announce(Account(session, membership), mailbox)
        self.push.start(session, membership.muaa_id)
        return {"muaa_id": membership.muaa_id, "created_sma": created_sma, "inbox": inbox}

    def status(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sma.status``: the devices that announce themselves, this one first."""
        account = params["account"]
        session = self.sessions.get(account)
        mailbox = self.sessions.mailbox(session)
        membership = self.store.membership(account)
        exists = mailbox.folder_exists(mailbox.namespace.announcement_folder())
        devices: list[announce.Announcement] = []
        if exists:
            devices = list(self.read(session, mailbox, membership).devices.values())
        self_id = membership.muaa_id if membership else None
        paired = {p.muaa_id for p in self.store.peers(account)}
        entries = [
            {
                "muaa_id": d.muaa_id,
                "name": d.name,
                "last_seen": d.last_seen,
                "created": d.created,
                "self": d.muaa_id == self_id,
                "paired": d.muaa_id in paired,
            }
            for d in sorted(devices, key=lambda d: (d.muaa_id != self_id, d.created, d.muaa_id))
        ]
        page, next_offset = page_by_size(entries, params.get("offset", 0), PAGE_BUDGET)
        result: dict[str, Any] = {
            "removed": bool(membership and membership.removed),
            "exists": exists,
            "self": self_id,
            "muaas": page,
            "total": len(entries),
        }
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    def read(
        self, session: AccountSession, mailbox: Mailbox, membership: Membership | None
    ) -> announce.Digest:
        """Every valid announcement, judged against the keys of the devices we trust."""
        return self._read(session, mailbox, membership)[0]

    def _read(
        self, session: AccountSession, mailbox: Mailbox, membership: Membership | None
    ) -> tuple[announce.Digest, list[int]]:
        """``read``, and the UIDs of junk: what no SMA version can read (§13.1)."""
        folder = mailbox.namespace.announcement_folder()
        state = mailbox.select(folder, readonly=True)
        # What earlier reads made of each UID: a UID's message never changes, so only new
        # UIDs are downloaded while UIDVALIDITY holds.
        validity, known = self._parsed.get(session.account, (state.uidvalidity, {}))
        if validity != state.uidvalidity:
            known = {}
        current: dict[int, Parsed] = {}
        since, more = 1, True
        # Batch after batch to the end: junk filling one batch cannot hide what follows,
        # and only what each UID is is kept, never a batch's bodies.
        while more:
            fetched = mailbox.fetch_all(
                max_size=announce.MAX_MESSAGE_BYTES, since_uid=since, skip=known
            )
            more = fetched.more
            uids = [uid for uid, _ in fetched.messages] + fetched.oversize + fetched.skipped
            since = max(uids, default=since - 1) + 1
            current.update((uid, known[uid]) for uid in fetched.skipped)
            current.update((uid, JUNK) for uid in fetched.oversize)
            for uid, raw in fetched.drain():
                current[uid] = _classify(raw, session.settings.email)
        self._parsed[session.account] = (state.uidvalidity, current)
        ordered = sorted(current.items())
        parsed = [(uid, a) for uid, a in ordered if isinstance(a, announce.Announcement)]
        junk = [uid for uid, a in ordered if a == JUNK]
        dropped = len(current) - len(parsed)
        if dropped:
            log.info("account %s: ignored %d malformed announcement(s)", session.account, dropped)
        mailbox.unselect()
        trusted = {p.muaa_id: p.sign_key for p in self.store.peers(session.account)}
        if membership:
            trusted[membership.muaa_id] = membership.identity.sign_public
        digest = announce.digest(parsed, membership.muaa_id if membership else None, trusted)
        return digest, junk

    def announce(self, joined: Account, mailbox: Mailbox) -> None:
        """Keep exactly one fresh announcement of ours: append the new one, then delete the
        old one, and the junk no SMA version can read."""
        session, membership = joined.session, joined.membership
        digest, junk = self._read(session, mailbox, membership)
        mine = digest.devices.get(membership.muaa_id)
        now = self.now()
        removed = tuple(
            self.store.removed_by(session.account, membership.muaa_id, announce.MAX_REMOVED)
        )
        fresh = (
            mine is not None
            and mine.name == session.settings.device_name
            and mine.removed == removed
            and now - mine.last_seen < HEARTBEAT_S
        )
        # Junk goes with our stale announcements, in the same deletion (§13.1).
        stale = list(digest.own_stale_uids) + junk
        if not fresh:
            ann = announce.Announcement(
                muaa_id=membership.muaa_id,
                name=session.settings.device_name,
                addr=session.settings.email,
                created=membership.created,
                last_seen=now,
                sign_key=membership.identity.sign_public,
                dh_key=membership.identity.dh_public,
                removed=removed,
            )
            raw = envelope.build_message(
                sma_type=announce.SMA_TYPE,
                sender=membership.muaa_id,
                body=announce.encode(ann, membership.identity),
                address=session.settings.email,
                now=now,
                unique=self.random(8).hex(),
            )
            mailbox.append(mailbox.namespace.announcement_folder(), raw)
            self.store.set_announced(session.account, now)
            if mine is not None:
                stale.append(digest.live_uids[membership.muaa_id])
        if stale:
            mailbox.select(mailbox.namespace.announcement_folder())
            mailbox.delete_messages(stale)
            mailbox.unselect()

    def check(self, session: AccountSession, mailbox: Mailbox) -> Digest | None:
        """One STATUS: when the announcement folder changed since we last looked, read it
        again and tell the add-on (a device joined, left, or refreshed its heartbeat).
        Returns what it read, for the removal records in it."""
        folder = mailbox.namespace.announcement_folder()
        try:
            seen = mailbox.status(folder)
        except ServerError:
            return None
        if seen == session.announcements_seen:
            return None
        first_look = session.announcements_seen is None
        session.announcements_seen = seen
        if first_look:
            return None
        digest = self.read(session, mailbox, self.store.membership(session.account))
        self.notifier.sma_changed(session.account, len(digest.devices))
        return digest
