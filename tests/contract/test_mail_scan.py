"""``mail.scan`` on a real Dovecot through real host processes: real messages APPENDed to
the account's INBOX, Autocrypt Level 1 applied rule by rule, the result replicated to the
paired devices by push, and the scan incremental by UID."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from devtools.host_process import HostProcess
from tests.contract.test_keys import call, device, keyring, pair
from tests.imap_inspect import connect
from tests.pgp_keys import public_keydata

BOB = "bob@example.org"
HOUR = timedelta(hours=1)


def at(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(microsecond=0)


def header(label: str = "bob", addr: str = BOB, extra: str = "", keydata: str | None = None) -> str:
    """An Autocrypt header value, keydata folded in 76-character lines as in real mail."""
    data = keydata if keydata is not None else base64.b64encode(public_keydata(label)).decode()
    folded = "\r\n ".join(data[i : i + 76] for i in range(0, len(data), 76))
    return f"addr={addr}; prefer-encrypt=mutual;{extra} keydata=\r\n {folded}"


def mail(
    sent: datetime, autocrypt: tuple[str, ...] = (), sender: str = f"Bob <{BOB}>", n: int = 0
) -> bytes:
    lines = [f"From: {sender}", "To: me@example.org", f"Subject: hello {n}"]
    lines += [f"Date: {format_datetime(sent)}", f"Message-ID: <m{n}.{sent.timestamp()}@x>"]
    lines += [f"Autocrypt: {value}" for value in autocrypt]
    return ("\r\n".join(lines) + "\r\n\r\nBody.\r\n").encode()


def deliver(account, *raws: bytes, received: datetime | None = None, folder: str = "INBOX") -> None:  # type: ignore[no-untyped-def]
    with connect(account.server, account.user) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in raws:
            client.append(folder, raw, msg_time=received)


def entry_of(host: HostProcess, addr: str = BOB) -> dict[str, Any] | None:
    peers = call(host, "keys.list", addr=addr)["peers"]
    return peers[0] if peers else None


def keydata(label: str) -> str:
    return base64.b64encode(public_keydata(label)).decode()


def test_a_scanned_key_reaches_the_paired_device_by_push(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = device(spawn_host, account, "a")
    b, _ = device(spawn_host, account, "b")
    pair(b, a, a_id)
    sent = at(-HOUR)
    deliver(account, mail(sent, (header(),)), mail(sent, sender="Carol <carol@example.org>", n=1))
    result = call(a, "mail.scan")
    assert result == {"scanned": 2, "updated": [BOB]}
    note = b.wait_notification("keys.changed", lambda p: BOB in p["addrs"], timeout=10)
    assert note["account"] == "acct1"
    expected = {
        "addr": BOB,
        "keydata": keydata("bob"),
        "prefer_encrypt": "mutual",
        "autocrypt_timestamp": int(sent.timestamp()),
        "last_seen": int(sent.timestamp()),
    }
    assert keyring(a) == keyring(b) == [expected]
    # Incremental: nothing new, nothing read again.
    assert call(a, "mail.scan") == {"scanned": 0, "updated": []}


@pytest.mark.parametrize(
    ("case", "values", "sender"),
    [
        ("addr is not the From address", (header(addr="mallory@example.org"),), None),
        ("two valid headers", (header(), header("bob-2")), None),
        ("type=2", (header(extra=" type=2;"),), None),
        ("unknown critical attribute", (header(extra=" critical=yes;"),), None),
        (
            "keydata is not OpenPGP",
            (header(keydata=base64.b64encode(b"hello world!").decode()),),
            None,
        ),
        ("keydata over 64 KiB", (header(keydata="QUFB" * 17_000),), None),
        ("two From addresses", (header(),), f"{BOB}, eve@example.org"),
    ],
)
def test_a_header_that_level_1_refuses_stores_nothing(
    spawn_host, account, case: str, values: tuple[str, ...], sender: str | None
) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    raw = mail(at(-HOUR), values, **({"sender": sender} if sender else {}))
    deliver(account, raw)
    assert call(host, "mail.scan") == {"scanned": 1, "updated": []}, case
    assert keyring(host) == [], case


def test_an_unknown_attribute_with_underscore_is_ignored(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    deliver(account, mail(at(-HOUR), (header(extra=" _comment=hi;"),)))
    assert call(host, "mail.scan")["updated"] == [BOB]


def test_level_1_over_a_sequence_of_messages(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    t1 = at(-10 * HOUR)
    deliver(account, mail(t1, (header("bob-1"),)))
    assert call(host, "mail.scan")["updated"] == [BOB]
    first = entry_of(host)
    assert first is not None and first["keydata"] == keydata("bob-1")

    # A message without a header, sent later: last_seen only.
    t2 = at(-8 * HOUR)
    deliver(account, mail(t2, n=2))
    assert call(host, "mail.scan") == {"scanned": 1, "updated": [BOB]}
    second = entry_of(host)
    assert second == {**first, "last_seen": int(t2.timestamp())}

    # An older message with another key changes nothing.
    deliver(account, mail(at(-20 * HOUR), (header("bob-old"),), n=3))
    assert call(host, "mail.scan") == {"scanned": 1, "updated": []}
    assert entry_of(host) == second

    # A newer one replaces the key.
    t4 = at(-2 * HOUR)
    deliver(account, mail(t4, (header("bob-new"),), n=4))
    assert call(host, "mail.scan")["updated"] == [BOB]
    fourth = entry_of(host)
    assert fourth is not None and fourth["keydata"] == keydata("bob-new")
    assert fourth["autocrypt_timestamp"] == fourth["last_seen"] == int(t4.timestamp())

    # A date in the future is clamped to the receipt: it cannot pin the key.
    before = int(datetime.now(UTC).timestamp())
    deliver(account, mail(at(timedelta(days=30)), (header("bob-future"),), n=5))
    assert call(host, "mail.scan")["updated"] == [BOB]
    fifth = entry_of(host)
    assert fifth is not None and fifth["keydata"] == keydata("bob-future")
    after = int(datetime.now(UTC).timestamp())
    assert before - 2 <= fifth["autocrypt_timestamp"] <= after
    # ... so a genuine message sent after that arrival still wins over it.
    while int(datetime.now(UTC).timestamp()) <= fifth["autocrypt_timestamp"]:
        call(host, "keys.list", addr=BOB)  # whole seconds: wait for the next one
    deliver(account, mail(at(timedelta(0)), (header("bob-later"),), n=6))
    assert call(host, "mail.scan")["updated"] == [BOB]
    sixth = entry_of(host)
    assert sixth is not None and sixth["keydata"] == keydata("bob-later")


def test_the_first_scan_reads_90_days_and_never_junk(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    old = at(timedelta(days=-120))
    deliver(account, mail(old, (header("ancient"),)), received=old)
    deliver(account, mail(at(-HOUR), (header(),), sender="Bob <bob@example.org>", n=1))
    deliver(
        account,
        mail(at(-HOUR), (header("junk", "junk@example.org"),), "Junk <junk@example.org>", 2),
        folder="Junk",
    )
    assert call(host, "mail.scan") == {"scanned": 1, "updated": [BOB]}
    assert [e["addr"] for e in keyring(host)] == [BOB]


def warm(host) -> None:  # type: ignore[no-untyped-def]
    """A call just before a count: a command connection closed for being idle 30 s (a
    slow, loaded run) is opened again here, not inside the counted call."""
    call(host, "sma.status")


def test_a_scan_costs_the_same_commands_whatever_the_mail_and_the_devices(
    spawn_host, account, dovecot
) -> None:  # type: ignore[no-untyped-def]
    from devtools.imap_proxy import ImapProxy
    from tests.contract.test_delivery import through
    from tests.contract.test_pairing import joined
    from tests.contract.test_pairing import pair as pair_by_sync

    with ImapProxy(dovecot.host, dovecot.port) as proxy:
        a = spawn_host("a", env={"SMA_HOST_PUSH": "off"})
        a.call("account.configure", through(proxy, account, "a"))
        a_id = call(a, "sma.join")["muaa_id"]
        deliver(account, *(mail(at(-HOUR), (header(),), n=i) for i in range(3)))
        warm(a)
        proxy.reset()
        call(a, "mail.scan")
        first = proxy.commands()
        assert [c for c in first if c != "APPEND"] == [
            "EXAMINE",
            "UID SEARCH",
            "UID FETCH",
            "UNSELECT",
        ]

        def incremental(count: int, start: int) -> list[str]:
            raws = [mail(at(-HOUR), (header(f"k{start + i}", f"p{start + i}@x.org"),),
                         f"<p{start + i}@x.org>", start + i) for i in range(count)]  # fmt: skip
            deliver(account, *raws)
            warm(a)
            proxy.reset()
            assert len(call(a, "mail.scan")["updated"]) == count
            return proxy.commands()

        alone = incremental(3, 10)
        for name in ("b", "c"):
            other, _ = joined(spawn_host, account, name)
            pair_by_sync(other, a, a_id)
        grouped = incremental(300, 100)
        assert [c for c in alone if c != "APPEND"] == ["EXAMINE", "UID FETCH", "UNSELECT"]
        assert [c for c in grouped if c != "APPEND"] == [c for c in alone if c != "APPEND"]
        # The replication is the key-update path: one APPEND per paired device.
        assert grouped.count("APPEND") == 2 and alone.count("APPEND") == 0


def test_the_daily_heartbeat_scans_and_tells_keys_changed(account, tmp_dir) -> None:  # type: ignore[no-untyped-def]
    """In process, with the host's clock in the test's hand: a day later, a sync runs the
    heartbeat, which scans INBOX by itself."""
    import time

    from sma_host.native.schemas import validate_notification
    from sma_host.service import Host
    from sma_host.store import Store

    clock = [time.time()]
    told: list[tuple[str, dict[str, Any]]] = []
    store = Store(tmp_dir / "heartbeat")
    host = Host(store, lambda name, params: told.append((name, params)), clock=lambda: clock[0])
    try:
        host.call("account.configure", account.configure_params("acct1"))
        host.call("sma.join", {"account": "acct1"})
        deliver(account, mail(at(-HOUR), (header(),)))
        host.call("sma.sync", {"account": "acct1"})
        assert store.keyring("acct1") == {}  # not a day yet: no scan
        clock[0] += 25 * 3600
        host.call("sma.sync", {"account": "acct1"})
        assert list(store.keyring("acct1")) == [BOB]
        assert ("keys.changed", {"account": "acct1", "addrs": [BOB]}) in told
        for name, params in told:
            assert validate_notification(name, params) == []
    finally:
        host.close()
        store.close()
