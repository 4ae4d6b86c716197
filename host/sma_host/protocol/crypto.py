"""The cryptography the protocol uses, in one place, all from ``cryptography``.

Device identity = an Ed25519 signing key (authenticates what a device writes) and an
X25519 key (lets peers encrypt to it). Every failure of a check is a plain False or
``DecryptionFailed``; the reason is never detailed, so nothing leaks through errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

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
        raw = Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        return cls(sign.private_bytes(*raw), dh.private_bytes(*raw))

    @property
    def sign_public(self) -> bytes:
        key = Ed25519PrivateKey.from_private_bytes(self.sign_secret).public_key()
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def dh_public(self) -> bytes:
        key = X25519PrivateKey.from_private_bytes(self.dh_secret).public_key()
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)

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
