"""Announcements: signed self-descriptions, and the digest of the announcement folder."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sma_host.protocol import announce, envelope
from sma_host.protocol.announce import Announcement, decode, digest, encode
from sma_host.protocol.crypto import Identity
from sma_host.protocol.envelope import Envelope, MalformedMessage

ADDR = "alice@example.org"
ID_A = "aaaaaaaaaaaaaaaa"
ID_B = "bbbbbbbbbbbbbbbb"
ID_C = "cccccccccccccccc"
KEY_A = Identity.generate()
KEY_B = Identity.generate()
KEY_MALLORY = Identity.generate()


def make(
    muaa_id: str = ID_A,
    identity: Identity = KEY_A,
    name: str = "Laptop",
    last_seen: int = 1_700_000_100,
    **changes: object,
) -> Announcement:
    ann = Announcement(
        muaa_id=muaa_id,
        name=name,
        addr=ADDR,
        created=1_700_000_000,
        last_seen=last_seen,
        sign_key=identity.sign_public,
        dh_key=identity.dh_public,
    )
    return dataclasses.replace(ann, **changes)  # type: ignore[arg-type]


def sealed(ann: Announcement, identity: Identity = KEY_A) -> Envelope:
    return Envelope(announce.SMA_TYPE, ann.muaa_id, encode(ann, identity))


def resign(fields: dict[str, object], identity: Identity = KEY_A, sender: str = ID_A) -> Envelope:
    """An envelope whose payload is ``fields``, validly signed by ``identity``."""
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    sig = identity.sign(b"announce", payload)
    body = json.dumps(
        {"signed": base64.b64encode(payload).decode(), "sig": base64.b64encode(sig).decode()}
    ).encode()
    return Envelope(announce.SMA_TYPE, sender, body)


def payload_fields(ann: Announcement) -> dict[str, object]:
    return {
        "v": 1,
        "muaa_id": ann.muaa_id,
        "name": ann.name,
        "addr": ann.addr,
        "created": ann.created,
        "last_seen": ann.last_seen,
        "sign_key": base64.b64encode(ann.sign_key).decode(),
        "dh_key": base64.b64encode(ann.dh_key).decode(),
    }


# encode / decode


@given(
    name=st.text(min_size=1, max_size=announce.MAX_NAME_CHARS),
    created=st.integers(min_value=0, max_value=2**40 - 1),
    last_seen=st.integers(min_value=0, max_value=2**40 - 1),
)
def test_round_trip(name: str, created: int, last_seen: int) -> None:
    ann = make(name=name, created=created, last_seen=last_seen)
    assert decode(sealed(ann), ADDR) == ann


def test_round_trip_through_the_whole_message() -> None:
    ann = make()
    raw = envelope.build_message(
        sma_type=announce.SMA_TYPE,
        sender=ID_A,
        body=encode(ann, KEY_A),
        address=ADDR,
        now=ann.last_seen,
        unique="01",
    )
    assert decode(envelope.parse_message(raw), ADDR) == ann
    assert decode(envelope.parse_message(raw), ADDR.upper()) == ann  # address case-insensitive


def test_resign_helper_matches_encode() -> None:
    # Guards the tests below: a payload built by hand decodes like a real one.
    assert decode(resign(payload_fields(make())), ADDR) == make()


def test_every_byte_of_the_signed_payload_is_covered() -> None:
    ann = make()
    outer = json.loads(encode(ann, KEY_A))
    payload = base64.b64decode(outer["signed"])
    for index in range(len(payload)):
        damaged = bytearray(payload)
        damaged[index] ^= 0x01
        outer_damaged = {**outer, "signed": base64.b64encode(bytes(damaged)).decode()}
        with pytest.raises(MalformedMessage):
            decode(Envelope("announce", ID_A, json.dumps(outer_damaged).encode()), ADDR)


def test_every_byte_of_the_signature_is_covered() -> None:
    outer = json.loads(encode(make(), KEY_A))
    sig = base64.b64decode(outer["sig"])
    for index in range(len(sig)):
        damaged = bytearray(sig)
        damaged[index] ^= 0x80
        outer_damaged = {**outer, "sig": base64.b64encode(bytes(damaged)).decode()}
        with pytest.raises(MalformedMessage):
            decode(Envelope("announce", ID_A, json.dumps(outer_damaged).encode()), ADDR)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tampering_with_any_byte_of_the_message_never_changes_what_it_says(
    data: st.DataObject,
) -> None:
    """Each byte of the stored message, replaced by any other: the message is refused, or
    (a byte without meaning, e.g. in the Subject) decodes to exactly the same announcement."""
    ann = make()
    raw = envelope.build_message(
        sma_type="announce", sender=ID_A, body=encode(ann, KEY_A), address=ADDR, now=1, unique="1"
    )
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    byte = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != raw[index]))
    tampered = raw[:index] + bytes([byte]) + raw[index + 1 :]
    try:
        result = decode(envelope.parse_message(tampered), ADDR)
    except MalformedMessage:
        return
    assert result == ann


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"muaa_id": ID_B}, "sender mismatch", id="id-differs-from-sender"),
        pytest.param({"muaa_id": "AAAAAAAAAAAAAAAA"}, "sender mismatch", id="id-not-hex"),
        pytest.param({"v": 2}, "sender mismatch", id="version"),
        pytest.param({"v": True}, "sender mismatch", id="version-true"),
        pytest.param({"v": 1.0}, "sender mismatch", id="version-float"),
        pytest.param({"name": ""}, "bad name", id="empty-name"),
        pytest.param({"name": "x" * (announce.MAX_NAME_CHARS + 1)}, "bad name", id="long-name"),
        pytest.param({"name": 7}, "bad name", id="name-not-text"),
        pytest.param({"name": "lone \udc00"}, "bad name", id="name-surrogate"),
        pytest.param({"created": -1}, "bad times", id="negative-time"),
        pytest.param({"last_seen": 2**40}, "bad times", id="huge-time"),
        pytest.param({"last_seen": True}, "bad times", id="bool-time"),
        pytest.param({"created": 1.5}, "bad times", id="float-time"),
        pytest.param({"created": None}, "bad times", id="no-created"),
        pytest.param({"addr": "bob@example.org"}, "other account", id="other-account"),
        pytest.param({"addr": None}, "other account", id="no-addr"),
        pytest.param({"addr": 5}, "other account", id="addr-not-text"),
        pytest.param({"dh_key": base64.b64encode(b"short").decode()}, "bad key", id="short-dh"),
        pytest.param({"dh_key": base64.b64encode(bytes(33)).decode()}, "bad key", id="long-dh"),
        pytest.param({"dh_key": "%%%"}, "bad base64", id="dh-key-not-base64"),
        pytest.param({"removed": ID_B}, "bad removals", id="removed-not-a-list"),
        pytest.param({"removed": [ID_A]}, "bad removals", id="removes-itself"),
        pytest.param({"removed": ["nope"]}, "bad removals", id="removed-bad-id"),
        pytest.param(
            {"removed": [f"{i:016x}" for i in range(1, announce.MAX_REMOVED + 2)]},
            "bad removals",
            id="too-many-removed",
        ),
    ],
)
def test_decode_rejects_signed_but_invalid_fields(change: dict[str, object], reason: str) -> None:
    fields = {**payload_fields(make()), **change}
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        decode(resign(fields), ADDR)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "é" * announce.MAX_NAME_CHARS},
        {"created": 0, "last_seen": 2**40 - 1},
        {"addr": "ALICE@Example.org"},
        {"removed": [f"{i:016x}" for i in range(1, announce.MAX_REMOVED + 1)]},
    ],
)
def test_decode_accepts_the_limits(change: dict[str, object]) -> None:
    fields = {**payload_fields(make()), **change}
    decoded = decode(resign(fields), ADDR)
    assert (decoded.name, decoded.created, decoded.addr) == (
        fields["name"],
        fields["created"],
        fields["addr"],
    )
    assert decoded.removed == tuple(change.get("removed", ()))  # type: ignore[arg-type]


def test_encode_lists_removals_only_when_there_are_some() -> None:
    def signed(ann: Announcement) -> dict[str, object]:
        outer = json.loads(encode(ann, KEY_A))
        loaded: dict[str, object] = json.loads(base64.b64decode(outer["signed"]))
        return loaded

    assert "removed" not in signed(make())
    assert signed(make(removed=(ID_B, ID_C)))["removed"] == [ID_B, ID_C]
    assert decode(sealed(make(removed=(ID_B,))), ADDR).removed == (ID_B,)


def test_decode_rejects_a_signature_by_a_key_other_than_the_named_one() -> None:
    # Mallory signs, but the payload names Alice's device key.
    with pytest.raises(MalformedMessage, match="^bad signature$"):
        decode(resign(payload_fields(make()), identity=KEY_MALLORY), ADDR)


def test_decode_rejects_another_message_type() -> None:
    with pytest.raises(MalformedMessage, match="^not an announcement$"):
        decode(Envelope("pair-request", ID_A, encode(make(), KEY_A)), ADDR)


def test_decode_rejects_a_signature_made_for_another_context() -> None:
    payload = json.dumps(payload_fields(make()), sort_keys=True, separators=(",", ":")).encode()
    sig = KEY_A.sign(b"pair-request", payload)
    body = json.dumps(
        {"signed": base64.b64encode(payload).decode(), "sig": base64.b64encode(sig).decode()}
    ).encode()
    with pytest.raises(MalformedMessage, match="^bad signature$"):
        decode(Envelope("announce", ID_A, body), ADDR)


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"null", b'"x"', b"{}", b'{"signed": "e30=", "sig": 5}', b"[" * 100_000, b"\xff"],
)
def test_decode_rejects_bodies_that_are_no_signed_object(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        decode(Envelope("announce", ID_A, body), ADDR)


# digest


def test_digest_picks_the_newest_announcement_per_device() -> None:
    entries = [
        (1, make(ID_A, KEY_A, "old", last_seen=100)),
        (2, make(ID_B, KEY_B, "bob", last_seen=100)),
        (3, make(ID_A, KEY_A, "new", last_seen=300)),
        (4, make(ID_A, KEY_A, "middle", last_seen=200)),  # later UID, older time
    ]
    result = digest(entries, None, {})
    assert {k: v.name for k, v in result.devices.items()} == {ID_A: "new", ID_B: "bob"}
    assert result.live_uids == {ID_A: 3, ID_B: 2}
    assert result.own_stale_uids == []


def test_digest_breaks_ties_by_uid() -> None:
    entries = [(7, make(name="second", last_seen=5)), (6, make(name="first", last_seen=5))]
    result = digest(entries, None, {})
    assert result.devices[ID_A].name == "second"
    assert result.live_uids[ID_A] == 7


def test_digest_lists_our_superseded_announcements_as_stale() -> None:
    entries = [
        (1, make(ID_A, KEY_A, last_seen=100)),
        (2, make(ID_B, KEY_B, last_seen=50)),
        (3, make(ID_B, KEY_B, last_seen=60)),  # someone else's old one is not ours to delete
        (5, make(ID_A, KEY_A, last_seen=300)),
        (4, make(ID_A, KEY_A, last_seen=200)),
    ]
    result = digest(entries, ID_A, {ID_A: KEY_A.sign_public})
    assert result.live_uids[ID_A] == 5
    assert sorted(result.own_stale_uids) == [1, 4]


def test_digest_ignores_an_impostor_of_a_trusted_device() -> None:
    genuine = make(ID_A, KEY_A, "Laptop", last_seen=100)
    impostor = make(ID_A, KEY_MALLORY, "Mallory", last_seen=10**9)
    result = digest([(1, genuine), (2, impostor)], ID_A, {ID_A: KEY_A.sign_public})
    assert result.devices == {ID_A: genuine}
    assert result.live_uids == {ID_A: 1}
    assert result.own_stale_uids == []  # never deleted as ours


def test_digest_ignores_impostors_of_any_trusted_device_not_only_ourselves() -> None:
    genuine_b = make(ID_B, KEY_B, "Bob", last_seen=100)
    impostor_b = make(ID_B, KEY_MALLORY, "Mallory", last_seen=200)
    trusted = {ID_A: KEY_A.sign_public, ID_B: KEY_B.sign_public}
    result = digest([(1, genuine_b), (2, impostor_b)], ID_A, trusted)
    assert result.devices == {ID_B: genuine_b}


def test_digest_without_trusted_key_takes_any_self_consistent_announcement() -> None:
    # Before pairing, an unknown device is whoever announced it last.
    first = make(ID_C, KEY_B, "one", last_seen=1)
    second = make(ID_C, KEY_MALLORY, "two", last_seen=2)
    result = digest([(1, first), (2, second)], ID_A, {ID_A: KEY_A.sign_public})
    assert result.devices == {ID_C: second}


def test_an_impostor_at_a_low_uid_hides_no_later_device() -> None:
    impostor = make(ID_A, KEY_MALLORY, "Mallory", last_seen=10**9)
    bob, carol = make(ID_B, KEY_B, "Bob"), make(ID_C, KEY_MALLORY, "Carol")
    result = digest([(1, impostor), (2, bob), (3, carol)], ID_A, {ID_A: KEY_A.sign_public})
    assert result.devices == {ID_B: bob, ID_C: carol}
    assert result.live_uids == {ID_B: 2, ID_C: 3}


def test_only_a_trusted_device_removes() -> None:
    trusted = {ID_A: KEY_A.sign_public, ID_B: KEY_B.sign_public}
    by_b = make(ID_B, KEY_B, "Bob", removed=("dddddddddddddddd",))
    by_c = make(ID_C, KEY_MALLORY, "Carol", removed=("eeeeeeeeeeeeeeee",))
    result = digest([(1, by_b), (2, by_c)], ID_A, trusted)
    assert result.removals == {"dddddddddddddddd": ID_B}
    # Only the live announcement counts: an older one's removals are superseded.
    newer_b = make(ID_B, KEY_B, "Bob", last_seen=1_700_000_200)
    assert digest([(1, by_b), (3, newer_b)], ID_A, trusted).removals == {}


def test_digest_without_a_self_id_has_no_stale_uids() -> None:
    entries = [(1, make(last_seen=1)), (2, make(last_seen=2))]
    result = digest(entries, None, {ID_A: KEY_A.sign_public})
    assert result.own_stale_uids == [] and result.live_uids == {ID_A: 2}


def test_digest_of_nothing() -> None:
    result = digest([], ID_A, {ID_A: KEY_A.sign_public})
    assert (result.devices, result.live_uids, result.own_stale_uids) == ({}, {}, [])


@given(
    st.lists(
        st.tuples(st.sampled_from([ID_A, ID_B, ID_C]), st.integers(min_value=0, max_value=5)),
        max_size=20,
    )
)
def test_digest_keeps_exactly_one_live_entry_per_device(spec: list[tuple[str, int]]) -> None:
    keys = {ID_A: KEY_A, ID_B: KEY_B, ID_C: KEY_MALLORY}
    entries = [
        (uid, make(muaa, keys[muaa], last_seen=seen)) for uid, (muaa, seen) in enumerate(spec, 1)
    ]
    result = digest(entries, ID_A, {ID_A: KEY_A.sign_public})
    assert set(result.devices) == {muaa for muaa, _ in spec}
    for muaa, uid in result.live_uids.items():
        newest = max((ann.last_seen, u) for u, ann in entries if ann.muaa_id == muaa)
        assert newest[1] == uid
    own = sorted(u for u, ann in entries if ann.muaa_id == ID_A)
    assert sorted([*result.own_stale_uids, *([result.live_uids[ID_A]] if own else [])]) == own


# impostors among genuine announcements: decode then digest, as the service reads a folder

KEY_C = Identity.generate()
GENUINE_KEYS = {ID_A: KEY_A, ID_B: KEY_B, ID_C: KEY_C}
IMPOSTORS = ("other key", "signed by another key", "empty signature", "flipped signature")


def impostor(kind: str, ann: Announcement) -> Envelope:
    """An announcement claiming ``ann``'s device id that is not from that device."""
    if kind == "other key":  # self-consistent, but Mallory's key, and always the newest
        forged = dataclasses.replace(
            ann,
            name="Mallory",
            last_seen=2**40 - 1,
            sign_key=KEY_MALLORY.sign_public,
            dh_key=KEY_MALLORY.dh_public,
        )
        return Envelope(announce.SMA_TYPE, ann.muaa_id, encode(forged, KEY_MALLORY))
    if kind == "signed by another key":
        return Envelope(announce.SMA_TYPE, ann.muaa_id, encode(ann, KEY_MALLORY))
    body = json.loads(encode(ann, GENUINE_KEYS[ann.muaa_id]))
    sig = base64.b64decode(body["sig"])
    bad = b"" if kind == "empty signature" else bytes([sig[0] ^ 1]) + sig[1:]
    body["sig"] = base64.b64encode(bad).decode()
    return Envelope(announce.SMA_TYPE, ann.muaa_id, json.dumps(body).encode())


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([ID_A, ID_B, ID_C]),
            st.integers(min_value=0, max_value=5),
            st.sampled_from([None, None, *IMPOSTORS]),
        ),
        max_size=20,
    )
)
def test_impostor_announcements_are_ignored(spec: list[tuple[str, int, str | None]]) -> None:
    """Impostors at any UID, of any trusted device: the digest is what the genuine
    announcements alone say, and no impostor is ever live or deleted as ours."""
    read: list[tuple[int, Announcement]] = []
    genuine: list[tuple[int, Announcement]] = []
    for uid, (muaa, seen, kind) in enumerate(spec, 1):
        ann = make(muaa, GENUINE_KEYS[muaa], last_seen=seen)
        sealed_ann = sealed(ann, GENUINE_KEYS[muaa]) if kind is None else impostor(kind, ann)
        try:
            read.append((uid, decode(sealed_ann, ADDR)))
        except MalformedMessage:
            assert kind not in (None, "other key"), kind  # only a bad signature is refused
            continue
        if kind is None:
            genuine.append((uid, ann))
    result = digest(read, ID_A, {muaa: key.sign_public for muaa, key in GENUINE_KEYS.items()})
    newest = {
        muaa: max((ann.last_seen, uid, ann) for uid, ann in genuine if ann.muaa_id == muaa)
        for muaa in {ann.muaa_id for _uid, ann in genuine}
    }
    assert result.devices == {muaa: best[2] for muaa, best in newest.items()}
    assert result.live_uids == {muaa: best[1] for muaa, best in newest.items()}
    own = {uid for uid, ann in genuine if ann.muaa_id == ID_A}
    assert set(result.own_stale_uids) == own - {result.live_uids.get(ID_A)}


def test_announcements_and_digests_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().name = "Mallory"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        digest([], None, {}).removals = {}  # type: ignore[misc]
