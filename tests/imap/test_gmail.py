"""Gmail semantics (``X-GM-EXT-1``): processed messages leave through ``\\Trash``, where
they are expunged, so nothing stays behind in All Mail. Dovecot stands in for Gmail,
advertising the capability and holding a ``\\Trash`` special-use folder; what a real Gmail
would add (labels, All Mail) is untested (docs/protocol.md §6.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from devtools.servers import GMAIL_LIKE_CONFIG
from sma_host.imap.mailbox import ImapSettings, Mailbox
from tests import imap_inspect
from tests.conftest import Account
from tests.contract.test_server_matrix import call, device, page_open, put_arrives


@pytest.fixture(scope="module")
def gmail_like() -> Iterator[DovecotServer]:
    with DovecotServer([ImapUser("alice", "alice-pw")], extra_config=GMAIL_LIKE_CONFIG) as server:
        yield server


def trash_status(account: Account) -> dict[bytes, Any]:
    with imap_inspect.connect(account.server, account.user) as client:
        assert "X-GM-EXT-1" in {c.decode() for c in client.capabilities()}
        status: dict[bytes, Any] = client.folder_status("Trash", ["MESSAGES", "UIDNEXT"])
        return status


def test_deleted_messages_go_through_the_trash(gmail_like: DovecotServer) -> None:
    account = Account(gmail_like)
    settings = ImapSettings(
        gmail_like.host,
        gmail_like.tls_port,
        "tls",
        account.user.name,
        account.user.password,
        ca_file=gmail_like.ca_file,
    )
    mailbox = Mailbox.connect(settings)
    try:
        folder = mailbox.namespace.inbox_folder("00000000000000e1")
        mailbox.create_folder(folder)
        uids = [
            mailbox.append(folder, f"Autocrypt-SMA: x={i}\r\n\r\nm{i}\r\n".encode())
            for i in range(3)
        ]
        mailbox.select(folder)
        mailbox.delete_messages([u for u in uids[:2] if u is not None])
        assert mailbox.status(folder)[0] == 1  # still selected: the next command works
        mailbox.unselect()
    finally:
        mailbox.close()
    status = trash_status(account)
    assert status[b"MESSAGES"] == 0  # expunged in the trash ...
    assert status[b"UIDNEXT"] == 3  # ... after both passed through it


def test_the_host_empties_inboxes_through_the_trash(spawn_host, gmail_like) -> None:  # type: ignore[no-untyped-def]
    account = Account(gmail_like)
    a, a_id = device(spawn_host, account, "a")
    b, _ = device(spawn_host, account, "b")
    request = call(b, "pair.request", to=a_id)
    a.wait_notification("pair.requested", timeout=15)
    call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    for host in (a, b):
        host.wait_notification("pair.completed", timeout=30)
    page_open(b)
    put_arrives(a, b, "gm@example.net", 5)
    # The pairing's three messages and the key update pass through the trash, which ends
    # empty (the key update is deleted right after keys.changed: wait for it).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = trash_status(account)
        if status[b"UIDNEXT"] >= 5 and status[b"MESSAGES"] == 0:
            break
        time.sleep(0.1)
    assert status[b"UIDNEXT"] == 5
    assert status[b"MESSAGES"] == 0
    with imap_inspect.connect(account.server, account.user) as client:
        for folder in imap_inspect.folders(client):
            if folder.startswith("_Autocrypt_SMA_"):
                assert imap_inspect.message_count(client, folder) == 0
