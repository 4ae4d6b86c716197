"""pairing: codes, ids, the broadcast choice, the transcript and every parser's rejections.

The full SPAKE2 exchange is in test_pairing_core.py; here each negative case changes one
field of a well-formed message and expects its specific reason.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from sma_host.protocol import codec, crypto, pairing
from sma_host.protocol.envelope import Envelope, MalformedMessage

ADDR = "Alice@Example.org"
PAIRING_ID = "00112233aabbccdd"
NOW = 1_700_000_000
NEW_ID, EXISTING_ID = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
CODE = "0123456789"


def party(muaa_id: str, name: str) -> pairing.Party:
    identity = crypto.Identity.generate()
    return pairing.Party(muaa_id, name, identity.sign_public, identity.dh_public)


NEW = party(NEW_ID, "Laptop")
EXISTING = party(EXISTING_ID, "Desktop")


# Codes and ids ---------------------------------------------------------------------------


def test_code_from_random_uses_all_ten_digits() -> None:
    assert pairing.code_from_random(b"\xff" * 8) == "3709551615"  # (2**64 - 1) % 10**10
    assert pairing.code_from_random(bytes(7) + b"\x05") == "0000000005"
    assert pairing.code_from_random(bytes.fromhex("0123456789abcdef")) == str(
        0x0123456789ABCDEF % 10**10
    ).zfill(10)
    # Only the first 8 bytes count.
    assert pairing.code_from_random(b"\xff" * 8 + b"\x00") == "3709551615"


def test_code_from_random_needs_8_bytes() -> None:
    with pytest.raises(ValueError, match="^need 8 random bytes$"):
        pairing.code_from_random(b"\xff" * 7)


def test_format_and_normalize_code() -> None:
    assert pairing.format_code("1234567890") == "12345-67890"
    assert pairing.normalize_code("12345-67890") == "1234567890"
    assert pairing.normalize_code("\t12 345\n67-890 ") == "1234567890"
    assert pairing.normalize_code("1234567890") == "1234567890"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "123456789",
        "12345678901",
        "12345-6789x",
        "12345_67890",
        "١٢٣٤٥٦٧٨٩٠",
        "１２３４５６７８９０",
    ],
)
def test_normalize_code_refuses(typed: str) -> None:
    # Non-ASCII digits too: the code goes into SPAKE2 as ASCII bytes.
    assert pairing.normalize_code(typed) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00112233aabbccdd", True),
        ("0011223344556677", True),
        ("00112233aabbccd", False),
        ("00112233aabbccddd", False),
        ("00112233AABBCCDD", False),
        ("00112233aabbccdg", False),
        ("0" * 5010, False),
        (None, False),
        (16, False),
    ],
)
def test_is_pairing_id(value: object, expected: bool) -> None:
    assert pairing.is_pairing_id(value) is expected


def test_broadcast_targets_are_recent_newest_and_capped() -> None:
    now = NOW
    seen = {
        "1111111111111111": now,
        "2222222222222222": now - 10,
        "3333333333333333": now - 20,
        "4444444444444444": now - 30,
        "5555555555555555": now - 40,  # fifth newest: over the cap
        "6666666666666666": now - pairing.RECENT_S,  # just recent enough
        "7777777777777777": now - pairing.RECENT_S - 1,  # too old
    }
    assert pairing.broadcast_targets(seen, now) == sorted(list(seen)[:4])
    del seen["1111111111111111"], seen["2222222222222222"], seen["3333333333333333"]
    assert pairing.broadcast_targets(seen, now) == [
        "4444444444444444",
        "5555555555555555",
        "6666666666666666",
    ]
    # Equal times: the cap keeps the smallest ids.
    tied = {f"{i:016x}": now for i in range(6)}
    assert pairing.broadcast_targets(tied, now) == sorted(tied)[:4]
    assert pairing.MAX_BROADCAST == 4 and pairing.RECENT_S == 3 * 24 * 3600


# The transcript ----------------------------------------------------------------------------


def transcript(**change: Any) -> bytes:
    args: dict[str, Any] = {
        "addr": ADDR,
        "pairing_id": PAIRING_ID,
        "new": NEW,
        "existing": EXISTING,
        "pake_new": b"\x01" * 33,
        "pake_existing": b"\x02" * 33,
    }
    args.update(change)
    return pairing.transcript_hash(**args)


def renamed(p: pairing.Party, **change: Any) -> pairing.Party:
    return pairing.Party(**{**p.__dict__, **change})


@pytest.mark.parametrize(
    "change",
    [
        {"addr": "bob@example.org"},
        {"pairing_id": "ffffffffffffffff"},
        {"new": renamed(NEW, muaa_id="cccccccccccccccc")},
        {"new": renamed(NEW, name="Laptop2")},
        {"new": renamed(NEW, sign_key=bytes(32))},
        {"new": renamed(NEW, dh_key=bytes(32))},
        {"existing": renamed(EXISTING, muaa_id="cccccccccccccccc")},
        {"existing": renamed(EXISTING, name="Desktop2")},
        {"existing": renamed(EXISTING, sign_key=bytes(32))},
        {"existing": renamed(EXISTING, dh_key=bytes(32))},
        {"pake_new": b"\x03" * 33},
        {"pake_existing": b"\x03" * 33},
        {"new": EXISTING, "existing": NEW},
    ],
)
def test_transcript_binds_every_field(change: dict[str, Any]) -> None:
    assert transcript(**change) != transcript()


def test_transcript_ignores_the_case_of_the_address() -> None:
    assert transcript(addr="alice@example.org") == transcript()


def test_transcript_fields_are_length_prefixed() -> None:
    # Moving a byte from one name to the next must not give the same transcript.
    a = transcript(new=renamed(NEW, name="ab"), existing=renamed(EXISTING, name="c"))
    b = transcript(new=renamed(NEW, name="a"), existing=renamed(EXISTING, name="bc"))
    assert a != b


# Parties -------------------------------------------------------------------------------------


def test_party_round_trip() -> None:
    assert pairing.Party.from_json(json.loads(json.dumps(NEW.to_json()))) == NEW


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"muaa_id": "AAAAAAAAAAAAAAAA"}, "bad id"),
        ({"muaa_id": "aaaa"}, "bad id"),
        ({"muaa_id": None}, "bad muaa_id"),
        ({"name": "x" * 65}, "bad name"),
        ({"name": ""}, "bad name"),
        ({"name": "\ud800"}, "bad name"),
        ({"sign_key": codec.b64(bytes(31))}, "bad length"),
        ({"dh_key": codec.b64(bytes(33))}, "bad length"),
        ({"dh_key": None}, "missing field"),
    ],
)
def test_party_from_json_rejects(change: dict[str, Any], reason: str) -> None:
    fields = {k: v for k, v in {**NEW.to_json(), **change}.items() if v is not None}
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        pairing.Party.from_json(fields)


def test_party_from_json_rejects_a_non_object() -> None:
    with pytest.raises(MalformedMessage, match="^bad party$"):
        pairing.Party.from_json([NEW.to_json()])


def test_party_name_of_64_characters_is_fine() -> None:
    long = renamed(NEW, name="é" * 64)
    assert pairing.Party.from_json(long.to_json()) == long


# The messages ----------------------------------------------------------------------------------


def request_fields() -> dict[str, Any]:
    _, pake = pairing.start_new(CODE, ADDR, PAIRING_ID, NEW_ID, EXISTING_ID)
    body = pairing.request_body(PAIRING_ID, NEW, EXISTING_ID, pake, NOW + 600)
    fields: dict[str, Any] = json.loads(body)
    return fields


def accept_fields() -> dict[str, Any]:
    request = pairing.parse_request(
        Envelope(pairing.REQUEST, NEW_ID, codec.dumps(request_fields()))
    )
    (body,), _ = pairing.accept(CODE, ADDR, request, EXISTING, [{"k": 1}])
    fields: dict[str, Any] = json.loads(body)
    return fields


def exchange(parts: list[dict[str, Any]]) -> tuple[bytes, bytes, list[bytes], bytes]:
    """N's SPAKE2 state and message, E's pair-accept bodies for ``parts``, and the
    confirmation value E expects back."""
    state, pake = pairing.start_new(CODE, ADDR, PAIRING_ID, NEW_ID, EXISTING_ID)
    body = pairing.request_body(PAIRING_ID, NEW, EXISTING_ID, pake, NOW + 600)
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW_ID, body))
    bodies, expected = pairing.accept(CODE, ADDR, request, EXISTING, parts)
    return state, pake, bodies, expected


def parsed_accept(body: bytes) -> pairing.Accept:
    return pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING_ID, body))


def test_parse_request_reads_every_field() -> None:
    fields = request_fields()
    assert sorted(fields) == ["expires_at", "pairing_id", "pake", "party", "to", "v"]
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW_ID, codec.dumps(fields)))
    assert request == pairing.Request(
        PAIRING_ID, EXISTING_ID, NEW, codec.unb64(fields["pake"]), NOW + 600
    )


def test_parse_accept_reads_every_field() -> None:
    fields = accept_fields()
    accepted = pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING_ID, codec.dumps(fields)))
    assert accepted == pairing.Accept(
        PAIRING_ID,
        EXISTING,
        codec.unb64(fields["pake"]),
        codec.unb64(fields["confirm"]),
        codec.unb64(fields["nonce"]),
        codec.unb64(fields["ct"]),
        0,
        1,
    )
    assert sorted(fields) == [
        "confirm",
        "ct",
        "nonce",
        "pairing_id",
        "pake",
        "part",
        "parts",
        "party",
        "to",
        "v",
    ]
    assert fields["v"] == pairing.VERSION == 2 and fields["to"] == NEW_ID


#: Changes to any pairing message's common fields, with the reason each gets.
COMMON = [
    ({"v": 1}, "bad pairing id"),  # pairing v1: it would pair without the keyring
    ({"v": 7}, "bad pairing id"),
    ({"v": "2"}, "bad pairing id"),
    ({"v": None}, "bad pairing id"),
    ({"v": True}, "bad pairing id"),
    ({"v": 2.0}, "bad pairing id"),
    ({"pairing_id": "0" * 5010}, "bad pairing id"),
    ({"pairing_id": "00112233AABBCCDD"}, "bad pairing id"),
    ({"pairing_id": None}, "bad pairing id"),
]


def without_none(fields: dict[str, Any]) -> bytes:
    return codec.dumps({k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        *COMMON,
        ({"to": None}, "bad to"),
        ({"to": ""}, "bad to"),
        ({"party": None}, "bad party"),
        ({"pake": codec.b64(bytes(32))}, "bad length"),
        ({"pake": None}, "missing field"),
        ({"expires_at": -1}, "bad expires_at"),
        ({"expires_at": True}, "bad expires_at"),
        ({"expires_at": float(NOW)}, "bad expires_at"),
        ({"party": {**NEW.to_json(), "muaa_id": EXISTING_ID}}, "sender mismatch"),
    ],
)
def test_parse_request_rejects(change: dict[str, Any], reason: str) -> None:
    body = without_none({**request_fields(), **change})
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        pairing.parse_request(Envelope(pairing.REQUEST, NEW_ID, body))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        *COMMON,
        ({"party": None}, "bad party"),
        ({"party": NEW.to_json()}, "sender mismatch"),
        ({"pake": codec.b64(bytes(34))}, "bad length"),
        ({"confirm": codec.b64(bytes(31))}, "bad length"),
        ({"confirm": None}, "missing field"),
        ({"nonce": codec.b64(bytes(13))}, "bad length"),
        ({"ct": None}, "missing field"),
        ({"ct": "not base64"}, "bad base64"),
        ({"part": None}, "bad part"),
        ({"part": -1}, "bad part"),
        ({"part": True}, "bad part"),
        ({"part": 0.0}, "bad part"),
        ({"part": "0"}, "bad part"),
        ({"part": 2**53}, "bad part"),
        ({"parts": None}, "bad parts"),
        ({"parts": -1}, "bad parts"),
        ({"parts": True}, "bad parts"),
        ({"parts": 1.0}, "bad parts"),
        ({"parts": 2**53}, "bad parts"),
        ({"parts": 0}, "bad part number"),
        ({"part": 1}, "bad part number"),  # part == parts
        ({"part": 2}, "bad part number"),  # part > parts
        ({"part": 5, "parts": 3}, "bad part number"),
        ({"parts": pairing.MAX_PARTS + 1}, "bad part number"),
        ({"part": pairing.MAX_PARTS, "parts": pairing.MAX_PARTS + 1}, "bad part number"),
    ],
)
def test_parse_accept_rejects(change: dict[str, Any], reason: str) -> None:
    body = without_none({**accept_fields(), **change})
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING_ID, body))


def test_parse_accept_takes_the_last_of_the_most_parts() -> None:
    fields = {**accept_fields(), "part": pairing.MAX_PARTS - 1, "parts": pairing.MAX_PARTS}
    accepted = parsed_accept(codec.dumps(fields))
    assert (accepted.part, accepted.parts) == (1023, 1024) == (pairing.MAX_PARTS - 1, 1024)


@pytest.mark.parametrize("count", [0, pairing.MAX_PARTS + 1])
def test_accept_refuses_no_parts_and_too_many(count: int) -> None:
    request = pairing.parse_request(
        Envelope(pairing.REQUEST, NEW_ID, codec.dumps(request_fields()))
    )
    with pytest.raises(ValueError, match=f"^{count} payload parts: 1 to 1024 go in a pairing$"):
        pairing.accept(CODE, ADDR, request, EXISTING, [{"keyring": []}] * count)


def test_accept_seals_each_part_under_its_own_nonce() -> None:
    _, _, bodies, _ = exchange([{"keyring": [1]}, {"keyring": [2]}, {"keyring": [3]}])
    fields = [json.loads(body) for body in bodies]
    assert [(f["part"], f["parts"]) for f in fields] == [(0, 3), (1, 3), (2, 3)]
    for name in ("v", "pairing_id", "to", "party", "pake", "confirm"):  # the same in every part
        assert len({json.dumps(f[name]) for f in fields}) == 1
    assert len({f["nonce"] for f in fields}) == 3 and len({f["ct"] for f in fields}) == 3


def test_accept_takes_the_most_parts() -> None:
    _, _, bodies, _ = exchange([{"keyring": [n]} for n in range(pairing.MAX_PARTS)])
    last = parsed_accept(bodies[-1])
    assert len(bodies) == 1024 and (last.part, last.parts) == (1023, 1024)


#: A keyring entry of 10 bytes of JSON: a part of n of them is 14 + 11n - 1 bytes.
ENTRY = {"a": "xx"}


def test_split_payload_counts_each_entry_and_its_comma() -> None:
    assert len(codec.dumps({"keyring": []})) == 14 and len(codec.dumps(ENTRY)) == 10
    # 36 bytes: two entries by its count (14 + 2 × 11, one comma too many), not three.
    assert pairing.split_payload({}, [ENTRY] * 6, budget=36) == [{"keyring": [ENTRY] * 2}] * 3
    # Two entries are 35 bytes of JSON: over a budget of 34, so one per part.
    assert pairing.split_payload({}, [ENTRY] * 2, budget=34) == [{"keyring": [ENTRY]}] * 2
    # A base over the budget leaves part 0 without entries; the later parts fill as usual.
    base = {"b": "y" * 30}
    assert pairing.split_payload(base, [ENTRY] * 3, budget=36) == [
        {**base, "keyring": []},
        {"keyring": [ENTRY] * 2},
        {"keyring": [ENTRY]},
    ]


def test_a_parts_aad_is_the_transcript_its_number_and_the_count() -> None:
    t = transcript()
    assert pairing._part_aad(t, 1, 3) == t + bytes([0, 0, 0, 1, 0, 0, 0, 3])
    assert pairing._part_aad(t, 0x01020304, 0x05060708) == t + bytes(range(1, 9))
    key = bytes(range(32))
    nonce, ct = crypto.seal(key, b"{}", pairing._part_aad(t, 1, 3))
    assert crypto.open_sealed(key, nonce, ct, pairing._part_aad(t, 1, 3)) == b"{}"
    for aad in (
        pairing._part_aad(t, 0, 3),  # renumbered
        pairing._part_aad(t, 1, 2),  # the count cut: later parts dropped
        pairing._part_aad(t, 1, 4),
        pairing._part_aad(transcript(pairing_id="ffffffffffffffff"), 1, 3),  # another attempt
        t,
    ):
        with pytest.raises(crypto.DecryptionFailed):
            crypto.open_sealed(key, nonce, ct, aad)


@pytest.mark.parametrize(
    ("number", "change"),
    [
        (1, {"part": 0}),
        (1, {"part": 2}),
        (1, {"parts": 2}),  # a server that hides the last part
        (2, {"parts": 4}),
        (0, {"part": 1}),
    ],
)
def test_a_renumbered_part_fails_confirmation(number: int, change: dict[str, int]) -> None:
    state, pake, bodies, _ = exchange([{"keyring": [1]}, {"keyring": [2]}, {"keyring": [3]}])
    tampered = parsed_accept(codec.dumps({**json.loads(bodies[number]), **change}))
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, tampered)
    # The part as sent still opens, in its place.
    payload, _ = pairing.finish_new(
        state, pake, ADDR, PAIRING_ID, NEW, parsed_accept(bodies[number])
    )
    assert payload == {"keyring": [number + 1]}


def test_a_part_sealed_for_another_place_fails_confirmation() -> None:
    state, pake, bodies, _ = exchange([{"keyring": [1]}, {"keyring": [2]}])
    first, second = (json.loads(body) for body in bodies)
    swapped = {**second, "nonce": first["nonce"], "ct": first["ct"]}
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, parsed_accept(codec.dumps(swapped)))


@pytest.mark.parametrize(
    ("parse", "sma_type"),
    [
        (pairing.parse_request, pairing.ACCEPT),
        (pairing.parse_accept, pairing.REQUEST),
        (pairing.parse_confirm, pairing.ABORT),
        (pairing.parse_abort, pairing.CONFIRM),
    ],
)
def test_parsers_refuse_another_type(parse: Any, sma_type: str) -> None:
    body = pairing.abort_body(PAIRING_ID, NEW_ID, "cancelled")
    with pytest.raises(MalformedMessage, match="^wrong type$"):
        parse(Envelope(sma_type, NEW_ID, body))


def test_parsers_refuse_a_body_that_is_no_object() -> None:
    with pytest.raises(MalformedMessage, match="^not an object$"):
        pairing.parse_request(Envelope(pairing.REQUEST, NEW_ID, b"[]"))


def confirm_fields() -> dict[str, Any]:
    return {
        "v": pairing.VERSION,
        "pairing_id": PAIRING_ID,
        "to": EXISTING_ID,
        "confirm": codec.b64(b"c" * 32),
    }


def test_parse_and_check_confirm() -> None:
    confirm = pairing.parse_confirm(
        Envelope(pairing.CONFIRM, NEW_ID, codec.dumps(confirm_fields()))
    )
    assert confirm == pairing.Confirm(PAIRING_ID, b"c" * 32)
    assert pairing.check_confirm(b"c" * 32, confirm)
    assert not pairing.check_confirm(b"d" + b"c" * 31, confirm)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        *COMMON,
        ({"pairing_id": "x"}, "bad pairing id"),  # the confirm itself is fine
        ({"confirm": codec.b64(bytes(31))}, "bad length"),
        ({"confirm": None}, "missing field"),
    ],
)
def test_parse_confirm_rejects(change: dict[str, Any], reason: str) -> None:
    body = without_none({**confirm_fields(), **change})
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        pairing.parse_confirm(Envelope(pairing.CONFIRM, NEW_ID, body))


# Abort -------------------------------------------------------------------------------------


def test_abort_round_trip() -> None:
    body = pairing.abort_body(PAIRING_ID, EXISTING_ID, "confirmation_failed")
    assert json.loads(body) == {
        "v": pairing.VERSION,
        "pairing_id": PAIRING_ID,
        "to": EXISTING_ID,
        "reason": "confirmation_failed",
    }
    abort = pairing.parse_abort(Envelope(pairing.ABORT, NEW_ID, body))
    assert abort == pairing.Abort(PAIRING_ID, "confirmation_failed")


def test_abort_body_cuts_the_reason_to_64_characters() -> None:
    body = pairing.abort_body(PAIRING_ID, EXISTING_ID, "r" * 100)
    assert pairing.parse_abort(Envelope(pairing.ABORT, NEW_ID, body)).reason == "r" * 64


def abort_fields() -> dict[str, Any]:
    return {
        "v": pairing.VERSION,
        "pairing_id": PAIRING_ID,
        "to": EXISTING_ID,
        "reason": "cancelled",
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        *COMMON,
        ({"reason": None}, "bad reason"),
        ({"reason": ""}, "bad reason"),
        ({"reason": "r" * 65}, "bad reason"),
        ({"reason": 3}, "bad reason"),
    ],
)
def test_parse_abort_rejects(change: dict[str, Any], reason: str) -> None:
    body = without_none({**abort_fields(), **change})
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        pairing.parse_abort(Envelope(pairing.ABORT, NEW_ID, body))


def test_abort_reasons_and_types_are_the_wire_names() -> None:
    assert pairing.ABORT_REASONS == {
        "confirmation_failed",
        "cancelled",
        "completed_elsewhere",
        "expired",
    }
    assert (pairing.REQUEST, pairing.ACCEPT, pairing.CONFIRM, pairing.ABORT) == (
        "pair-request",
        "pair-accept",
        "pair-confirm",
        "pair-abort",
    )


# Hostile SPAKE2 messages and payloads ---------------------------------------------------------


def test_a_hostile_pake_in_the_request_fails_confirmation() -> None:
    fields = {**request_fields(), "pake": codec.b64(b"\x00" * 33)}
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW_ID, codec.dumps(fields)))
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.accept(CODE, ADDR, request, EXISTING, [{"k": 1}])


def test_a_hostile_pake_in_the_accept_fails_confirmation() -> None:
    state, pake = pairing.start_new(CODE, ADDR, PAIRING_ID, NEW_ID, EXISTING_ID)
    fields = {**accept_fields(), "pake": codec.b64(b"\x00" * 33)}
    accepted = pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING_ID, codec.dumps(fields)))
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, accepted)


def test_a_payload_that_is_no_object_fails_confirmation() -> None:
    state, pake, (accept_body,), _ = exchange([1])  # type: ignore[list-item]
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, parsed_accept(accept_body))


def test_finish_new_answers_with_the_expected_confirm() -> None:
    state, pake, (accept_body,), expected = exchange([{"k": 1}])
    accepted = parsed_accept(accept_body)
    payload, confirm_body = pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, accepted)
    assert payload == {"k": 1}
    assert json.loads(confirm_body) == {
        "v": pairing.VERSION,
        "pairing_id": PAIRING_ID,
        "to": EXISTING_ID,
        "confirm": codec.b64(expected),
    }
    assert expected != accepted.confirm  # one confirmation value per direction


def test_session_keys_never_show_in_a_repr() -> None:
    keys = pairing._session_keys(bytes(range(32)), transcript())
    text = repr(keys) + str(keys)
    for secret in (keys.confirm_new, keys.confirm_existing, keys.payload):
        assert secret.hex() not in text and repr(secret) not in text


@pytest.mark.parametrize(
    "value",
    [
        NEW,
        pairing._session_keys(bytes(32), bytes(32)),
        pairing.Request(PAIRING_ID, EXISTING_ID, NEW, b"p", NOW),
        pairing.Accept(PAIRING_ID, EXISTING, b"p", b"c", b"n", b"ct", 0, 1),
        pairing.Confirm(PAIRING_ID, b"c"),
        pairing.Abort(PAIRING_ID, "cancelled"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_parsed_messages_are_immutable(value: Any) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.pairing_id = "ffffffffffffffff"
