"""SMA folder names, built inside the server's personal namespace."""

from __future__ import annotations

import re
from dataclasses import dataclass

ANNOUNCE_FOLDER = "_Autocrypt_SMA"
INBOX_FOLDER_PREFIX = "_Autocrypt_SMA_"
MUAA_ID_BYTES = 8
_MUAA_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Namespace:
    """The personal namespace: ``prefix`` (``""`` or e.g. ``"INBOX."``) and hierarchy delimiter."""

    prefix: str
    delimiter: str | None

    def announcement_folder(self) -> str:
        return self.prefix + ANNOUNCE_FOLDER

    def inbox_folder(self, muaa_id: str) -> str:
        require_muaa_id(muaa_id)
        return self.prefix + INBOX_FOLDER_PREFIX + muaa_id

    def inbox_owner(self, folder: str) -> str | None:
        """The MUAA id whose inbox ``folder`` is, or None when it is no SMA inbox."""
        stem = self.prefix + INBOX_FOLDER_PREFIX
        if not folder.startswith(stem):
            return None
        candidate = folder[len(stem) :]
        return candidate if is_muaa_id(candidate) else None


def is_muaa_id(value: object) -> bool:
    return isinstance(value, str) and _MUAA_ID.fullmatch(value) is not None


def require_muaa_id(value: str) -> str:
    if not is_muaa_id(value):
        raise ValueError("not a MUAA id")
    return value


def muaa_id_from_random(random_bytes: bytes) -> str:
    """A new MUAA id: 64 random bits as lowercase hex (safe in any IMAP folder name)."""
    if len(random_bytes) != MUAA_ID_BYTES:
        raise ValueError(f"need {MUAA_ID_BYTES} random bytes")
    return random_bytes.hex()
