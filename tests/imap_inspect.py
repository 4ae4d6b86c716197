"""Look at (and tamper with) a test account on the real server, bypassing the host.

A raw imapclient connection: what the host claims is checked against what the server
really holds. Also writes message files straight into a Maildir folder, which is much
faster than APPEND when a test needs thousands of messages.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import compat32

from imapclient import IMAPClient

from devtools.dovecot import DovecotServer, ImapUser


def decoded_body(raw: bytes) -> bytes:
    """The body of an SMA message, base64-decoded. Every SMA message has a strict base64
    body (docs/protocol.md, the envelope): one that does not decode fails the test instead
    of escaping a secrecy check."""
    _header, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, f"no empty line after the header: {raw[:200]!r}"
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except ValueError as exc:
        raise AssertionError(f"body is not base64 ({exc}): {raw[:200]!r}") from exc


@contextmanager
def connect(server: DovecotServer, user: ImapUser) -> Iterator[IMAPClient]:
    """A logged-in IMAPS connection as ``user`` (verified against the server's CA)."""
    context = ssl.create_default_context(cafile=server.ca_file)
    with IMAPClient(server.host, port=server.tls_port, ssl=True, ssl_context=context) as client:
        client.login(user.name, user.password)
        yield client


def folders(client: IMAPClient) -> list[str]:
    """Every folder name (LIST "" "*"), sorted."""
    return sorted(str(name) for _flags, _delim, name in client.list_folders())


def subscribed(client: IMAPClient) -> list[str]:
    """Every subscribed folder name (LSUB "" "*"), sorted."""
    return sorted(str(name) for _flags, _delim, name in client.list_sub_folders())


def messages(client: IMAPClient, folder: str) -> dict[int, bytes]:
    """UID → raw bytes of every message in ``folder`` (read-only, flags untouched)."""
    client.select_folder(folder, readonly=True)
    try:
        uids = client.search("ALL")
        if not uids:
            return {}
        fetched = client.fetch(uids, [b"BODY.PEEK[]"])
        return {uid: bytes(data[b"BODY[]"]) for uid, data in fetched.items()}
    finally:
        client.unselect_folder()


def message_count(client: IMAPClient, folder: str) -> int:
    return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])


def append(client: IMAPClient, folder: str, raw: bytes) -> None:
    client.append(folder, raw, flags=())


def sma_headers(raw: bytes) -> list[str]:
    """Every ``Autocrypt-SMA`` header value of a raw message, as written."""
    message = BytesParser(policy=compat32).parsebytes(raw)
    return [str(value) for value in message.get_all("Autocrypt-SMA") or []]


def sma_senders(raws: Iterable[bytes]) -> list[str]:
    """The ``from=`` of each message's single Autocrypt-SMA header (sorted)."""
    senders = []
    for raw in raws:
        (value,) = sma_headers(raw)
        fields = dict(part.strip().split("=", 1) for part in value.split(";"))
        senders.append(fields["from"])
    return sorted(senders)
