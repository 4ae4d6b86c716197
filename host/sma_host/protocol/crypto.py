"""The cryptography the protocol uses, in one place, all from ``cryptography``.

Device identity = an Ed25519 signing key (authenticates what a device writes) and an
X25519 key (lets peers encrypt to it). Every failure of a check is a plain False or
``DecryptionFailed``; the reason is never detailed, so nothing leaks through errors.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
SIGNATURE_BYTES = 64


class DecryptionFailed(Exception):
    """Authenticated decryption or verification failed. Deliberately without detail."""


@dataclass(frozen=True, repr=False)
class Identity:
    """A device's private keys (raw 32-byte secrets). ``repr`` hides them."""

    sign_secret: bytes
    dh_secret: bytes

    def __repr__(self) -> str:
        return f"Identity(sign_public={self.sign_public.hex()[:16]}…)"

    @classmethod
    def generate(cls) -> Identity:
        sign = Ed25519PrivateKey.generate()
        dh = X25519PrivateKey.generate()
        # The *_raw() forms: the serialization package would load SSH, RSA, DSA and EC
        # support (about 0.5 MB resident) for two raw encodings.
        return cls(sign.private_bytes_raw(), dh.private_bytes_raw())

    @property
    def sign_public(self) -> bytes:
        key = Ed25519PrivateKey.from_private_bytes(self.sign_secret).public_key()
        return key.public_bytes_raw()

    @property
    def dh_public(self) -> bytes:
        key = X25519PrivateKey.from_private_bytes(self.dh_secret).public_key()
        return key.public_bytes_raw()

    def sign(self, context: bytes, data: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.sign_secret).sign(
            _signed_bytes(context, data)
        )


def verify(sign_public: bytes, signature: bytes, context: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``sign_public``'s over ``context`` + ``data``."""
    if len(sign_public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(sign_public).verify(
            signature, _signed_bytes(context, data)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _signed_bytes(context: bytes, data: bytes) -> bytes:
    # Domain separation: a signature made for one message type never verifies as another.
    return b"autocrypt-sma/v1/" + context + b"\x00" + data


NONCE_BYTES = 12


def channel_key(
    own: Identity, own_id: str, peer_dh_public: bytes, sender: str, recipient: str
) -> bytes:
    """The AEAD key for messages ``sender`` → ``recipient`` (one of them is us).

    X25519 between the two devices' static keys, then HKDF-SHA256 with the direction in
    ``info``: the key for A→B differs from B→A, so a message cannot be reflected back.
    """
    if own_id not in (sender, recipient):
        raise ValueError("the channel must include this device")
    return _channel_key(own.dh_secret, peer_dh_public, sender, recipient)


@functools.lru_cache(maxsize=256)
def _channel_key(dh_secret: bytes, peer_dh_public: bytes, sender: str, recipient: str) -> bytes:
    # Cached: a sync of thousands of messages from one peer would redo the same X25519.
    try:
        shared = X25519PrivateKey.from_private_bytes(dh_secret).exchange(
            X25519PublicKey.from_public_bytes(peer_dh_public)
        )
    except ValueError as exc:  # a low-order point gives an all-zero secret
        raise DecryptionFailed from exc
    return hkdf(shared, salt=b"autocrypt-sma/v1/channel", info=f"{sender}>{recipient}".encode())


def hkdf(secret: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=salt, info=info).derive(secret)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> tuple[bytes, bytes]:
    """ChaCha20-Poly1305 with a random nonce; returns (nonce, ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, ChaCha20Poly1305(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    if len(nonce) != NONCE_BYTES:
        raise DecryptionFailed
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag as exc:
        raise DecryptionFailed from exc
