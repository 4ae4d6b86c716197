"""Membership updates between paired devices: who joined, who is gone.

Both travel sealed on the device channel (``channel.py``) and are also signed by the
device that vouches for them, so a peer can tell which of its peers made the claim:

- ``member-add``: after pairing a newcomer, its voucher names it to every earlier peer,
  which then trusts it without pairing again (transitive trust within the group);
- ``member-remove``: a device that removes another (or leaves, or expires one) names it
  to every peer; the receiver forgets it for good, or learns that it was removed itself;
- ``member-remove-ack``: the receiver confirms, so the remover stops resending it.

The signature contexts keep a signed add from being replayed as a remove, and back.
"""

from __future__ import annotations

from typing import Any

from . import codec, crypto
from .envelope import MalformedMessage
from .folders import is_muaa_id
from .pairing import Party

MEMBER_ADD = "member-add"
MEMBER_REMOVE = "member-remove"
#: A peer confirms it applied a ``member-remove``: the remover stops resending it.
MEMBER_REMOVE_ACK = "member-remove-ack"
TYPES = (MEMBER_ADD, MEMBER_REMOVE, MEMBER_REMOVE_ACK)
#: Devices named in one membership message at most; more are split over several messages.
MAX_DEVICES = 64

_ADD_CONTEXT = b"member-add"
_REMOVE_CONTEXT = b"member-remove"


def member_add_payload(voucher: crypto.Identity, devices: list[Party]) -> dict[str, Any]:
    """What a device sends its peers after pairing a newcomer: the newcomer's identity,
    signed by the voucher (and sealed on the channel to each peer)."""
    listed = [d.to_json() for d in devices]
    return {"devices": listed, "sig": codec.b64(voucher.sign(_ADD_CONTEXT, codec.dumps(listed)))}


def parse_member_add(payload: dict[str, Any], voucher_sign_key: bytes) -> list[Party]:
    listed = _device_list(payload, minimum=1)
    _check_signature(payload, voucher_sign_key, _ADD_CONTEXT, listed)
    return [Party.from_json(d) for d in listed]


def member_remove_payloads(identity: crypto.Identity, gone: list[str]) -> list[dict[str, Any]]:
    """Signed ``member-remove`` payloads naming ``gone``, at most ``MAX_DEVICES`` each."""
    return [
        _signed_ids(identity, gone[i : i + MAX_DEVICES]) for i in range(0, len(gone), MAX_DEVICES)
    ]


def parse_member_remove(payload: dict[str, Any], sender_sign_key: bytes) -> list[str]:
    """The device ids a peer says are gone; ``MalformedMessage`` unless its signature holds."""
    ids = _device_list(payload, minimum=0)
    _check_signature(payload, sender_sign_key, _REMOVE_CONTEXT, ids)
    if not all(is_muaa_id(i) for i in ids):
        raise MalformedMessage("bad id")
    return [str(i) for i in ids]


def member_remove_ack_payload(ids: list[str]) -> dict[str, Any]:
    """The confirmation of a ``member-remove``; the sealed channel says who sends it."""
    return {"devices": ids}


def parse_member_remove_ack(payload: dict[str, Any]) -> list[str]:
    ids = _device_list(payload, minimum=1)
    if not all(is_muaa_id(i) for i in ids):
        raise MalformedMessage("bad id")
    return [str(i) for i in ids]


def _signed_ids(identity: crypto.Identity, ids: list[str]) -> dict[str, Any]:
    return {"devices": ids, "sig": codec.b64(identity.sign(_REMOVE_CONTEXT, codec.dumps(ids)))}


def _device_list(payload: dict[str, Any], minimum: int) -> list[Any]:
    listed = payload.get("devices")
    if not isinstance(listed, list) or not minimum <= len(listed) <= MAX_DEVICES:
        raise MalformedMessage("bad device list")
    return listed


def _check_signature(
    payload: dict[str, Any], sign_key: bytes, context: bytes, signed: list[Any]
) -> None:
    signature = codec.unb64(payload.get("sig"), crypto.SIGNATURE_BYTES)
    if not crypto.verify(sign_key, signature, context, codec.dumps(signed)):
        raise MalformedMessage("bad signature")
