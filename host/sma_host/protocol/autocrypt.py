"""Autocrypt Level 1: the ``Autocrypt`` header and "updating Autocrypt peer state".

Pure: no I/O and no clock (``now`` comes in), and no OpenPGP library: whether keydata is
an OpenPGP public key is asked of the injected ``verify_key`` (the host passes
``openpgp.read_public_key``).

Level 1 as implemented here (doc/level1.rst, "Updating Autocrypt Peer State"):

- A message is skipped when its ``From`` holds other than exactly one address, when it is
  auto-replied (``Auto-Submitted: auto-replied``) or a ``multipart/report``.
- An ``Autocrypt`` header is valid when it parses (below), its ``addr`` is the From
  address (case-insensitive) and its keydata is an OpenPGP public key. With two or more
  valid headers, all are discarded (the message counts as one without a header).
- The **effective date** is the ``Date`` header, or the time of receipt when ``Date`` is
  in the future. Receipt is the server's (IMAP INTERNALDATE) when the caller knows it,
  never later than ``now``. A message without a usable ``Date`` has the receipt time when
  it is known; otherwise it is skipped (Level 1 allows that): ``now`` would date it anew
  at every rescan.
- The update is the merge (``keyring.merge``) of the stored entry with what the message
  says: ``(key, prefer_encrypt, autocrypt_timestamp = last_seen = effective date)`` with a
  valid header, ``last_seen = effective date`` without one. That is Level 1's steps 1–6:
  a message older than ``autocrypt_timestamp`` changes nothing, an older one than
  ``last_seen`` does not lower it, a header not older than the stored key replaces it;
  only its tie-break differs (an equal date goes to the greater key bytes, not to the
  message processed last; docs/protocol.md §10.3), so every device gets the same result
  in any order.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from ..errors import InvalidKey
from .codec import b64, is_text
from .keyring import MAX_ADDR_CHARS, MAX_KEYDATA_CHARS, MAX_TIMESTAMP, PeerEntry, canonical_addr
from .keyring import merge as merge_entries

#: Keydata as the keyring stores it (base64, whitespace removed): the same bound, so that
#: every entry made from a header is one the keyring and the other devices accept.
MAX_HEADER_KEYDATA_CHARS = MAX_KEYDATA_CHARS
#: The whole header value: the largest keydata folded into 76-character lines, and room
#: for the other attributes. Longer values are refused before they are split.
MAX_HEADER_CHARS = MAX_HEADER_KEYDATA_CHARS * 5 // 4 + 4096

_KNOWN = ("addr", "prefer-encrypt", "keydata", "type")


@dataclass(frozen=True)
class AutocryptHeader:
    """A syntactically valid ``Autocrypt`` header (its key not yet checked as OpenPGP)."""

    #: Canonical (lower-cased) address.
    addr: str
    #: ``"mutual"`` or ``"nopreference"``.
    prefer_encrypt: str
    #: The binary OpenPGP key, base64-decoded.
    keydata: bytes


@dataclass(frozen=True)
class MessageHeaders:
    """The header fields of one message that Level 1 reads."""

    from_header: str | None
    date_header: str | None
    autocrypt: tuple[str, ...]
    auto_submitted: str | None = None
    content_type: str | None = None


def read_headers(raw: bytes) -> MessageHeaders:
    """The fields ``peer_update`` needs, from a message's raw header block (what IMAP's
    ``BODY.PEEK[HEADER.FIELDS (...)]`` returns). Two ``From`` fields count as two
    addresses; two ``Date`` fields as no date. Never raises on malformed input."""
    # compat32, the parser's default (naming it would import email.policy and its header
    # registry, about 0.5 MB resident), keeps values as text (no structured parsing that
    # could raise); bytes that are not ASCII come back surrogate-escaped and are read as
    # UTF-8 here. The raw items: get_all() would wrap such a value in a Header whose
    # str() has already replaced them.
    message = BytesHeaderParser().parsebytes(raw)
    items = [(name.lower(), value) for name, value in message.raw_items()]

    def values(name: str) -> list[str]:
        return [_text(v) for n, v in items if n == name.lower()]

    senders, dates = values("From"), values("Date")
    auto_submitted, content_type = values("Auto-Submitted"), values("Content-Type")
    return MessageHeaders(
        from_header=", ".join(senders) if senders else None,
        date_header=dates[0] if len(dates) == 1 else None,
        autocrypt=tuple(values("Autocrypt")),
        auto_submitted=auto_submitted[0] if auto_submitted else None,
        content_type=content_type[0] if content_type else None,
    )


def parse_autocrypt_header(value: str) -> AutocryptHeader | None:
    """The header's attributes, or None when Level 1 calls the header invalid.

    ``name=value`` pairs separated by ``;`` with folding whitespace anywhere around them;
    ``addr`` and ``keydata`` required, ``type`` absent or ``1``; ``prefer-encrypt=mutual``
    or anything else meaning ``nopreference``; unknown names starting with ``_`` ignored,
    any other unknown name invalidating the header; an attribute given twice too.
    """
    if not isinstance(value, str) or len(value) > MAX_HEADER_CHARS or not is_text(value):
        return None
    attributes: dict[str, str] = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue  # "addr=a@b; keydata=...;" ends with an empty part
        name, equals, attribute = part.partition("=")
        name = name.strip()
        if not equals or name in attributes:
            return None
        if name.startswith("_"):
            continue
        if name not in _KNOWN:
            return None
        attributes[name] = attribute.strip()
    if attributes.get("type", "1") != "1":
        return None
    addr = _address(attributes.get("addr", ""))
    keydata = _keydata(attributes.get("keydata", ""))
    if addr is None or keydata is None:
        return None
    prefer = "mutual" if attributes.get("prefer-encrypt") == "mutual" else "nopreference"
    return AutocryptHeader(addr, prefer, keydata)


def from_address(from_header: str | None) -> str | None:
    """The single address of a ``From`` header, canonical; None for none or several."""
    if not isinstance(from_header, str) or not is_text(from_header):
        return None
    addresses = [addr for _name, addr in getaddresses([from_header]) if addr]
    if len(addresses) != 1:
        return None
    return _address(addresses[0])


def effective_date(date_header: str | None, now: int, received: int | None = None) -> int | None:
    """Level 1's effective date in Unix seconds: ``Date``, unless it lies after receipt
    (then receipt); receipt when ``Date`` is missing or unreadable and receipt is known;
    None when neither gives a date in the keyring's range."""
    receipt = now if received is None else min(received, now)
    sent = _parse_date(date_header)
    if sent is not None:
        date: int | None = min(sent, receipt)
    else:
        date = receipt if received is not None else None
    if date is None or not 0 <= date < MAX_TIMESTAMP:
        return None
    return date


def peer_update(
    from_header: str,
    date_header: str | None,
    autocrypt_headers: Sequence[str],
    now: int,
    current: PeerEntry | None,
    verify_key: Callable[[bytes], object],
    *,
    received: int | None = None,
    auto_submitted: str | None = None,
    content_type: str | None = None,
) -> PeerEntry | None:
    """The sender's keyring entry after this message, or None when it changes nothing.

    ``current`` is the stored entry for the From address (look it up with
    ``from_address``); an entry for another address is not touched (None).
    ``verify_key`` raises ``InvalidKey`` for keydata that is not an OpenPGP public key.
    The result merges with ``keyring.merge_all`` like any entry from ``keys.put``.
    """
    addr = from_address(from_header)
    if addr is None or (current is not None and current.addr != addr):
        return None
    if _is_automatic(auto_submitted, content_type):
        return None
    date = effective_date(date_header, now, received)
    if date is None:
        return None
    header = _single_valid_header(addr, autocrypt_headers, verify_key)
    if header is not None:
        seen = PeerEntry(addr, b64(header.keydata), header.prefer_encrypt, date, date)
    elif current is not None:
        seen = PeerEntry(
            addr, current.keydata, current.prefer_encrypt, current.autocrypt_timestamp, date
        )
    else:
        return None  # no key known and none in the message: nothing to store
    after = seen if current is None else merge_entries(current, seen)
    return None if after == current else after


def _single_valid_header(
    addr: str, values: Sequence[str], verify_key: Callable[[bytes], object]
) -> AutocryptHeader | None:
    """The one valid header for ``addr``; None when there is none, or more than one."""
    valid: list[AutocryptHeader] = []
    for value in values:
        header = parse_autocrypt_header(value)
        if header is None or header.addr != addr:
            continue
        try:
            verify_key(header.keydata)
        except InvalidKey:
            continue
        valid.append(header)
        if len(valid) > 1:
            return None  # Level 1: more than one valid header, all discarded
    return valid[0] if valid else None


def _is_automatic(auto_submitted: str | None, content_type: str | None) -> bool:
    """Auto-replies and delivery/disposition reports say nothing about the sender's MUA."""
    if auto_submitted is not None and auto_submitted.strip().lower().startswith("auto-replied"):
        return True
    if content_type is not None:
        return content_type.strip().lower().startswith("multipart/report")
    return False


def _address(value: str) -> str | None:
    addr = canonical_addr(value)
    local, at, domain = addr.rpartition("@")
    if not (at and local and domain) or len(addr) > MAX_ADDR_CHARS or not is_text(addr):
        return None
    if any(c.isspace() or c in "<>,;" for c in addr):
        return None
    return addr


def _keydata(value: str) -> bytes | None:
    folded = "".join(value.split())
    if not folded or len(folded) > MAX_HEADER_KEYDATA_CHARS:
        return None
    try:
        return base64.b64decode(folded, validate=True) or None
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        return None


def _text(value: str) -> str:
    # The parser decoded the bytes as ASCII with surrogate escapes, so every surrogate in
    # ``value`` is one of them: back to the raw bytes, read as UTF-8.
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _parse_date(value: str | None) -> int | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        sent = parsedate_to_datetime(value)
        if sent.tzinfo is None:  # "-0000": UTC, with no claim about the sender's zone
            sent = sent.replace(tzinfo=UTC)
        return int(sent.timestamp())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
