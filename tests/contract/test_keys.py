"""Remote key updates between paired devices, on a real Dovecot, through real host processes."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from devtools.host_process import HostProcess, RpcError
from sma_host.native.schemas import validate_result
from tests.imap_inspect import connect, folders, messages
from tests.pgp_keys import fingerprint_of, keydata_b64, public_keydata

ACCOUNT = "acct1"
GNUPG_KEY_CREATED = 1795956251


def call(host: HostProcess, method: str, **params: Any) -> Any:
    result = host.call(method, {"account": ACCOUNT, **params})
    assert validate_result(method, result) == [], (method, result)
    return result


def entry(
    addr: str, ts: int, key: object, seen: int | None = None, prefer: str = "mutual"
) -> dict[str, Any]:
    """An entry whose key is a real OpenPGP key made for the label ``key``."""
    return {
        "addr": addr,
        "keydata": keydata_b64(key),
        "prefer_encrypt": prefer,
        "autocrypt_timestamp": ts,
        "last_seen": seen if seen is not None else ts,
    }


def device(spawn_host, account, name: str, push: bool = True) -> tuple[HostProcess, str]:  # type: ignore[no-untyped-def]
    host = spawn_host(name, env={} if push else {"SMA_HOST_PUSH": "off"})
    host.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    return host, call(host, "sma.join")["muaa_id"]


def pair(new: HostProcess, existing: HostProcess, existing_id: str) -> None:
    """Pair through notifications only: push carries every step."""
    request = call(new, "pair.request", to=existing_id)
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    new.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])
    existing.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])


def keyring(host: HostProcess) -> list[dict[str, Any]]:
    """The whole keyring, each entry's fingerprint checked against its key and left out."""
    peers: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = call(host, "keys.list", offset=offset)
        peers += page["peers"]
        if "next_offset" not in page:
            break
        offset = page["next_offset"]
    for peer in peers:
        assert peer.pop("fingerprint") == fingerprint_of(peer["keydata"])
    return peers


def wait_keyring(host: HostProcess, expected: list[dict[str, Any]], timeout: float = 30.0) -> None:
    """Wait on keys.changed notifications until the keyring equals ``expected``."""
    deadline = time.monotonic() + timeout
    while keyring(host) != expected:
        left = deadline - time.monotonic()
        assert left > 0, "keyring did not converge"
        try:
            host.wait_notification("keys.changed", timeout=min(left, 5.0))
        except TimeoutError:
            pass


def inbox_counts(account) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with connect(account.server, account.user) as client:
        return {
            f: len(messages(client, f)) for f in folders(client) if f.startswith("_Autocrypt_SMA")
        }


@pytest.fixture
def trio(spawn_host, account):  # type: ignore[no-untyped-def]
    a, a_id = device(spawn_host, account, "a")
    b, b_id = device(spawn_host, account, "b")
    c, c_id = device(spawn_host, account, "c")
    pair(b, a, a_id)
    pair(c, b, b_id)
    a.wait_notification("device.paired", lambda p: p["muaa_id"] == c_id)
    return (a, a_id), (b, b_id), (c, c_id)


def test_put_of_200_entries_reaches_every_paired_device_by_push(trio, account) -> None:  # type: ignore[no-untyped-def]
    (a, _), (b, b_id), (c, c_id) = trio
    entries = [
        entry(f"peer{i:03}@example.net", 1000 + i, bytes([i % 256]) * 40) for i in range(200)
    ]
    put = call(a, "keys.put", peers=entries)
    assert put["stored"] == 200 and sorted(put["queued_to"]) == sorted([b_id, c_id])
    expected = keyring(a)
    assert len(expected) == 200
    for host in (b, c):  # neither ever calls sma.sync
        note = host.wait_notification("keys.changed", timeout=10)
        assert note["account"] == ACCOUNT and len(note["addrs"]) == 200
        assert keyring(host) == expected
    # Bounded archive: every inbox is empty again, one announcement per device.
    counts = inbox_counts(account)
    assert counts.pop("_Autocrypt_SMA") == 3
    assert set(counts.values()) == {0}


def test_push_latency_bound(trio) -> None:  # type: ignore[no-untyped-def]
    (a, _), (b, _), _ = trio
    started = time.monotonic()
    call(a, "keys.put", peers=[entry("bob@example.net", 5, b"k" * 32)])
    note = b.wait_notification("keys.changed", timeout=3.0)  # the bound: 3 s
    assert note["addrs"] == ["bob@example.net"]
    assert time.monotonic() - started < 3.0


def test_conflicting_puts_converge(trio) -> None:  # type: ignore[no-untyped-def]
    (a, _), (b, _), (c, _) = trio
    call(a, "keys.put", peers=[entry("carol@example.net", 100, b"A" * 32, seen=150)])
    call(
        b,
        "keys.put",
        peers=[entry("Carol@Example.net", 100, b"B" * 32, seen=120, prefer="nopreference")],
    )
    call(c, "keys.put", peers=[entry("carol@example.net", 90, b"C" * 32, seen=200)])
    # Same timestamp: the greater key bytes win; last_seen is the maximum.
    if public_keydata(b"B" * 32) > public_keydata(b"A" * 32):
        winner = [entry("carol@example.net", 100, b"B" * 32, seen=200, prefer="nopreference")]
    else:
        winner = [entry("carol@example.net", 100, b"A" * 32, seen=200)]
    for host in (a, b, c):
        wait_keyring(host, winner)


def test_updates_from_strangers_forgeries_tampering_and_replays_change_nothing(
    spawn_host, account
) -> None:  # type: ignore[no-untyped-def]
    from sma_host.protocol import channel, crypto, envelope

    a, a_id = device(spawn_host, account, "a", push=False)
    b, b_id = device(spawn_host, account, "b", push=False)
    request = call(b, "pair.request", to=a_id)
    call(a, "sma.sync")
    call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    call(b, "sma.sync")
    call(a, "sma.sync")
    call(a, "keys.put", peers=[entry("dave@example.net", 10, b"d" * 32)])
    with connect(account.server, account.user) as client:
        [genuine] = messages(client, f"_Autocrypt_SMA_{b_id}").values()
    assert call(b, "sma.sync")["keys_changed"] == 1
    before = keyring(b)

    stranger = crypto.Identity.generate()
    stranger_id = "00000000000000aa"
    evil = [entry("dave@example.net", 99, b"e" * 32)]

    def message(
        sender: str, identity: crypto.Identity, seq: int, body: bytes | None = None
    ) -> bytes:
        if body is None:
            peer_dh = crypto.Identity.generate().dh_public if sender == stranger_id else b""
            body = channel.seal(
                identity, sender, b_id, peer_dh, "key-update", seq, {"entries": evil}
            )
        return envelope.build_message(
            sma_type="key-update",
            sender=sender,
            body=body,
            address=account.email,
            now=1,
            unique=str(seq),
        )

    env = envelope.parse_message(genuine)
    tampered = bytearray(env.body)
    tampered[len(tampered) // 2] ^= 0x01
    injected = [
        message(stranger_id, stranger, 1),  # an unpaired device
        # Claims to be A, sealed with a key that is not A's.
        envelope.build_message(
            sma_type="key-update",
            sender=a_id,
            body=channel.seal(
                stranger,
                a_id,
                b_id,
                crypto.Identity.generate().dh_public,
                "key-update",
                77,
                {"entries": evil},
            ),
            address=account.email,
            now=1,
            unique="f",
        ),
        envelope.build_message(  # A's genuine message, one byte of its body flipped
            sma_type="key-update",
            sender=a_id,
            body=bytes(tampered),
            address=account.email,
            now=1,
            unique="t",
        ),
        genuine,  # a replay of what B already applied
    ]
    with connect(account.server, account.user) as client:
        for raw in injected:
            client.append(f"_Autocrypt_SMA_{b_id}", raw)
    summary = call(b, "sma.sync")
    assert summary["dropped"] == 4 and summary["keys_changed"] == 0
    assert keyring(b) == before
    assert inbox_counts(account)[f"_Autocrypt_SMA_{b_id}"] == 0
    assert b.call("hello")["protocol"] == 1


def test_keys_put_validation(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    for bad, path in (
        (
            {
                "addr": "x@y",
                "keydata": "!!",
                "prefer_encrypt": "mutual",
                "autocrypt_timestamp": 1,
                "last_seen": 1,
            },
            "$.peers[0]",
        ),
        (
            {
                "addr": "x@y",
                "keydata": "AAAA",
                "prefer_encrypt": "always",
                "autocrypt_timestamp": 1,
                "last_seen": 1,
            },
            "$.peers[0].prefer_encrypt",
        ),
        (
            {
                "addr": "x@y",
                "keydata": "AAAA",
                "prefer_encrypt": "mutual",
                "autocrypt_timestamp": 1,
                "last_seen": 1,
                "gossip_key": "AAAA",
            },
            "$.peers[0]",
        ),
    ):
        with pytest.raises(RpcError) as refused:
            call(host, "keys.put", peers=[bad])
        assert refused.value.reason == "invalid_params"
        assert refused.value.data["path"] == path
    assert keyring(host) == []


def test_keys_list_pages_under_the_frame_limit(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    big = [entry(f"p{i:05}@example.net", i + 1, i) for i in range(400)]
    for start in range(0, 400, 100):
        call(host, "keys.put", peers=big[start : start + 100])
    first = call(host, "keys.list")
    assert "next_offset" in first and first["total"] == 400
    everything = keyring(host)
    assert [e["addr"] for e in everything] == sorted(e["addr"] for e in big)
    listed = call(host, "keys.list", addr="P00007@example.net")["peers"]
    assert listed == [{**big[7], "fingerprint": fingerprint_of(big[7]["keydata"])}]


def test_device_remove_and_leave(trio, account) -> None:  # type: ignore[no-untyped-def]
    (a, a_id), (b, b_id), (c, c_id) = trio
    removed = call(a, "device.remove", muaa_id=b_id)
    assert removed["removed"] == b_id and set(removed["told"]) == {c_id}
    assert f"_Autocrypt_SMA_{b_id}" not in inbox_counts(account)
    c.wait_notification("device.removed", lambda p: p["muaa_id"] == b_id and not p["self"])
    assert b_id not in {m["muaa_id"] for m in call(c, "sma.status")["muaas"] if m["paired"]}
    # The removed device notices at its next sync (its watcher sees the inbox gone, too).
    assert call(b, "sma.sync")["removed"] is True
    b.wait_notification("device.removed", lambda p: p["self"])
    assert call(b, "sma.status")["removed"] is True
    # A key update no longer goes to B.
    assert call(a, "keys.put", peers=[entry("erin@example.net", 1, b"e" * 32)])["queued_to"] == [
        c_id
    ]

    left = call(c, "sma.leave")
    assert left == {"left": c_id, "told": [a_id]}
    a.wait_notification("device.removed", lambda p: p["muaa_id"] == c_id)
    counts = inbox_counts(account)
    assert f"_Autocrypt_SMA_{c_id}" not in counts
    assert counts["_Autocrypt_SMA"] == 1  # only A's announcement is left
    status = call(c, "sma.status")
    assert status["self"] is None
    assert [m["muaa_id"] for m in status["muaas"]] == [a_id]


def test_removed_device_learns_it_by_push(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    # Dovecot answers the deletion of the folder a watcher IDLEs on with a BYE; imapclient
    # then swallows the EOF, so the watcher must take the BYE as the end of the connection
    # (it used to spin on empty IDLE checks until the 10-minute renewal).
    a, a_id = device(spawn_host, account, "a")
    b, b_id = device(spawn_host, account, "b")
    pair(b, a, a_id)
    call(a, "device.remove", muaa_id=b_id)
    b.wait_notification("device.removed", lambda p: p["self"] and p["muaa_id"] == b_id, timeout=15)
    assert call(b, "sma.status")["removed"] is True


def test_expiry_with_a_short_policy(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = device(spawn_host, account, "a", push=False)
    b, b_id = device(spawn_host, account, "b", push=False)
    assert call(a, "sma.expire")["expired"] == []  # default policy: 90 days
    b_seen = next(m["last_seen"] for m in call(a, "sma.status")["muaas"] if m["muaa_id"] == b_id)
    while int(time.time()) <= b_seen:  # the policy compares whole seconds
        a.call("hello")
    assert call(a, "sma.expire", max_age_s=0)["expired"] == [b_id]
    assert [m["muaa_id"] for m in call(a, "sma.status")["muaas"]] == [a_id]
    assert f"_Autocrypt_SMA_{b_id}" not in inbox_counts(account)
    # A and B are not paired: A's expiry is no evidence B trusts (§14.3). B makes its
    # inbox again and stays.
    assert call(b, "sma.sync")["removed"] is False
    assert f"_Autocrypt_SMA_{b_id}" in inbox_counts(account)
    assert call(b, "sma.status")["removed"] is False


def test_a_sync_notices_changes_in_the_announcement_folder(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, _ = device(spawn_host, account, "a", push=False)
    call(a, "sma.sync")  # looks at the announcement folder once
    call(a, "sma.sync")
    assert not [n for n in a.notifications if n["method"] == "sma.changed"]
    device(spawn_host, account, "b", push=False)
    call(a, "sma.sync")
    assert a.wait_notification("sma.changed", timeout=5) == {"account": ACCOUNT, "muaas": 2}


def test_a_newly_paired_device_gets_the_keyring_and_brings_its_own(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = device(spawn_host, account, "a")
    b, _ = device(spawn_host, account, "b")
    call(a, "keys.put", peers=[entry("old@example.net", 7, b"o" * 32)])
    call(b, "keys.put", peers=[entry("mine@example.net", 8, b"m" * 32)])
    pair(b, a, a_id)
    both = sorted(
        [entry("old@example.net", 7, b"o" * 32), entry("mine@example.net", 8, b"m" * 32)],
        key=lambda e: e["addr"],
    )
    wait_keyring(a, both)
    wait_keyring(b, both)


def test_keys_put_takes_only_openpgp_public_keys(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    from pysequoia import Tsk

    from tests.pgp_keys import ACCOUNT_SECRET_KEY

    host, _ = device(spawn_host, account, "a", push=False)
    good = entry("good@example.net", 5, "good")
    secret_binary = base64.b64encode(bytes(Tsk.from_bytes(ACCOUNT_SECRET_KEY.encode()))).decode()
    for bad_keydata, why in (
        (base64.b64encode(b"hello world!").decode(), "does not parse"),
        (secret_binary, "secret key"),
        (base64.b64encode(ACCOUNT_SECRET_KEY.encode()).decode(), "not ASCII armor"),
        (base64.b64encode(public_keydata("cut")[:-40]).decode(), "does not parse"),
    ):
        bad = {**entry("bad@example.net", 6, "x"), "keydata": bad_keydata}
        with pytest.raises(RpcError) as refused:
            call(host, "keys.put", peers=[good, bad])
        assert refused.value.reason == "invalid_key"
        assert refused.value.data["path"] == "$.peers[1].keydata"
        assert "entry 1" in refused.value.error["message"] and why in refused.value.error["message"]
        assert "hello" not in refused.value.error["message"]
    gossip = {**good, "gossip_key": base64.b64encode(b"junk").decode(), "gossip_timestamp": 3}
    with pytest.raises(RpcError) as refused:
        call(host, "keys.put", peers=[gossip])
    assert refused.value.data["path"] == "$.peers[0].gossip_key"
    assert keyring(host) == []  # nothing of a refused call is kept
    assert call(host, "keys.put", peers=[good])["stored"] == 1
    [listed] = call(host, "keys.list")["peers"]
    assert listed["fingerprint"] == fingerprint_of(public_keydata("good"))


def test_a_hand_entered_key_is_dated_by_its_creation_not_now(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    from tests.pgp_keys import DATA

    host, _ = device(spawn_host, account, "a", push=False)
    gnupg = base64.b64encode((DATA / "gnupg-public-key.pgp").read_bytes()).decode()
    typed = {"addr": "Hand@Example.net", "keydata": gnupg, "prefer_encrypt": "mutual"}
    call(host, "keys.put", peers=[typed])
    [stored] = keyring(host)
    # GnuPG made the key at this time (tests/data/README.md): that, not now, dates the entry.
    assert stored["autocrypt_timestamp"] == stored["last_seen"] == GNUPG_KEY_CREATED
    # A genuine Autocrypt update dated after the key's creation wins over the typed entry.
    later = entry("hand@example.net", GNUPG_KEY_CREATED + 1, "hand-new")
    call(host, "keys.put", peers=[later])
    assert keyring(host) == [later]
