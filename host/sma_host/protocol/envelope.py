"""The IMAP message that carries every SMA payload.

Headers name only what a server can see anyway (sender MUAA, message type);
the body is base64 of a JSON document. Nothing in it is meant for humans.
"""

from __future__ import annotations

import base64
import email.utils
import re
from dataclasses import dataclass

from .folders import is_muaa_id

HEADER = "Autocrypt-SMA"
VERSION = "1"
#: Largest SMA message the host reads; anything bigger is deleted unread (by size).
#: Room for a key update of 1 MiB of plaintext (``KEY_UPDATE_MAX_BYTES``) once base64'd.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
_TYPE = re.compile(r"[a-z][a-z0-9-]{0,31}")


class MalformedMessage(ValueError):
    """A message in an SMA folder that is not a well-formed SMA message of ours."""


class UnsupportedVersion(MalformedMessage):
    """An SMA message of another protocol version: unreadable here, but not junk."""


@dataclass(frozen=True)
class Envelope:
    """What the header says; authenticating it is the payload layer's job."""

    sma_type: str
    sender: str
    body: bytes


def sma_header_value(sma_type: str, sender: str) -> str:
    return f"v={VERSION}; type={sma_type}; from={sender}"


def build_message(
    *, sma_type: str, sender: str, body: bytes, address: str, now: int, unique: str
) -> bytes:
    """A complete RFC 5322 message (CRLF line ends) ready for APPEND.

    ``unique`` makes the Message-ID unique (random hex from the caller); ``address``
    is the account's own address, so the message looks like a note to self.
    """
    if not _TYPE.fullmatch(sma_type) or not is_muaa_id(sender):
        raise ValueError("bad SMA type or sender")
    domain = address.rpartition("@")[2] or "localhost"
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    headers = [
        f"From: <{address}>",
        f"To: <{address}>",
        f"Date: {email.utils.formatdate(now, usegmt=True)}",
        f"Message-ID: <sma.{sender}.{unique}@{domain}>",
        f"Subject: Autocrypt SMA {sma_type}",
        f"{HEADER}: {sma_header_value(sma_type, sender)}",
        "MIME-Version: 1.0",
        "Content-Type: application/json",
        "Content-Transfer-Encoding: base64",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + encoded


def parse_message(raw: bytes) -> Envelope:
    """Read the SMA header and body; raise ``MalformedMessage`` for anything else.

    A strict reader for the one shape of message this module builds (CRLF or LF line ends,
    any further headers a server adds, folded or not), not a general MIME parser: header
    lines are ``name: value`` or continuations, the header section ends at the first empty
    line, and the body is base64 (whitespace ignored) of a single part.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too large")
    end = _END_OF_HEADERS.search(raw)
    if end is None:
        raise MalformedMessage("no end of the header section")
    head = raw[: end.start()]
    if not _HEADER_SECTION.fullmatch(head):
        raise MalformedMessage("not a header section")
    values: list[bytes] = []
    for name, field_value in _FIELDS.findall(head):
        if name.lower() == b"content-type":
            maintype = _unfold(field_value).partition(b";")[0].partition(b"/")[0]
            if maintype.strip().lower() in (b"multipart", b"message"):
                raise MalformedMessage("multipart")
        else:
            values.append(field_value)
    if len(values) != 1:
        raise MalformedMessage("needs exactly one Autocrypt-SMA header")
    try:
        value = _unfold(values[0]).decode("ascii")
    except UnicodeDecodeError:
        raise MalformedMessage("Autocrypt-SMA header is not ASCII") from None
    header = parse_header_value(value)
    if header.get("v") != VERSION:
        raise UnsupportedVersion("unsupported version")
    sma_type, sender = header.get("type", ""), header.get("from", "")
    if not _TYPE.fullmatch(sma_type) or not is_muaa_id(sender):
        raise MalformedMessage("bad type or sender")
    try:
        body = base64.b64decode(raw[end.end() :].translate(None, _WHITESPACE), validate=True)
    except ValueError as exc:
        raise MalformedMessage("body is not base64") from exc
    return Envelope(sma_type=sma_type, sender=sender, body=body)


#: The empty line after the headers: ends the line before it, then is empty (CR allowed).
#: A header section of no lines at all cannot carry the SMA header, so it need not match.
_END_OF_HEADERS = re.compile(rb"\n\r?\n")
#: Every line a header (RFC 5322 field name: printable US-ASCII but the colon) or the
#: continuation of one; no CR but before LF, no NUL. Linear: each line can start only one way.
_HEADER_SECTION = re.compile(rb"[!-9;-~]+:[^\r\n\0]*\r?(?:\n(?:[!-9;-~]+:|[ \t])[^\r\n\0]*\r?)*")
#: The two headers parsing reads, with their values (continuation lines included), in a
#: header section already checked.
_FIELDS = re.compile(
    rb"^(autocrypt-sma|content-type):([^\n]*(?:\n[ \t][^\n]*)*)", re.IGNORECASE | re.MULTILINE
)
_WHITESPACE = b" \t\r\n\v\f"


def _unfold(value: bytes) -> bytes:
    """A header value without its line breaks (the whitespace after them stays)."""
    return value.replace(b"\r", b"").replace(b"\n", b"")


def parse_header_value(value: str) -> dict[str, str]:
    """``v=1; type=x; from=y`` → dict; later duplicates do not override earlier ones."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if sep and key and key not in fields:
            fields[key] = val.strip()
    return fields
