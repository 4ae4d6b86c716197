"""``Mailbox.scan_inbox`` against a real Dovecot: real messages with Autocrypt headers
APPENDed to INBOX come back as their header fields, incrementally by UID, in bounded
batches, read-only, with a number of IMAP commands that does not grow with the mail."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from pysequoia import Tsk

from devtools.dovecot import DovecotServer
from devtools.imap_proxy import ImapProxy
from sma_host.imap.mailbox import MAX_HEADER_BLOCK, HeaderBatch, ImapSettings, Mailbox
from sma_host.openpgp import read_public_key
from sma_host.protocol.autocrypt import from_address, peer_update, read_headers
from tests.conftest import Account

BOB = "bob@example.org"
BOB_KEYDATA = bytes(Tsk.generate(f"<{BOB}>").extract_certificate())


def message(
    sender: str = f"Bob <{BOB}>",
    autocrypt: list[str] | None = None,
    sent: datetime | None = None,
    subject: str = "hello",
) -> bytes:
    lines = [f"From: {sender}", "To: user@example.org", f"Subject: {subject}"]
    lines.append(f"Date: {format_datetime(sent or datetime.now(UTC) - timedelta(hours=1))}")
    lines += [f"Autocrypt: {value}" for value in autocrypt or []]
    lines += [f"Message-ID: <{subject.replace(' ', '.')}@example.org>", "", "Body text."]
    return "\r\n".join(lines).encode() + b"\r\n"


def autocrypt_header(keydata: bytes = BOB_KEYDATA, addr: str = BOB) -> str:
    """A header value folded like real mail: keydata in 76-character lines."""
    data = base64.b64encode(keydata).decode()
    folded = "\r\n ".join(data[i : i + 76] for i in range(0, len(data), 76))
    return f"addr={addr}; prefer-encrypt=mutual; keydata=\r\n {folded}"


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[ImapProxy]:
    with ImapProxy(dovecot.host, dovecot.port) as p:
        yield p


@pytest.fixture
def mailbox(account: Account, proxy: ImapProxy) -> Iterator[Mailbox]:
    """A connection through the counting proxy (plain IMAP on loopback)."""
    settings = ImapSettings(
        proxy.host, proxy.port, "none", account.user.name, account.user.password
    )
    box = Mailbox.connect(settings)
    yield box
    box.close()


def append(box: Mailbox, *raws: bytes, received: datetime | None = None) -> list[int]:
    """APPEND to INBOX; the new UIDs (Dovecot has UIDPLUS)."""
    uids = []
    for raw in raws:
        # msg_time: an INTERNALDATE in the past, as for mail that arrived then
        response = box._client.append("INBOX", raw, msg_time=received)
        match = re.search(rb"APPENDUID \d+ (\d+)", response)
        assert match is not None
        uids.append(int(match[1]))
    return uids


def scanned(batches: Iterator[HeaderBatch]) -> list[int]:
    return [m.uid for batch in batches for m in batch.messages]


def test_real_messages_come_back_as_their_autocrypt_header_fields(mailbox: Mailbox) -> None:
    uids = append(
        mailbox,
        message(autocrypt=[autocrypt_header()]),
        message(sender="Carol <carol@example.org>", subject="no header"),
    )
    scan = mailbox.scan_inbox(since=date.today() - timedelta(days=90))
    assert scan.restarted and scan.uidvalidity > 0 and scan.end_uid == uids[-1]
    messages = [m for batch in scan.batches for m in batch.messages]
    assert [m.uid for m in messages] == uids
    first = read_headers(messages[0].header)
    assert b"Subject" not in messages[0].header and b"Body text" not in messages[0].header
    assert from_address(first.from_header) == BOB and len(first.autocrypt) == 1
    now = int(datetime.now(UTC).timestamp())
    assert messages[0].received is not None and abs(messages[0].received - now) < 600
    made = peer_update(
        first.from_header or "",
        first.date_header,
        first.autocrypt,
        now,
        None,
        read_public_key,
        received=messages[0].received,
    )
    assert made is not None and made.addr == BOB and made.prefer_encrypt == "mutual"
    assert base64.b64decode(made.keydata) == BOB_KEYDATA
    assert read_headers(messages[1].header).autocrypt == ()


def test_a_second_scan_from_the_last_uid_returns_only_new_messages(mailbox: Mailbox) -> None:
    append(mailbox, message(subject="old 1"), message(subject="old 2"))
    first = mailbox.scan_inbox()
    assert len(scanned(first.batches)) == 2
    again = mailbox.scan_inbox(first.end_uid, first.uidvalidity)
    assert not again.restarted and scanned(again.batches) == []  # "n:*" quirk filtered
    new = append(mailbox, message(subject="new 1"), message(subject="new 2"))
    later = mailbox.scan_inbox(first.end_uid, first.uidvalidity)
    assert scanned(later.batches) == new and later.end_uid == new[-1]


def test_another_uidvalidity_restarts_the_scan(mailbox: Mailbox) -> None:
    uids = append(mailbox, message(subject="a"), message(subject="b"))
    scan = mailbox.scan_inbox(uids[-1], uidvalidity=1)
    assert scan.uidvalidity != 1 and scan.restarted
    assert scanned(scan.batches) == uids


def test_the_first_scan_reads_only_mail_received_since(mailbox: Mailbox) -> None:
    old = datetime.now(UTC) - timedelta(days=120)
    append(mailbox, message(subject="ancient", sent=old), received=old)
    recent = append(mailbox, message(subject="recent"))
    scan = mailbox.scan_inbox(since=date.today() - timedelta(days=90))
    assert scanned(scan.batches) == recent
    assert scan.end_uid == recent[-1]  # the old one is not searched again next time


def test_batches_stay_within_the_budget_and_cover_every_uid_once(mailbox: Mailbox) -> None:
    uids = append(
        mailbox, *(message(subject=f"m{i}", autocrypt=[autocrypt_header()]) for i in range(5))
    )
    scan = mailbox.scan_inbox(budget=2 * MAX_HEADER_BLOCK)
    batches = list(scan.batches)
    assert [len(b.messages) for b in batches] == [2, 2, 1]
    assert [b.highest_uid for b in batches] == [uids[1], uids[3], uids[4]]
    assert [m.uid for b in batches for m in b.messages] == uids


def test_an_oversize_header_block_is_cut_at_the_limit(mailbox: Mailbox) -> None:
    huge = autocrypt_header(keydata=b"\x01" * 150_000)
    append(mailbox, message(autocrypt=[huge]))
    (batch,) = mailbox.scan_inbox().batches
    assert len(batch.messages[0].header) == MAX_HEADER_BLOCK


def test_scanning_is_read_only_and_leaves_flags_alone(mailbox: Mailbox) -> None:
    (uid,) = append(mailbox, message())
    list(mailbox.scan_inbox().batches)
    mailbox.select("INBOX")
    assert b"\\Seen" not in mailbox._client.get_flags([uid])[uid]


def test_the_command_count_does_not_grow_with_the_mail(mailbox: Mailbox, proxy: ImapProxy) -> None:
    append(mailbox, *(message(subject=f"m{i}") for i in range(40)))
    before = len(proxy.commands())
    first = mailbox.scan_inbox(since=date.today() - timedelta(days=90))
    assert len(scanned(first.batches)) == 40
    assert proxy.commands()[before:] == ["EXAMINE", "UID SEARCH", "UID FETCH"]
    new = append(mailbox, *(message(subject=f"n{i}") for i in range(10)))
    before = len(proxy.commands())
    later = mailbox.scan_inbox(first.end_uid, first.uidvalidity)
    assert scanned(later.batches) == new
    assert proxy.commands()[before:] == ["EXAMINE", "UID FETCH"]  # no SEARCH: one range
    before = len(proxy.commands())
    assert scanned(mailbox.scan_inbox(later.end_uid, later.uidvalidity).batches) == []
    assert proxy.commands()[before:] == ["EXAMINE"]  # nothing new: nothing fetched
