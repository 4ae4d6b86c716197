"""Short-code pairing over the SMA: SPAKE2 with explicit key confirmation (RFC 9382's flow).

The new device N shows a code; the user types it on an existing device E.

1. ``pair-request``  N → E: N's SPAKE2 message (``SPAKE2_A``) and N's public identity.
2. ``pair-accept``   E → N: E's SPAKE2 message, E's confirmation value, E's identity, and
   (encrypted under a key derived from the SPAKE2 result) the account key, the devices
   E is paired with and E's keyring; a keyring too large for one message fills further
   ``pair-accept`` parts, each sealed the same way and bound to its number.
3. ``pair-confirm``  N → E: N's confirmation value, once every part has arrived.

Every key and confirmation value is derived with HKDF-SHA256 from the SPAKE2 key, salted
with a hash of the whole transcript (account, pairing id, both ids, both names, both
identities, both SPAKE2 messages): a server that swaps or rewrites any of them makes the
confirmation fail. SPAKE2
gives an attacker who does not know the code one online guess per attempt and nothing
to test guesses offline. A failed confirmation ends the attempt for good.

``pair-abort`` (either way) carries no secret: it only tells the peer the attempt ended.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from . import codec, crypto
from .envelope import Envelope, MalformedMessage
from .folders import is_muaa_id

REQUEST = "pair-request"
ACCEPT = "pair-accept"
CONFIRM = "pair-confirm"
ABORT = "pair-abort"

#: The pairing messages' ``v``. 2: the keyring travels in the accept, in parts (an old
#: device would pair without it, so the two versions do not pair at all).
VERSION = 2
#: A payload part's plaintext at most: its ``pair-accept`` (base64 in the JSON body, then
#: base64 again by the envelope, about 1.83 × the plaintext) stays under the 2 MiB
#: message limit. A keyring entry is at most about 129 KiB, so one always fits a part.
PART_MAX_BYTES = 1024 * 1024
#: Parts of one accept at most (a 1 GiB keyring); more is refused as malformed.
MAX_PARTS = 1024
CODE_DIGITS = 10
DEFAULT_TTL_S = 600
#: The longest a code may live; an existing device caps what a request claims to this.
MAX_TTL_S = 3600
#: A ``pair.request`` without ``to`` asks at most this many devices: the most recently
#: seen ones, and only those seen within ``RECENT_S`` (announcements refresh daily).
MAX_BROADCAST = 4
RECENT_S = 3 * 24 * 3600
#: Abort reasons a peer may give; anything else is reported as ``aborted``.
ABORT_REASONS = frozenset({"confirmation_failed", "cancelled", "completed_elsewhere", "expired"})
_PAKE_MESSAGE_BYTES = 33
_CONFIRM_BYTES = 32
_PAIRING_ID = re.compile(r"[0-9a-f]{16}")


class ConfirmationFailed(Exception):
    """The peer's confirmation did not match: wrong code, or someone in the middle."""


@dataclass(frozen=True)
class Party:
    """A device's public identity as exchanged in pairing."""

    muaa_id: str
    name: str
    sign_key: bytes
    dh_key: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "muaa_id": self.muaa_id,
            "name": self.name,
            "sign_key": codec.b64(self.sign_key),
            "dh_key": codec.b64(self.dh_key),
        }

    @classmethod
    def from_json(cls, fields: object) -> Party:
        if not isinstance(fields, dict):
            raise MalformedMessage("bad party")
        muaa_id = codec.field_str(fields, "muaa_id")
        if not is_muaa_id(muaa_id):
            raise MalformedMessage("bad id")
        return cls(
            muaa_id,
            codec.field_str(fields, "name", 64),
            codec.unb64(fields.get("sign_key"), crypto.KEY_BYTES),
            codec.unb64(fields.get("dh_key"), crypto.KEY_BYTES),
        )


def code_from_random(random_bytes: bytes) -> str:
    """A ``CODE_DIGITS``-digit decimal code from 8 random bytes (bias below 2^-30)."""
    if len(random_bytes) < 8:
        raise ValueError("need 8 random bytes")
    return str(int.from_bytes(random_bytes[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def format_code(code: str) -> str:
    """``1234567890`` → ``12345-67890`` for display; ``normalize_code`` undoes it."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_code(typed: str) -> str | None:
    """The digits of a typed code (spaces and dashes ignored), or None when malformed."""
    digits = re.sub(r"[\s-]", "", typed)
    # ASCII digits only: ``\d`` also matches "١" or "１", which SPAKE2's ASCII encoding refuses.
    return digits if re.fullmatch(rf"[0-9]{{{CODE_DIGITS}}}", digits) else None


def is_pairing_id(value: object) -> bool:
    return isinstance(value, str) and _PAIRING_ID.fullmatch(value) is not None


def broadcast_targets(last_seen: dict[str, int], now: int) -> list[str]:
    """The devices a request without ``to`` goes to: recent ones, newest first, capped.
    Each target holds its own SPAKE2 state, and any one can end the attempt: fakes must not
    multiply either."""
    recent = [m for m, seen in last_seen.items() if seen >= now - RECENT_S]
    recent.sort(key=lambda m: (-last_seen[m], m))
    return sorted(recent[:MAX_BROADCAST])


def load_pake() -> None:
    """Import SPAKE2 ahead of a pairing. It is imported where it is used, so that a host
    that never pairs does not hold it (a few MB resident, about 30 ms to load)."""
    import spake2  # noqa: F401


def _spake_ids(addr: str, pairing_id: str, new_id: str, existing_id: str) -> tuple[bytes, bytes]:
    base = f"autocrypt-sma/v1|{addr.lower()}|{pairing_id}|"
    return (base + new_id).encode(), (base + existing_id).encode()


def transcript_hash(
    addr: str, pairing_id: str, new: Party, existing: Party, pake_new: bytes, pake_existing: bytes
) -> bytes:
    fields = [
        b"autocrypt-sma/v1/pairing",
        addr.lower().encode(),
        pairing_id.encode(),
        new.muaa_id.encode(),
        new.name.encode("utf-8"),  # every field the user sees about the peer is bound
        new.sign_key,
        new.dh_key,
        existing.muaa_id.encode(),
        existing.name.encode("utf-8"),
        existing.sign_key,
        existing.dh_key,
        pake_new,
        pake_existing,
    ]
    digest = hashlib.sha256()
    for item in fields:  # length-prefixed: no two transcripts encode alike
        digest.update(len(item).to_bytes(4, "big") + item)
    return digest.digest()


@dataclass(frozen=True, repr=False)
class SessionKeys:
    confirm_new: bytes
    confirm_existing: bytes
    payload: bytes


def _session_keys(spake_key: bytes, transcript: bytes) -> SessionKeys:
    def derive(label: bytes) -> bytes:
        return crypto.hkdf(spake_key, salt=transcript, info=b"autocrypt-sma/v1/pairing/" + label)

    return SessionKeys(derive(b"confirm-new"), derive(b"confirm-existing"), derive(b"payload"))


# The new device ------------------------------------------------------------------------


def start_new(
    code: str, addr: str, pairing_id: str, new_id: str, existing_id: str
) -> tuple[bytes, bytes]:
    """N's SPAKE2 state (serialised, to keep in the database) and its outgoing message."""
    from spake2 import SPAKE2_A  # here: about 4 MB resident, needed only while pairing

    id_a, id_b = _spake_ids(addr, pairing_id, new_id, existing_id)
    spake = SPAKE2_A(code.encode("ascii"), idA=id_a, idB=id_b)
    message: bytes = spake.start()
    state: bytes = spake.serialize()
    return state, message


def request_body(pairing_id: str, new: Party, target: str, pake: bytes, expires_at: int) -> bytes:
    return codec.dumps(
        {
            "v": VERSION,
            "pairing_id": pairing_id,
            "to": target,
            "party": new.to_json(),
            "pake": codec.b64(pake),
            "expires_at": expires_at,
        }
    )


@dataclass(frozen=True)
class Request:
    pairing_id: str
    target: str
    party: Party
    pake: bytes
    expires_at: int


def parse_request(envelope: Envelope) -> Request:
    fields = _fields(envelope, REQUEST)
    party = Party.from_json(fields.get("party"))
    if party.muaa_id != envelope.sender:
        raise MalformedMessage("sender mismatch")
    return Request(
        fields["pairing_id"],
        codec.field_str(fields, "to"),
        party,
        codec.unb64(fields.get("pake"), _PAKE_MESSAGE_BYTES),
        codec.field_int(fields, "expires_at"),
    )


@dataclass(frozen=True)
class Accept:
    pairing_id: str
    party: Party
    pake: bytes
    confirm: bytes
    nonce: bytes
    ciphertext: bytes
    part: int
    parts: int


def parse_accept(envelope: Envelope) -> Accept:
    fields = _fields(envelope, ACCEPT)
    party = Party.from_json(fields.get("party"))
    if party.muaa_id != envelope.sender:
        raise MalformedMessage("sender mismatch")
    return Accept(
        fields["pairing_id"],
        party,
        codec.unb64(fields.get("pake"), _PAKE_MESSAGE_BYTES),
        codec.unb64(fields.get("confirm"), _CONFIRM_BYTES),
        codec.unb64(fields.get("nonce"), crypto.NONCE_BYTES),
        codec.unb64(fields.get("ct")),
        *_part_numbers(fields),
    )


def _part_numbers(fields: dict[str, Any]) -> tuple[int, int]:
    part, parts = codec.field_int(fields, "part"), codec.field_int(fields, "parts")
    if not 0 <= part < parts <= MAX_PARTS:
        raise MalformedMessage("bad part number")
    return part, parts


def _part_aad(transcript: bytes, part: int, parts: int) -> bytes:
    """A part is bound to the transcript, its number and the count: a server can neither
    move a part to another attempt nor drop the last parts unnoticed."""
    return transcript + part.to_bytes(4, "big") + parts.to_bytes(4, "big")


def split_payload(
    base: dict[str, Any], keyring: list[dict[str, Any]], budget: int = PART_MAX_BYTES
) -> list[dict[str, Any]]:
    """The payload parts: ``base`` and the first keyring entries in part 0, then the rest
    in order, each part's JSON within ``budget`` bytes (at least one entry per later part)."""
    parts: list[dict[str, Any]] = [{**base, "keyring": []}]
    used = len(codec.dumps(parts[0]))
    for entry in keyring:
        size = len(codec.dumps(entry)) + 1
        if used + size > budget and (len(parts) == 1 or parts[-1]["keyring"]):
            parts.append({"keyring": []})
            used = len(codec.dumps(parts[-1]))
        parts[-1]["keyring"].append(entry)
        used += size
    return parts


def finish_new(
    state: bytes, own_pake: bytes, addr: str, pairing_id: str, new: Party, accept: Accept
) -> tuple[dict[str, Any], bytes]:
    """Check E's confirmation and open this part of the payload; returns (the part's
    payload, pair-confirm body).

    ``own_pake`` is N's outgoing SPAKE2 message (a restored state does not keep it).

    Raises ``ConfirmationFailed`` for a wrong code or any tampering.
    """
    from spake2 import SPAKE2_A

    try:
        spake = SPAKE2_A.from_serialized(state)
        spake_key: bytes = spake.finish(accept.pake)
    except Exception as exc:  # spake2 raises several types for hostile group elements
        raise ConfirmationFailed from exc
    transcript = transcript_hash(addr, pairing_id, new, accept.party, own_pake, accept.pake)
    keys = _session_keys(spake_key, transcript)
    if not hmac.compare_digest(keys.confirm_existing, accept.confirm):
        raise ConfirmationFailed
    try:
        payload = codec.loads_object(
            crypto.open_sealed(
                keys.payload,
                accept.nonce,
                accept.ciphertext,
                _part_aad(transcript, accept.part, accept.parts),
            )
        )
    except (crypto.DecryptionFailed, MalformedMessage) as exc:
        raise ConfirmationFailed from exc
    confirm = codec.dumps(
        {
            "v": VERSION,
            "pairing_id": pairing_id,
            "to": accept.party.muaa_id,
            "confirm": codec.b64(keys.confirm_new),
        }
    )
    return payload, confirm


# The existing device -------------------------------------------------------------------


def accept(
    code: str, addr: str, request: Request, existing: Party, parts: list[dict[str, Any]]
) -> tuple[list[bytes], bytes]:
    """E's answer to ``request`` with the code the user typed: (one pair-accept body per
    payload part, the confirmation value N must send back)."""
    if not 0 < len(parts) <= MAX_PARTS:
        raise ValueError(f"{len(parts)} payload parts: 1 to {MAX_PARTS} go in a pairing")
    from spake2 import SPAKE2_B

    id_a, id_b = _spake_ids(addr, request.pairing_id, request.party.muaa_id, existing.muaa_id)
    spake = SPAKE2_B(code.encode("ascii"), idA=id_a, idB=id_b)
    pake: bytes = spake.start()
    try:
        spake_key: bytes = spake.finish(request.pake)
    except Exception as exc:
        raise ConfirmationFailed from exc
    transcript = transcript_hash(
        addr, request.pairing_id, request.party, existing, request.pake, pake
    )
    keys = _session_keys(spake_key, transcript)
    bodies = []
    for number, payload in enumerate(parts):
        aad = _part_aad(transcript, number, len(parts))
        nonce, ciphertext = crypto.seal(keys.payload, codec.dumps(payload), aad)
        bodies.append(
            codec.dumps(
                {
                    "v": VERSION,
                    "pairing_id": request.pairing_id,
                    "to": request.party.muaa_id,
                    "party": existing.to_json(),
                    "pake": codec.b64(pake),
                    "confirm": codec.b64(keys.confirm_existing),
                    "nonce": codec.b64(nonce),
                    "ct": codec.b64(ciphertext),
                    "part": number,
                    "parts": len(parts),
                }
            )
        )
    return bodies, keys.confirm_new


@dataclass(frozen=True)
class Confirm:
    pairing_id: str
    confirm: bytes


def parse_confirm(envelope: Envelope) -> Confirm:
    fields = _fields(envelope, CONFIRM)
    return Confirm(fields["pairing_id"], codec.unb64(fields.get("confirm"), _CONFIRM_BYTES))


def check_confirm(expected: bytes, confirm: Confirm) -> bool:
    return hmac.compare_digest(expected, confirm.confirm)


# Either side -----------------------------------------------------------------------------


def abort_body(pairing_id: str, target: str, reason: str) -> bytes:
    return codec.dumps(
        {"v": VERSION, "pairing_id": pairing_id, "to": target, "reason": reason[:64]}
    )


@dataclass(frozen=True)
class Abort:
    pairing_id: str
    reason: str


def parse_abort(envelope: Envelope) -> Abort:
    fields = _fields(envelope, ABORT)
    return Abort(fields["pairing_id"], codec.field_str(fields, "reason", 64))


def _fields(envelope: Envelope, sma_type: str) -> dict[str, Any]:
    if envelope.sma_type != sma_type:
        raise MalformedMessage("wrong type")
    fields = codec.loads_object(envelope.body)
    if not codec.is_version(fields.get("v"), VERSION) or not is_pairing_id(
        fields.get("pairing_id")
    ):
        raise MalformedMessage("bad pairing id")
    return fields
