"""The keyring merge is a join: any delivery order, duplication or delay converges."""

from __future__ import annotations

import base64
import dataclasses
import itertools
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sma_host.protocol import keyring
from sma_host.protocol.keyring import InvalidEntry, PeerEntry

ADDRS = ["alice@example.org", "bob@example.org", "carol@example.org"]

keys = st.binary(min_size=1, max_size=4).map(lambda b: base64.b64encode(b).decode())
times = st.integers(0, 5)  # few values: ties are common, which is where merges go wrong


@st.composite
def entries(draw: st.DrawFn, addr: str | None = None) -> PeerEntry:
    gossip = draw(st.booleans())
    return keyring.entry_from_json(
        {
            "addr": addr or draw(st.sampled_from(ADDRS)),
            "keydata": draw(keys),
            "prefer_encrypt": draw(st.sampled_from(keyring.PREFER_ENCRYPT)),
            "autocrypt_timestamp": draw(times),
            "last_seen": draw(times),
            **({"gossip_key": draw(keys), "gossip_timestamp": draw(times)} if gossip else {}),
        }
    )


same_addr = entries(addr=ADDRS[0])


@given(same_addr, same_addr)
def test_commutative(a: PeerEntry, b: PeerEntry) -> None:
    assert keyring.merge(a, b) == keyring.merge(b, a)


@given(same_addr, same_addr, same_addr)
def test_associative(a: PeerEntry, b: PeerEntry, c: PeerEntry) -> None:
    assert keyring.merge(keyring.merge(a, b), c) == keyring.merge(a, keyring.merge(b, c))


@given(same_addr)
def test_idempotent(a: PeerEntry) -> None:
    assert keyring.merge(a, a) == a


def replay(updates: list[PeerEntry]) -> dict[str, PeerEntry]:
    state: dict[str, PeerEntry] = {}
    for update in updates:
        state.update(keyring.merge_all(state, [update]))
    return state


@settings(max_examples=300)
@given(
    st.lists(st.lists(entries(), max_size=6), min_size=2, max_size=4),  # each device's own puts
    st.data(),
)
def test_devices_converge_whatever_the_delivery(
    device_puts: list[list[PeerEntry]], data: st.DataObject
) -> None:
    """Every device applies its own puts, then everyone else's updates in an arbitrary order
    with arbitrary duplicates (as IMAP may deliver them): all end with the same keyring."""
    everything = [u for puts in device_puts for u in puts]
    results = []
    for own in device_puts:
        others = [u for u in everything if u not in own] + data.draw(
            st.lists(st.sampled_from(everything), max_size=5) if everything else st.just([])
        )
        delivered = data.draw(st.permutations(others))
        results.append(replay(own + list(delivered)))
    assert all(r == results[0] for r in results)
    # And it equals the merge of everything, per address.
    expected = {
        addr: reduce(keyring.merge, group)
        for addr, group in itertools.groupby(
            sorted(everything, key=lambda e: e.addr), key=lambda e: e.addr
        )
    }
    assert results[0] == expected


def test_rules() -> None:
    old = keyring.entry_from_json(
        {
            "addr": "A@X.org",
            "keydata": "AAAA",
            "prefer_encrypt": "mutual",
            "autocrypt_timestamp": 5,
            "last_seen": 50,
        }
    )
    new = keyring.entry_from_json(
        {
            "addr": "a@x.org",
            "keydata": "BBBB",
            "prefer_encrypt": "nopreference",
            "autocrypt_timestamp": 9,
            "last_seen": 9,
        }
    )
    merged = keyring.merge(old, new)
    assert (merged.addr, merged.keydata, merged.prefer_encrypt, merged.last_seen) == (
        "a@x.org",
        "BBBB",
        "nopreference",
        50,
    )
    assert keyring.merge_all({"a@x.org": merged}, [old, new]) == {}  # nothing new: no change


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("addr", "no-at-sign"),
        ("keydata", "not base64!"),
        ("keydata", ""),
        ("prefer_encrypt", "always"),
        ("autocrypt_timestamp", -1),
        ("autocrypt_timestamp", True),
        ("last_seen", 2**41),
    ],
)
def test_invalid_entries(field: str, value: object) -> None:
    good = {
        "addr": "a@x.org",
        "keydata": "AAAA",
        "prefer_encrypt": "mutual",
        "autocrypt_timestamp": 1,
        "last_seen": 1,
    }
    with pytest.raises(InvalidEntry, match=f"^{field}"):
        keyring.entry_from_json({**good, field: value})


def test_two_spellings_of_one_key_are_one_key() -> None:
    # "QR==" decodes to the same byte as "QQ==": stored canonically, they compare equal.
    a = keyring.entry_from_json({"addr": "a@x.org", "keydata": "QQ==", "autocrypt_timestamp": 1})
    b = keyring.entry_from_json({"addr": "a@x.org", "keydata": "QR==", "autocrypt_timestamp": 1})
    assert a == b


# Real-shaped entries: Autocrypt timestamps near 1.7e9, keydata folded as in a header, gossip.

T = 1_700_000_000
#: A real-looking key: long enough for the header's folding, binary bytes.
KEY_BYTES = bytes(range(256)) * 3
KEY = base64.b64encode(KEY_BYTES).decode()
FOLDED = " " + "\r\n ".join(KEY[i : i + 76] for i in range(0, len(KEY), 76))
GOSSIP = base64.b64encode(b"\x99\x01\x0d" + bytes(200)).decode()

REAL = {
    "addr": " Bob@Example.ORG ",
    "keydata": FOLDED,
    "prefer_encrypt": "mutual",
    "autocrypt_timestamp": T,
    "last_seen": T + 3600,
    "gossip_key": GOSSIP,
    "gossip_timestamp": T - 86400,
}


def test_a_real_shaped_entry_is_read_and_written_canonically() -> None:
    entry = keyring.entry_from_json(REAL)
    assert entry == PeerEntry("bob@example.org", KEY, "mutual", T, T + 3600, GOSSIP, T - 86400)
    assert entry.to_json() == {
        "addr": "bob@example.org",
        "keydata": KEY,
        "prefer_encrypt": "mutual",
        "autocrypt_timestamp": T,
        "last_seen": T + 3600,
        "gossip_key": GOSSIP,
        "gossip_timestamp": T - 86400,
    }
    assert keyring.entry_from_json(entry.to_json()) == entry


def test_folded_keydata_decodes_to_the_same_bytes() -> None:
    assert "\n" in FOLDED
    assert base64.b64decode(keyring.canonical_keydata(FOLDED)) == KEY_BYTES
    assert keyring.canonical_keydata(" QQ==\t") == "QQ=="


def test_an_entry_without_gossip_writes_none() -> None:
    entry = keyring.entry_from_json({"addr": "a@x.org", "keydata": KEY, "autocrypt_timestamp": T})
    assert entry.to_json() == {
        "addr": "a@x.org",
        "keydata": KEY,
        "prefer_encrypt": "nopreference",
        "autocrypt_timestamp": T,
        "last_seen": T,
    }


def test_last_seen_is_never_before_the_autocrypt_timestamp() -> None:
    assert keyring.entry_from_json({**REAL, "last_seen": T - 1}).last_seen == T


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"addr": None}, "addr"),
        ({"addr": 5}, "addr"),
        ({"addr": "a@"}, "addr"),  # two characters
        ({"addr": "a" * 311 + "@example.org"}, "addr"),  # 323 characters
        ({"addr": "a" * 309 + "@example.org"}, "addr"),  # 321 characters
        ({"addr": "bob\ud800@example.org"}, "addr"),
        ({"keydata": None}, "keydata"),
        ({"keydata": " \r\n "}, "keydata"),  # only folding: no bytes
        ({"keydata": KEY + "*"}, "keydata is not base64"),
        ({"keydata": KEY[:-1]}, "keydata is not base64"),
        ({"keydata": "A" * (64 * 1024 + 4)}, "keydata"),
        ({"keydata": "A"}, "keydata is not base64"),
        ({"prefer_encrypt": "yes"}, "prefer_encrypt"),
        ({"prefer_encrypt": "Mutual"}, "prefer_encrypt"),
        ({"autocrypt_timestamp": None}, "autocrypt_timestamp"),
        ({"autocrypt_timestamp": float(T)}, "autocrypt_timestamp"),
        ({"autocrypt_timestamp": str(T)}, "autocrypt_timestamp"),
        ({"autocrypt_timestamp": 2**40}, "autocrypt_timestamp"),
        ({"autocrypt_timestamp": False}, "autocrypt_timestamp"),
        ({"last_seen": -1}, "last_seen"),
        ({"last_seen": True}, "last_seen"),
        ({"gossip_key": None}, "gossip_key and gossip_timestamp go together"),
        ({"gossip_timestamp": None}, "gossip_key and gossip_timestamp go together"),
        ({"gossip_key": "not base64"}, "gossip_key is not base64"),
        ({"gossip_key": ""}, "gossip_key"),
        ({"gossip_timestamp": -1}, "gossip_timestamp"),
        ({"gossip_timestamp": 2**40}, "gossip_timestamp"),
        ({"gossip_timestamp": 1.0}, "gossip_timestamp"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], reason: str) -> None:
    value = {k: v for k, v in {**REAL, **change}.items() if v is not None}
    with pytest.raises(InvalidEntry, match=f"^{reason}$"):
        keyring.entry_from_json(value)


def test_entry_must_be_an_object() -> None:
    with pytest.raises(InvalidEntry, match="^entry must be an object$"):
        keyring.entry_from_json([REAL])


@pytest.mark.parametrize(
    "change",
    [
        {"addr": "a@b"},
        {"addr": "a" * 308 + "@example.org"},  # 320 characters
        {"keydata": "A" * keyring.MAX_KEYDATA_CHARS},
        {"autocrypt_timestamp": 0, "last_seen": 0},
        {"autocrypt_timestamp": 2**40 - 1},
        {"gossip_timestamp": 0},
        {"gossip_timestamp": 2**40 - 1},
    ],
)
def test_limits_are_inclusive(change: dict[str, object]) -> None:
    keyring.entry_from_json({**REAL, **change})


def test_max_timestamp_leaves_room_for_real_ones() -> None:
    assert keyring.MAX_TIMESTAMP == 2**40 > T * 100


def entry(**change: object) -> PeerEntry:
    return keyring.entry_from_json({**REAL, **change})


def no_gossip(**change: object) -> PeerEntry:
    value = {k: v for k, v in {**REAL, **change}.items() if not k.startswith("gossip")}
    return keyring.entry_from_json(value)


def test_gossip_with_timestamp_0_beats_no_gossip() -> None:
    with_gossip = entry(gossip_timestamp=0)
    without = no_gossip()
    for merged in (keyring.merge(with_gossip, without), keyring.merge(without, with_gossip)):
        assert (merged.gossip_key, merged.gossip_timestamp) == (GOSSIP, 0)
    assert without.gossip_rank() == (-1, b"")


def test_merge_takes_the_key_part_of_the_newer_autocrypt_timestamp() -> None:
    older = entry(keydata="QQ==", last_seen=T + 7200)
    newer = entry(autocrypt_timestamp=T + 1)
    for merged in (keyring.merge(older, newer), keyring.merge(newer, older)):
        assert (merged.keydata, merged.autocrypt_timestamp, merged.last_seen) == (
            KEY,
            T + 1,
            T + 7200,
        )


def test_merge_ties_go_to_the_greater_key_bytes_then_prefer_encrypt() -> None:
    # As text "/w==" sorts before "AA=="; as bytes 0xff is after 0x00: bytes decide.
    high, low = entry(keydata="/w=="), entry(keydata="AA==")
    assert keyring.merge(low, high).keydata == keyring.merge(high, low).keydata == "/w=="
    mutual, nopref = entry(prefer_encrypt="mutual"), entry(prefer_encrypt="nopreference")
    assert keyring.merge(mutual, nopref).prefer_encrypt == "nopreference"
    assert keyring.merge(nopref, mutual).prefer_encrypt == "nopreference"


def test_merge_gossip_by_timestamp_then_key_bytes() -> None:
    old, new = entry(gossip_timestamp=T), entry(gossip_key="AA==", gossip_timestamp=T + 1)
    assert keyring.merge(old, new).gossip_key == keyring.merge(new, old).gossip_key == "AA=="
    high, low = entry(gossip_key="/w=="), entry(gossip_key="AA==")
    assert keyring.merge(low, high).gossip_key == keyring.merge(high, low).gossip_key == "/w=="


def test_merge_refuses_two_addresses() -> None:
    with pytest.raises(ValueError, match="^merging entries of different addresses$"):
        keyring.merge(entry(), entry(addr="carol@example.org"))


def test_merge_all_returns_only_what_changed() -> None:
    bob = entry()
    carol = entry(addr="carol@example.org")
    newer = entry(autocrypt_timestamp=T + 10)
    changed = keyring.merge_all({"bob@example.org": bob}, [bob, carol])
    assert changed == {"carol@example.org": carol}
    # Several updates of one address in one batch build on each other.
    newest = entry(autocrypt_timestamp=T + 20, keydata="AA==")
    changed = keyring.merge_all({"bob@example.org": bob}, [newest, newer])
    assert changed == {"bob@example.org": keyring.merge(newest, newer)}
    assert changed["bob@example.org"].keydata == "AA=="


def test_direct_entries_without_gossip_equal_parsed_ones() -> None:
    parsed = keyring.entry_from_json({"addr": "a@x.org", "keydata": KEY, "autocrypt_timestamp": T})
    assert PeerEntry("a@x.org", KEY, "nopreference", T, T) == parsed


def test_half_a_gossip_pair_counts_as_no_gossip() -> None:
    only_key = PeerEntry("a@x.org", KEY, "mutual", T, T, gossip_key=GOSSIP)
    only_time = PeerEntry("a@x.org", KEY, "mutual", T, T, gossip_timestamp=T)
    for entry in (only_key, only_time):
        assert entry.gossip_rank() == (-1, b"")
        assert "gossip_key" not in entry.to_json() and "gossip_timestamp" not in entry.to_json()


def test_an_entry_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry().keydata = "AA=="  # type: ignore[misc]


def test_canonical_keydata_names_the_field() -> None:
    with pytest.raises(InvalidEntry, match="^keydata$"):
        keyring.canonical_keydata("")
    with pytest.raises(InvalidEntry, match="^gossip_key$"):
        keyring.canonical_keydata("", "gossip_key")
