"""The orchestrator: turns method calls into core decisions and adapter calls.

One ``AccountSession`` per configured account holds its password (memory only) and
its IMAP connection; the stdio loop calls it from that account's worker thread only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import HostError, InsecureRefused, NotJoined, UnknownAccount
from .imap.mailbox import ImapSettings, Mailbox, is_loopback
from .protocol import announce, envelope
from .protocol.crypto import Identity
from .protocol.folders import muaa_id_from_random
from .protocol.paging import page_by_size
from .store import AccountSettings, KnownDevice, Membership, Store

log = logging.getLogger(__name__)

#: An announcement older than this is refreshed when the device runs.
HEARTBEAT_S = 24 * 3600
#: Budget for the list part of a paged answer, well inside the 1 MiB frame.
PAGE_BUDGET = 512 * 1024

Notify = Callable[[str, dict[str, Any]], None]


@dataclass
class AccountSession:
    settings: AccountSettings
    password: str | None = None
    mailbox: Mailbox | None = field(default=None, repr=False)

    def imap_settings(self) -> ImapSettings:
        if self.password is None:
            raise UnknownAccount(
                "the password of this account is not known to this host process:"
                " configure the account again",
                account=self.settings.account,
                credentials_missing=True,
            )
        s = self.settings
        return ImapSettings(
            s.imap_host, s.imap_port, s.security, s.username, self.password, s.ca_file
        )

    def close(self) -> None:
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None


class Host:
    """Method implementations. ``clock`` and ``random`` are injectable for tests."""

    def __init__(
        self,
        store: Store,
        notify: Notify,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.store = store
        self.notify = notify
        self.clock = clock
        self.random = random
        self._sessions: dict[str, AccountSession] = {}

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        for session in list(self._sessions.values()):
            session.close()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
            self, "m_" + method.replace(".", "_")
        )
        return handler(params)

    # sessions and connections

    def session(self, account: str) -> AccountSession:
        session = self._sessions.get(account)
        if session is None:
            settings = self.store.load_account(account)
            if settings is None:
                raise UnknownAccount(f"no account {account!r} is configured", account=account)
            session = self._sessions[account] = AccountSession(settings)
        return session

    def mailbox(self, session: AccountSession) -> Mailbox:
        """The session's connection, re-established when the server dropped it."""
        if session.mailbox is not None:
            try:
                session.mailbox.noop()
                return session.mailbox
            except HostError:
                session.close()
        session.mailbox = Mailbox.connect(session.imap_settings())
        return session.mailbox

    def membership(self, account: str) -> Membership:
        membership = self.store.membership(account)
        if membership is None:
            raise NotJoined(
                "this device has not joined the SMA yet: call sma.join", account=account
            )
        return membership

    # methods

    def m_account_configure(self, params: dict[str, Any]) -> dict[str, Any]:
        imap = params["imap"]
        if imap["security"] == "none" and not is_loopback(imap["host"]):
            raise InsecureRefused(
                "plaintext IMAP is refused for a host that is not loopback: use tls or starttls",
                host=imap["host"],
            )
        settings = AccountSettings(
            account=params["account"],
            email=params["email"],
            device_name=params["device_name"],
            imap_host=imap["host"],
            imap_port=imap["port"],
            security=imap["security"],
            username=imap["username"],
            ca_file=imap.get("ca_file"),
        )
        password: str = imap["password"]
        mailbox = Mailbox.connect(
            ImapSettings(
                settings.imap_host,
                settings.imap_port,
                settings.security,
                settings.username,
                password,
                settings.ca_file,
            )
        )
        old = self._sessions.pop(settings.account, None)
        if old is not None:
            old.close()
        self.store.save_account(settings)
        self._sessions[settings.account] = AccountSession(settings, password, mailbox)
        log.info(
            "account %s configured (%s:%d, %s)",
            settings.account,
            settings.imap_host,
            settings.imap_port,
            settings.security,
        )
        return {"account": settings.account, "capabilities": mailbox.capabilities}

    def m_sma_join(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        mailbox = self.mailbox(session)
        membership = self.store.membership(account)
        if membership is None:
            # Persist the id and keys before touching the server: a crash in between
            # then re-uses them instead of leaving an orphan inbox behind.
            muaa_id = muaa_id_from_random(self.random(8))
            self.store.create_membership(account, muaa_id, Identity.generate(), self.now())
            membership = self.membership(account)
            log.info("account %s: new MUAA id %s", account, muaa_id)
        ns = mailbox.namespace
        created_sma = mailbox.create_folder(ns.announcement_folder())
        inbox = ns.inbox_folder(membership.muaa_id)
        mailbox.create_folder(inbox)
        self._announce(session, mailbox, membership)
        return {"muaa_id": membership.muaa_id, "created_sma": created_sma, "inbox": inbox}

    def m_sma_status(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        mailbox = self.mailbox(session)
        membership = self.store.membership(account)
        exists = mailbox.folder_exists(mailbox.namespace.announcement_folder())
        devices: list[KnownDevice] = []
        if exists:
            digest = self._read_announcements(session, mailbox, membership)
            devices = self._remember_devices(account, digest)
        self_id = membership.muaa_id if membership else None
        entries = [
            {
                "muaa_id": d.muaa_id,
                "name": d.name,
                "last_seen": d.last_seen,
                "created": d.created,
                "self": d.muaa_id == self_id,
            }
            for d in sorted(devices, key=lambda d: (d.muaa_id != self_id, d.created, d.muaa_id))
        ]
        page, next_offset = page_by_size(entries, params.get("offset", 0), PAGE_BUDGET)
        result: dict[str, Any] = {
            "exists": exists,
            "self": self_id,
            "muaas": page,
            "total": len(entries),
        }
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    # the announcement folder

    def _read_announcements(
        self, session: AccountSession, mailbox: Mailbox, membership: Membership | None
    ) -> announce.Digest:
        folder = mailbox.namespace.announcement_folder()
        mailbox.select(folder, readonly=True)
        fetched = mailbox.fetch_all(max_size=announce.MAX_MESSAGE_BYTES)
        parsed: list[tuple[int, announce.Announcement]] = []
        dropped = len(fetched.oversize)
        for uid, raw in fetched.messages:
            try:
                parsed.append(
                    (uid, announce.decode(envelope.parse_message(raw), session.settings.email))
                )
            except envelope.MalformedMessage:
                dropped += 1
        if dropped:
            log.info(
                "account %s: ignored %d malformed announcement(s)",
                session.settings.account,
                dropped,
            )
        mailbox.unselect()
        trusted = {membership.muaa_id: membership.identity.sign_public} if membership else {}
        return announce.digest(parsed, membership.muaa_id if membership else None, trusted)

    def _remember_devices(self, account: str, digest: announce.Digest) -> list[KnownDevice]:
        devices = [
            KnownDevice(a.muaa_id, a.name, a.sign_key, a.dh_key, a.created, a.last_seen)
            for a in digest.devices.values()
        ]
        self.store.replace_devices(account, devices)
        return devices

    def _announce(self, session: AccountSession, mailbox: Mailbox, membership: Membership) -> None:
        """Keep exactly one fresh announcement of ours: append the new one, then delete the old."""
        digest = self._read_announcements(session, mailbox, membership)
        mine = digest.devices.get(membership.muaa_id)
        now = self.now()
        fresh = (
            mine is not None
            and mine.name == session.settings.device_name
            and now - mine.last_seen < HEARTBEAT_S
        )
        stale = list(digest.own_stale_uids)
        if not fresh:
            ann = announce.Announcement(
                muaa_id=membership.muaa_id,
                name=session.settings.device_name,
                addr=session.settings.email,
                created=membership.created,
                last_seen=now,
                sign_key=membership.identity.sign_public,
                dh_key=membership.identity.dh_public,
            )
            body = announce.encode(ann, membership.identity)
            raw = envelope.build_message(
                sma_type=announce.SMA_TYPE,
                sender=membership.muaa_id,
                body=body,
                address=session.settings.email,
                now=now,
                unique=self.random(8).hex(),
            )
            folder = mailbox.namespace.announcement_folder()
            mailbox.append(folder, raw)
            self.store.set_announced(session.settings.account, now)
            if mine is not None:
                stale.append(digest.live_uids[membership.muaa_id])
            digest = announce.Digest(
                {**digest.devices, membership.muaa_id: ann}, digest.live_uids, digest.own_stale_uids
            )
        if stale:
            mailbox.select(mailbox.namespace.announcement_folder())
            mailbox.delete_messages(stale)
            mailbox.unselect()
        self._remember_devices(session.settings.account, digest)
