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
        fields = json.loads(body)
        fields["seq"] = 8
        body = json.dumps(fields).encode()
    elif change == "recipient_key":
        opener = ID_C
    elif change == "ciphertext":
        fields = json.loads(body)
        fields["ct"] = ("B" if fields["ct"][0] != "B" else "C") + fields["ct"][1:]
        body = json.dumps(fields).encode()
    else:  # our own message bounced back to us as if the peer had sent it
        opener, own_id, sender, key = ID_A, A, B, ID_B.dh_public
    with pytest.raises((crypto.DecryptionFailed, MalformedMessage)):
        channel.open_sealed(opener, own_id, key, Envelope(sma_type, sender, body))
