"""Mutations of real SMA messages, for the fault campaign (seeded): bit flips, cut and
grown bodies, swapped or doubled headers, another sender, type or version, junk base64,
and replays of the originals. The originals are messages a real host wrote: a key update
in a device's inbox and the announcements in ``_Autocrypt_SMA``."""

from __future__ import annotations

import base64
import random

_HEADERS_END = b"\r\n\r\n"


def _flip(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _split(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, body = raw.partition(_HEADERS_END)
    return (head, body) if sep else (raw, b"")


def _header_swap(rng: random.Random, raw: bytes) -> bytes:
    head, body = _split(raw)
    lines = head.split(b"\r\n")
    i = rng.randrange(len(lines))
    choice = rng.randrange(6)
    if choice == 0:
        lines.insert(i, lines[i])  # a header twice
    elif choice == 1:
        del lines[i]  # a header gone
    elif choice == 2:
        lines[i] = lines[i].replace(b"v=1", rng.choice([b"v=2", b"v=0", b"v=", b"v=1x"]))
    elif choice == 3:
        lines[i] = lines[i].replace(
            b"type=", rng.choice([b"type=pair-", b"type=x", b"type=announce", b"ty="])
        )
    elif choice == 4:
        lines[i] = lines[i].replace(
            b"from=", b"from=" + rng.randbytes(8).hex().encode() + rng.choice([b"", b";", b"0"])
        )
    else:
        lines[i] = lines[i] + b" " + b"x" * rng.choice([10, 1000, 20000])  # a long line
    return b"\r\n".join(lines) + _HEADERS_END + body


def _body(rng: random.Random, raw: bytes) -> bytes:
    head, body = _split(raw)
    choice = rng.randrange(5)
    if choice == 0:
        body = body[: rng.randrange(len(body) + 1)]  # cut
    elif choice == 1:
        body = body + base64.b64encode(rng.randbytes(rng.randrange(1, 3000)))  # grown
    elif choice == 2:
        body = base64.encodebytes(rng.randbytes(rng.randrange(0, 4000)))  # another body
    elif choice == 3:
        body = b"!!" + body[2:]  # not base64
    else:
        data = bytearray(base64.b64decode(body, validate=False) or b"\0")
        data[rng.randrange(len(data))] ^= 0xFF  # valid base64, one byte of the sealed box off
        body = base64.encodebytes(bytes(data))
    return head + _HEADERS_END + body


def mutate(rng: random.Random, originals: list[bytes]) -> bytes:
    """One mutated message (now and then an unchanged replay) of one of ``originals``."""
    raw = rng.choice(originals)
    choice = rng.randrange(20)
    if choice == 0:
        return raw  # a replay
    if choice < 6:
        return _flip(rng, raw)
    if choice < 11:
        return _header_swap(rng, raw)
    if choice < 18:
        return _body(rng, raw)
    if choice == 18:
        return rng.randbytes(rng.randrange(1, 600)) + b"\r\n"  # no message at all
    return _body(rng, _header_swap(rng, raw))
