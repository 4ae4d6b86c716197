"""The pairing core without any I/O: both roles run against each other in memory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sma_host.protocol import codec, crypto, pairing
from sma_host.protocol.envelope import MAX_MESSAGE_BYTES, Envelope, MalformedMessage, build_message

ADDR = "alice@example.org"
PAIRING_ID = "00112233aabbccdd"


def party(muaa_id: str, name: str) -> tuple[crypto.Identity, pairing.Party]:
    identity = crypto.Identity.generate()
    return identity, pairing.Party(muaa_id, name, identity.sign_public, identity.dh_public)


NEW = party("aaaaaaaaaaaaaaaa", "Laptop")[1]
EXISTING = party("bbbbbbbbbbbbbbbb", "Desktop")[1]


def run(code_new: str, code_existing: str, payload: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    state, pake = pairing.start_new(code_new, ADDR, PAIRING_ID, NEW.muaa_id, EXISTING.muaa_id)
    body = pairing.request_body(PAIRING_ID, NEW, EXISTING.muaa_id, pake, 10**9)
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW.muaa_id, body))
    bodies, expected = pairing.accept(code_existing, ADDR, request, EXISTING, [payload or {"k": 1}])
    (accept_body,) = bodies
    accept = pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING.muaa_id, accept_body))
    return state, pake, accept, accept_body, expected


def test_same_code_pairs_and_both_confirm() -> None:
    state, pake, accept, _, expected = run("0123456789", "0123456789", {"account_key": "K"})
    payload, confirm_body = pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, accept)
    assert payload == {"account_key": "K"}
    confirm = pairing.parse_confirm(Envelope(pairing.CONFIRM, NEW.muaa_id, confirm_body))
    assert pairing.check_confirm(expected, confirm)


def test_wrong_code_fails_confirmation() -> None:
    state, pake, accept, _, _ = run("0123456789", "0123456788")
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, accept)


@pytest.mark.parametrize("swap", ["addr", "pairing_id", "new_party", "existing_party"])
def test_transcript_binds_every_field(swap: str) -> None:
    state, pake, accept, _, _ = run("0123456789", "0123456789")
    addr, pairing_id, new = ADDR, PAIRING_ID, NEW
    if swap == "addr":
        addr = "mallory@example.org"
    elif swap == "pairing_id":
        pairing_id = "ffffffffffffffff"
    elif swap == "new_party":
        new = party(NEW.muaa_id, NEW.name)[1]
    else:
        accept = pairing.Accept(
            accept.pairing_id,
            party(EXISTING.muaa_id, "Desktop")[1],
            accept.pake,
            accept.confirm,
            accept.nonce,
            accept.ciphertext,
            accept.part,
            accept.parts,
        )
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, addr, pairing_id, new, accept)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_flipped_bit_in_the_accept_fails(data: st.DataObject) -> None:
    state, pake, accept, _, _ = run("0123456789", "0123456789")
    fields = {
        "pake": accept.pake,
        "confirm": accept.confirm,
        "nonce": accept.nonce,
        "ciphertext": accept.ciphertext,
    }
    name = data.draw(st.sampled_from(sorted(fields)))
    value = bytearray(fields[name])
    index = data.draw(st.integers(0, len(value) - 1))
    value[index] ^= 1 << data.draw(st.integers(0, 7))
    tampered = pairing.Accept(
        **{
            "pairing_id": accept.pairing_id,
            "party": accept.party,
            "part": accept.part,
            "parts": accept.parts,
            **fields,
            name: bytes(value),
        }
    )
    with pytest.raises(pairing.ConfirmationFailed):
        pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, tampered)


def test_codes() -> None:
    code = pairing.code_from_random(b"\xff" * 8)
    assert len(code) == pairing.CODE_DIGITS and code.isdigit()
    assert pairing.normalize_code(pairing.format_code(code)) == code
    assert pairing.normalize_code(" 12345 67890 ") == "1234567890"
    assert pairing.normalize_code("12345-6789") is None
    assert pairing.normalize_code("12345-6789x") is None


def test_parsers_reject_malformed_messages() -> None:
    _, _, _, accept_body, _ = run("0123456789", "0123456789")
    with pytest.raises(MalformedMessage, match="^sender mismatch$"):
        pairing.parse_accept(Envelope(pairing.ACCEPT, NEW.muaa_id, accept_body))
    with pytest.raises(MalformedMessage, match="^not an object$"):
        pairing.parse_request(Envelope(pairing.REQUEST, NEW.muaa_id, b"[]"))
    # Only the pairing id is wrong: the confirmation value itself is well-formed.
    confirm = '{"confirm":"' + "A" * 43 + f'=","pairing_id":"x","v":{pairing.VERSION}}}'
    with pytest.raises(MalformedMessage, match="^bad pairing id$"):
        pairing.parse_confirm(Envelope(pairing.CONFIRM, NEW.muaa_id, confirm.encode()))


def _parts(payloads: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    state, pake = pairing.start_new("0123456789", ADDR, PAIRING_ID, NEW.muaa_id, EXISTING.muaa_id)
    body = pairing.request_body(PAIRING_ID, NEW, EXISTING.muaa_id, pake, 10**9)
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW.muaa_id, body))
    bodies, _ = pairing.accept("0123456789", ADDR, request, EXISTING, payloads)
    accepts = [pairing.parse_accept(Envelope(pairing.ACCEPT, EXISTING.muaa_id, b)) for b in bodies]
    return state, pake, accepts


def test_every_part_opens_and_is_bound_to_its_number() -> None:
    state, pake, accepts = _parts([{"keyring": [1]}, {"keyring": [2]}, {"keyring": [3]}])
    assert [(a.part, a.parts) for a in accepts] == [(0, 3), (1, 3), (2, 3)]
    opened = [pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, a)[0] for a in accepts]
    assert [p["keyring"] for p in opened] == [[1], [2], [3]]
    for renumbered in (
        pairing.Accept(**{**accepts[1].__dict__, "part": 2}),
        pairing.Accept(**{**accepts[1].__dict__, "parts": 2}),
    ):  # a server that renumbers a part, or hides the last ones
        with pytest.raises(pairing.ConfirmationFailed):
            pairing.finish_new(state, pake, ADDR, PAIRING_ID, NEW, renumbered)


def test_split_payload_keeps_each_part_within_its_budget() -> None:
    base = {"account_key": "K" * 500, "devices": []}
    entries = [{"addr": f"p{i}@example.org", "keydata": "A" * 300} for i in range(100)]
    parts = pairing.split_payload(base, entries, budget=4096)
    assert parts[0]["account_key"] == base["account_key"]
    assert all(set(p) == {"keyring"} for p in parts[1:])
    assert [e for p in parts for e in p["keyring"]] == entries
    assert all(len(codec.dumps(p)) <= 4096 for p in parts)
    assert pairing.split_payload(base, []) == [{**base, "keyring": []}]
    # An entry larger than the budget still travels, alone in its part.
    big = [{"addr": "big@example.org", "keydata": "A" * 5000}]
    assert pairing.split_payload(base, big, budget=4096)[1:] == [{"keyring": big}]


def test_the_largest_part_fits_one_message() -> None:
    """A part of the full budget, in its pair-accept and envelope, stays under 2 MiB."""
    part: dict[str, object] = {"keyring": [], "pad": ""}
    part["pad"] = "x" * (pairing.PART_MAX_BYTES - len(codec.dumps(part)))
    assert len(codec.dumps(part)) == pairing.PART_MAX_BYTES
    state, pake = pairing.start_new("0123456789", ADDR, PAIRING_ID, NEW.muaa_id, EXISTING.muaa_id)
    request_body = pairing.request_body(PAIRING_ID, NEW, EXISTING.muaa_id, pake, 10**9)
    request = pairing.parse_request(Envelope(pairing.REQUEST, NEW.muaa_id, request_body))
    (accept_body,), _ = pairing.accept("0123456789", ADDR, request, EXISTING, [part])
    raw = build_message(
        sma_type=pairing.ACCEPT,
        sender=EXISTING.muaa_id,
        body=accept_body,
        address="alice@example.org",
        now=0,
        unique="0" * 32,
    )
    assert len(raw) < MAX_MESSAGE_BYTES
