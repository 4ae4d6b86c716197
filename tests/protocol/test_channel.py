"""Device-to-device messages: only the addressed paired device opens them, as sent."""

from __future__ import annotations

import base64
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
    # A reflected message is not addressed to us; every other change reaches the AEAD.
    expected = MalformedMessage if change == "reflected" else crypto.DecryptionFailed
    with pytest.raises(expected):
        channel.open_sealed(opener, own_id, key, Envelope(sma_type, sender, body))


def test_the_ciphertext_travels_raw_after_one_header_line() -> None:
    header, newline, ciphertext = sealed().partition(b"\n")
    assert newline and set(json.loads(header)) == {"v", "to", "seq", "nonce"}
    assert len(ciphertext) == len(b'{"devices":[]}') + 16  # no second base64 layer


def test_a_body_without_ciphertext_is_malformed() -> None:
    header = sealed().partition(b"\n")[0]
    with pytest.raises(MalformedMessage, match="^no ciphertext$"):
        channel.open_sealed(ID_B, B, ID_A.dh_public, Envelope("member-add", A, header))


def with_header(**change: object) -> bytes:
    header, _, ciphertext = sealed().partition(b"\n")
    fields = {**json.loads(header), **change}
    return (
        json.dumps({k: v for k, v in fields.items() if v is not None}).encode() + b"\n" + ciphertext
    )


@pytest.mark.parametrize(
    ("body", "sender", "reason"),
    [
        (with_header(v=2), A, "not for us"),
        (with_header(v=True), A, "not for us"),
        (with_header(v=1.0), A, "not for us"),
        (with_header(v=None), A, "not for us"),
        (with_header(to=C), A, "not for us"),
        (with_header(to=None), A, "not for us"),
        (with_header(), "not-an-id", "not for us"),
        (with_header(seq=-1), A, "bad seq"),
        (with_header(seq=7.0), A, "bad seq"),
        (with_header(seq=None), A, "bad seq"),
        (with_header(nonce="AAAA"), A, "bad length"),
        (with_header(nonce=None), A, "missing field"),
        (b"[]\nxx", A, "not an object"),
    ],
    # Named by position: the bodies hold a random nonce, and test ids must be the same in
    # every process that collects them (pytest-xdist).
    ids=lambda value: None if isinstance(value, str) else "body",
)
def test_the_header_is_checked_before_decryption(body: bytes, sender: str, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        channel.open_sealed(ID_B, B, ID_A.dh_public, Envelope("member-add", sender, body))


def test_the_header_names_version_recipient_seq_and_nonce() -> None:
    header = json.loads(sealed(seq=1_700_000_000).partition(b"\n")[0])
    assert (header["v"], header["to"], header["seq"]) == (1, B, 1_700_000_000)
    assert len(base64.b64decode(header["nonce"])) == crypto.NONCE_BYTES


def test_a_sealed_payload_that_is_no_object_is_malformed() -> None:
    body = channel.seal(ID_A, A, B, ID_B.dh_public, "member-add", 1, [1])  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage, match="^not an object$"):
        channel.open_sealed(ID_B, B, ID_A.dh_public, Envelope("member-add", A, body))


def test_associated_data_binds_sender_recipient_type_and_seq() -> None:
    assert channel.associated_data(A, B, "key-update", 3) == (
        b'["autocrypt-sma/v1/channel","aaaaaaaaaaaaaaaa","bbbbbbbbbbbbbbbb","key-update",3]'
    )
