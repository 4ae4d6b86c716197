"""Announcements: each MUAA's signed self-description in ``_Autocrypt_SMA``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import crypto
from .codec import b64 as _b64
from .codec import is_text, is_v1
from .codec import loads_object as _json_object
from .codec import unb64 as _unb64
from .envelope import Envelope, MalformedMessage
from .folders import is_muaa_id

SMA_TYPE = "announce"
MAX_NAME_CHARS = 64
#: An announcement is about 1 KiB; anything much larger is not one.
MAX_MESSAGE_BYTES = 64 * 1024
_SIGN_CONTEXT = b"announce"
#: Removals an announcement carries at most (the remover's most recent ones).
MAX_REMOVED = 64


@dataclass(frozen=True)
class Announcement:
    muaa_id: str
    name: str
    addr: str
    created: int
    last_seen: int
    sign_key: bytes
    dh_key: bytes
    #: Devices this device removed: a record signed with its identity key (§14).
    removed: tuple[str, ...] = ()


def encode(announcement: Announcement, identity: crypto.Identity) -> bytes:
    """The signed JSON body of an announcement message."""
    payload = json.dumps(
        {
            "v": 1,
            "muaa_id": announcement.muaa_id,
            "name": announcement.name,
            "addr": announcement.addr,
            "created": announcement.created,
            "last_seen": announcement.last_seen,
            "sign_key": _b64(announcement.sign_key),
            "dh_key": _b64(announcement.dh_key),
            **({"removed": list(announcement.removed)} if announcement.removed else {}),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
    signature = identity.sign(_SIGN_CONTEXT, payload)
    return json.dumps({"signed": _b64(payload), "sig": _b64(signature)}).encode("utf-8")


def decode(envelope: Envelope, addr: str) -> Announcement:
    """Verify and read an announcement; ``MalformedMessage`` unless it is self-consistent,
    signed by the key it names, and made for this account's address."""
    if envelope.sma_type != SMA_TYPE:
        raise MalformedMessage("not an announcement")
    outer = _json_object(envelope.body)
    payload = _unb64(outer.get("signed"))
    signature = _unb64(outer.get("sig"))
    fields = _json_object(payload)
    sign_key = _unb64(fields.get("sign_key"))
    if not crypto.verify(sign_key, signature, _SIGN_CONTEXT, payload):
        raise MalformedMessage("bad signature")
    muaa_id, name = fields.get("muaa_id"), fields.get("name")
    created, last_seen = fields.get("created"), fields.get("last_seen")
    if not is_v1(fields.get("v")) or muaa_id != envelope.sender or not is_muaa_id(muaa_id):
        raise MalformedMessage("sender mismatch")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or not is_text(name):
        raise MalformedMessage("bad name")
    if not _is_time(created) or not _is_time(last_seen):
        raise MalformedMessage("bad times")
    if not isinstance(fields.get("addr"), str) or fields["addr"].lower() != addr.lower():
        # Copied from another account by the server: not a device of this one.
        raise MalformedMessage("other account")
    dh_key = _unb64(fields.get("dh_key"))
    if len(dh_key) != crypto.KEY_BYTES:
        raise MalformedMessage("bad key")
    removed = fields.get("removed", [])
    if (
        not isinstance(removed, list)
        or len(removed) > MAX_REMOVED
        or not all(is_muaa_id(r) and r != muaa_id for r in removed)
    ):
        raise MalformedMessage("bad removals")
    assert isinstance(muaa_id, str) and isinstance(created, int) and isinstance(last_seen, int)
    return Announcement(
        muaa_id, name, fields["addr"], created, last_seen, sign_key, dh_key, tuple(removed)
    )


@dataclass(frozen=True)
class Digest:
    """What the announcement folder says, reduced to decisions."""

    #: The newest valid announcement of each MUAA.
    devices: dict[str, Announcement]
    #: UIDs holding the current live announcement of each MUAA.
    live_uids: dict[str, int]
    #: UIDs of our own announcements that a newer one of ours supersedes.
    own_stale_uids: list[int]
    #: Removed id → the trusted device (ourselves or a peer) whose announcement says so.
    removals: dict[str, str]


def digest(
    announcements: Iterable[tuple[int, Announcement]],
    self_id: str | None,
    trusted_keys: Mapping[str, bytes],
) -> Digest:
    """Pick the newest announcement per MUAA (by ``last_seen``, then UID).

    ``trusted_keys`` maps MUAA ids whose signing key we know (ourselves, paired
    devices) to that key. Anyone can sign an announcement claiming such an id with a
    key of their own; those are ignored, never trusted nor deleted as ours.
    """
    best: dict[str, tuple[int, int, Announcement]] = {}
    own: list[int] = []
    for uid, ann in announcements:
        known = trusted_keys.get(ann.muaa_id)
        if known is not None and ann.sign_key != known:
            continue
        if ann.muaa_id == self_id:
            own.append(uid)
        rank = (ann.last_seen, uid)
        current = best.get(ann.muaa_id)
        if current is None or rank > current[:2]:
            best[ann.muaa_id] = (ann.last_seen, uid, ann)
    # Only a device whose key we know can remove: anyone can sign an announcement.
    removals = {
        gone: muaa
        for muaa, entry in best.items()
        if muaa in trusted_keys
        for gone in entry[2].removed
    }
    devices = {muaa: entry[2] for muaa, entry in best.items()}
    live = {muaa: entry[1] for muaa, entry in best.items()}
    own_live = live.get(self_id) if self_id else None
    return Digest(devices, live, [uid for uid in own if uid != own_live], removals)


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40
