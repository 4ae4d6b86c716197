"""The replicated Autocrypt keyring: peer entries and their order-free merge.

One entry per peer address, after Autocrypt Level 1 peer state. Merge is a join
(commutative, associative, idempotent), so every device that has seen the same set of
updates holds the same keyring, whatever the order, duplication or delay of delivery:

- the *key part* (``keydata``, ``prefer_encrypt``, ``autocrypt_timestamp``) comes from the
  entry with the greater ``autocrypt_timestamp``; ties go to the greater ``keydata``
  bytes, then to ``prefer_encrypt`` (a total order: no tie is left to arrival order);
- ``last_seen`` is the maximum seen;
- the *gossip part* (``gossip_key``, ``gossip_timestamp``) merges the same way by
  ``gossip_timestamp``, then ``gossip_key``; an entry without gossip loses to one with.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .codec import is_text

PREFER_ENCRYPT = ("mutual", "nopreference")
MAX_ADDR_CHARS = 320
#: An OpenPGP public key with subkeys is a few KiB; allow generous room, bound the rest.
MAX_KEYDATA_CHARS = 64 * 1024
MAX_TIMESTAMP = 2**40


class InvalidEntry(ValueError):
    """A keyring entry that breaks the format (the message names the field)."""


@dataclass(frozen=True)
class PeerEntry:
    addr: str
    keydata: str
    prefer_encrypt: str
    autocrypt_timestamp: int
    last_seen: int
    gossip_key: str | None = None
    gossip_timestamp: int | None = None

    def key_rank(self) -> tuple[int, bytes, str]:
        return (self.autocrypt_timestamp, _raw(self.keydata), self.prefer_encrypt)

    def gossip_rank(self) -> tuple[int, bytes]:
        if self.gossip_key is None or self.gossip_timestamp is None:
            return (-1, b"")
        return (self.gossip_timestamp, _raw(self.gossip_key))

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "addr": self.addr,
            "keydata": self.keydata,
            "prefer_encrypt": self.prefer_encrypt,
            "autocrypt_timestamp": self.autocrypt_timestamp,
            "last_seen": self.last_seen,
        }
        if self.gossip_key is not None and self.gossip_timestamp is not None:
            value["gossip_key"] = self.gossip_key
            value["gossip_timestamp"] = self.gossip_timestamp
        return value


def canonical_addr(addr: str) -> str:
    """Autocrypt compares addresses case-insensitively; we store them lower-cased."""
    return addr.strip().lower()


def entry_from_json(value: object) -> PeerEntry:
    """Validate and canonicalise one entry (from the add-on or from a peer's update)."""
    if not isinstance(value, dict):
        raise InvalidEntry("entry must be an object")
    addr = value.get("addr")
    if (
        not isinstance(addr, str)
        or "@" not in addr
        or not 3 <= len(addr) <= MAX_ADDR_CHARS
        or not is_text(addr)
    ):
        raise InvalidEntry("addr")
    keydata = _keydata(value.get("keydata"), "keydata")
    prefer = value.get("prefer_encrypt", "nopreference")
    if prefer not in PREFER_ENCRYPT:
        raise InvalidEntry("prefer_encrypt")
    timestamp = _time(value.get("autocrypt_timestamp"), "autocrypt_timestamp")
    last_seen = _time(value.get("last_seen", timestamp), "last_seen")
    gossip_key, gossip_timestamp = value.get("gossip_key"), value.get("gossip_timestamp")
    if (gossip_key is None) != (gossip_timestamp is None):
        raise InvalidEntry("gossip_key and gossip_timestamp go together")
    if gossip_key is not None:
        gossip_key = _keydata(gossip_key, "gossip_key")
        gossip_timestamp = _time(gossip_timestamp, "gossip_timestamp")
    return PeerEntry(
        canonical_addr(addr),
        keydata,
        str(prefer),
        timestamp,
        max(last_seen, timestamp),
        gossip_key,
        gossip_timestamp,
    )


def merge(a: PeerEntry, b: PeerEntry) -> PeerEntry:
    """The join of two entries for the same address."""
    if a.addr != b.addr:
        raise ValueError("merging entries of different addresses")
    key_source = a if a.key_rank() >= b.key_rank() else b
    gossip_source = a if a.gossip_rank() >= b.gossip_rank() else b
    return replace(
        key_source,
        last_seen=max(a.last_seen, b.last_seen),
        gossip_key=gossip_source.gossip_key,
        gossip_timestamp=gossip_source.gossip_timestamp,
    )


def merge_all(
    current: Mapping[str, PeerEntry], incoming: Iterable[PeerEntry]
) -> dict[str, PeerEntry]:
    """Merge ``incoming`` into ``current``; returns only the entries that changed."""
    changed: dict[str, PeerEntry] = {}
    for entry in incoming:
        before = changed.get(entry.addr) or current.get(entry.addr)
        after = entry if before is None else merge(before, entry)
        if after != before:
            changed[entry.addr] = after
    return changed


def _raw(keydata: str) -> bytes:
    return base64.b64decode(keydata)


def canonical_keydata(value: object, name: str = "keydata") -> str:
    """Keydata as stored: strict base64 of at least one byte, one line, padded."""
    return _keydata(value, name)


def _keydata(value: object, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_KEYDATA_CHARS:
        raise InvalidEntry(name)
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEntry(f"{name} is not base64") from exc
    if not raw:
        raise InvalidEntry(name)
    # Re-encoded: two spellings of the same bytes must not compare as different keys.
    return base64.b64encode(raw).decode("ascii")


def _time(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_TIMESTAMP:
        raise InvalidEntry(name)
    return value
