"""Known answers for every derived value two versions of the host must agree on.

``vectors.json`` holds them; each test recomputes one through our functions from fixed
inputs. A failure means a change on the wire: peers running the old code would no longer
pair, open channel messages or verify announcements.

Regenerate only together with a protocol version change (``autocrypt-sma/v1`` → v2, the
envelope's ``v=``, or a message's ``"v"`` such as ``pairing.VERSION``):
``python -m tests.protocol.test_vectors > tests/protocol/vectors.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sma_host.protocol import announce, channel, codec, crypto, envelope, membership, pairing

VECTORS = Path(__file__).with_name("vectors.json")

ADDR = "Alice@Example.org"
PAIRING_ID = "00112233aabbccdd"
NEW_ID, EXISTING_ID = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
NEW_IDENTITY = crypto.Identity(bytes(range(32)), bytes(range(32, 64)))
EXISTING_IDENTITY = crypto.Identity(bytes(range(64, 96)), bytes(range(96, 128)))
NEW = pairing.Party(NEW_ID, "Laptop", NEW_IDENTITY.sign_public, NEW_IDENTITY.dh_public)
EXISTING = pairing.Party(
    EXISTING_ID, "Büro-PC", EXISTING_IDENTITY.sign_public, EXISTING_IDENTITY.dh_public
)
PAKE_NEW, PAKE_EXISTING = b"\x41" + bytes(32), b"\x42" + bytes(32)
SPAKE_KEY = bytes(range(200, 232))
#: A pair-accept part: the second of three, sealed under a fixed nonce (``crypto.seal``
#: draws a random one) so that its ciphertext is a known answer too.
PART, PARTS = 1, 3
PART_NONCE = bytes(range(240, 252))
PART_PLAINTEXT = b'{"keyring":[]}'
T = 1_700_000_000
ABOUT = (
    "Known answers checked by test_vectors.py. A change here is a protocol change: regenerate"
    " (python -m tests.protocol.test_vectors > tests/protocol/vectors.json) only with a new"
    " protocol version."
)


def compute() -> dict[str, Any]:
    """Every vector, from the fixed inputs above."""
    transcript = pairing.transcript_hash(ADDR, PAIRING_ID, NEW, EXISTING, PAKE_NEW, PAKE_EXISTING)
    keys = pairing._session_keys(SPAKE_KEY, transcript)
    id_a, id_b = pairing._spake_ids(ADDR, PAIRING_ID, NEW_ID, EXISTING_ID)
    part_aad = pairing._part_aad(transcript, PART, PARTS)
    ann = announce.Announcement(
        NEW_ID,
        "Laptop",
        "alice@example.org",
        T,
        T + 60,
        NEW_IDENTITY.sign_public,
        NEW_IDENTITY.dh_public,
        ("cccccccccccccccc",),
    )
    body = announce.encode(ann, NEW_IDENTITY)
    outer = json.loads(body)
    add = membership.member_add_payload(EXISTING_IDENTITY, [NEW])
    (remove,) = membership.member_remove_payloads(EXISTING_IDENTITY, ["cccccccccccccccc"])
    raw = envelope.build_message(
        sma_type="announce",
        sender=NEW_ID,
        body=body,
        address="alice@example.org",
        now=T,
        unique="0123456789abcdef",
    )
    return {
        "_about": ABOUT,
        "pairing": {
            "spake_id_a": id_a.decode(),
            "spake_id_b": id_b.decode(),
            "transcript_hash": transcript.hex(),
            "hkdf_info_prefix": "autocrypt-sma/v1/pairing/",
            "confirm_new": keys.confirm_new.hex(),
            "confirm_existing": keys.confirm_existing.hex(),
            "payload_key": keys.payload.hex(),
            "accept_part_1_of_3_aad": part_aad.hex(),
            "accept_part_1_of_3_ct": ChaCha20Poly1305(keys.payload)
            .encrypt(PART_NONCE, PART_PLAINTEXT, part_aad)
            .hex(),
            "code_from_0123456789abcdef": pairing.code_from_random(
                bytes.fromhex("0123456789abcdef")
            ),
            "formatted_code": pairing.format_code("0123456789"),
            "abort_body": pairing.abort_body(PAIRING_ID, EXISTING_ID, "cancelled").decode(),
        },
        "channel": {
            "hkdf_salt": "autocrypt-sma/v1/channel",
            "key_new_to_existing": crypto.channel_key(
                NEW_IDENTITY, NEW_ID, EXISTING.dh_key, sender=NEW_ID, recipient=EXISTING_ID
            ).hex(),
            "key_existing_to_new": crypto.channel_key(
                NEW_IDENTITY, NEW_ID, EXISTING.dh_key, sender=EXISTING_ID, recipient=NEW_ID
            ).hex(),
            "aad": channel.associated_data(NEW_ID, EXISTING_ID, "key-update", 7).decode(),
        },
        "signatures": {
            "signing_input_prefix": "autocrypt-sma/v1/",
            "announce_signed": codec.unb64(outer["signed"]).decode(),
            "announce_sig": codec.unb64(outer["sig"]).hex(),
            "announce_body": body.decode(),
            "member_add_sig": codec.unb64(add["sig"]).hex(),
            "member_remove_sig": codec.unb64(remove["sig"]).hex(),
        },
        "envelope": {"announce_message": raw.decode("ascii")},
        "constants": {
            "envelope_header": envelope.HEADER,
            "envelope_version": envelope.VERSION,
            "envelope_max_message_bytes": envelope.MAX_MESSAGE_BYTES,
            "announce_type": announce.SMA_TYPE,
            "announce_max_message_bytes": announce.MAX_MESSAGE_BYTES,
            "announce_max_name_chars": announce.MAX_NAME_CHARS,
            "announce_max_removed": announce.MAX_REMOVED,
            "pairing_types": [pairing.REQUEST, pairing.ACCEPT, pairing.CONFIRM, pairing.ABORT],
            "pairing_version": pairing.VERSION,
            "pairing_part_max_bytes": pairing.PART_MAX_BYTES,
            "pairing_max_parts": pairing.MAX_PARTS,
            "pairing_code_digits": pairing.CODE_DIGITS,
            "pairing_default_ttl_s": pairing.DEFAULT_TTL_S,
            "pairing_max_ttl_s": pairing.MAX_TTL_S,
            "pairing_abort_reasons": sorted(pairing.ABORT_REASONS),
            "membership_types": list(membership.TYPES),
            "membership_max_devices": membership.MAX_DEVICES,
        },
    }


EXPECTED: dict[str, Any] = json.loads(VECTORS.read_text())


@pytest.mark.parametrize(
    ("group", "name"),
    [(group, name) for group, values in EXPECTED.items() if group != "_about" for name in values],
)
def test_vector(group: str, name: str) -> None:
    assert compute()[group][name] == EXPECTED[group][name]


def test_no_vector_is_missing() -> None:
    assert compute().keys() == EXPECTED.keys()
    for group, values in EXPECTED.items():
        if group != "_about":
            assert sorted(compute()[group]) == sorted(values)


def test_the_announcement_vector_verifies_and_decodes() -> None:
    sig = EXPECTED["signatures"]
    signed = sig["announce_signed"].encode()
    assert crypto.verify(NEW.sign_key, bytes.fromhex(sig["announce_sig"]), b"announce", signed)
    env = envelope.parse_message(EXPECTED["envelope"]["announce_message"].encode())
    decoded = announce.decode(env, "alice@example.org")
    assert (decoded.muaa_id, decoded.created, decoded.removed) == (NEW_ID, T, ("cccccccccccccccc",))


def test_the_accept_part_vector_opens_only_in_its_place() -> None:
    """The part's known ciphertext opens through ``crypto.open_sealed`` with the AAD the
    host builds for part 1 of 3, and with no other number or count."""
    vectors = EXPECTED["pairing"]
    key = bytes.fromhex(vectors["payload_key"])
    ct = bytes.fromhex(vectors["accept_part_1_of_3_ct"])
    transcript = bytes.fromhex(vectors["transcript_hash"])
    aad = pairing._part_aad(transcript, PART, PARTS)
    assert aad.hex() == vectors["accept_part_1_of_3_aad"]
    assert crypto.open_sealed(key, PART_NONCE, ct, aad) == PART_PLAINTEXT
    for part, parts in ((0, 3), (2, 3), (1, 2), (1, 4)):
        with pytest.raises(crypto.DecryptionFailed):
            crypto.open_sealed(key, PART_NONCE, ct, pairing._part_aad(transcript, part, parts))


if __name__ == "__main__":
    print(json.dumps(compute(), indent=1, ensure_ascii=False, sort_keys=True))
