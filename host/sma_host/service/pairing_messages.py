"""The pairing messages in this device's inbox: ``pair-request``, ``pair-accept``,
``pair-confirm``, ``pair-abort``. Each phase change goes through ``pairing_states.step()``;
an event the table does not allow drops the message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..protocol import codec, envelope, keyring, pairing
from ..protocol.membership import MEMBER_ADD, member_add_payload
from ..protocol.pairing_states import (
    Attempt,
    Direction,
    Event,
    IncomingRequest,
    needs_room,
    request_refusal,
    step,
)
from ..store import Store
from ..store_keys import AccountKey
from .account_key import AccountKeys, offered_key
from .context import Account, peer_from_party
from .keys import Keys
from .notifications import Notifier
from .outbox import Outbox
from .pairing import Pairings

log = logging.getLogger(__name__)

#: Devices a pair-accept may name as the group at most.
MAX_GROUP = 1000

IN, OUT = Direction.INCOMING, Direction.OUTGOING


@dataclass(eq=False)
class PairingMessages:
    store: Store
    outbox: Outbox
    notifier: Notifier
    keys: Keys
    pairings: Pairings
    account_keys: AccountKeys
    now: Callable[[], int]
    #: Requests taken in the current sync, per account (``begin_sync`` resets it).
    _taken: dict[str, int] = field(default_factory=dict)
    #: (account, pairing id, sender) → the valid entries its accept's parts brought, in this
    #: process: N's keyring goes back to E without them (E has them).
    _received: dict[tuple[str, str, str], set[keyring.PeerEntry]] = field(default_factory=dict)

    def begin_sync(self, account: str) -> None:
        self._taken[account] = 0

    def on_request(self, joined: Account, env: envelope.Envelope, changed: set[str]) -> str:
        """A new device asks this one to pair (``pair-request``)."""
        req = pairing.parse_request(env)
        account, now = joined.name, self.now()
        if req.target != joined.muaa_id or req.expires_at <= now:
            raise envelope.MalformedMessage("request not for us or expired")
        if self.store.pairing(account, req.pairing_id, IN.value) is not None:
            raise envelope.MalformedMessage("replayed request")
        # The conditions of the table's REQUEST_RECEIVED row, each at a cost that does not
        # grow with what a flood left behind.
        waiting, records = self.store.count_incoming(account)
        if (refusal := request_refusal(self._taken.get(account, 0), waiting)) is not None:
            raise envelope.MalformedMessage(refusal)
        if needs_room(records) and not self.store.drop_oldest_ended_incoming(account):
            raise envelope.MalformedMessage("too many pairing records")
        transition = step(IN, None, Event.REQUEST_RECEIVED)
        assert transition.next is not None
        attempt = Attempt(
            account, req.pairing_id, IN, req.party.muaa_id, req.party.name, transition.next,
            None, now, min(req.expires_at, now + pairing.MAX_TTL_S),
            request=IncomingRequest(req.party, req.pake, req.expires_at),
        )  # fmt: skip
        self.store.save_pairing(attempt)
        self._taken[account] = self._taken.get(account, 0) + 1
        self.notifier.pair_requested(attempt)
        return "processed"

    def on_accept(self, joined: Account, env: envelope.Envelope, changed: set[str]) -> str:
        """The existing device answered our request (``pair-accept``, one part of it)."""
        acc, sender, account = pairing.parse_accept(env), env.sender, joined.name
        attempt = self.store.pairing(account, acc.pairing_id, OUT.value)
        if attempt is None or sender not in attempt.targets:
            raise envelope.MalformedMessage("accept for no waiting pairing")
        if attempt.expires_at <= self.now():
            # Expired, not failed: the next expiry pass says so (doing it here would be
            # rolled back with this message's savepoint, then said twice).
            step(OUT, attempt.phase, Event.ACCEPT_LATE)
            raise envelope.MalformedMessage("accept after expiry")
        target = attempt.targets[sender]
        if acc.part in target.seen or target.parts not in (0, acc.parts):
            raise envelope.MalformedMessage("replayed accept part")
        try:
            payload, confirm = pairing.finish_new(
                target.spake_state,
                target.pake,
                joined.settings.email,
                attempt.pairing_id,
                joined.party(),
                acc,
            )
            held = target.held
            if acc.part == 0:
                held = {k: v for k, v in payload.items() if k != "keyring"}
                _check_base(held)
            entries = self.keys.merge_from_peer(joined, payload.get("keyring", []), changed)
        except (pairing.ConfirmationFailed, envelope.MalformedMessage):
            ended = replace(attempt, peer=sender, peer_name=acc.party.name)
            self.pairings.end(
                joined, ended, step(OUT, attempt.phase, Event.ACCEPT_FORGED), tell_peer=True
            )
            return "pairing_failed"
        key = (joined.name, attempt.pairing_id, sender)
        self._received.setdefault(key, set()).update(entries)
        seen = target.seen | {acc.part}
        if len(seen) < acc.parts:
            step(OUT, attempt.phase, Event.ACCEPT_PART)
            targets = {**attempt.targets, sender: replace(target, parts=acc.parts, seen=seen)}
            targets[sender] = replace(targets[sender], held=held)
            self.store.save_pairing(replace(attempt, targets=targets))
            return "processed"
        assert held is not None  # part 0 is among the parts seen
        return self._complete(joined, attempt, acc, held, confirm)

    def _complete(
        self,
        joined: Account,
        attempt: Attempt,
        acc: pairing.Accept,
        held: Mapping[str, Any],
        confirm: bytes,
    ) -> str:
        """Every part of the accept arrived: the pairing completes on the new device."""
        sender, account = acc.party.muaa_id, joined.name
        devices = _check_base(held)
        armored = held.get("account_key")
        attempt = replace(attempt, peer=sender, peer_name=acc.party.name)
        done = attempt.after(step(OUT, attempt.phase, Event.ACCEPT_RECEIVED))
        now = self.now()
        with self.store.transaction():
            self.outbox.enqueue(joined, sender, pairing.CONFIRM, confirm)
            self.store.add_peer(account, peer_from_party(acc.party, now))
            for device in devices:
                if device.muaa_id != joined.muaa_id:
                    self.store.add_peer(account, peer_from_party(device, now))
            theirs = _their_key(
                account,
                armored,
                held.get("account_key_set_at", 0),
                held.get("account_key_passphrase"),
            )
            adopted = theirs is not None and self.account_keys.offer(joined, theirs)
            self.store.save_pairing(done)
            # What this device knew before pairing reaches the group too.
            peer = self.store.peer(account, sender)
            if peer is not None:
                # Without the entries E sent (a part merged before a restart is not
                # known here: its entries go back too, which merge makes harmless).
                sent = self._received.pop((account, attempt.pairing_id, sender), set())
                self.keys.send_keyring(joined, peer, sent)
                self.account_keys.send_if_newer(joined, peer, theirs)
        # Other devices that were asked too: their requests are void now.
        for other in attempt.targets:
            if other != sender:
                body = pairing.abort_body(attempt.pairing_id, other, "completed_elsewhere")
                self.outbox.enqueue(joined, other, pairing.ABORT, body)
        self.notifier.pair_completed(done, account_key_received=adopted)
        log.info("account %s: paired with %s (pairing %s)", account, sender, done.pairing_id)
        return "paired"

    def on_confirm(self, joined: Account, env: envelope.Envelope, changed: set[str]) -> str:
        """The new device proved it knew the code (``pair-confirm``)."""
        conf, sender, account = pairing.parse_confirm(env), env.sender, joined.name
        attempt = self.store.pairing(account, conf.pairing_id, IN.value)
        if attempt is None or attempt.peer != sender:
            raise envelope.MalformedMessage("confirm for no waiting pairing")
        transition = step(IN, attempt.phase, Event.CONFIRM_RECEIVED)
        assert attempt.expect is not None and attempt.request is not None
        if not pairing.check_confirm(attempt.expect, conf):
            self.pairings.end(joined, attempt, step(IN, attempt.phase, Event.CONFIRM_FORGED), False)
            return "pairing_failed"
        party = attempt.request.party
        done = attempt.after(transition)
        now = self.now()
        with self.store.transaction():
            others = self.store.peers(account)
            self.store.add_peer(account, peer_from_party(party, now))
            self.store.save_pairing(done)
            # The newcomer has this device's keyring as it was at the accept; what changed
            # since (N was no peer yet, so no key-update reached it) follows whole.
            if self.pairings.keyring_changed_since_accept(account, done.pairing_id):
                self.keys.send_keyring(joined, peer_from_party(party, now))
            # Every device we were paired with learns the newcomer (it learnt them from us).
            vouch = member_add_payload(joined.membership.identity, [party])
            for peer in others:
                if peer.muaa_id != party.muaa_id:
                    self.outbox.send_sealed(joined, peer, MEMBER_ADD, vouch)
        self.notifier.pair_completed(done)
        log.info("account %s: paired with %s (pairing %s)", account, sender, done.pairing_id)
        return "paired"

    def on_abort(self, joined: Account, env: envelope.Envelope, changed: set[str]) -> str:
        """The peer ended an attempt (``pair-abort``)."""
        abort, sender = pairing.parse_abort(env), env.sender
        for direction in (IN, OUT):
            attempt = self.store.pairing(joined.name, abort.pairing_id, direction.value)
            if attempt is None or not attempt.live or not attempt.asked(sender):
                continue
            transition = step(direction, attempt.phase, Event.ABORT_RECEIVED)
            said = abort.reason if abort.reason in pairing.ABORT_REASONS else "aborted"
            attempt = replace(attempt, peer=attempt.peer or sender)
            self.pairings.end(joined, attempt, transition, tell_peer=False, reason="peer_" + said)
            return "pairing_failed"
        raise envelope.MalformedMessage("abort for no waiting pairing")


def _check_base(held: Mapping[str, Any]) -> list[pairing.Party]:
    """The devices of part 0 of a payload, its account key checked for type; else
    ``MalformedMessage``."""
    devices = [
        pairing.Party.from_json(d) for d in codec.bounded_list(held.get("devices"), MAX_GROUP)
    ]
    armored = held.get("account_key")
    if armored is not None and (not isinstance(armored, str) or not codec.is_text(armored)):
        raise envelope.MalformedMessage("bad account key")
    return devices


def _their_key(
    account: str, armored: object, set_at: object, passphrase: object
) -> AccountKey | None:
    """The existing device's account key from the pairing payload; one that is not an
    OpenPGP secret key is left out (the pairing itself holds: the code proved the peer)."""
    if armored is None:
        return None
    try:
        return offered_key(armored, set_at, passphrase)
    except envelope.MalformedMessage as exc:
        log.warning("account %s: the paired device's account key was refused: %s", account, exc)
        return None
