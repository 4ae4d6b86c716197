"""Messages between paired devices: encrypted and authenticated end to end.

Body: one line of canonical JSON ``{"nonce": b64, "seq": n, "to": <recipient>, "v": 1}``,
a newline, then the raw ciphertext (the envelope base64-encodes the whole body once:
a second base64 layer inside would cost a third more on the server). The key comes
from the two devices' static X25519 keys (``crypto.channel_key``); the associated data
binds sender, recipient, message type and the per-sender sequence number, so a message
moved to another inbox, relabelled or renumbered fails to open.
"""

from __future__ import annotations

from typing import Any

from . import codec, crypto
from .envelope import Envelope, MalformedMessage
from .folders import is_muaa_id


def associated_data(sender: str, recipient: str, sma_type: str, seq: int) -> bytes:
    return codec.dumps(["autocrypt-sma/v1/channel", sender, recipient, sma_type, seq])


def seal(
    own: crypto.Identity,
    own_id: str,
    peer_id: str,
    peer_dh_public: bytes,
    sma_type: str,
    seq: int,
    payload: dict[str, Any],
) -> bytes:
    """The body of a ``sma_type`` message from us to ``peer_id``."""
    key = crypto.channel_key(own, own_id, peer_dh_public, sender=own_id, recipient=peer_id)
    nonce, ciphertext = crypto.seal(
        key, codec.dumps(payload), associated_data(own_id, peer_id, sma_type, seq)
    )
    header = codec.dumps({"v": 1, "to": peer_id, "seq": seq, "nonce": codec.b64(nonce)})
    return header + b"\n" + ciphertext


def open_sealed(
    own: crypto.Identity, own_id: str, sender_dh_public: bytes, envelope: Envelope
) -> tuple[int, dict[str, Any]]:
    """(seq, payload) of a message from a paired sender; ``MalformedMessage`` or
    ``crypto.DecryptionFailed`` when it is not exactly what that sender sealed for us."""
    header, newline, ciphertext = envelope.body.partition(b"\n")
    if not newline:
        raise MalformedMessage("no ciphertext")
    fields = codec.loads_object(header)
    if (
        not codec.is_v1(fields.get("v"))
        or fields.get("to") != own_id
        or not is_muaa_id(envelope.sender)
    ):
        raise MalformedMessage("not for us")
    seq = codec.field_int(fields, "seq")
    nonce = codec.unb64(fields.get("nonce"), crypto.NONCE_BYTES)
    key = crypto.channel_key(
        own, own_id, sender_dh_public, sender=envelope.sender, recipient=own_id
    )
    plaintext = crypto.open_sealed(
        key, nonce, ciphertext, associated_data(envelope.sender, own_id, envelope.sma_type, seq)
    )
    return seq, codec.loads_object(plaintext)
