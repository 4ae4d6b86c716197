"""Real OpenPGP keys for the tests: the host checks every key with Sequoia, so no test can
use made-up bytes any more. Generated once per label and process (about 2 ms each)."""

from __future__ import annotations

import base64
import functools
from pathlib import Path

from pysequoia import Cert, Tsk

DATA = Path(__file__).parent / "data"
#: The committed account key (tests/data/README.md) and its known fingerprint.
ACCOUNT_SECRET_KEY = (DATA / "account-secret-key.asc").read_text()
ACCOUNT_FINGERPRINT = "420F4AB316348E10739F7D58A95BCB433536A201"


@functools.cache
def secret_key(label: str) -> str:
    """An armored secret key with its own user ID."""
    return str(Tsk.generate(f"{label} <{label}@keys.example>"))


@functools.cache
def public_keydata(label: object) -> bytes:
    """Binary public key (Autocrypt keydata) of a key made for ``label``."""
    name = label.hex() if isinstance(label, bytes) else str(label)
    return bytes(Tsk.generate(f"<k{name}@keys.example>").extract_certificate())


def keydata_b64(label: object) -> str:
    return base64.b64encode(public_keydata(label)).decode()


def fingerprint_of(keydata: bytes | str) -> str:
    raw = base64.b64decode(keydata) if isinstance(keydata, str) else keydata
    return str(Cert.from_bytes(raw).fingerprint).upper()


def secret_fingerprint(armored: str) -> str:
    return str(Tsk.from_bytes(armored.encode()).extract_certificate().fingerprint).upper()


def secret_needles(armored: str) -> list[bytes]:
    """What must never be found on the server or in a log: lines of the armored secret key
    (base64 of its secret parts among them) and a slice of its secret key material."""
    lines = [line for line in armored.splitlines() if len(line) >= 60]
    binary = bytes(Tsk.from_bytes(armored.encode()))
    public = bytes(Tsk.from_bytes(armored.encode()).extract_certificate())
    secret_only = [binary[i : i + 24] for i in range(0, len(binary) - 24, 24)]
    # Slices that are secret material, not shared with the public key.
    secret_only = [chunk for chunk in secret_only if chunk not in public]
    return [line.encode() for line in lines] + secret_only
