"""The IMAP message that carries every SMA payload.

Headers name only what a server can see anyway (sender MUAA, message type);
the body is base64 of a JSON document. Nothing in it is meant for humans.
"""

from __future__ import annotations

import base64
import email.utils
import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import compat32

from .folders import is_muaa_id

HEADER = "Autocrypt-SMA"
VERSION = "1"
#: Largest SMA message the host reads; anything bigger is deleted unread (by size).
#: Room for a key update of 1 MiB of plaintext (``KEY_UPDATE_MAX_BYTES``) once base64'd.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
_TYPE = re.compile(r"[a-z][a-z0-9-]{0,31}")


class MalformedMessage(ValueError):
    """A message in an SMA folder that is not a well-formed SMA message of ours."""


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
    """Read the SMA header and body; raise ``MalformedMessage`` for anything else."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too large")
    message = BytesParser(policy=compat32).parsebytes(raw)
    values = message.get_all(HEADER) or []
    if len(values) != 1:
        raise MalformedMessage("needs exactly one Autocrypt-SMA header")
    fields = parse_header_value(str(values[0]))
    if fields.get("v") != VERSION:
        raise MalformedMessage("unsupported version")
    sma_type, sender = fields.get("type", ""), fields.get("from", "")
    if not _TYPE.fullmatch(sma_type) or not is_muaa_id(sender):
        raise MalformedMessage("bad type or sender")
    if message.is_multipart():
        raise MalformedMessage("multipart")
    payload = message.get_payload()
    if not isinstance(payload, str):
        raise MalformedMessage("no body")
    try:
        body = base64.b64decode("".join(payload.split()), validate=True)
    except ValueError as exc:
        raise MalformedMessage("body is not base64") from exc
    return Envelope(sma_type=sma_type, sender=sender, body=body)


def parse_header_value(value: str) -> dict[str, str]:
    """``v=1; type=x; from=y`` → dict; later duplicates do not override earlier ones."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if sep and key and key not in fields:
            fields[key] = val.strip()
    return fields
