"""A real Dovecot restart (killed, then started again on the same ports with the same
mail) while hosts work: what was queued meanwhile arrives by itself, once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.conftest import Account
from tests.contract.test_keys import call, device, entry, pair
from tests.reliability.helpers import addrs_of, assert_converged, pair_with_syncing, wait_until


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    """A server of the test's own: it goes down and up again."""
    with DovecotServer([ImapUser("alice", "alice-pw")]) as running:
        yield running


def test_a_restart_during_a_stream_of_puts_delivers_everything_once(spawn_host, server) -> None:  # type: ignore[no-untyped-def]
    account = Account(server)
    a, a_id = device(spawn_host, account, "a")
    b, _b_id = device(spawn_host, account, "b")
    pair(b, a, a_id)
    put: set[str] = set()
    for i in range(30):  # one put every 0.5 s; the server is away from the 6th to the 10th
        if i == 5:
            server.down()
        if i == 10:
            server.up()
            back = time.monotonic()
            during = set(put)
        addr = f"p{i:03}@example.net"
        call(a, "keys.put", peers=[entry(addr, 1000 + i, i.to_bytes(2, "big") * 16)])
        put.add(addr)
        time.sleep(0.5)
    # The bound: drained within 10 s of the first successful reconnect.
    assert during <= addrs_of(b) or wait_until(
        lambda: during <= addrs_of(b), 15 - (time.monotonic() - back), "queued puts delivered"
    )
    wait_until(lambda: addrs_of(b) == put, 15, "every put delivered")
    assert_converged(account, a, b, put)


@pytest.mark.parametrize("push", [True, False], ids=["push-on", "push-off"])
def test_a_put_during_an_outage_arrives_after_it_without_another_call(
    spawn_host, server, push
) -> None:  # type: ignore[no-untyped-def]
    """Push on for A: its watcher's reconnect sends it. Push off for A: the outbox's own
    retries do. B has push on in both."""
    account = Account(server)
    a, a_id = device(spawn_host, account, "a", push=push)
    b, b_id = device(spawn_host, account, "b")
    if push:
        pair(b, a, a_id)
    else:
        pair_with_syncing(a, a_id, b)
    server.down()
    put = call(a, "keys.put", peers=[entry("late@example.net", 7, b"L" * 32)])
    assert put["queued_to"] == [b_id]
    time.sleep(2)  # an outage of a few seconds, as in the issue
    server.up()
    # The documented bound is 65 s (§15.2); after so short an outage the backoffs are
    # still a few seconds, so 45 s is generous. Before the fix it never came.
    wait_until(lambda: addrs_of(b) == {"late@example.net"}, 45, "the put made during the outage")
    assert_converged(account, a, b, {"late@example.net"})
