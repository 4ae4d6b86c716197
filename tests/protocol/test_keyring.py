"""The keyring merge is a join: any delivery order, duplication or delay converges."""

from __future__ import annotations

import base64
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
    with pytest.raises(InvalidEntry):
        keyring.entry_from_json({**good, field: value})


def test_two_spellings_of_one_key_are_one_key() -> None:
    # "QR==" decodes to the same byte as "QQ==": stored canonically, they compare equal.
    a = keyring.entry_from_json({"addr": "a@x.org", "keydata": "QQ==", "autocrypt_timestamp": 1})
    b = keyring.entry_from_json({"addr": "a@x.org", "keydata": "QR==", "autocrypt_timestamp": 1})
    assert a == b
