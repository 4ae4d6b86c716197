"""Failure 5: junk in the announcement folder is deleted at the heartbeat (here: a
repeated ``sma.join``, which refreshes the announcement the same way); a message of
another SMA version and every device's announcement stay (docs/protocol.md §13.1)."""

from __future__ import annotations

from tests.contract.test_keys import call, device
from tests.imap_inspect import connect, messages

FOLDER = "_Autocrypt_SMA"
NEWER = b"Autocrypt-SMA: v=2; type=announce; from=00000000000000bb\r\n\r\nbmV3ZXI=\r\n"


def test_junk_is_deleted_and_other_versions_and_devices_stay(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, _a_id = device(spawn_host, account, "a", push=False)
    device(spawn_host, account, "b", push=False)
    with connect(account.server, account.user) as client:
        for i in range(30):
            client.append(FOLDER, f"Subject: junk {i}\r\n\r\nnot for the SMA\r\n".encode())
        client.append(FOLDER, NEWER)
        assert len(messages(client, FOLDER)) == 33
    call(a, "sma.join")
    with connect(account.server, account.user) as client:
        left = list(messages(client, FOLDER).values())
    assert len(left) == 3, [m[:60] for m in left]  # two announcements and the v=2 message
    assert sum(m.startswith(b"Autocrypt-SMA: v=2") for m in left) == 1
    assert call(a, "sma.status")["total"] == 2
