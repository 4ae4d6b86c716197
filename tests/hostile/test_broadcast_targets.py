"""Issue 12 item 4: a ``pair.request`` without ``to`` asks few, recently seen devices.

The provider posts 40 validly self-signed fake announcements (some fresh, some a week
old); the broadcast asks at most 4 devices and never a stale one.
"""

from __future__ import annotations

import os
import time

from tests.contract.test_pairing import call, joined
from tests.imap_inspect import connect

DAY = 24 * 3600


def fake_announcement(email: str, last_seen: int) -> bytes:
    from sma_host.protocol import announce, crypto, envelope

    identity = crypto.Identity.generate()
    muaa_id = os.urandom(8).hex()
    ann = announce.Announcement(
        muaa_id, "Fake", email, last_seen, last_seen, identity.sign_public, identity.dh_public
    )
    return envelope.build_message(
        sma_type=announce.SMA_TYPE,
        sender=muaa_id,
        body=announce.encode(ann, identity),
        address=email,
        now=last_seen,
        unique=muaa_id,
    )


def test_a_broadcast_asks_few_recent_devices(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    new, _ = joined(spawn_host, account, "laptop")
    now = int(time.time())
    with connect(account.server, account.user) as client:
        for n in range(40):
            seen = now - 7 * DAY if n % 2 else now - n
            client.append("_Autocrypt_SMA", fake_announcement(account.email, seen))
    stale = {
        m["muaa_id"] for m in call(new, "sma.status")["muaas"] if m["last_seen"] < now - 6 * DAY
    }
    assert len(stale) == 20
    started = time.monotonic()
    request = call(new, "pair.request")
    print(f"pair.request with 40 fakes: {time.monotonic() - started:.2f} s")
    assert 1 <= len(request["to"]) <= 4
    assert not stale & set(request["to"])
