"""A server that goes silent without closing anything (a stalled process, or a network
that drops packets) is found out by the read timeout and left for a fresh connection."""

from __future__ import annotations

import time

from tests.contract.test_delivery import through
from tests.contract.test_keys import ACCOUNT, call, entry
from tests.reliability.helpers import addrs_of, assert_converged, pair_with_syncing, wait_until

STALL_S = 2  # SMA_HOST_STALL_S for the stalled host; the default is 30


def test_a_stalled_connection_is_replaced_and_the_put_delivered(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    env = {"SMA_HOST_PUSH": "off", "SMA_HOST_STALL_S": str(STALL_S)}
    a = spawn_host(f"{account.user.name}-a", env=env)
    b = spawn_host(f"{account.user.name}-b")
    a.call("account.configure", through(proxy, account, "a"))
    b.call("account.configure", account.configure_params(ACCOUNT, device_name="b"))
    a_id = call(a, "sma.join")["muaa_id"]
    call(b, "sma.join")
    pair_with_syncing(a, a_id, b)
    proxy.stall_all()  # A's connection goes silent; new connections still work
    started = time.monotonic()
    put = {"account": ACCOUNT, "peers": [entry("quiet@example.net", 3, b"q" * 32)]}
    a.call("keys.put", put, timeout=25)
    # One stall bound for the silent APPEND, then a fresh connection sends it.
    assert time.monotonic() - started < STALL_S + 10
    wait_until(lambda: addrs_of(b) == {"quiet@example.net"}, 20, "the put after the stall")
    assert_converged(account, a, b, {"quiet@example.net"})
