"""OpenPGP keys, checked by Sequoia PGP (``pysequoia``): the only module that imports it.

The host never parses OpenPGP itself. It asks Sequoia whether a text is the key it should
be (the account's secret key, or a correspondent's public key) and what it says about
itself. Anything else raises ``InvalidKey``, whose message names what was wrong and never
quotes the input: a secret key must not reach a log or an error reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .errors import InvalidKey

if TYPE_CHECKING:  # imported where a key is read: Sequoia is about 3 MB of resident memory
    from pysequoia import Cert
    from pysequoia.packet import Packet

#: An exported secret key is a few KiB (RSA-4096 with subkeys and many signatures: tens).
MAX_SECRET_KEY_CHARS = 1 << 20
#: Autocrypt keydata as the keyring stores it: 64 KiB of base64 at most (keyring.py).
MAX_PUBLIC_KEY_BYTES = 64 * 1024
#: An armored public key is base64 (4/3) plus armor lines and comments.
MAX_ARMORED_PUBLIC_KEY_CHARS = 2 * MAX_PUBLIC_KEY_BYTES

_SECRET_BEGIN = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
_PUBLIC_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"


@dataclass(frozen=True)
class KeyInfo:
    """What a key says about itself (public facts only, whichever kind of key was read)."""

    #: Upper-case hex: 40 digits for a v4 key, 64 for a v6 key.
    fingerprint: str
    #: The user IDs Sequoia considers valid (not revoked), in the key's order.
    user_ids: tuple[str, ...]
    #: Sequoia would encrypt to this key now: a valid, live, encryption-capable (sub)key.
    can_encrypt: bool
    #: Creation time of the primary key, Unix seconds.
    created: int


def read_secret_key(armored: str) -> KeyInfo:
    """The account key: an ASCII-armored transferable secret key, or ``InvalidKey``."""
    _check_text(armored, MAX_SECRET_KEY_CHARS)
    if _SECRET_BEGIN not in armored:
        if _PUBLIC_BEGIN in armored:
            raise InvalidKey(
                "this is a public key; the account key must be the secret key "
                "(export it with its secret part)"
            )
        raise InvalidKey(f"not an ASCII-armored OpenPGP secret key (no '{_SECRET_BEGIN}' line)")
    data = _utf8(armored)
    from pysequoia import Tsk
    from pysequoia.packet import PacketPile, Tag

    try:
        tsk = Tsk.from_bytes(data)
        packets = list(PacketPile.from_bytes(bytes(tsk)))
    except Exception:  # Sequoia raises RuntimeError for every kind of bad input
        raise InvalidKey(_UNPARSEABLE) from None
    if not packets or packets[0].tag != Tag.SecretKey:
        raise InvalidKey("the key holds no secret key material (it is a public key)")
    return _info(tsk.extract_certificate(), packets[0])


def read_public_key(keydata: bytes) -> KeyInfo:
    """A correspondent's key: binary OpenPGP (Autocrypt ``keydata``, base64-decoded) that
    is a transferable public key without any secret part, or ``InvalidKey``."""
    _check_keydata(keydata)
    return _read_public(bytes(keydata))


@dataclass(frozen=True)
class KeyIdentity:
    """Who a correspondent's key is: enough to list it and to date a hand-entered one."""

    fingerprint: str
    created: int


def public_key_identity(keydata: bytes) -> KeyIdentity:
    """Checked exactly like ``read_public_key``, without asking whether it can encrypt:
    the keyring checks every key it takes, and the trial encryption is most of the cost."""
    _check_keydata(keydata)
    cert, primary = _parse_public(bytes(keydata))
    return KeyIdentity(cert.fingerprint.upper(), _created(primary))


def keydata_from_armored(text: str) -> bytes:
    """An armored public key (as users paste it) as binary keydata, checked like
    ``read_public_key``. Sequoia re-encodes it, so a pasted key and the same key from an
    Autocrypt header come out as the same bytes."""
    _check_text(text, MAX_ARMORED_PUBLIC_KEY_CHARS)
    if _PUBLIC_BEGIN not in text:
        if _SECRET_BEGIN in text:
            raise InvalidKey(_SECRET_NOT_PUBLIC)
        raise InvalidKey(f"not an ASCII-armored OpenPGP public key (no '{_PUBLIC_BEGIN}' line)")
    cert, _primary = _parse_public(_utf8(text))
    keydata = bytes(cert)
    if len(keydata) > MAX_PUBLIC_KEY_BYTES:
        raise InvalidKey(f"the key is too large (over {MAX_PUBLIC_KEY_BYTES} bytes)")
    return keydata


_UNPARSEABLE = "it does not parse as an OpenPGP key"
_SECRET_NOT_PUBLIC = (
    "this is a secret key; a correspondent's key must be a public key without secret parts"
)


def _check_keydata(keydata: object) -> None:
    if not isinstance(keydata, bytes | bytearray):
        raise InvalidKey("keydata must be bytes")
    if len(keydata) > MAX_PUBLIC_KEY_BYTES:
        raise InvalidKey(f"the key is too large (over {MAX_PUBLIC_KEY_BYTES} bytes)")
    if not keydata:
        raise InvalidKey("the key is empty")
    if keydata.lstrip().startswith(b"-----BEGIN"):
        raise InvalidKey("keydata must be binary OpenPGP, not ASCII armor")


def _read_public(data: bytes) -> KeyInfo:
    cert, primary = _parse_public(data)
    return _info(cert, primary)


def _parse_public(data: bytes) -> tuple[Cert, Packet]:
    """The certificate in ``data`` (binary or armored) and its primary key packet."""
    from pysequoia import Cert
    from pysequoia.packet import PacketPile, Tag

    try:
        # The packets as given, before Sequoia's certificate parser drops the secret parts.
        given = list(PacketPile.from_bytes(data))
        cert = Cert.from_bytes(data)
        packets = list(PacketPile.from_bytes(bytes(cert)))
    except Exception:  # Sequoia raises RuntimeError for every kind of bad input
        raise InvalidKey(_UNPARSEABLE) from None
    if any(p.tag in (Tag.SecretKey, Tag.SecretSubkey) for p in given):
        raise InvalidKey(_SECRET_NOT_PUBLIC)
    if not packets or packets[0].tag != Tag.PublicKey:
        raise InvalidKey(_UNPARSEABLE)
    return cert, packets[0]


def _info(cert: Cert, primary: Packet) -> KeyInfo:
    return KeyInfo(
        fingerprint=cert.fingerprint.upper(),
        user_ids=tuple(str(uid) for uid in cert.user_ids),
        can_encrypt=_can_encrypt(cert),
        created=_created(primary),
    )


def _created(primary: Packet) -> int:
    created = primary.key_created
    if not isinstance(created, datetime):
        raise InvalidKey("the primary key has no creation time")
    return int(created.timestamp())


def _can_encrypt(cert: Cert) -> bool:
    # pysequoia exposes no key flags per valid subkey; encrypting an empty message asks
    # Sequoia's own policy (binding signatures, expiry, revocation, algorithms) instead.
    from pysequoia import encrypt

    try:
        encrypt(b"", [cert], armor=False)
    except Exception:  # "no encryption-capable key" comes as RuntimeError
        return False
    return True


def _check_text(text: object, limit: int) -> None:
    """Refuse what is not armored text of a plausible size, before any parsing."""
    if not isinstance(text, str):
        raise InvalidKey("the key must be text (ASCII armor)")
    if len(text) > limit:
        raise InvalidKey(f"the text is too long for a key (over {limit} characters)")
    if not text.strip():
        raise InvalidKey("the key is empty")


def _utf8(text: str) -> bytes:
    # Armor is ASCII except its comment lines, which may name the owner in UTF-8. A lone
    # surrogate (JSON allows one) cannot be in a key: replaced, Sequoia refuses the rest.
    return text.encode("utf-8", "replace")
