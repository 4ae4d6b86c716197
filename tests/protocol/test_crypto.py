"""crypto: the wrappers around ``cryptography``; every check rejects exactly what it must."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sma_host.protocol import crypto

# RFC 8032, section 7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

ALICE = crypto.Identity.generate()
BOB = crypto.Identity.generate()


def test_rfc8032_vector_through_identity() -> None:
    identity = crypto.Identity(RFC8032_SECRET, bytes(32))
    assert identity.sign_public == RFC8032_PUBLIC
    # Our signatures are domain-separated, so the RFC's raw signature (over the empty
    # message) must not verify through ``verify`` whatever the context; the primitive does.
    Ed25519PublicKey.from_public_bytes(identity.sign_public).verify(RFC8032_SIGNATURE, b"")
    assert not crypto.verify(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"", b"")


def test_rfc5869_vector_through_hkdf() -> None:
    # RFC 5869, appendix A.1, test case 1.
    okm = crypto.hkdf(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_gives_32_bytes_by_default() -> None:
    assert len(crypto.hkdf(b"k", salt=b"s", info=b"i")) == 32


def test_sign_and_verify() -> None:
    signature = ALICE.sign(b"announce", b"payload")
    assert len(signature) == crypto.SIGNATURE_BYTES == 64
    assert crypto.verify(ALICE.sign_public, signature, b"announce", b"payload")


def test_signing_input_is_the_prefix_the_context_a_nul_and_the_data() -> None:
    signature = ALICE.sign(b"ctx", b"data")
    Ed25519PublicKey.from_public_bytes(ALICE.sign_public).verify(
        signature, b"autocrypt-sma/v1/ctx\x00data"
    )


@pytest.mark.parametrize(
    "change",
    [
        "empty",
        "short",
        "long",
        "flipped",
        "key",
        "short key",
        "long key",
        "context",
        "data",
        "split",
    ],
)
def test_verify_rejects(change: str) -> None:
    key, signature, context, data = ALICE.sign_public, ALICE.sign(b"ab", b"cd"), b"ab", b"cd"
    if change == "empty":
        signature = b""
    elif change == "short":
        signature = signature[:63]
    elif change == "long":
        signature = signature + b"\x00"
    elif change == "flipped":
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    elif change == "key":
        key = BOB.sign_public
    elif change == "short key":
        key = key[:31]
    elif change == "long key":
        key = key + b"\x00"
    elif change == "context":
        context = b"ac"
    elif change == "data":
        data = b"ce"
    else:  # the same bytes split differently between context and data
        context, data = b"abc", b"d"
    assert crypto.verify(key, signature, context, data) is False


def test_verify_rejects_an_empty_signature_of_the_right_key_for_empty_data() -> None:
    assert crypto.verify(ALICE.sign_public, b"", b"", b"") is False
    assert crypto.verify(ALICE.sign_public, bytes(64), b"", b"") is False


def test_identity_keys_and_repr() -> None:
    assert len(ALICE.sign_public) == len(ALICE.dh_public) == crypto.KEY_BYTES == 32
    assert ALICE.sign_public != ALICE.dh_public
    assert crypto.Identity.generate().sign_secret != ALICE.sign_secret
    text = repr(ALICE)
    assert ALICE.sign_secret.hex() not in text and ALICE.dh_secret.hex() not in text
    assert text == f"Identity(sign_public={ALICE.sign_public.hex()[:16]}…)"


def test_an_identity_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALICE.sign_secret = bytes(32)  # type: ignore[misc]
    assert hash(ALICE) == hash(crypto.Identity(ALICE.sign_secret, ALICE.dh_secret))


def test_channel_key_is_shared_and_directional() -> None:
    a_to_b = crypto.channel_key(ALICE, "a", BOB.dh_public, sender="a", recipient="b")
    assert a_to_b == crypto.channel_key(BOB, "b", ALICE.dh_public, sender="a", recipient="b")
    assert a_to_b != crypto.channel_key(ALICE, "a", BOB.dh_public, sender="b", recipient="a")
    assert len(a_to_b) == 32


def test_channel_key_must_include_this_device() -> None:
    with pytest.raises(ValueError, match="^the channel must include this device$"):
        crypto.channel_key(ALICE, "c", BOB.dh_public, sender="a", recipient="b")


def test_channel_key_refuses_a_low_order_point() -> None:
    with pytest.raises(crypto.DecryptionFailed):
        crypto.channel_key(ALICE, "a", bytes(32), sender="a", recipient="b")


def test_seal_and_open() -> None:
    key = bytes(range(32))
    nonce, ciphertext = crypto.seal(key, b"secret", b"aad")
    assert len(nonce) == crypto.NONCE_BYTES == 12
    assert crypto.open_sealed(key, nonce, ciphertext, b"aad") == b"secret"
    assert crypto.seal(key, b"secret", b"aad")[0] != nonce  # a fresh random nonce


@pytest.mark.parametrize("change", ["key", "nonce", "short nonce", "long nonce", "ct", "aad"])
def test_open_sealed_rejects(change: str) -> None:
    key = bytes(range(32))
    nonce, ciphertext = crypto.seal(key, b"secret", b"aad")
    aad = b"aad"
    if change == "key":
        key = bytes(32)
    elif change == "nonce":
        nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    elif change == "short nonce":
        nonce = nonce[:11]
    elif change == "long nonce":
        nonce = nonce + b"\x00"
    elif change == "ct":
        ciphertext = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    else:
        aad = b"aae"
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(key, nonce, ciphertext, aad)
