"""membership: member-add, member-remove and their ack, built and parsed without I/O.

Each negative case changes one thing in a well-formed payload and expects its reason.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sma_host.protocol import codec, crypto, membership
from sma_host.protocol.envelope import MalformedMessage
from sma_host.protocol.pairing import Party

VOUCHER = crypto.Identity.generate()
OTHER = crypto.Identity.generate()


def device(muaa_id: str, name: str) -> Party:
    identity = crypto.Identity.generate()
    return Party(muaa_id, name, identity.sign_public, identity.dh_public)


NEWCOMER = device("cccccccccccccccc", "Phone")
SECOND = device("dddddddddddddddd", "Tablet ✓")


def test_member_add_round_trip() -> None:
    payload = membership.member_add_payload(VOUCHER, [NEWCOMER, SECOND])
    assert membership.parse_member_add(payload, VOUCHER.sign_public) == [NEWCOMER, SECOND]


def test_member_add_signs_the_canonical_device_list_under_its_context() -> None:
    payload = membership.member_add_payload(VOUCHER, [NEWCOMER])
    signature = codec.unb64(payload["sig"])
    listed = codec.dumps([NEWCOMER.to_json()])
    assert crypto.verify(VOUCHER.sign_public, signature, b"member-add", listed)


def resign_add(payload: dict[str, Any], identity: crypto.Identity = VOUCHER) -> dict[str, Any]:
    listed = payload["devices"]
    return {**payload, "sig": codec.b64(identity.sign(b"member-add", codec.dumps(listed)))}


def changed_add(change: str) -> tuple[dict[str, Any], str]:
    payload = membership.member_add_payload(VOUCHER, [NEWCOMER])
    if change == "signed by another":
        return resign_add(payload, OTHER), "bad signature"
    if change == "signature of a remove":
        listed = payload["devices"]
        sig = VOUCHER.sign(b"member-remove", codec.dumps(listed))
        return {**payload, "sig": codec.b64(sig)}, "bad signature"
    if change == "device renamed after signing":
        tampered = copy.deepcopy(payload)
        tampered["devices"][0]["name"] = "Mallory"
        return tampered, "bad signature"
    if change == "key swapped after signing":
        tampered = copy.deepcopy(payload)
        tampered["devices"][0]["sign_key"] = codec.b64(OTHER.sign_public)
        return tampered, "bad signature"
    if change == "no signature":
        return {"devices": payload["devices"]}, "missing field"
    if change == "short signature":
        return {**payload, "sig": codec.b64(codec.unb64(payload["sig"])[:63])}, "bad length"
    if change == "empty signature":
        return {**payload, "sig": ""}, "bad length"
    if change == "no devices":
        return resign_add({"devices": []}), "bad device list"
    if change == "devices not a list":
        return {**payload, "devices": NEWCOMER.to_json()}, "bad device list"
    if change == "too many devices":
        many = [NEWCOMER.to_json()] * (membership.MAX_DEVICES + 1)
        return resign_add({"devices": many}), "bad device list"
    if change == "signed bad id":
        bad = {**NEWCOMER.to_json(), "muaa_id": "CCCCCCCCCCCCCCCC"}
        return resign_add({"devices": [bad]}), "bad id"
    if change == "signed short key":
        bad = {**NEWCOMER.to_json(), "dh_key": codec.b64(bytes(31))}
        return resign_add({"devices": [bad]}), "bad length"
    assert change == "signed device not an object"
    return resign_add({"devices": ["cccccccccccccccc"]}), "bad party"


@pytest.mark.parametrize(
    "change",
    [
        "signed by another",
        "signature of a remove",
        "device renamed after signing",
        "key swapped after signing",
        "no signature",
        "short signature",
        "empty signature",
        "no devices",
        "devices not a list",
        "too many devices",
        "signed bad id",
        "signed short key",
        "signed device not an object",
    ],
)
def test_parse_member_add_rejects(change: str) -> None:
    payload, reason = changed_add(change)
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        membership.parse_member_add(payload, VOUCHER.sign_public)


def test_member_add_takes_up_to_the_limit() -> None:
    many = [NEWCOMER] * membership.MAX_DEVICES
    payload = membership.member_add_payload(VOUCHER, many)
    assert membership.parse_member_add(payload, VOUCHER.sign_public) == many


def test_member_remove_round_trip_and_split() -> None:
    gone = [f"{i:016x}" for i in range(membership.MAX_DEVICES + 1)]
    payloads = membership.member_remove_payloads(VOUCHER, gone)
    assert [len(p["devices"]) for p in payloads] == [membership.MAX_DEVICES, 1]
    parsed = [membership.parse_member_remove(p, VOUCHER.sign_public) for p in payloads]
    assert parsed == [gone[: membership.MAX_DEVICES], gone[membership.MAX_DEVICES :]]
    assert membership.member_remove_payloads(VOUCHER, []) == []


def test_member_remove_signs_the_canonical_id_list_under_its_context() -> None:
    (payload,) = membership.member_remove_payloads(VOUCHER, ["cccccccccccccccc"])
    signature = codec.unb64(payload["sig"])
    assert crypto.verify(
        VOUCHER.sign_public, signature, b"member-remove", codec.dumps(["cccccccccccccccc"])
    )


def test_an_empty_member_remove_is_valid() -> None:
    payload = {"devices": [], "sig": codec.b64(VOUCHER.sign(b"member-remove", b"[]"))}
    assert membership.parse_member_remove(payload, VOUCHER.sign_public) == []


def resign_remove(ids: list[Any], identity: crypto.Identity = VOUCHER) -> dict[str, Any]:
    return {"devices": ids, "sig": codec.b64(identity.sign(b"member-remove", codec.dumps(ids)))}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (resign_remove(["cccccccccccccccc"], OTHER), "bad signature"),
        (
            {
                "devices": ["cccccccccccccccc"],
                "sig": codec.b64(VOUCHER.sign(b"member-add", b'["cccccccccccccccc"]')),
            },
            "bad signature",
        ),
        (
            {**resign_remove(["cccccccccccccccc"]), "devices": ["dddddddddddddddd"]},
            "bad signature",
        ),
        ({"devices": ["cccccccccccccccc"]}, "missing field"),
        (resign_remove(["CCCCCCCCCCCCCCCC"]), "bad id"),
        (resign_remove(["cccccccccccccccc", 7]), "bad id"),
        (resign_remove(["c" * 65]), "bad id"),
        (resign_remove(["cccccccccccccccc"] * (membership.MAX_DEVICES + 1)), "bad device list"),
        ({"devices": "cccccccccccccccc", "sig": ""}, "bad device list"),
    ],
)
def test_parse_member_remove_rejects(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        membership.parse_member_remove(payload, VOUCHER.sign_public)


def test_member_remove_ack_round_trip() -> None:
    ids = ["cccccccccccccccc", "dddddddddddddddd"]
    payload = membership.member_remove_ack_payload(ids)
    assert payload == {"devices": ids}
    assert membership.parse_member_remove_ack(payload) == ids


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"devices": []}, "bad device list"),
        ({}, "bad device list"),
        ({"devices": ["cccccccccccccccc"] * (membership.MAX_DEVICES + 1)}, "bad device list"),
        ({"devices": ["cccccccccccccccc", "nope"]}, "bad id"),
        ({"devices": [None]}, "bad id"),
    ],
)
def test_parse_member_remove_ack_rejects(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        membership.parse_member_remove_ack(payload)


def test_the_message_types() -> None:
    assert membership.TYPES == ("member-add", "member-remove", "member-remove-ack")
    assert membership.MAX_DEVICES == 64
