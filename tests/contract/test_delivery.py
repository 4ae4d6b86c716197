"""Delivery guarantees measured from outside: IMAP commands counted by a proxy between the
host and Dovecot, and a crash injected exactly between APPEND and the outbox update."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy
from tests.contract.test_keys import ACCOUNT, call, entry, inbox_counts, keyring

OFF = {"SMA_HOST_PUSH": "off"}


@pytest.fixture
def proxy(dovecot) -> Iterator[ImapProxy]:  # type: ignore[no-untyped-def]
    with ImapProxy(dovecot.host, dovecot.port) as running:
        yield running


def through(proxy: ImapProxy, account, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """configure params that send this device's IMAP through the proxy (plaintext on loopback)."""
    return account.configure_params(
        ACCOUNT, device_name=name, host=proxy.host, port=proxy.port, security="none"
    )


def paired_pair(
    spawn_host, account, a_params, b_params
) -> tuple[HostProcess, str, HostProcess, str]:  # type: ignore[no-untyped-def]
    a = spawn_host(f"{account.user.name}-a", env=OFF)
    b = spawn_host(f"{account.user.name}-b", env=OFF)
    a.call("account.configure", a_params)
    b.call("account.configure", b_params)
    a_id = call(a, "sma.join")["muaa_id"]
    b_id = call(b, "sma.join")["muaa_id"]
    request = call(b, "pair.request", to=a_id)
    call(a, "sma.sync")
    call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    call(b, "sma.sync")
    call(a, "sma.sync")
    return a, a_id, b, b_id


def sync_commands(spawn_host, account, proxy: ImapProxy, updates: int) -> list[str]:  # type: ignore[no-untyped-def]
    """B goes offline, A sends ``updates`` separate keys.put, B comes back and syncs once."""
    a, _, b, b_id = paired_pair(
        spawn_host,
        account,
        account.configure_params(ACCOUNT, device_name="a"),
        through(proxy, account, "b"),
    )
    assert b.close() == 0
    for i in range(updates):
        put = call(
            a, "keys.put", peers=[entry(f"p{i:05}@example.net", i + 1, i.to_bytes(4, "big") * 8)]
        )
        assert put["queued_to"] == [b_id]
    assert inbox_counts(account)[f"_Autocrypt_SMA_{b_id}"] == updates
    b = spawn_host(f"{account.user.name}-b", env=OFF)
    b.call("account.configure", through(proxy, account, "b"))
    proxy.reset()
    summary = call(b, "sma.sync")
    commands = proxy.commands()
    assert summary["processed"] == updates and summary["keys_changed"] == updates
    assert len(keyring(b)) == updates
    assert inbox_counts(account)[f"_Autocrypt_SMA_{b_id}"] == 0  # nothing processed stays
    proxy.reset()
    call(b, "sma.sync")
    assert len(proxy.commands()) <= 2, proxy.commands()  # nothing new: at most 2 commands
    # Closed now: the proxy is shared with the next count, which B's idle close (a LOGOUT
    # 30 s later) would otherwise land in.
    assert b.close() == 0 and a.close() == 0
    return commands


def test_sync_commands_do_not_grow_with_the_number_of_messages(
    spawn_host, account, proxy, dovecot
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import Account

    few = sync_commands(spawn_host, account, proxy, 10)
    many = sync_commands(spawn_host, Account(dovecot), proxy, 1000)
    assert many == few, (few, many)
    print("commands of one sync:", many)
    assert len(many) <= 10


def test_crash_between_append_and_outbox_update_applies_exactly_once(
    spawn_host, account, proxy
) -> None:  # type: ignore[no-untyped-def]
    a, _, b, _ = paired_pair(
        spawn_host,
        account,
        through(proxy, account, "a"),
        account.configure_params(ACCOUNT, device_name="b"),
    )
    held = proxy.hold_response_to("APPEND")
    update = entry("zoe@example.net", 42, b"z" * 32)
    a.send(
        {
            "jsonrpc": "2.0",
            "id": "put",
            "method": "keys.put",
            "params": {"account": ACCOUNT, "peers": [update]},
        }
    )
    assert held.replied.wait(30), "the APPEND never reached the server"
    a.kill()  # kill -9: the server has the message, the outbox still lists it
    a.process.wait(10)
    proxy.cut_held()

    a = spawn_host(f"{account.user.name}-a", env=OFF)  # same data dir: the outbox survived
    a.call("account.configure", through(proxy, account, "a"))
    assert call(a, "sma.sync")["sent"] == 1  # sent again
    summary = call(b, "sma.sync")
    assert summary["processed"] == 1 and summary["dropped"] == 1  # the duplicate
    assert summary["keys_changed"] == 1
    assert keyring(b) == [update]
    notes = [n for n in b.notifications if n["method"] == "keys.changed"]
    assert [n["params"]["addrs"] for n in notes] == [["zoe@example.net"]]
    assert set(inbox_counts(account).values()) - {2} == {0}  # inboxes empty, 2 announcements


def test_oversize_messages_are_deleted_unread(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    from tests.imap_inspect import connect

    a, a_id, b, b_id = paired_pair(
        spawn_host,
        account,
        account.configure_params(ACCOUNT, device_name="a"),
        through(proxy, account, "b"),
    )
    huge = (
        b"Autocrypt-SMA: v=1; type=key-update; from="
        + a_id.encode()
        + b"\r\n\r\n"
        + base64.b64encode(b"x" * (2 << 20))
    )
    with connect(account.server, account.user) as client:
        client.append(f"_Autocrypt_SMA_{b_id}", huge)
    proxy.reset()
    summary = call(b, "sma.sync")
    assert summary["dropped"] == 1 and summary["processed"] == 0
    assert inbox_counts(account)[f"_Autocrypt_SMA_{b_id}"] == 0
    # Sizes were asked for, the body never was: one FETCH of sizes, none of bodies.
    fetches = [c for c in proxy.commands() if c == "UID FETCH"]
    assert len(fetches) == 1


def test_push_survives_a_dropped_connection(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    from tests.contract.test_keys import pair

    a = spawn_host(f"{account.user.name}-a")
    b = spawn_host(f"{account.user.name}-b")
    a.call("account.configure", account.configure_params(ACCOUNT, device_name="a"))
    b.call("account.configure", through(proxy, account, "b"))  # B's IDLE goes through the proxy
    a_id = call(a, "sma.join")["muaa_id"]
    call(b, "sma.join")
    pair(b, a, a_id)
    proxy.cut_all()  # the network drops every connection B has
    call(a, "keys.put", peers=[entry("late@example.net", 3, b"l" * 32)])
    note = b.wait_notification(
        "keys.changed", lambda p: p["addrs"] == ["late@example.net"], timeout=30
    )
    assert note["account"] == ACCOUNT


def test_a_leave_that_fails_sends_no_goodbye_later(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    from devtools.host_process import RpcError

    a, a_id, b, b_id = paired_pair(
        spawn_host,
        account,
        account.configure_params(ACCOUNT, device_name="a"),
        through(proxy, account, "b"),
    )
    proxy.cut_all()  # B's connection is gone when it tries to say goodbye
    with pytest.raises(RpcError) as failed:
        call(b, "sma.leave")
    assert failed.value.reason == "connection_failed"
    assert call(b, "sma.status")["self"] == b_id  # still a member
    assert call(b, "sma.sync")["sent"] == 0  # and no goodbye left queued
    call(a, "sma.sync")
    assert b_id in {m["muaa_id"] for m in call(a, "sma.status")["muaas"] if m["paired"]}
    assert call(b, "sma.leave")["told"] == [a_id]
    call(a, "sma.sync")
    a.wait_notification("device.removed", lambda p: p["muaa_id"] == b_id, timeout=10)
