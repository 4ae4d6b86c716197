"""Pairing: the methods (``pair.*``) and how an attempt ends (``pairing_messages`` handles
the pairing messages in the inbox).

Every phase change goes through ``pairing_states.step()``: the table there decides what
an event may do in a phase, this unit carries out the effects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InvalidParams, NotFound, PairingExpired, PairingFailed
from ..protocol import pairing
from ..protocol.paging import page_by_size
from ..protocol.pairing_states import (
    Attempt,
    Direction,
    Event,
    OutgoingTarget,
    Phase,
    Transition,
    retention_cutoff,
    step,
)
from ..store import Store
from .announcements import PAGE_BUDGET, Announcements
from .context import Account, Sessions
from .keys import Keys
from .notifications import Notifier
from .outbox import Outbox
from .push import Push

log = logging.getLogger(__name__)

IN, OUT = Direction.INCOMING, Direction.OUTGOING


@dataclass(eq=False)
class Pairings:
    store: Store
    sessions: Sessions
    outbox: Outbox
    notifier: Notifier
    push: Push
    keys: Keys
    announcements: Announcements
    now: Callable[[], int]
    random: Callable[[int], bytes]
    #: (account, pairing id) → the keyring generation sent in that pairing's accept.
    _keyring_sent: dict[tuple[str, str], int] = field(default_factory=dict, init=False)

    # methods

    def ui_active(self, params: dict[str, Any]) -> dict[str, Any]:
        """``ui.active`` (at the page's opening and every 30 s while open): a pairing may
        start. Loading SPAKE2 now (about 30 ms) takes that out of the first hop of a
        pairing, on both devices; a host whose page never opened does not load it, one
        whose page did keeps it (1–4 MB)."""
        result = self.push.ui_active(params)
        pairing.load_pake()
        return result

    def request(self, params: dict[str, Any]) -> dict[str, Any]:
        """``pair.request`` on the new device: asks one announced device, or all of them."""
        joined = self.sessions.joined(params["account"])
        mailbox = self.sessions.mailbox(joined.session)
        digest = self.announcements.read(joined.session, mailbox, joined.membership)
        others = {m: a for m, a in digest.devices.items() if m != joined.muaa_id}
        target = params.get("to")
        if target is not None:
            if target not in others:
                raise NotFound(f"no device {target} has announced itself", muaa_id=target)
            targets = [target]
        else:
            seen = {m: a.last_seen for m, a in others.items()}
            targets = pairing.broadcast_targets(seen, self.now())
            if not targets:
                raise NotFound("no other device has been seen in the SMA of this account lately")
        transition = step(OUT, None, Event.REQUEST)
        now = self.now()
        pairing_id = self.random(8).hex()
        code = pairing.code_from_random(self.random(8))
        expires_at = now + int(params.get("ttl_s", pairing.DEFAULT_TTL_S))
        me = joined.party()
        per_target: dict[str, OutgoingTarget] = {}
        with self.store.transaction():
            for muaa_id in targets:
                state, pake = pairing.start_new(
                    code, joined.settings.email, pairing_id, joined.muaa_id, muaa_id
                )
                per_target[muaa_id] = OutgoingTarget(state, pake)
                body = pairing.request_body(pairing_id, me, muaa_id, pake, expires_at)
                self.outbox.enqueue(joined, muaa_id, pairing.REQUEST, body)
            peer_name = others[targets[0]].name if len(targets) == 1 else None
            assert transition.next is not None
            self.store.save_pairing(
                Attempt(
                    joined.name,
                    pairing_id,
                    OUT,
                    target,
                    peer_name,
                    transition.next,
                    None,
                    now,
                    expires_at,
                    targets=per_target,
                )
            )
        self.push.update_live(joined.name)
        self.outbox.flush_soon(joined.session)
        log.info(
            "account %s: pairing %s requested from %d device(s)",
            joined.name,
            pairing_id,
            len(targets),
        )
        return {
            "pairing_id": pairing_id,
            "code": pairing.format_code(code),
            "expires_at": expires_at,
            "to": targets,
        }

    def accept(self, params: dict[str, Any]) -> dict[str, Any]:
        """``pair.accept`` on the existing device: the user typed the code."""
        joined = self.sessions.joined(params["account"])
        code = pairing.normalize_code(params["code"])
        if code is None:
            # Refused before the attempt is looked up: a typo does not use it up.
            raise InvalidParams(
                f"the code has {pairing.CODE_DIGITS} digits", path="$.code", validator="pattern"
            )
        self.expire(joined.name)
        attempt = self.store.pairing(joined.name, params["pairing_id"], IN.value)
        if attempt is None:
            raise NotFound("no such pairing request", pairing_id=params["pairing_id"])
        transition = step(IN, attempt.phase, Event.CODE_ENTERED)
        if transition.error:
            _refuse(attempt, transition)
        assert attempt.request is not None
        key = self.store.account_key(joined.name)
        base = {
            "account_key": key.armored if key else None,
            "account_key_set_at": key.set_at if key else 0,
            **({"account_key_passphrase": key.passphrase} if key and key.passphrase else {}),
            "devices": [
                pairing.Party(p.muaa_id, p.name, p.sign_key, p.dh_key).to_json()
                for p in self.store.peers(joined.name)
            ],
        }
        # The keyring goes with the key: N is usable when it says paired, without a
        # further hop (§7.7).
        generation = self.keys.generation(joined.name)
        parts = pairing.split_payload(base, self.keys.entries(joined.name))
        request = pairing.Request(
            attempt.pairing_id, "", attempt.request.party, attempt.request.pake, attempt.expires_at
        )
        try:
            bodies, expected = pairing.accept(
                code, joined.settings.email, request, joined.party(), parts
            )
        except pairing.ConfirmationFailed:
            self.end(joined, attempt, step(IN, attempt.phase, Event.CODE_REJECTED), tell_peer=True)
            raise PairingFailed("pairing failed", pairing_id=attempt.pairing_id) from None
        assert transition.next is not None
        with self.store.transaction():
            for body in bodies:
                self.outbox.enqueue(joined, attempt.request.party.muaa_id, pairing.ACCEPT, body)
            self.store.save_pairing(replace(attempt, phase=transition.next, expect=expected))
        self._keyring_sent[(joined.name, attempt.pairing_id)] = generation
        self.push.update_live(joined.name)
        self.outbox.flush_soon(joined.session)
        return {"pairing_id": attempt.pairing_id, "state": "waiting"}

    def list_attempts(self, params: dict[str, Any]) -> dict[str, Any]:
        """``pair.list``: paged like ``sma.status`` (§4.3); the records are bounded anyway."""
        account = params["account"]
        self.sessions.get(account)
        self.expire(account)
        entries = [
            {
                "pairing_id": p.pairing_id,
                "peer": p.peer,
                "peer_name": p.peer_name,
                "direction": p.direction.value,
                "state": p.phase.state,
                "expires_at": p.expires_at,
                **({"reason": p.reason} if p.reason else {}),
            }
            for p in self.store.pairings(account)
        ]
        page, next_offset = page_by_size(entries, params.get("offset", 0), PAGE_BUDGET)
        result: dict[str, Any] = {"pairings": page, "total": len(entries)}
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    def cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        """``pair.cancel``: ends a waiting attempt (both directions); reports an ended one."""
        account, pairing_id = params["account"], params["pairing_id"]
        session = self.sessions.get(account)
        attempts = [p for p in self.store.pairings(account) if p.pairing_id == pairing_id]
        if not attempts:
            raise NotFound("no such pairing", pairing_id=pairing_id)
        for attempt in attempts:
            transition = step(attempt.direction, attempt.phase, Event.CANCEL)
            if transition.next is not None:
                self.end(self.sessions.joined(account), attempt, transition, tell_peer=True)
        self.outbox.flush_soon(session)
        first = attempts[0].phase.state
        return {"pairing_id": pairing_id, "state": first if first != "waiting" else "failed"}

    def keyring_changed_since_accept(self, account: str, pairing_id: str) -> bool:
        """The keyring changed after this pairing's accept was built (or this process did
        not build it: then it may have)."""
        sent = self._keyring_sent.pop((account, pairing_id), None)
        return sent is None or sent != self.keys.generation(account)

    # endings

    def expire(self, account: str) -> None:
        """Every waiting attempt past its expiry ends as ``expired``; nothing is sent.
        Ended attempts past their retention are deleted (the table's RETENTION rows)."""
        now = self.now()
        self.store.purge_pairings(account, now, retention_cutoff(now))
        for attempt in self.store.pairings(account, live_only=True):
            if attempt.expires_at <= now:
                ended = attempt.after(step(attempt.direction, attempt.phase, Event.EXPIRY))
                self.store.save_pairing(ended)
                self.notifier.pair_failed(ended)
        self.push.update_live(account)

    def end(
        self,
        joined: Account,
        attempt: Attempt,
        transition: Transition,
        tell_peer: bool,
        reason: str | None = None,
    ) -> None:
        """End an attempt for good; its secrets are forgotten."""
        ended = attempt.after(transition, reason)
        assert ended.reason is not None
        with self.store.transaction():
            self.store.save_pairing(ended)
            if tell_peer:
                peers = [attempt.peer] if attempt.peer else list(attempt.targets)
                for peer in peers:
                    body = pairing.abort_body(attempt.pairing_id, peer, ended.reason)
                    self.outbox.enqueue(joined, peer, pairing.ABORT, body)
        self.notifier.pair_failed(ended)
        log.info("account %s: pairing %s failed: %s", joined.name, attempt.pairing_id, ended.reason)
        self.push.update_live(joined.name)


def _refuse(attempt: Attempt, transition: Transition) -> None:
    """Raise the error the table gives for a code entered in this phase."""
    if transition.error == PairingExpired.reason:
        raise PairingExpired("this pairing request has expired", pairing_id=attempt.pairing_id)
    if attempt.phase is Phase.ACCEPTED:
        raise PairingFailed(
            "a code was already entered for this pairing", pairing_id=attempt.pairing_id
        )
    state = attempt.phase.state
    raise PairingFailed(f"this pairing is {state}", pairing_id=attempt.pairing_id, state=state)
