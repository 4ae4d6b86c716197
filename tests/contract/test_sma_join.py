"""``sma.join`` and ``sma.status`` on a real Dovecot, through the host's stdio interface.

What the host says is checked against what the server really holds (``imap_inspect``):
folder names and subscriptions, the announcement messages byte for byte, and that
nothing lands in INBOX.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from devtools.dovecot import DovecotServer, drop_into_maildir, maildir_folder
from devtools.host_process import HostProcess, RpcError
from sma_host.native.schemas import validate_result
from sma_host.protocol import announce, envelope
from sma_host.protocol.crypto import Identity
from tests import imap_inspect
from tests.conftest import Account

Spawn = Callable[..., HostProcess]
MUAA_ID = re.compile(r"[0-9a-f]{16}")
ONE_MIB = 1024 * 1024


def checked(host: HostProcess, method: str, params: dict[str, Any], timeout: float = 30) -> Any:
    """Call ``method``; the result must match its schema."""
    result = host.call(method, params, timeout=timeout)
    assert validate_result(method, result) == []
    return result


def joined_host(spawn: Spawn, account: Account, device: str, name: str) -> tuple[HostProcess, str]:
    host = spawn(device)
    checked(host, "account.configure", account.configure_params(device_name=name))
    return host, checked(host, "sma.join", {"account": "acct1"})["muaa_id"]


def listed(status: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """muaa_id → (name, self) of a status page; every id at most once."""
    ids = [m["muaa_id"] for m in status["muaas"]]
    assert len(ids) == len(set(ids)), "a MUAA listed twice"
    return {m["muaa_id"]: (m["name"], m["self"]) for m in status["muaas"]}


def snapshot(account: Account) -> tuple[list[str], dict[str, dict[int, bytes]]]:
    """All folders and every message in them (UID → bytes): 'nothing changed' is equality."""
    with imap_inspect.connect(account.server, account.user) as client:
        names = imap_inspect.folders(client)
        return names, {name: imap_inspect.messages(client, name) for name in names}


def fake_announcement(
    email: str,
    muaa_id: str,
    name: str,
    *,
    signer: Identity | None = None,
    last_seen: int | None = None,
    addr: str | None = None,
    padding: int = 0,
) -> bytes:
    """A complete announcement message of another device, as a real host would write it.

    ``signer`` defaults to the device's own fresh key; ``padding`` adds that many bytes
    of harmless extra headers.
    """
    identity = signer or Identity.generate()
    now = int(time.time())
    ann = announce.Announcement(
        muaa_id=muaa_id,
        name=name,
        addr=addr or email,
        created=now - 3600,
        last_seen=now if last_seen is None else last_seen,
        sign_key=identity.sign_public,
        dh_key=identity.dh_public,
    )
    raw = envelope.build_message(
        sma_type=announce.SMA_TYPE,
        sender=muaa_id,
        body=announce.encode(ann, identity),
        address=email,
        now=now,
        unique=muaa_id[:8],
    )
    if padding:
        line = b"X-Padding: " + b"p" * 900 + b"\r\n"
        raw = line * (padding // len(line) + 1) + raw
    return raw


def decodable(raws: Iterable[bytes], email: str) -> list[announce.Announcement]:
    """The messages that are valid announcements for ``email``."""
    found = []
    for raw in raws:
        try:
            found.append(announce.decode(envelope.parse_message(raw), email))
        except envelope.MalformedMessage:
            pass
    return found


# one device


def test_first_device_creates_the_sma(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    checked(host, "account.configure", account.configure_params(device_name="Laptop"))
    joined = checked(host, "sma.join", {"account": "acct1"})
    muaa_id = joined["muaa_id"]
    assert MUAA_ID.fullmatch(muaa_id)
    assert joined["created_sma"] is True
    inbox = f"_Autocrypt_SMA_{muaa_id}"
    assert joined.get("inbox", inbox) == inbox

    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.folders(client) == ["INBOX", "_Autocrypt_SMA", inbox]
        # Left unsubscribed, so mail clients do not show them.
        assert imap_inspect.subscribed(client) == []
        assert imap_inspect.message_count(client, "INBOX") == 0
        assert imap_inspect.message_count(client, inbox) == 0
        announcements = imap_inspect.messages(client, "_Autocrypt_SMA")

    (raw,) = announcements.values()
    assert imap_inspect.sma_headers(raw) == [f"v=1; type=announce; from={muaa_id}"]
    stored = announce.decode(envelope.parse_message(raw), account.email)
    assert (stored.muaa_id, stored.name) == (muaa_id, "Laptop")
    assert abs(stored.last_seen - time.time()) < 600

    status = checked(host, "sma.status", {"account": "acct1"})
    assert status["exists"] is True
    assert status["self"] == muaa_id
    assert listed(status) == {muaa_id: ("Laptop", True)}
    assert status["muaas"][0]["last_seen"] == stored.last_seen
    assert status.get("total", 1) == 1
    assert "next_offset" not in status


def test_join_is_idempotent(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    checked(host, "account.configure", account.configure_params())
    first = checked(host, "sma.join", {"account": "acct1"})
    before = snapshot(account)
    second = checked(host, "sma.join", {"account": "acct1"})
    assert second["muaa_id"] == first["muaa_id"]
    assert second["created_sma"] is False
    assert snapshot(account) == before  # no folder, no message, not even a replacement


def test_restart_with_the_same_data_dir_keeps_the_id(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host("device-a")
    checked(host, "account.configure", account.configure_params())
    muaa_id = checked(host, "sma.join", {"account": "acct1"})["muaa_id"]
    before = snapshot(account)
    assert host.close() == 0

    again = spawn_host("device-a")  # same data dir
    # The password lived in the old process only: the account must be configured again.
    with pytest.raises(RpcError) as caught:
        again.call("sma.join", {"account": "acct1"})
    assert caught.value.reason == "unknown_account"
    checked(again, "account.configure", account.configure_params())
    rejoined = checked(again, "sma.join", {"account": "acct1"})
    assert rejoined["muaa_id"] == muaa_id
    assert rejoined["created_sma"] is False
    assert snapshot(account) == before
    assert checked(again, "sma.status", {"account": "acct1"})["self"] == muaa_id


def test_a_second_host_on_the_account_and_the_first_see_each_other(
    spawn_host: Spawn, account: Account
) -> None:
    laptop, laptop_id = joined_host(spawn_host, account, "device-a", "Laptop")

    desktop = spawn_host("device-b")
    checked(desktop, "account.configure", account.configure_params(device_name="Desktop"))
    # Before joining, the second device already sees the first, and is not in the list.
    early = checked(desktop, "sma.status", {"account": "acct1"})
    assert (early["exists"], early["self"]) == (True, None)
    assert listed(early) == {laptop_id: ("Laptop", False)}

    joined = checked(desktop, "sma.join", {"account": "acct1"})
    desktop_id = joined["muaa_id"]
    assert joined["created_sma"] is False
    assert desktop_id != laptop_id

    for host, own, other in ((laptop, laptop_id, desktop_id), (desktop, desktop_id, laptop_id)):
        status = checked(host, "sma.status", {"account": "acct1"})
        assert status["self"] == own
        names = {laptop_id: "Laptop", desktop_id: "Desktop"}
        assert listed(status) == {own: (names[own], True), other: (names[other], False)}
        assert status["muaas"][0]["muaa_id"] == own  # own entry first

    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.folders(client) == sorted(
            [
                "INBOX",
                "_Autocrypt_SMA",
                f"_Autocrypt_SMA_{laptop_id}",
                f"_Autocrypt_SMA_{desktop_id}",
            ]
        )
        assert imap_inspect.subscribed(client) == []
        assert imap_inspect.message_count(client, "INBOX") == 0
        raws = imap_inspect.messages(client, "_Autocrypt_SMA").values()
        assert imap_inspect.sma_senders(raws) == sorted([laptop_id, desktop_id])


# the INBOX. namespace


@pytest.fixture
def inbox_prefix_account(dovecot_inbox_prefix: DovecotServer) -> Account:
    return Account(dovecot_inbox_prefix)


def test_inbox_prefix_namespace(spawn_host: Spawn, inbox_prefix_account: Account) -> None:
    account = inbox_prefix_account
    first = spawn_host("device-a")
    checked(first, "account.configure", account.configure_params(device_name="Laptop"))
    joined_a = checked(first, "sma.join", {"account": "acct1"})
    second = spawn_host("device-b")
    checked(second, "account.configure", account.configure_params(device_name="Desktop"))
    joined_b = checked(second, "sma.join", {"account": "acct1"})
    a, b = joined_a["muaa_id"], joined_b["muaa_id"]
    assert (joined_a["created_sma"], joined_b["created_sma"]) == (True, False)
    assert joined_a.get("inbox", f"INBOX._Autocrypt_SMA_{a}") == f"INBOX._Autocrypt_SMA_{a}"

    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.folders(client) == sorted(
            [
                "INBOX",
                "INBOX._Autocrypt_SMA",
                f"INBOX._Autocrypt_SMA_{a}",
                f"INBOX._Autocrypt_SMA_{b}",
            ]
        )
        assert imap_inspect.subscribed(client) == []
        assert imap_inspect.message_count(client, "INBOX") == 0
        raws = imap_inspect.messages(client, "INBOX._Autocrypt_SMA").values()
        assert imap_inspect.sma_senders(raws) == sorted([a, b])

    for host, own in ((first, a), (second, b)):
        status = checked(host, "sma.status", {"account": "acct1"})
        assert status["exists"] is True
        assert listed(status) == {
            a: ("Laptop", own == a),
            b: ("Desktop", own == b),
        }


# the join race


@pytest.mark.parametrize("round_", range(5))
def test_join_race(spawn_host: Spawn, account: Account, round_: int) -> None:
    hosts = [spawn_host(f"device-{i}") for i in range(4)]
    for i, host in enumerate(hosts):
        checked(host, "account.configure", account.configure_params(device_name=f"Device {i}"))
    # All requests out before any answer is read: the joins overlap on the server.
    for host in hosts:
        host.send(
            {"jsonrpc": "2.0", "id": "join", "method": "sma.join", "params": {"account": "acct1"}}
        )
    results = []
    for host in hosts:
        response = host.wait_response("join", timeout=60)
        assert "result" in response, response
        assert validate_result("sma.join", response["result"]) == []
        results.append(response["result"])

    ids = [r["muaa_id"] for r in results]
    assert len(set(ids)) == 4
    assert sorted(r["created_sma"] for r in results) == [False, False, False, True]

    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.folders(client) == sorted(
            ["INBOX", "_Autocrypt_SMA", *(f"_Autocrypt_SMA_{i}" for i in ids)]
        )
        raws = imap_inspect.messages(client, "_Autocrypt_SMA").values()
        assert imap_inspect.sma_senders(raws) == sorted(ids)  # exactly one each
        assert imap_inspect.message_count(client, "INBOX") == 0

    for i, host in enumerate(hosts):
        status = checked(host, "sma.status", {"account": "acct1"})
        assert status["self"] == ids[i]
        assert listed(status) == {muaa: (f"Device {j}", j == i) for j, muaa in enumerate(ids)}


# a hostile announcement folder


def test_hostile_announcement_folder(spawn_host: Spawn, account: Account) -> None:
    host, own_id = joined_host(spawn_host, account, "device-a", "Laptop")
    before = checked(host, "sma.status", {"account": "acct1"})
    own_entry = before["muaas"][0]
    assert own_entry["muaa_id"] == own_id
    email = account.email
    with imap_inspect.connect(account.server, account.user) as client:
        (own_raw,) = imap_inspect.messages(client, "_Autocrypt_SMA").values()
    own_key = announce.decode(envelope.parse_message(own_raw), email).sign_key
    valid_id, bad_sig_id, foreign_id, big_id = (
        "1111111111111111",
        "2222222222222222",
        "3333333333333333",
        "4444444444444444",
    )

    bad_sig = bytearray(fake_announcement(email, bad_sig_id, "Bad signature"))
    body_start = bad_sig.index(b"\r\n\r\n") + 4
    # Flip a bit deep inside the base64 body: the signature no longer matches.
    position = body_start + (len(bad_sig) - body_start) // 2
    bad_sig[position] = ord("A") if bad_sig[position] != ord("A") else ord("B")

    sma = f"Autocrypt-SMA: v=1; type=announce; from={own_id}"
    injected = [
        b"this is not a mail at all \xff\xfe\x01 just bytes\r\n",
        b"From: <x@example.org>\r\nSubject: ordinary mail\r\n\r\nhello\r\n",
        (sma + "\r\n\r\n!!! not base64 !!!\r\n").encode(),
        (sma + "\r\n\r\nW10=\r\n").encode(),  # base64 of "[]"
        (sma + "\r\n" + sma + "\r\n\r\ne30=\r\n").encode(),  # two headers
        bytes(bad_sig),
        # Claims to be this host, signed by someone else's key, and newer.
        fake_announcement(
            email,
            own_id,
            "Impostor",
            signer=Identity.generate(),
            last_seen=int(time.time()) + 10**6,
        ),
        # A valid device of another account (the server copied it here).
        fake_announcement(email, foreign_id, "Other account", addr="someone-else@example.org"),
        # Validly signed, but far larger than any announcement: never downloaded.
        fake_announcement(email, big_id, "Oversize", padding=2 * announce.MAX_MESSAGE_BYTES),
        fake_announcement(email, valid_id, "Valid fake"),
    ]
    with imap_inspect.connect(account.server, account.user) as client:
        for raw in injected:
            imap_inspect.append(client, "_Autocrypt_SMA", raw)
        assert imap_inspect.message_count(client, "_Autocrypt_SMA") == 1 + len(injected)

    status = checked(host, "sma.status", {"account": "acct1"})
    assert status["self"] == own_id
    assert listed(status) == {own_id: ("Laptop", True), valid_id: ("Valid fake", False)}
    assert status["muaas"][0] == own_entry  # own entry untouched (name, times, flag)
    assert host.process.poll() is None
    assert host.call("hello", {})["protocol"] == 1

    # Joining again neither trusts nor adopts the impostor: still one genuine announcement.
    assert checked(host, "sma.join", {"account": "acct1"})["muaa_id"] == own_id
    with imap_inspect.connect(account.server, account.user) as client:
        raws = imap_inspect.messages(client, "_Autocrypt_SMA").values()
    assert [a.name for a in decodable(raws, email) if a.sign_key == own_key] == ["Laptop"]
    again = checked(host, "sma.status", {"account": "acct1"})
    assert again["muaas"][0] == own_entry


# paging


def page_through(host: HostProcess) -> Iterator[dict[str, Any]]:
    offset: int | None = 0
    while offset is not None:
        params: dict[str, Any] = {"account": "acct1"}
        if offset:
            params["offset"] = offset
        page = checked(host, "sma.status", params, timeout=120)
        yield page
        next_offset = page.get("next_offset")
        assert next_offset is None or next_offset > offset
        offset = next_offset


def test_status_pages_a_list_larger_than_one_frame(spawn_host: Spawn, account: Account) -> None:
    host, own_id = joined_host(spawn_host, account, "device-a", "Laptop")
    # 64 characters, mostly four bytes each in UTF-8: about 330 bytes per listed device.
    fakes = {f"f{i:015x}": f"{i:05d} " + "📱" * 55 + "end" for i in range(3600)}
    assert all(len(name) == announce.MAX_NAME_CHARS for name in fakes.values())
    folder = maildir_folder(account.server, account.user, "_Autocrypt_SMA")
    written = drop_into_maildir(
        folder, (fake_announcement(account.email, m, n) for m, n in fakes.items())
    )
    assert written == len(fakes)
    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.message_count(client, "_Autocrypt_SMA") == 1 + len(fakes)

    pages = list(page_through(host))
    assert len(pages) >= 2
    first = pages[0]
    assert "next_offset" in first
    wire = json.dumps({"jsonrpc": "2.0", "id": 1, "result": first}, ensure_ascii=False)
    assert len(wire.encode()) < ONE_MIB

    everything = [m for page in pages for m in page["muaas"]]
    whole_list = json.dumps(everything, ensure_ascii=False, separators=(",", ":"))
    assert len(whole_list.encode()) > ONE_MIB  # the test really needs paging
    ids = [m["muaa_id"] for m in everything]
    assert len(ids) == len(set(ids)), "a device listed twice"
    assert set(ids) == {own_id, *fakes}
    assert {m["muaa_id"]: m["name"] for m in everything} == {own_id: "Laptop", **fakes}
    assert [m["muaa_id"] for m in everything if m["self"]] == [own_id]
    for page in pages:
        assert page["self"] == own_id
        assert page["total"] == len(ids)
