"""Issue 12 item 8: junk cannot hide devices, no secret in a repr, a bounded replay table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.contract.test_pairing import call, joined
from tests.imap_inspect import connect

KiB = 1024


def test_junk_in_the_announcement_folder_hides_no_device(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    watcher, _ = joined(spawn_host, account, "desktop")
    junk = b"Subject: junk\r\n\r\n" + (b"j" * 78 + b"\r\n") * (63 * KiB // 80)
    with connect(account.server, account.user) as client:
        for _ in range(1060):  # over the 64 MiB of one batch
            client.append("_Autocrypt_SMA", junk)
    _, late_id = joined(spawn_host, account, "laptop")  # announced after the junk
    assert late_id in {m["muaa_id"] for m in call(watcher, "sma.status")["muaas"]}


def test_one_dropped_message_does_not_grow_the_replay_table(tmp_dir: Path) -> None:
    from sma_host.protocol.crypto import Identity
    from sma_host.store import MAX_SEEN_ABOVE_FLOOR, AccountSettings, Store

    store = Store(tmp_dir)
    store.save_account(AccountSettings("a", "u@example.org", "d", "h", 993, "tls", "u", None))
    store.create_membership("a", "0123456789abcdef", Identity.generate(), 1)
    for seq in range(2, 2000):  # seq 1 was dropped by the server
        assert store.mark_seen("a", "fedcba9876543210", seq)
    store.close()
    with sqlite3.connect(tmp_dir / "sma-host.sqlite3") as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM seen").fetchone()
    assert rows <= MAX_SEEN_ABOVE_FLOOR


def test_no_secret_in_a_repr() -> None:
    from sma_host.imap.mailbox import ImapSettings
    from sma_host.protocol.crypto import Identity
    from sma_host.protocol.pairing_states import Attempt, Direction, OutgoingTarget, Phase
    from sma_host.service.context import AccountSession
    from sma_host.store import AccountSettings, Membership

    settings = AccountSettings("a", "u@example.org", "d", "h", 993, "tls", "u", None)
    session = AccountSession(settings, "pw-SECRET", access_token="tok-SECRET")
    identity = Identity.generate()
    membership = Membership("a", "0123456789abcdef", identity, 1, 1)
    attempt = Attempt(
        "a", "0" * 16, Direction.OUTGOING, None, None, Phase.WAITING, None, 1, 2,
        targets={"1" * 16: OutgoingTarget(b"spake-SECRET", b"pake")},
    )  # fmt: skip
    imap = ImapSettings("h", 993, "tls", "u", "pw-SECRET", None)
    for text in map(repr, [session, membership, attempt, imap, identity]):
        assert "SECRET" not in text
        assert identity.sign_secret.hex() not in text and identity.dh_secret.hex() not in text


def test_unchanged_announcements_are_not_downloaded_again(spawn_host, account, dovecot) -> None:  # type: ignore[no-untyped-def]
    from devtools.imap_proxy import ImapProxy

    joined(spawn_host, account, "laptop")
    with ImapProxy(dovecot.host, dovecot.port) as proxy:
        host = spawn_host("desktop", env={"SMA_HOST_PUSH": "off"})
        host.call(
            "account.configure",
            account.configure_params(
                "acct1", device_name="desktop", host=proxy.host, port=proxy.port, security="none"
            ),
        )
        call(host, "sma.join")
        call(host, "sma.status")
        proxy.reset()
        assert len(call(host, "sma.status")["muaas"]) == 2
        # Sizes only: every UID was parsed before, no body is fetched again.
        assert proxy.commands().count("UID FETCH") == 1, proxy.commands()
