"""Device-to-device messages: only the addressed paired device opens them, as sent."""

from __future__ import annotations

import json

import pytest

from sma_host.protocol import channel, crypto
from sma_host.protocol.envelope import Envelope, MalformedMessage

A, B, C = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"
ID_A, ID_B, ID_C = (
    crypto.Identity.generate(),
    crypto.Identity.generate(),
    crypto.Identity.generate(),
)


def sealed(sma_type: str = "member-add", seq: int = 7) -> bytes:
    return channel.seal(ID_A, A, B, ID_B.dh_public, sma_type, seq, {"devices": []})


def test_round_trip() -> None:
    assert channel.open_sealed(ID_B, B, ID_A.dh_public, Envelope("member-add", A, sealed())) == (
        7,
        {"devices": []},
    )


@pytest.mark.parametrize(
    "change",
    ["type", "sender", "seq", "recipient_key", "ciphertext", "reflected"],
)
def test_anything_changed_fails(change: str) -> None:
    body, sma_type, sender, key, opener, own_id = sealed(), "member-add", A, ID_A.dh_public, ID_B, B
    if change == "type":
        sma_type = "key-update"
    elif change == "sender":
        sender, key = C, ID_C.dh_public
    elif change == "seq":
        header, _, ciphertext = body.partition(b"\n")
        fields = json.loads(header)
        fields["seq"] = 8
        body = json.dumps(fields).encode() + b"\n" + ciphertext
    elif change == "recipient_key":
        opener = ID_C
    elif change == "ciphertext":
        flipped = bytearray(body)
        flipped[-1] ^= 0x01  # the last byte of the Poly1305 tag
        body = bytes(flipped)
    else:  # our own message bounced back to us as if the peer had sent it
        opener, own_id, sender, key = ID_A, A, B, ID_B.dh_public
    with pytest.raises((crypto.DecryptionFailed, MalformedMessage)):
        channel.open_sealed(opener, own_id, key, Envelope(sma_type, sender, body))


def test_the_ciphertext_travels_raw_after_one_header_line() -> None:
    header, newline, ciphertext = sealed().partition(b"\n")
    assert newline and set(json.loads(header)) == {"v", "to", "seq", "nonce"}
    assert len(ciphertext) == len(b'{"devices":[]}') + 16  # no second base64 layer


def test_a_body_without_ciphertext_is_malformed() -> None:
    header = sealed().partition(b"\n")[0]
    with pytest.raises(MalformedMessage):
        channel.open_sealed(ID_B, B, ID_A.dh_public, Envelope("member-add", A, header))
