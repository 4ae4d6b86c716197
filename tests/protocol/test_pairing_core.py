"""The pairing core without any I/O: both roles run against each other in memory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sma_host.protocol import crypto, pairing
from sma_host.protocol.envelope import Envelope, MalformedMessage

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
    accept_body, expected = pairing.accept(
        code_existing, ADDR, request, EXISTING, payload or {"k": 1}
    )
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
        **{"pairing_id": accept.pairing_id, "party": accept.party, **fields, name: bytes(value)}
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
    confirm = '{"confirm":"' + "A" * 43 + '=","pairing_id":"x","v":1}'
    with pytest.raises(MalformedMessage, match="^bad pairing id$"):
        pairing.parse_confirm(Envelope(pairing.CONFIRM, NEW.muaa_id, confirm.encode()))
