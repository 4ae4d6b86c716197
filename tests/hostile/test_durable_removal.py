"""Issue 12 item 1: a removal the provider cannot undo by dropping and re-creating.

Devices A, B and X are paired; the user removes X on A. The provider drops what A put
into B's inbox, deletes A's announcement (the signed removal record) and re-creates X's
inbox. A resends the ``member-remove`` (at a sync once an hour has passed, simulated here
in A's database) until B confirms; from then on B
refuses X's key updates and X's ``member-add``. A missing inbox alone never makes a
device believe it was removed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from devtools.host_process import HostProcess
from tests.contract.test_keys import entry
from tests.contract.test_pairing import call, joined, pair
from tests.imap_inspect import connect


def paired_member(spawn_host, account, name: str, existing: HostProcess, existing_id: str):  # type: ignore[no-untyped-def]
    host, muaa_id = joined(spawn_host, account, name)
    pair(host, existing, existing_id)
    return host, muaa_id


def clear(account: Any, folder: str) -> None:
    with connect(account.server, account.user) as client:
        client.select_folder(folder)
        client.delete_messages(client.search("ALL"))
        client.expunge()


def inbox_count(account: Any, muaa_id: str) -> int:
    with connect(account.server, account.user) as client:
        return int(client.folder_status(f"_Autocrypt_SMA_{muaa_id}", ["MESSAGES"])[b"MESSAGES"])


def resend_window_passes(host: HostProcess) -> None:
    """As if REMOVAL_RESEND_S had passed since the last send (the host's clock is real)."""
    with sqlite3.connect(host.data_dir / "sma-host.sqlite3") as db:
        db.execute("UPDATE removal_wait SET sent_at = 0")


def peers(host: HostProcess) -> set[str]:
    return {m["muaa_id"] for m in call(host, "sma.status")["muaas"] if m["paired"]}


def test_a_dropped_removal_is_resent_and_x_stays_out(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, b_id = paired_member(spawn_host, account, "b", a, a_id)
    x, x_id = paired_member(spawn_host, account, "x", a, a_id)
    call(b, "sma.sync")  # B learns X from A's member-add
    assert x_id in peers(b)

    removed = call(a, "device.remove", muaa_id=x_id)
    assert removed["told"] == [b_id] and removed["waiting"] == [b_id]
    # The provider: drops the member-remove and the record, brings X's inbox back.
    clear(account, f"_Autocrypt_SMA_{b_id}")
    with connect(account.server, account.user) as client:
        client.select_folder("_Autocrypt_SMA")
        mine = [
            uid
            for uid, raw in client.fetch(client.search("ALL"), ["BODY.PEEK[]"]).items()
            if f"from={a_id}".encode() in raw[b"BODY[]"]
        ]
        client.delete_messages(mine)
        client.expunge()
        client.create_folder(f"_Autocrypt_SMA_{x_id}")

    call(x, "sma.join")  # X's announcement is posted again
    call(a, "sma.sync")  # too early: nothing is resent yet
    assert inbox_count(account, b_id) == 0
    resend_window_passes(a)
    call(a, "sma.sync")  # the member-remove goes again
    # X, unaware, sends a key update and vouches for a new device T.
    call(x, "keys.put", peers=[entry("mallory@example.net", 1, b"m" * 32)])
    t, t_id = paired_member(spawn_host, account, "t", x, x_id)
    assert t_id in peers(x)

    call(b, "sma.sync")
    assert x_id not in peers(b) and t_id not in peers(b)
    assert call(b, "keys.list", addr="mallory@example.net")["peers"] == []
    # B's own updates no longer go to X.
    assert call(b, "keys.put", peers=[entry("bob@example.net", 1, b"b" * 32)])["queued_to"] == [
        a_id
    ]
    call(a, "sma.sync")  # B's confirmation arrives
    again = call(a, "device.remove", muaa_id=x_id)
    assert again["confirmed"] == [b_id] and again["waiting"] == []


def test_the_record_alone_keeps_x_out(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, b_id = paired_member(spawn_host, account, "b", a, a_id)
    x, x_id = paired_member(spawn_host, account, "x", a, a_id)
    call(b, "sma.sync")
    call(a, "device.remove", muaa_id=x_id)
    clear(account, f"_Autocrypt_SMA_{b_id}")  # the member-remove never arrives
    with connect(account.server, account.user) as client:
        client.create_folder(f"_Autocrypt_SMA_{x_id}")
    call(x, "keys.put", peers=[entry("mallory@example.net", 1, b"m" * 32)])
    call(b, "sma.sync")  # reads A's signed record in _Autocrypt_SMA
    assert x_id not in peers(b)
    assert call(b, "keys.list", addr="mallory@example.net")["peers"] == []
    # X itself concludes it was removed from the same record.
    assert call(x, "sma.sync")["removed"] is True


def test_a_missing_inbox_alone_does_not_remove_a_device(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, b_id = paired_member(spawn_host, account, "b", a, a_id)
    with connect(account.server, account.user) as client:
        client.delete_folder(f"_Autocrypt_SMA_{b_id}")  # STATUS fails, LIST misses it
    assert call(b, "sma.sync")["removed"] is False
    assert call(b, "sma.status")["removed"] is False
    with connect(account.server, account.user) as client:
        assert client.folder_exists(f"_Autocrypt_SMA_{b_id}")  # made again
    call(a, "keys.put", peers=[entry("erin@example.net", 1, b"e" * 32)])
    call(b, "sma.sync")
    assert call(b, "keys.list", addr="erin@example.net")["peers"] != []
