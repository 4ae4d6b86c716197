"""Issue 12 item 2: forged ``pair-request`` + ``pair-abort`` pairs leave bounded state.

The provider plants rounds of forged pairs in a device's inbox, the device syncs after
each round. Each sync takes at most 16 requests; the records kept stay at most 64; a
genuine request still gets through afterwards.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tests.contract.test_pairing import call, joined
from tests.imap_inspect import connect

ROUNDS, PAIRS = 5, 40


def forged_pair(account: Any, target: str) -> list[bytes]:
    from sma_host.protocol import crypto, envelope, pairing

    forger = crypto.Identity.generate()
    sender, pairing_id = os.urandom(8).hex(), os.urandom(8).hex()
    party = pairing.Party(sender, "fake", forger.sign_public, forger.dh_public)
    _, pake = pairing.start_new("1111111111", account.email, pairing_id, sender, target)
    bodies = [
        (pairing.REQUEST, pairing.request_body(pairing_id, party, target, pake, 2**40)),
        (pairing.ABORT, pairing.abort_body(pairing_id, target, "cancelled")),
    ]
    return [
        envelope.build_message(
            sma_type=kind, sender=sender, body=body, address=account.email, now=1, unique=kind
        )
        for kind, body in bodies
    ]


def test_forged_request_abort_pairs_leave_bounded_state(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    for _ in range(ROUNDS):
        with connect(account.server, account.user) as client:
            folder = f"_Autocrypt_SMA_{existing_id}"
            for _ in range(PAIRS):
                for raw in forged_pair(account, existing_id):
                    client.append(folder, raw)
        existing.notifications.clear()
        started = time.monotonic()
        call(existing, "sma.sync")
        print(f"sync of {PAIRS} forged pairs: {time.monotonic() - started:.2f} s")
        requested = [n for n in existing.notifications if n["method"] == "pair.requested"]
        assert len(requested) == 16  # MAX_REQUESTS_PER_SYNC
        assert len(call(existing, "pair.list")["pairings"]) <= 64  # MAX_INCOMING_RECORDS
    # The genuine device still gets through, in a sync of its own.
    new, _ = joined(spawn_host, account, "laptop")
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    call(new, "sma.sync")
    call(existing, "sma.sync")
    states = [p["state"] for p in call(existing, "pair.list")["pairings"]]
    ours = [
        p
        for p in call(existing, "pair.list")["pairings"]
        if p["pairing_id"] == request["pairing_id"]
    ]
    assert [p["state"] for p in ours] == ["complete"] and len(states) <= 64


def test_ended_attempts_are_deleted_after_the_retention(tmp_dir) -> None:  # type: ignore[no-untyped-def]
    from sma_host.protocol.pairing_states import (
        ENDED_RETENTION_S,
        Attempt,
        Direction,
        Phase,
        retention_cutoff,
    )
    from sma_host.store import AccountSettings, Store

    store = Store(tmp_dir)
    store.save_account(AccountSettings("a", "u@example.org", "d", "h", 993, "tls", "u", None))
    for n, phase in enumerate([Phase.FAILED, Phase.COMPLETE, Phase.EXPIRED, Phase.WAITING]):
        attempt = Attempt("a", f"{n:016x}", Direction.OUTGOING, None, None, phase, None, 0, 10)
        store.save_pairing(attempt)

    def purge(now: int) -> int:
        return store.purge_pairings("a", now, retention_cutoff(now))

    assert purge(1000) == 0  # first seen ended: stamped
    assert purge(999 + ENDED_RETENTION_S) == 0
    assert purge(1000 + ENDED_RETENTION_S) == 3
    assert [p.phase for p in store.pairings("a")] == [Phase.WAITING]
    store.close()
