"""Who belongs to the group: removing a device, leaving, expiring silent devices, and the
membership messages (``member-add``, ``member-remove``) from paired devices."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import HostError, InvalidParams, NotFound
from ..imap.mailbox import Mailbox
from ..protocol import membership as members
from ..store import Peer, Store
from .announcements import Announcements
from .context import Account, AccountSession, Sessions, peer_from_party
from .keys import Keys
from .notifications import Notifier
from .outbox import Outbox
from .push import Push

log = logging.getLogger(__name__)

#: An unconfirmed ``member-remove`` is sent again after this long (§14.1).
REMOVAL_RESEND_S = 3600
#: Announcements older than this are expired (``sma.expire`` default).
DEFAULT_EXPIRY_S = 90 * 24 * 3600


@dataclass(eq=False)
class Membership:
    store: Store
    sessions: Sessions
    outbox: Outbox
    notifier: Notifier
    announcements: Announcements
    keys: Keys
    push: Push
    now: Callable[[], int]

    # methods

    def remove(self, params: dict[str, Any]) -> dict[str, Any]:
        """``device.remove``: another device leaves the group for good, told to every peer
        until each confirms; called again, it reports who has confirmed."""
        joined, target = self.sessions.joined(params["account"]), params["muaa_id"]
        if target == joined.muaa_id:
            raise InvalidParams("to remove this device, use sma.leave", path="$.muaa_id")
        # Recorded but not erased, or still a peer: an earlier call was cut off before it
        # had posted the record and erased the device (the peer is forgotten last); this
        # one finishes.
        unfinished = (
            self.store.erase_pending(joined.name, target)
            or self.store.peer(joined.name, target) is not None
        )
        removed_before = self.store.is_removed(joined.name, target)
        if removed_before and not unfinished:
            return self._removal_status(joined, target, told=[])
        mailbox = self.sessions.mailbox(joined.session)
        digest = self.announcements.read(joined.session, mailbox, joined.membership)
        known = target in digest.devices or unfinished
        if not known:
            raise NotFound(f"no device {target} is known", muaa_id=target)
        told: list[str] = []  # an unfinished removal told the peers already
        if not removed_before:
            self.store.mark_removed(joined.name, target, joined.muaa_id, self.now(), erased=False)
            told = self._tell_peers_gone(joined, [target])
            self.store.wait_for_confirmation(joined.name, target, told, self.now())
        # The signed record every peer reads anyway: our announcement names the removed.
        # X learns of its removal only from it, so X stays a peer until it is posted, and
        # it is posted before X's inbox goes: X, finding its inbox gone with no record
        # (say while its page is open and it polls), would make it again and stay.
        self.announcements.announce(joined, mailbox)
        uids = [digest.live_uids[target]] if target in digest.live_uids else []
        self._erase_device(joined.session, mailbox, target, uids, forget=False)
        self.store.mark_erased(joined.name, target)
        self.store.remove_peer(joined.name, target)
        self.notifier.device_removed(joined.name, target, reason="removed")
        self.outbox.flush_soon(joined.session)
        return self._removal_status(joined, target, told)

    def _removal_status(self, joined: Account, target: str, told: list[str]) -> dict[str, Any]:
        waiting = self.store.unconfirmed(joined.name).get(target, [])
        peers = {p.muaa_id for p in self.store.peers(joined.name)}
        confirmed = sorted(peers - set(waiting) - {target})
        return {"removed": target, "told": told, "confirmed": confirmed, "waiting": waiting}

    def resend_removals(self, joined: Account) -> None:
        """At a sync: a ``member-remove`` not confirmed within ``REMOVAL_RESEND_S`` goes
        again to that peer (an hour: an offline peer does not find a copy per sync)."""
        now = self.now()
        due = self.store.unconfirmed(joined.name, sent_before=now - REMOVAL_RESEND_S + 1)
        for gone, peers in due.items():
            payloads = members.member_remove_payloads(joined.membership.identity, [gone])
            for muaa_id in peers:
                peer = self.store.peer(joined.name, muaa_id)
                if peer is None:  # no longer a peer: nobody left to confirm
                    self.store.confirmed(joined.name, gone, muaa_id)
                    continue
                for payload in payloads:
                    self.outbox.send_sealed(joined, peer, members.MEMBER_REMOVE, payload)
                self.store.wait_for_confirmation(joined.name, gone, [muaa_id], now)

    def apply_removals(self, joined: Account, removals: dict[str, str]) -> None:
        """Removal records in trusted announcements: the same evidence as a member-remove."""
        for gone, by in removals.items():
            self._gone(joined, gone, by)

    def leave(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sma.leave``: this device says goodbye and erases its traces on the server."""
        joined = self.sessions.joined(params["account"], allow_removed=True)
        account, session, membership = joined.name, joined.session, joined.membership
        mailbox = self.sessions.mailbox(session)
        queued_before = self.store.last_outbox_id(account)
        told = self._tell_peers_gone(joined, [membership.muaa_id])
        try:
            self.outbox.flush(session, mailbox)
        except HostError:
            # Not left after all: the goodbyes must not go out later, from a device that
            # is still a member.
            self.store.drop_outbox_after(account, queued_before)
            raise
        digest = self.announcements.read(session, mailbox, membership)
        mine = list(digest.own_stale_uids)
        if membership.muaa_id in digest.live_uids:
            mine.append(digest.live_uids[membership.muaa_id])
        session.stop_watcher()
        self._erase_device(session, mailbox, membership.muaa_id, mine)
        self.store.forget_membership(account)
        self.store.delete_account_key(account)  # a device that left cannot export it
        self.push.update_live(account)
        log.info("account %s: MUAA %s left the SMA", account, membership.muaa_id)
        return {"left": membership.muaa_id, "told": told}

    def expire(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sma.expire``."""
        joined = self.sessions.joined(params["account"])
        mailbox = self.sessions.mailbox(joined.session)
        max_age = int(params.get("max_age_s", DEFAULT_EXPIRY_S))
        return {"expired": self.expire_devices(joined, mailbox, max_age)}

    def heartbeat(self, joined: Account) -> None:
        """Once a day: a fresh announcement, and devices silent for too long expired."""
        mailbox = self.sessions.mailbox(joined.session, check=False)
        self.announcements.announce(joined, mailbox)
        self.expire_devices(joined, mailbox, DEFAULT_EXPIRY_S)

    def expire_devices(self, joined: Account, mailbox: Mailbox, max_age: int) -> list[str]:
        """Remove every other MUAA whose announcement is older than ``max_age`` seconds."""
        digest = self.announcements.read(joined.session, mailbox, joined.membership)
        cutoff = self.now() - max_age
        expired = sorted(
            muaa_id
            for muaa_id, ann in digest.devices.items()
            if muaa_id != joined.muaa_id and ann.last_seen < cutoff
        )
        known = {p.muaa_id for p in self.store.peers(joined.name)}
        paired_gone = [muaa_id for muaa_id in expired if muaa_id in known]
        if paired_gone:
            # Peers learn it from us: they may never see the announcement we delete. Only
            # devices we know as peers are named: an announcement is no proof of anything.
            for muaa_id in paired_gone:
                self.store.mark_removed(joined.name, muaa_id, joined.muaa_id, self.now())
            told = self._tell_peers_gone(joined, paired_gone)
            for muaa_id in paired_gone:
                self.store.wait_for_confirmation(joined.name, muaa_id, told, self.now())
        for muaa_id in expired:
            self._erase_device(joined.session, mailbox, muaa_id, [digest.live_uids[muaa_id]])
            log.info("account %s: expired MUAA %s", joined.name, muaa_id)
            self.notifier.device_removed(joined.name, muaa_id, reason="expired")
        if paired_gone:
            self.announcements.announce(joined, mailbox)  # the signed record of them
        if expired:
            self.outbox.flush_soon(joined.session)
        return expired

    # inbox messages

    def on_member_add(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A peer vouches for a device it paired with: we trust it too."""
        now = self.now()
        for device in members.parse_member_add(payload, sender.sign_key):
            newcomer = peer_from_party(device, now)
            if device.muaa_id != joined.muaa_id and self.store.add_peer(joined.name, newcomer):
                log.info(
                    "account %s: %s vouched for %s", joined.name, sender.muaa_id, device.muaa_id
                )
                # The newcomer learns what we know; what it knew reached the voucher.
                self.keys.send_keyring(joined, newcomer)
                self.notifier.device_paired(
                    joined.name, device.muaa_id, device.name, sender.muaa_id
                )

    def on_member_remove(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A peer says devices are gone, perhaps this one; we confirm it."""
        gone = members.parse_member_remove(payload, sender.sign_key)
        for muaa_id in gone:
            self._gone(joined, muaa_id, sender.muaa_id)
        if gone and sender.muaa_id not in gone:  # a device that leaves awaits no answer
            ack = members.member_remove_ack_payload(gone)
            self.outbox.send_sealed(joined, sender, members.MEMBER_REMOVE_ACK, ack)

    def on_member_remove_ack(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A peer confirms a removal this device made: stop resending it."""
        for muaa_id in members.parse_member_remove_ack(payload):
            if self.store.confirmed(joined.name, muaa_id, sender.muaa_id):
                log.info(
                    "account %s: %s confirmed %s is gone", joined.name, sender.muaa_id, muaa_id
                )

    def _gone(self, joined: Account, muaa_id: str, by: str) -> None:
        """``by`` (a trusted device) says ``muaa_id`` is out: for good, here too."""
        if muaa_id == joined.muaa_id:
            self.this_device_removed(joined, by=by)
            return
        self.store.mark_removed(joined.name, muaa_id, by, self.now())
        if self.store.remove_peer(joined.name, muaa_id):
            log.info("account %s: %s says %s is gone", joined.name, by, muaa_id)
            self.notifier.device_removed(joined.name, muaa_id, by=by)

    def this_device_removed(self, joined: Account, by: str | None) -> None:
        """This device is out of the group: its inbox is gone, or a peer said so."""
        if joined.membership.removed:
            return
        self.store.set_removed(joined.name)
        # The account key goes with the membership: a removed device cannot export it.
        self.store.delete_account_key(joined.name)
        joined.session.stop_watcher()
        log.warning(
            "account %s: this device (%s) was removed from the SMA", joined.name, joined.muaa_id
        )
        self.notifier.this_device_removed(joined.name, joined.muaa_id, by)

    # helpers

    def _tell_peers_gone(self, joined: Account, gone: list[str]) -> list[str]:
        """Queue a signed ``member-remove`` naming ``gone`` to every other peer."""
        payloads = members.member_remove_payloads(joined.membership.identity, gone)
        told = []
        with self.store.transaction():
            for peer in self.store.peers(joined.name):
                if peer.muaa_id not in gone:
                    for payload in payloads:
                        self.outbox.send_sealed(joined, peer, members.MEMBER_REMOVE, payload)
                    told.append(peer.muaa_id)
        return told

    def _erase_device(
        self,
        session: AccountSession,
        mailbox: Mailbox,
        muaa_id: str,
        announcement_uids: list[int],
        forget: bool = True,
    ) -> None:
        """Delete a MUAA's inbox and announcements on the server, and forget it here
        (unless the caller does that itself, later)."""
        mailbox.delete_folder(mailbox.namespace.inbox_folder(muaa_id))
        if announcement_uids:
            mailbox.select(mailbox.namespace.announcement_folder())
            mailbox.delete_messages(announcement_uids)
            mailbox.unselect()
        if forget:
            self.store.remove_peer(session.account, muaa_id)
