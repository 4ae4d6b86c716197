"""The orchestrator: turns method calls into core decisions and adapter calls.

One ``AccountSession`` per configured account holds its password (memory only) and
its IMAP connection; the stdio loop calls it from that account's worker thread only.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .credentials import PasswordVault, vault_key
from .errors import (
    ConnectionFailed,
    HostError,
    InsecureRefused,
    InvalidParams,
    NotFound,
    NotJoined,
    PairingExpired,
    PairingFailed,
    ServerError,
    UnknownAccount,
)
from .imap.mailbox import ImapSettings, Mailbox, is_loopback
from .imap.watcher import InboxWatcher
from .protocol import announce, channel, codec, envelope, keyring, pairing
from .protocol.crypto import DecryptionFailed, Identity
from .protocol.folders import muaa_id_from_random
from .protocol.paging import page_by_size
from .store import AccountSettings, KnownDevice, Membership, Pairing, Peer, Store

log = logging.getLogger(__name__)

#: An announcement older than this is refreshed when the device runs.
HEARTBEAT_S = 24 * 3600
#: Budget for the list part of a paged answer, well inside the 1 MiB frame.
PAGE_BUDGET = 512 * 1024
#: Incoming pairing requests kept waiting at once; more are dropped (a server could flood us).
MAX_WAITING_INCOMING = 16

Notify = Callable[[str, dict[str, Any]], None]
Schedule = Callable[[str, Callable[[], None]], None]
#: Poll interval where the server has no IDLE (seconds; ``SMA_HOST_POLL_S`` overrides).
DEFAULT_POLL_S = 60.0
#: A connection used this recently is not checked with NOOP before use.
FRESH_S = 30.0
#: Announcements older than this are expired (``sma.expire`` default).
DEFAULT_EXPIRY_S = 90 * 24 * 3600
#: Largest plaintext of one key-update message; a larger ``keys.put`` is split. About a
#: thousand real keyring entries; base64'd once it stays well below ``MAX_MESSAGE_BYTES``.
KEY_UPDATE_MAX_BYTES = 1024 * 1024
KEY_UPDATE = "key-update"
MEMBER_REMOVE = "member-remove"


@dataclass
class AccountSession:
    settings: AccountSettings
    password: str | None = None
    mailbox: Mailbox | None = field(default=None, repr=False)
    last_used: float = 0.0
    watcher: InboxWatcher | None = field(default=None, repr=False)
    #: A background sync is queued and has not started yet (coalesces pushes).
    sync_pending: bool = False
    #: (MESSAGES, UIDNEXT) of the announcement folder when this host last looked.
    announcements_seen: tuple[int, int] | None = None

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
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.close_mailbox()

    def close_mailbox(self) -> None:
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None


class Host:
    """Method implementations. ``clock`` and ``random`` are injectable for tests."""

    def __init__(
        self,
        store: Store,
        notify: Notify,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.store = store
        self.notify = notify
        self.schedule = schedule
        self.clock = clock
        self.random = random
        self.poll_interval = _poll_interval(os.environ.get("SMA_HOST_POLL_S"))
        #: ``SMA_HOST_PUSH=off``: no watcher connection; the inbox is read on ``sma.sync`` only.
        self.push = os.environ.get("SMA_HOST_PUSH", "on").lower() not in ("off", "0", "no")
        self._sessions: dict[str, AccountSession] = {}
        self.vault = PasswordVault()
        #: Account → when its last live pairing expires: until then its watcher polls fast.
        self._live_until: dict[str, int] = {}

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        # Every watcher is woken first: the logouts that follow may each wait on a server.
        for session in list(self._sessions.values()):
            if session.watcher is not None:
                session.watcher.stop()
        for session in list(self._sessions.values()):
            session.close()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
            self, "m_" + method.replace(".", "_")
        )
        try:
            return handler(params)
        except ConnectionFailed:
            # The connection is unusable now: the next call starts a fresh one.
            session = self._sessions.get(params.get("account", ""))
            if session is not None:
                session.close_mailbox()
            raise

    # sessions and connections

    def session(self, account: str) -> AccountSession:
        session = self._sessions.get(account)
        if session is None:
            settings = self.store.load_account(account)
            if settings is None:
                raise UnknownAccount(f"no account {account!r} is configured", account=account)
            password = self.vault.load(_vault_key(settings))  # remembered at configure, or None
            session = self._sessions[account] = AccountSession(settings, password)
        return session

    def mailbox(self, session: AccountSession, check: bool = True) -> Mailbox:
        """The session's connection, re-established when the server dropped it.

        A connection used in the last ``FRESH_S`` seconds is taken as alive: checking it
        would cost a round trip on every call.
        """
        now = time.monotonic()
        if session.mailbox is not None:
            if not check or now - session.last_used < FRESH_S:
                session.last_used = now
                return session.mailbox
            try:
                session.mailbox.noop()
                session.last_used = now
                return session.mailbox
            except HostError:
                session.mailbox.close()
                session.mailbox = None
        session.mailbox = Mailbox.connect(session.imap_settings())
        session.last_used = now
        return session.mailbox

    def membership(self, account: str, allow_removed: bool = False) -> Membership:
        membership = self.store.membership(account)
        if membership is None:
            raise NotJoined(
                "this device has not joined the SMA yet: call sma.join", account=account
            )
        if membership.removed and not allow_removed:
            raise NotJoined(
                "this device was removed from the SMA: call sma.join to join again",
                account=account,
                removed=True,
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
        session = self._sessions[settings.account] = AccountSession(settings, password, mailbox)
        session.last_used = time.monotonic()
        storage = self._remember_password(settings, password, bool(params.get("remember")))
        membership = self.store.membership(settings.account)
        if membership is not None and not membership.removed:
            self._start_watcher(session, membership)
        log.info(
            "account %s configured (%s:%d, %s)",
            settings.account,
            settings.imap_host,
            settings.imap_port,
            settings.security,
        )
        result: dict[str, Any] = {
            "account": settings.account,
            "capabilities": mailbox.capabilities,
            "password_storage": storage,
        }
        if params.get("remember") and storage != "keyring":
            result["keyring_unavailable"] = self.vault.unavailable_reason or "unknown"
        return result

    def _remember_password(self, settings: AccountSettings, password: str, remember: bool) -> str:
        """Keep the password in the OS keyring when asked and possible; else memory only."""
        key = _vault_key(settings)
        if remember and self.vault.store(key, password):
            return "keyring"
        if not remember:
            self.vault.forget(key)
        return "memory"

    def resume_accounts(self) -> None:
        """At start-up: accounts whose password the OS keyring remembers get their watcher
        back (on their own worker) without waiting for the add-on to configure them again."""
        if self.schedule is None:
            return
        for account in self.store.accounts():
            self.schedule(account, functools.partial(self._resume, account))

    def _resume(self, account: str) -> None:
        membership = self.store.membership(account)
        if membership is None or membership.removed:
            return
        session = self.session(account)
        if session.password is None or session.watcher is not None:
            return
        try:
            self._start_watcher(session, membership)
        except HostError as exc:
            log.info("account %s: not watching yet: %s", account, exc.reason)

    def m_sma_join(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        mailbox = self.mailbox(session)
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
            membership = self.membership(account)
            log.info("account %s: new MUAA id %s", account, muaa_id)
        ns = mailbox.namespace
        created_sma = mailbox.create_folder(ns.announcement_folder())
        inbox = ns.inbox_folder(membership.muaa_id)
        mailbox.create_folder(inbox)
        self._announce(session, mailbox, membership)
        self._start_watcher(session, membership)
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
        trusted = {p.muaa_id: p.sign_key for p in self.store.peers(session.settings.account)}
        if membership:
            trusted[membership.muaa_id] = membership.identity.sign_public
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

    # the account key

    def m_account_key_set(self, params: dict[str, Any]) -> dict[str, Any]:
        self.session(params["account"])
        self.store.set_account_key(params["account"], params["armored"])
        return {"account": params["account"], "stored": True}

    def m_account_key_get(self, params: dict[str, Any]) -> dict[str, Any]:
        self.session(params["account"])
        return {"armored": self.store.account_key(params["account"])}

    # pairing: the new device

    def m_pair_request(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        membership = self.membership(account)
        mailbox = self.mailbox(session)
        devices = self._remember_devices(
            account, self._read_announcements(session, mailbox, membership)
        )
        others = {d.muaa_id: d for d in devices if d.muaa_id != membership.muaa_id}
        target = params.get("to")
        if target is not None:
            if target not in others:
                raise NotFound(f"no device {target} has announced itself", muaa_id=target)
            targets = [target]
        else:
            targets = sorted(others)
            if not targets:
                raise NotFound("no other device has joined the SMA of this account yet")
        now = self.now()
        pairing_id = self.random(8).hex()
        code = pairing.code_from_random(self.random(8))
        expires_at = now + int(params.get("ttl_s", pairing.DEFAULT_TTL_S))
        me = self._party(session, membership)
        per_target: dict[str, dict[str, str]] = {}
        with self.store.transaction():
            for muaa_id in targets:
                state, pake = pairing.start_new(
                    code, session.settings.email, pairing_id, membership.muaa_id, muaa_id
                )
                per_target[muaa_id] = {"spake": state.decode("ascii"), "pake": pake.hex()}
                body = pairing.request_body(pairing_id, me, muaa_id, pake, expires_at)
                self._enqueue(session, membership, muaa_id, pairing.REQUEST, body)
            peer_name = others[targets[0]].name if len(targets) == 1 else None
            self.store.save_pairing(
                Pairing(
                    account,
                    pairing_id,
                    "outgoing",
                    target,
                    peer_name,
                    "waiting",
                    None,
                    now,
                    expires_at,
                    {"targets": per_target},
                )
            )
        self._update_live(account)
        self._flush_soon(session)
        log.info(
            "account %s: pairing %s requested from %d device(s)", account, pairing_id, len(targets)
        )
        return {
            "pairing_id": pairing_id,
            "code": pairing.format_code(code),
            "expires_at": expires_at,
            "to": targets,
        }

    # pairing: the existing device

    def m_pair_accept(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        membership = self.membership(account)
        code = pairing.normalize_code(params["code"])
        if code is None:
            raise InvalidParams(
                f"the code has {pairing.CODE_DIGITS} digits", path="$.code", validator="pattern"
            )
        record = self._live_pairing(account, params["pairing_id"], "incoming")
        if record.data.get("stage") != "requested":
            raise PairingFailed(
                "a code was already entered for this pairing", pairing_id=record.pairing_id
            )
        request = _request_from_record(record)
        payload = {
            "account_key": self.store.account_key(account),
            "devices": [_peer_party(p).to_json() for p in self.store.peers(account)],
        }
        try:
            body, expected = pairing.accept(
                code, session.settings.email, request, self._party(session, membership), payload
            )
        except pairing.ConfirmationFailed:
            self._fail(record, "confirmation_failed", tell_peer=True)
            raise PairingFailed("pairing failed", pairing_id=record.pairing_id) from None
        with self.store.transaction():
            self._enqueue(session, membership, request.party.muaa_id, pairing.ACCEPT, body)
            self.store.save_pairing(
                replace(record, data={**record.data, "stage": "accepted", "expect": expected.hex()})
            )
        self._update_live(account)
        self._flush_soon(session)
        return {"pairing_id": record.pairing_id, "state": "waiting"}

    def m_pair_list(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        self.session(account)
        self._expire_pairings(account)
        return {
            "pairings": [
                {
                    "pairing_id": p.pairing_id,
                    "peer": p.peer,
                    "peer_name": p.peer_name,
                    "direction": p.direction,
                    "state": p.state,
                    "expires_at": p.expires_at,
                    **({"reason": p.reason} if p.reason else {}),
                }
                for p in self.store.pairings(account)
            ]
        }

    def m_pair_cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        self.session(account)
        records = [p for p in self.store.pairings(account) if p.pairing_id == params["pairing_id"]]
        if not records:
            raise NotFound("no such pairing", pairing_id=params["pairing_id"])
        for record in records:
            if record.state == "waiting":
                self._fail(record, "cancelled", tell_peer=True)
        self._flush_soon(self.session(account))
        return {
            "pairing_id": params["pairing_id"],
            "state": records[0].state if records[0].state != "waiting" else "failed",
        }

    # the inbox

    def m_sma_sync(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        membership = self.membership(account, allow_removed=True)
        try:
            return self._sync(session, membership, check_connection=False)
        except ConnectionFailed:
            # A connection the server closed while idle: one fresh try (sync is idempotent).
            session.close_mailbox()
            return self._sync(session, membership, check_connection=False)

    def _sync(
        self, session: AccountSession, membership: Membership, check_connection: bool = True
    ) -> dict[str, Any]:
        """Send what is queued, apply what waits in our inbox, delete it; refresh our
        announcement once a day. Costs one STATUS when nothing waits and nothing is queued."""
        account = session.settings.account
        summary: dict[str, Any] = {
            "processed": 0,
            "dropped": 0,
            "paired": 0,
            "pairing_failed": 0,
            "sent": 0,
            "keys_changed": 0,
            "removed": membership.removed,
        }
        if membership.removed:
            return summary
        mailbox = self.mailbox(session, check=check_connection)
        self._expire_pairings(account)
        summary["sent"] += self._flush_outbox(session, mailbox)
        inbox = mailbox.namespace.inbox_folder(membership.muaa_id)
        try:
            waiting, _uidnext = mailbox.status(inbox)
        except ServerError:
            if mailbox.folder_exists(inbox):
                raise
            self._removed(session, membership, by=None)
            summary["removed"] = True
            return summary
        changed: set[str] = set()
        more = waiting > 0
        while more:
            mailbox.select(inbox)
            fetched = mailbox.fetch_all(max_size=envelope.MAX_MESSAGE_BYTES)
            more = fetched.more
            handled = [uid for uid, _ in fetched.messages] + fetched.oversize
            batch_changed: set[str] = set()
            with self.store.transaction():
                # drain(): each body is freed once processed, not kept to the batch's end.
                for _uid, raw in fetched.drain():
                    outcome = self._process(session, membership, raw, batch_changed)
                    summary[outcome] = summary.get(outcome, 0) + 1
            # Told right after the commit: a failure further on must not lose the news.
            self._notify_changed(account, batch_changed)
            changed |= batch_changed
            summary["dropped"] += len(fetched.oversize)
            # Everything fetched is handled (applied or refused) and committed: delete it.
            mailbox.delete_messages(handled)
            mailbox.unselect()
            now_member = self.store.membership(account)
            if now_member is None or now_member.removed:  # told we were removed
                break
        summary["sent"] += self._flush_outbox(session, mailbox)
        summary["keys_changed"] = len(changed)
        self._check_announcements(session, mailbox)
        current = self.store.membership(account)
        if current is not None and not current.removed:
            if self.now() - current.announced_at >= HEARTBEAT_S:
                self._announce(session, mailbox, current)
                self._expire_devices(session, mailbox, current, DEFAULT_EXPIRY_S)
        else:
            summary["removed"] = True
        self._update_live(account)
        return summary

    def _process(
        self, session: AccountSession, membership: Membership, raw: bytes, changed: set[str]
    ) -> str:
        """Apply one inbox message; returns the summary key it counts under."""
        account = session.settings.account
        try:
            # A savepoint per message: one that fails leaves no half-applied trace.
            with self.store.transaction():
                return self._dispatch(session, membership, raw, changed)
        except (envelope.MalformedMessage, DecryptionFailed) as exc:
            log.warning("account %s: dropped an inbox message: %s", account, _why(exc))
        except Exception:
            # Whatever a hostile message triggers, it must not jam the inbox: every later
            # sync would fail on it again. Dropped like any other bad message, and logged.
            log.exception("account %s: dropped an inbox message that broke processing", account)
        return "dropped"

    def _dispatch(
        self, session: AccountSession, membership: Membership, raw: bytes, changed: set[str]
    ) -> str:
        env = envelope.parse_message(raw)
        if env.sender == membership.muaa_id:
            raise envelope.MalformedMessage("from ourselves")
        if env.sma_type == pairing.REQUEST:
            return self._on_request(session, membership, pairing.parse_request(env))
        if env.sma_type == pairing.ACCEPT:
            return self._on_accept(session, membership, env.sender, pairing.parse_accept(env))
        if env.sma_type == pairing.CONFIRM:
            return self._on_confirm(session, membership, env.sender, pairing.parse_confirm(env))
        if env.sma_type == pairing.ABORT:
            return self._on_abort(session.settings.account, env.sender, pairing.parse_abort(env))
        return self._on_sealed(session, membership, env, changed)

    def _on_request(
        self, session: AccountSession, membership: Membership, req: pairing.Request
    ) -> str:
        account = session.settings.account
        now = self.now()
        if req.target != membership.muaa_id or req.expires_at <= now:
            raise envelope.MalformedMessage("request not for us or expired")
        if self.store.pairing(account, req.pairing_id, "incoming") is not None:
            raise envelope.MalformedMessage("replayed request")
        waiting = [
            p
            for p in self.store.pairings(account)
            if p.direction == "incoming" and p.state == "waiting"
        ]
        if len(waiting) >= MAX_WAITING_INCOMING:
            raise envelope.MalformedMessage("too many waiting requests")
        record = Pairing(
            account,
            req.pairing_id,
            "incoming",
            req.party.muaa_id,
            req.party.name,
            "waiting",
            None,
            now,
            min(req.expires_at, now + pairing.MAX_TTL_S),
            {
                "stage": "requested",
                "party": req.party.to_json(),
                "pake": req.pake.hex(),
                "claimed_expiry": req.expires_at,
            },
        )
        self.store.save_pairing(record)
        self.notify(
            "pair.requested",
            {
                "account": account,
                "pairing_id": req.pairing_id,
                "peer": req.party.muaa_id,
                "peer_name": req.party.name,
                "expires_at": record.expires_at,
            },
        )
        return "processed"

    def _on_accept(
        self, session: AccountSession, membership: Membership, sender: str, acc: pairing.Accept
    ) -> str:
        account = session.settings.account
        record = self.store.pairing(account, acc.pairing_id, "outgoing")
        targets: dict[str, dict[str, str]] = record.data.get("targets", {}) if record else {}
        if record is None or record.state != "waiting" or sender not in targets:
            raise envelope.MalformedMessage("accept for no waiting pairing")
        if record.expires_at <= self.now():
            # Expired, not failed: the next expiry pass says so (doing it here would be
            # rolled back with this message's savepoint, then said twice).
            raise envelope.MalformedMessage("accept after expiry")
        target = targets[sender]
        try:
            payload, confirm = pairing.finish_new(
                target["spake"].encode("ascii"),
                bytes.fromhex(target["pake"]),
                session.settings.email,
                record.pairing_id,
                self._party(session, membership),
                acc,
            )
            devices = [pairing.Party.from_json(d) for d in _list(payload.get("devices"))]
            account_key = payload.get("account_key")
            if account_key is not None and (
                not isinstance(account_key, str) or not codec.is_text(account_key)
            ):
                raise envelope.MalformedMessage("bad account key")
        except (pairing.ConfirmationFailed, envelope.MalformedMessage):
            record = replace(record, peer=sender, peer_name=acc.party.name)
            self._fail(record, "confirmation_failed", tell_peer=True)
            return "pairing_failed"
        now = self.now()
        with self.store.transaction():
            self._enqueue(session, membership, sender, pairing.CONFIRM, confirm)
            self.store.add_peer(account, _party_peer(acc.party, now))
            for device in devices:
                if device.muaa_id != membership.muaa_id:
                    self.store.add_peer(account, _party_peer(device, now))
            adopted = False
            if account_key is not None and self.store.account_key(account) is None:
                self.store.set_account_key(account, account_key)
                adopted = True
            self.store.save_pairing(
                replace(record, peer=sender, peer_name=acc.party.name, state="complete", data={})
            )
            # What this device knew before pairing reaches the group too.
            peer = self.store.peer(account, sender)
            if peer is not None:
                self._send_keyring(session, membership, peer)
        # Other devices that were asked too: their requests are void now.
        for other in targets:
            if other != sender:
                self._enqueue(
                    session,
                    membership,
                    other,
                    pairing.ABORT,
                    pairing.abort_body(record.pairing_id, other, "completed_elsewhere"),
                )
        self.notify(
            "pair.completed",
            {
                "account": account,
                "pairing_id": record.pairing_id,
                "peer": sender,
                "peer_name": acc.party.name,
                "account_key_received": adopted,
            },
        )
        log.info("account %s: paired with %s (pairing %s)", account, sender, record.pairing_id)
        return "paired"

    def _on_confirm(
        self, session: AccountSession, membership: Membership, sender: str, conf: pairing.Confirm
    ) -> str:
        account = session.settings.account
        record = self.store.pairing(account, conf.pairing_id, "incoming")
        if (
            record is None
            or record.state != "waiting"
            or record.peer != sender
            or record.data.get("stage") != "accepted"
        ):
            raise envelope.MalformedMessage("confirm for no waiting pairing")
        if not pairing.check_confirm(bytes.fromhex(record.data["expect"]), conf):
            self._fail(record, "confirmation_failed", tell_peer=False)
            return "pairing_failed"
        party = pairing.Party.from_json(record.data["party"])
        now = self.now()
        with self.store.transaction():
            others = self.store.peers(account)
            self.store.add_peer(account, _party_peer(party, now))
            self.store.save_pairing(replace(record, state="complete", data={}))
            # The newcomer gets the whole keyring the group has built so far.
            self._send_keyring(session, membership, _party_peer(party, now))
            # Every device we were paired with learns the newcomer (it learnt them from us).
            for peer in others:
                if peer.muaa_id != party.muaa_id:
                    self._send_sealed(
                        session,
                        membership,
                        peer,
                        pairing.MEMBER_ADD,
                        pairing.member_add_payload(membership.identity, [party]),
                    )
        self.notify(
            "pair.completed",
            {
                "account": account,
                "pairing_id": record.pairing_id,
                "peer": sender,
                "peer_name": party.name,
            },
        )
        log.info("account %s: paired with %s (pairing %s)", account, sender, record.pairing_id)
        return "paired"

    def _on_abort(self, account: str, sender: str, abort: pairing.Abort) -> str:
        for direction in ("incoming", "outgoing"):
            record = self.store.pairing(account, abort.pairing_id, direction)
            if record is None or record.state != "waiting":
                continue
            asked = record.peer == sender or sender in record.data.get("targets", {})
            if asked:
                self._fail(
                    replace(record, peer=record.peer or sender),
                    "peer_"
                    + (abort.reason if abort.reason in pairing.ABORT_REASONS else "aborted"),
                    tell_peer=False,
                )
                return "pairing_failed"
        raise envelope.MalformedMessage("abort for no waiting pairing")

    def _on_sealed(
        self,
        session: AccountSession,
        membership: Membership,
        env: envelope.Envelope,
        changed: set[str],
    ) -> str:
        account = session.settings.account
        peer = self.store.peer(account, env.sender)
        if peer is None:
            raise envelope.MalformedMessage("sender is not a paired device")
        seq, payload = channel.open_sealed(
            membership.identity, membership.muaa_id, peer.dh_key, env
        )
        # Seen-mark and effect commit together: a crash cannot keep one without the other.
        with self.store.transaction():
            if not self.store.mark_seen(account, env.sender, seq):
                raise envelope.MalformedMessage("replayed or duplicate")
            if env.sma_type == KEY_UPDATE:
                changed.update(self._apply_key_update(account, payload))
            elif env.sma_type == pairing.MEMBER_ADD:
                self._apply_member_add(session, membership, env.sender, peer, payload)
            elif env.sma_type == MEMBER_REMOVE:
                self._apply_member_remove(session, membership, env.sender, peer, payload)
            else:
                raise envelope.MalformedMessage(f"unknown message type {env.sma_type}")
        return "processed"

    def _apply_key_update(self, account: str, payload: dict[str, Any]) -> list[str]:
        entries = []
        for raw_entry in _list(payload.get("entries"), limit=100_000):
            try:
                entries.append(keyring.entry_from_json(raw_entry))
            except keyring.InvalidEntry as exc:
                log.warning("account %s: skipped an invalid keyring entry (%s)", account, exc)
        current = self.store.keyring(account, [e.addr for e in entries])
        changes = keyring.merge_all(current, entries)
        self.store.put_keyring(account, changes.values())
        return list(changes)

    def _apply_member_add(
        self,
        session: AccountSession,
        membership: Membership,
        sender: str,
        peer: Peer,
        payload: dict[str, Any],
    ) -> None:
        account = session.settings.account
        now = self.now()
        for device in pairing.parse_member_add(payload, peer.sign_key):
            if device.muaa_id != membership.muaa_id and self.store.add_peer(
                account, _party_peer(device, now)
            ):
                log.info("account %s: %s vouched for %s", account, sender, device.muaa_id)
                # The newcomer learns what we know; what it knew reached the voucher.
                self._send_keyring(session, membership, _party_peer(device, now))
                self.notify(
                    "device.paired",
                    {
                        "account": account,
                        "muaa_id": device.muaa_id,
                        "name": device.name,
                        "via": sender,
                    },
                )

    def _apply_member_remove(
        self,
        session: AccountSession,
        membership: Membership,
        sender: str,
        peer: Peer,
        payload: dict[str, Any],
    ) -> None:
        account = session.settings.account
        for muaa_id in _verified_ids(payload, peer.sign_key, _MEMBER_REMOVE_CONTEXT):
            if muaa_id == membership.muaa_id:
                self._removed(session, membership, by=sender)
            elif self.store.remove_peer(account, muaa_id):
                log.info("account %s: %s says %s is gone", account, sender, muaa_id)
                self.notify(
                    "device.removed",
                    {"account": account, "muaa_id": muaa_id, "self": False, "by": sender},
                )

    # the keyring

    def _send_keyring(self, session: AccountSession, membership: Membership, peer: Peer) -> None:
        """Queue this device's whole keyring for one (newly paired) peer."""
        entries = [e.to_json() for e in self.store.keyring(session.settings.account).values()]
        if entries:
            for chunk in _chunks(entries, KEY_UPDATE_MAX_BYTES):
                self._send_sealed(session, membership, peer, KEY_UPDATE, {"entries": chunk})

    def m_keys_put(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        entries = []
        for index, raw_entry in enumerate(params["peers"]):
            try:
                entries.append(keyring.entry_from_json(raw_entry))
            except keyring.InvalidEntry as exc:
                raise InvalidParams(
                    f"invalid entry at $.peers[{index}]: {exc}", path=f"$.peers[{index}]"
                ) from None
        membership = self.store.membership(account)
        peers = self.store.peers(account) if membership and not membership.removed else []
        with self.store.transaction():
            changes = keyring.merge_all(
                self.store.keyring(account, [e.addr for e in entries]), entries
            )
            self.store.put_keyring(account, changes.values())
            if changes and membership is not None:
                chunks = _chunks([e.to_json() for e in changes.values()], KEY_UPDATE_MAX_BYTES)
                for peer in peers:
                    for chunk in chunks:
                        self._send_sealed(session, membership, peer, KEY_UPDATE, {"entries": chunk})
        if changes and peers:
            self._flush_soon(session)
        return {
            "stored": len(changes),
            "received": len(entries),
            "queued_to": [p.muaa_id for p in peers] if changes else [],
        }

    def m_keys_list(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        self.session(account)
        wanted = [keyring.canonical_addr(params["addr"])] if "addr" in params else None
        entries = [e.to_json() for e in self.store.keyring(account, wanted).values()]
        page, next_offset = page_by_size(entries, params.get("offset", 0), PAGE_BUDGET)
        result: dict[str, Any] = {"peers": page, "total": len(entries)}
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    # expiry, removal, leaving

    def m_sma_expire(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        membership = self.membership(account)
        mailbox = self.mailbox(session)
        max_age = int(params.get("max_age_s", DEFAULT_EXPIRY_S))
        return {"expired": self._expire_devices(session, mailbox, membership, max_age)}

    def _expire_devices(
        self, session: AccountSession, mailbox: Mailbox, membership: Membership, max_age: int
    ) -> list[str]:
        """Remove every other MUAA whose announcement is older than ``max_age`` seconds."""
        digest = self._read_announcements(session, mailbox, membership)
        cutoff = self.now() - max_age
        expired = sorted(
            muaa_id
            for muaa_id, ann in digest.devices.items()
            if muaa_id != membership.muaa_id and ann.last_seen < cutoff
        )
        known = {p.muaa_id for p in self.store.peers(session.settings.account)}
        paired_gone = [muaa_id for muaa_id in expired if muaa_id in known]
        if paired_gone:
            # Peers learn it from us: they may never see the announcement we delete. Only
            # devices we know as peers are named: an announcement is no proof of anything.
            self._tell_peers_gone(session, membership, paired_gone)
        for muaa_id in expired:
            self._erase_device(session, mailbox, muaa_id, [digest.live_uids[muaa_id]])
            log.info("account %s: expired MUAA %s", session.settings.account, muaa_id)
            self._notify_gone(session, muaa_id, "expired")
        if expired:
            self._flush_soon(session)
        return expired

    def _notify_gone(self, session: AccountSession, muaa_id: str, reason: str) -> None:
        self.notify(
            "device.removed",
            {
                "account": session.settings.account,
                "muaa_id": muaa_id,
                "self": False,
                "reason": reason,
            },
        )

    def m_device_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        account, target = params["account"], params["muaa_id"]
        session = self.session(account)
        membership = self.membership(account)
        if target == membership.muaa_id:
            raise InvalidParams("to remove this device, use sma.leave", path="$.muaa_id")
        mailbox = self.mailbox(session)
        digest = self._read_announcements(session, mailbox, membership)
        known = target in digest.devices or self.store.peer(account, target) is not None
        if not known:
            raise NotFound(f"no device {target} is known", muaa_id=target)
        told = self._tell_peers_gone(session, membership, [target])
        uids = [digest.live_uids[target]] if target in digest.live_uids else []
        self._erase_device(session, mailbox, target, uids)
        self._notify_gone(session, target, "removed")
        self._flush_soon(session)
        return {"removed": target, "told": told}

    def m_sma_leave(self, params: dict[str, Any]) -> dict[str, Any]:
        account = params["account"]
        session = self.session(account)
        membership = self.membership(account, allow_removed=True)
        mailbox = self.mailbox(session)
        queued_before = self.store.last_outbox_id(account)
        told = self._tell_peers_gone(session, membership, [membership.muaa_id])
        try:
            self._flush_outbox(session, mailbox)
        except HostError:
            # Not left after all: the goodbyes must not go out later, from a device that
            # is still a member.
            self.store.drop_outbox_after(account, queued_before)
            raise
        digest = self._read_announcements(session, mailbox, membership)
        mine = digest.own_stale_uids + (
            [digest.live_uids[membership.muaa_id]] if membership.muaa_id in digest.live_uids else []
        )
        if session.watcher is not None:
            session.watcher.stop()
            session.watcher = None
        self._erase_device(session, mailbox, membership.muaa_id, mine)
        self.store.forget_membership(account)
        self._update_live(account)
        log.info("account %s: MUAA %s left the SMA", account, membership.muaa_id)
        return {"left": membership.muaa_id, "told": told}

    def _tell_peers_gone(
        self, session: AccountSession, membership: Membership, gone: list[str]
    ) -> list[str]:
        payloads = [
            _signed_ids(membership.identity, _MEMBER_REMOVE_CONTEXT, gone[i : i + MAX_IDS])
            for i in range(0, len(gone), MAX_IDS)
        ]
        told = []
        with self.store.transaction():
            for peer in self.store.peers(session.settings.account):
                if peer.muaa_id not in gone:
                    for payload in payloads:
                        self._send_sealed(session, membership, peer, MEMBER_REMOVE, payload)
                    told.append(peer.muaa_id)
        return told

    def _erase_device(
        self, session: AccountSession, mailbox: Mailbox, muaa_id: str, announcement_uids: list[int]
    ) -> None:
        """Delete a MUAA's inbox and announcements on the server, and forget it here."""
        mailbox.delete_folder(mailbox.namespace.inbox_folder(muaa_id))
        if announcement_uids:
            mailbox.select(mailbox.namespace.announcement_folder())
            mailbox.delete_messages(announcement_uids)
            mailbox.unselect()
        self.store.remove_peer(session.settings.account, muaa_id)

    def _removed(self, session: AccountSession, membership: Membership, by: str | None) -> None:
        account = session.settings.account
        if membership.removed:
            return
        self.store.set_removed(account)
        if session.watcher is not None:
            session.watcher.stop()
            session.watcher = None
        log.warning(
            "account %s: this device (%s) was removed from the SMA", account, membership.muaa_id
        )
        self.notify(
            "device.removed",
            {
                "account": account,
                "muaa_id": membership.muaa_id,
                "self": True,
                **({"by": by} if by else {}),
            },
        )

    def _notify_changed(self, account: str, changed: set[str]) -> None:
        if changed:
            addrs, _rest = page_by_size(sorted(changed), 0, PAGE_BUDGET)
            self.notify(
                "keys.changed",
                {
                    "account": account,
                    "addrs": addrs,
                    **({"truncated": True} if len(addrs) < len(changed) else {}),
                },
            )

    def _check_announcements(self, session: AccountSession, mailbox: Mailbox) -> None:
        """One STATUS: when the announcement folder changed since we last looked, read it
        again and tell the add-on (a device joined, left, or refreshed its heartbeat)."""
        folder = mailbox.namespace.announcement_folder()
        try:
            seen = mailbox.status(folder)
        except ServerError:
            return
        if seen == session.announcements_seen:
            return
        first_look = session.announcements_seen is None
        session.announcements_seen = seen
        if first_look:
            return
        account = session.settings.account
        devices = self._remember_devices(
            account, self._read_announcements(session, mailbox, self.store.membership(account))
        )
        self.notify("sma.changed", {"account": account, "muaas": len(devices)})

    # push

    def _start_watcher(self, session: AccountSession, membership: Membership) -> None:
        if self.schedule is None or session.password is None or not self.push:
            return
        if session.watcher is not None:
            session.watcher.stop()
        account = session.settings.account
        session.watcher = InboxWatcher(
            session.imap_settings(),
            membership.muaa_id,
            on_messages=lambda: self._push(account),
            on_gone=lambda: self._push(account),
            fast=lambda: self.now() < self._live_until.get(account, 0),
            poll_interval=self.poll_interval,
            name=account,
        )
        session.watcher.start()

    def _push(self, account: str) -> None:
        """Called from a watcher thread: queue one sync on the account's worker."""
        session = self._sessions.get(account)
        if session is None or session.sync_pending or self.schedule is None:
            return
        session.sync_pending = True
        self.schedule(account, lambda: self._background_sync(account))

    def _background_sync(self, account: str) -> None:
        session = self._sessions.get(account)
        if session is None:
            return
        session.sync_pending = False
        membership = self.store.membership(account)
        if membership is None or membership.removed:
            return
        try:
            self._sync(session, membership, check_connection=False)
        except ConnectionFailed:
            session.close_mailbox()
            try:
                self._sync(session, membership, check_connection=False)
            except HostError as exc:
                log.info("account %s: background sync failed: %s", account, exc.reason)
        except HostError as exc:
            log.info("account %s: background sync failed: %s", account, exc.reason)

    def _update_live(self, account: str) -> None:
        """Fast polling while this device waits on its peer within a pairing."""
        was_live = self.now() < self._live_until.get(account, 0)
        self._live_until[account] = max(
            (
                p.expires_at
                for p in self.store.pairings(account)
                if p.state == "waiting"
                and (p.direction == "outgoing" or p.data.get("stage") == "accepted")
            ),
            default=0,
        )
        session = self._sessions.get(account)
        if not was_live and self.now() < self._live_until[account] and session is not None:
            membership = self.store.membership(account)
            if session.watcher is not None and membership is not None:
                # The watcher looks at the pairing state only between IDLE steps; a fresh
                # one polls fast at once, which saves a pairing hop up to one step.
                self._start_watcher(session, membership)

    # helpers

    def _party(self, session: AccountSession, membership: Membership) -> pairing.Party:
        identity = membership.identity
        return pairing.Party(
            membership.muaa_id,
            session.settings.device_name,
            identity.sign_public,
            identity.dh_public,
        )

    def _enqueue(
        self,
        session: AccountSession,
        membership: Membership,
        recipient: str,
        sma_type: str,
        body: bytes,
    ) -> None:
        raw = envelope.build_message(
            sma_type=sma_type,
            sender=membership.muaa_id,
            body=body,
            address=session.settings.email,
            now=self.now(),
            unique=self.random(8).hex(),
        )
        self.store.enqueue(session.settings.account, recipient, raw, self.now())

    def _send_sealed(
        self,
        session: AccountSession,
        membership: Membership,
        peer: Peer,
        sma_type: str,
        payload: dict[str, Any],
    ) -> None:
        account = session.settings.account
        with self.store.transaction():
            seq = self.store.next_seq(account, peer.muaa_id)
            body = channel.seal(
                membership.identity,
                membership.muaa_id,
                peer.muaa_id,
                peer.dh_key,
                sma_type,
                seq,
                payload,
            )
            self._enqueue(session, membership, peer.muaa_id, sma_type, body)

    def _flush_outbox(self, session: AccountSession, mailbox: Mailbox) -> int:
        """APPEND every queued message, oldest first; each is deleted from the outbox only
        after the server took it, so a crash in between sends it again (receivers dedupe)."""
        sent = 0
        held_back: set[str] = set()
        for item in self.store.outbox(session.settings.account):
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

    def _flush_soon(self, session: AccountSession) -> None:
        """Send what is queued now if the server lets us; otherwise the next sync does.

        Called after the state change was committed: a failure here must not fail the
        call, or the caller would retry something that already happened.
        """
        try:
            self._flush_outbox(session, self.mailbox(session))
        except HostError as exc:
            log.warning(
                "account %s: queued messages not sent yet (%s); the next sync retries",
                session.settings.account,
                exc.reason,
            )

    def _live_pairing(self, account: str, pairing_id: str, direction: str) -> Pairing:
        self._expire_pairings(account)
        record = self.store.pairing(account, pairing_id, direction)
        if record is None:
            raise NotFound("no such pairing request", pairing_id=pairing_id)
        if record.state == "expired":
            raise PairingExpired("this pairing request has expired", pairing_id=pairing_id)
        if record.state != "waiting":
            raise PairingFailed(
                f"this pairing is {record.state}", pairing_id=pairing_id, state=record.state
            )
        return record

    def _expire_pairings(self, account: str) -> None:
        now = self.now()
        for record in self.store.pairings(account):
            if record.state == "waiting" and record.expires_at <= now:
                self.store.save_pairing(replace(record, state="expired", reason="expired", data={}))
                self.notify(
                    "pair.failed",
                    {
                        "account": account,
                        "pairing_id": record.pairing_id,
                        "peer": record.peer,
                        "reason": "expired",
                    },
                )
        self._update_live(account)

    def _fail(self, record: Pairing, reason: str, tell_peer: bool) -> None:
        """End a pairing for good; its secrets are forgotten."""
        session = self.session(record.account)
        membership = self.membership(record.account)
        with self.store.transaction():
            self.store.save_pairing(replace(record, state="failed", reason=reason, data={}))
            if tell_peer:
                peers = [record.peer] if record.peer else list(record.data.get("targets", {}))
                for peer in peers:
                    self._enqueue(
                        session,
                        membership,
                        peer,
                        pairing.ABORT,
                        pairing.abort_body(record.pairing_id, peer, reason),
                    )
        self.notify(
            "pair.failed",
            {
                "account": record.account,
                "pairing_id": record.pairing_id,
                "peer": record.peer,
                "reason": reason,
            },
        )
        log.info("account %s: pairing %s failed: %s", record.account, record.pairing_id, reason)
        self._update_live(record.account)


def _vault_key(settings: AccountSettings) -> str:
    return vault_key(settings.account, settings.username, settings.imap_host, settings.imap_port)


def _poll_interval(setting: str | None) -> float:
    """``SMA_HOST_POLL_S`` as seconds within 1…3600; the default when unset or not a number."""
    if setting is None:
        return DEFAULT_POLL_S
    try:
        seconds = float(setting)
        if not math.isfinite(seconds):
            raise ValueError(setting)
        return min(max(seconds, 1.0), 3600.0)
    except ValueError:
        log.warning(
            "SMA_HOST_POLL_S=%r is not a number of seconds: using %s", setting, DEFAULT_POLL_S
        )
        return DEFAULT_POLL_S


def _request_from_record(record: Pairing) -> pairing.Request:
    return pairing.Request(
        record.pairing_id,
        "",
        pairing.Party.from_json(record.data["party"]),
        bytes.fromhex(record.data["pake"]),
        record.expires_at,
    )


def _party_peer(party: pairing.Party, now: int) -> Peer:
    return Peer(party.muaa_id, party.name, party.sign_key, party.dh_key, now)


def _peer_party(peer: Peer) -> pairing.Party:
    return pairing.Party(peer.muaa_id, peer.name, peer.sign_key, peer.dh_key)


def _list(value: object, limit: int = 1000) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise envelope.MalformedMessage("bad list")
    return value


_MEMBER_REMOVE_CONTEXT = b"member-remove"
#: Device ids in one member-remove message at most.
MAX_IDS = 64


def _signed_ids(identity: Identity, context: bytes, ids: list[str]) -> dict[str, Any]:
    return {"devices": ids, "sig": codec.b64(identity.sign(context, codec.dumps(ids)))}


def _verified_ids(payload: dict[str, Any], sign_key: bytes, context: bytes) -> list[str]:
    from .protocol import crypto
    from .protocol.folders import is_muaa_id

    ids = _list(payload.get("devices"), limit=MAX_IDS)
    signature = codec.unb64(payload.get("sig"), crypto.SIGNATURE_BYTES)
    if not crypto.verify(sign_key, signature, context, codec.dumps(ids)):
        raise envelope.MalformedMessage("bad signature")
    if not all(is_muaa_id(i) for i in ids):
        raise envelope.MalformedMessage("bad id")
    return [str(i) for i in ids]


def _chunks(items: list[dict[str, Any]], budget: int) -> list[list[dict[str, Any]]]:
    """Split ``items`` into runs whose JSON stays within ``budget`` bytes (at least one each)."""
    chunks: list[list[dict[str, Any]]] = [[]]
    used = 0
    for item in items:
        size = len(codec.dumps(item)) + 1
        if chunks[-1] and used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(item)
        used += size
    return chunks


def _why(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
