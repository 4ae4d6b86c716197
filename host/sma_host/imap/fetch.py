"""The FETCHes that read mail, and what they return: bodies of the selected folder as
partial ranges planned by their sizes (the ``LiteralGuard`` of ``imap/literals.py``
counts what arrives), and the header fields the INBOX scan reads. Answers are parsed one
response at a time, each dropped once read. ``Mailbox`` (``imap/mailbox.py``) runs them
inside its error mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

from ..protocol.uidset import uid_set


@dataclass(frozen=True)
class FetchedMessages:
    messages: list[tuple[int, bytes]]
    #: UIDs of messages larger than the limit: never downloaded.
    oversize: list[int]
    #: The byte budget was reached: call again for the rest.
    more: bool = False
    #: UIDs present but not downloaded because the caller asked to skip them.
    skipped: list[int] = field(default_factory=list)

    def drain(self) -> Iterator[tuple[int, bytes]]:
        """``messages`` in order, each dropped from the list as it is handed out (the list
        is empty afterwards): a body is freed once its caller is done with it, not when the
        whole batch is."""
        messages = self.messages
        messages.reverse()
        while messages:
            yield messages.pop()


#: What Autocrypt Level 1 reads of a message (protocol/autocrypt.py ``read_headers``).
INBOX_HEADER_FIELDS = "FROM DATE AUTOCRYPT AUTO-SUBMITTED CONTENT-TYPE"
#: Bytes of those fields read per message: one Autocrypt header with the largest keydata
#: the keyring takes (64 KiB of base64, folded) and the rest. Longer blocks are cut, and a
#: header cut short fails its checks.
MAX_HEADER_BLOCK = 96 * 1024

_HEADER_ITEMS = (
    f"(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS ({INBOX_HEADER_FIELDS})]<0.{MAX_HEADER_BLOCK}>)"
).encode("ascii")


@dataclass(frozen=True)
class InboxMessage:
    uid: int
    #: The raw header fields (``INBOX_HEADER_FIELDS``), at most ``MAX_HEADER_BLOCK`` bytes.
    header: bytes
    #: The server's INTERNALDATE (time of receipt) in Unix seconds, when it sent one.
    received: int | None


@dataclass(frozen=True)
class HeaderBatch:
    #: By ascending UID.
    messages: list[InboxMessage]
    #: Every UID up to this one has been read once this batch is applied.
    highest_uid: int


@dataclass(frozen=True)
class InboxScan:
    uidvalidity: int
    #: The given position did not hold (no last UID, or another UIDVALIDITY): the scan
    #: starts from ``since`` instead.
    restarted: bool
    #: The UID to store once every batch is applied: UIDNEXT − 1 at the EXAMINE, so that
    #: older mail skipped by ``since`` is not searched again. (Mail that arrives during the
    #: scan may come in a batch above it and is read again next time: harmless, an update
    #: merges.)
    end_uid: int
    #: Read lazily, one FETCH each: apply and store a batch before taking the next.
    batches: Iterator[HeaderBatch]


#: ``* n FETCH (UID u RFC822.SIZE s)`` and ``* n FETCH (UID u BODY[]<0> {s}`` as imaplib hands
#: them over (without ``* `` and ``FETCH``): what servers send for our two FETCHes. Anything
#: else goes through imapclient's general parser.
_SIZE_RESPONSE = re.compile(rb"\d+ \(UID (\d+) RFC822\.SIZE (\d+)\)")
_BODY_RESPONSE = re.compile(rb"\d+ \(UID (\d+) BODY\[\](?:<0>)? \{\d+\}")


def fetch_sizes(client: IMAPClient, since_uid: int) -> dict[int, int]:
    """UID → RFC822.SIZE of every message from ``since_uid`` on."""
    sizes: dict[int, int] = {}
    for response in _responses(_fetch_raw(client, f"{since_uid}:*", b"(UID RFC822.SIZE)")):
        first = response[0]
        match = _SIZE_RESPONSE.fullmatch(first) if isinstance(first, bytes) else None
        if match is not None and len(response) == 1:  # the usual shape, read directly
            sizes[int(match[1])] = int(match[2])
            continue
        for item in parse_fetch_response(response, False, False).values():
            uid, size = item.get(b"UID"), item.get(b"RFC822.SIZE")
            if isinstance(uid, int):
                if isinstance(size, int):
                    sizes[uid] = size
                else:  # e.g. an unsolicited FLAGS update
                    sizes.setdefault(uid, 0)
    return sizes


def fetch_bodies(client: IMAPClient, uids: list[int], cap: int) -> dict[int, bytes]:
    """UID → the first ``cap`` bytes of each of ``uids`` the server still has."""
    wanted = set(uids)
    bodies: dict[int, bytes] = {}
    items = f"(BODY.PEEK[]<0.{cap}>)".encode("ascii")
    for response in _responses(_fetch_raw(client, uid_set(uids), items)):
        first = response[0]
        if len(response) == 2 and response[1] == b")" and isinstance(first, tuple):
            match = _BODY_RESPONSE.fullmatch(first[0])
            if match is not None and isinstance(first[1], bytes):
                uid = int(match[1])
                if uid in wanted:
                    bodies[uid] = first[1]
                continue
        for item in parse_fetch_response(response, False, False).values():
            uid, body = item.get(b"UID"), item.get(b"BODY[]<0>", item.get(b"BODY[]"))
            if isinstance(uid, int) and uid in wanted and isinstance(body, bytes):
                bodies[uid] = body
    return bodies


def fetch_headers(client: IMAPClient, uids: str, lowest: int) -> list[InboxMessage]:
    """The messages of ``uids`` from ``lowest`` on (``n:*`` also answers with the last
    message when every UID is below ``n``: dropped here)."""
    found: dict[int, InboxMessage] = {}
    for response in _responses(_fetch_raw(client, uids, _HEADER_ITEMS)):
        for item in parse_fetch_response(response, False, False).values():
            uid = item.get(b"UID")
            header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER.FIELDS")), None)
            # Without the fields it is an unsolicited FLAGS update, not our answer.
            if not isinstance(uid, int) or uid < lowest or not isinstance(header, bytes):
                continue
            received = item.get(b"INTERNALDATE")
            found[uid] = InboxMessage(
                uid,
                header,
                int(received.timestamp()) if isinstance(received, datetime) else None,
            )
    return [found[uid] for uid in sorted(found)]


def _fetch_raw(client: IMAPClient, uids: str, items: bytes) -> list[Any]:
    # IMAPClient.fetch() only takes explicit id lists (it filters the answer by
    # them); a range keeps the command short for any number of messages.
    data: list[Any] = client._raw_command_untagged(
        b"FETCH", [uids.encode("ascii"), items], uid=True
    )
    return data


def _responses(data: list[Any]) -> Iterator[list[Any]]:
    """The untagged FETCH data imaplib collected, one response at a time, each dropped from
    ``data`` once handed out so that only what the caller keeps stays alive.

    A response is its literals as ``(text before, literal)`` pairs and the text after the
    last one (``[None]`` when there was no response at all).
    """
    start = 0
    for index, item in enumerate(data):
        if isinstance(item, tuple):
            continue
        if item is not None:
            yield data[start : index + 1]
        data[start : index + 1] = [None] * (index + 1 - start)
        start = index + 1
    if start < len(data):  # literals without their closing text: let the parser judge
        yield data[start:]
