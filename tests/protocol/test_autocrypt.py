"""Autocrypt Level 1 header parsing and peer-state updates, one test per rule, with real
OpenPGP keys (made by Sequoia) checked by the host's own ``openpgp.read_public_key``."""

from __future__ import annotations

import base64
import dataclasses
import itertools
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysequoia import Tsk

from sma_host.errors import InvalidKey
from sma_host.openpgp import read_public_key
from sma_host.protocol import autocrypt, keyring
from sma_host.protocol.autocrypt import (
    AutocryptHeader,
    MessageHeaders,
    effective_date,
    from_address,
    parse_autocrypt_header,
    peer_update,
    read_headers,
)
from sma_host.protocol.keyring import PeerEntry

NOW = 1_795_000_000  # 2026-11-18 11:06:40 UTC
HOUR, DAY = 3600, 86400
BOB = "bob@example.org"

_BOB_KEY = Tsk.generate(f"<{BOB}>")
_BOB_NEW_KEY = Tsk.generate(f"<{BOB}>")
BOB_KEYDATA = bytes(_BOB_KEY.extract_certificate())
BOB_NEW_KEYDATA = bytes(_BOB_NEW_KEY.extract_certificate())
BOB_SECRET = bytes(_BOB_KEY)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def header(
    addr: str = BOB, keydata: bytes = BOB_KEYDATA, extra: str = "", fold: bool = False
) -> str:
    """An Autocrypt header value, folded into 76-character lines like real mail when asked."""
    data = b64(keydata)
    if fold:
        data = "\r\n ".join(data[i : i + 76] for i in range(0, len(data), 76))
    return f"addr={addr}; {extra}keydata={data}"


def date(ts: int) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC))


def update(
    headers: list[str],
    sent: int | None = NOW - HOUR,
    current: PeerEntry | None = None,
    sender: str = f"Bob <{BOB}>",
    **kwargs: object,
) -> PeerEntry | None:
    date_header = None if sent is None else date(sent)
    return peer_update(sender, date_header, headers, NOW, current, read_public_key, **kwargs)  # type: ignore[arg-type]


def entry(keydata: bytes = BOB_KEYDATA, ts: int = NOW - DAY, seen: int | None = None) -> PeerEntry:
    return PeerEntry(BOB, b64(keydata), "nopreference", ts, ts if seen is None else seen)


# ---- the header --------------------------------------------------------------------------


def test_a_minimal_header_parses() -> None:
    assert parse_autocrypt_header(header()) == AutocryptHeader(BOB, "nopreference", BOB_KEYDATA)


def test_folded_keydata_parses_to_the_same_bytes() -> None:
    assert parse_autocrypt_header(header(fold=True)) == parse_autocrypt_header(header())


def test_prefer_encrypt_mutual_and_anything_else() -> None:
    assert (
        parse_autocrypt_header(header(extra="prefer-encrypt=mutual; ")).prefer_encrypt == "mutual"
    )  # type: ignore[union-attr]
    for other in ("nopreference", "MUTUAL", "yes", ""):
        parsed = parse_autocrypt_header(header(extra=f"prefer-encrypt={other}; "))
        assert parsed is not None and parsed.prefer_encrypt == "nopreference"


def test_the_address_is_canonical() -> None:
    assert parse_autocrypt_header(header(addr="Bob@Example.ORG")).addr == BOB  # type: ignore[union-attr]


def test_type_1_is_accepted_and_any_other_type_refused() -> None:
    assert parse_autocrypt_header(header(extra="type=1; ")) is not None
    for other in ("2", "0", "", "1.0"):
        assert parse_autocrypt_header(header(extra=f"type={other}; ")) is None


def test_an_unknown_critical_attribute_invalidates_the_header() -> None:
    assert parse_autocrypt_header(header(extra="verified=yes; ")) is None


def test_an_unknown_non_critical_attribute_is_ignored() -> None:
    parsed = parse_autocrypt_header(header(extra="_extra=whatever; _more=1; "))
    assert parsed == AutocryptHeader(BOB, "nopreference", BOB_KEYDATA)


@pytest.mark.parametrize(
    "value",
    [
        "",
        f"keydata={b64(BOB_KEYDATA)}",  # no addr
        f"addr={BOB}",  # no keydata
        f"addr={BOB}; keydata=",
        f"addr={BOB}; keydata=!!notbase64!!",
        f"addr={BOB}; keydata=aGVsbG8",  # bad padding
        f"addr=bob; keydata={b64(BOB_KEYDATA)}",  # not an address
        f"addr=<{BOB}>; keydata={b64(BOB_KEYDATA)}",
        f"addr={BOB}; addr=eve@example.org; keydata={b64(BOB_KEYDATA)}",  # twice
        f"addr={BOB}; mutual; keydata={b64(BOB_KEYDATA)}",  # no '='
        f"addr={BOB}; keydata={b64(BOB_KEYDATA)[:-4]}\u00e9\u00e9\u00e9\u00e9",
        f"addr={BOB}; keydata=\ud800",
    ],
)
def test_malformed_headers_are_invalid(value: str) -> None:
    assert parse_autocrypt_header(value) is None


def test_keydata_up_to_the_keyring_limit_is_accepted_and_beyond_it_refused() -> None:
    largest = b"\x01" * (keyring.MAX_KEYDATA_CHARS * 3 // 4)
    assert len(b64(largest)) == keyring.MAX_KEYDATA_CHARS
    assert parse_autocrypt_header(header(keydata=largest, fold=True)) is not None
    assert parse_autocrypt_header(header(keydata=largest + b"\x01\x02\x03")) is None
    # and the entry made from the largest is one the keyring (and every peer) accepts
    made = PeerEntry(BOB, b64(largest), "nopreference", NOW, NOW)
    assert keyring.entry_from_json(made.to_json()) == made


def test_an_oversize_header_is_refused_before_it_is_split() -> None:
    padding = "_pad=" + "x" * autocrypt.MAX_HEADER_CHARS + "; "
    assert parse_autocrypt_header(header(extra=padding)) is None


def test_the_whole_header_is_at_most_86016_characters() -> None:
    # The largest keydata (65,536 characters) times 5/4 for folding, plus 4,096.
    base = header()
    fill = autocrypt.MAX_HEADER_CHARS - len(base) - len("_pad=; ")
    exact = header(extra="_pad=" + "x" * fill + "; ")
    assert len(exact) == autocrypt.MAX_HEADER_CHARS == 86_016
    assert parse_autocrypt_header(exact) == AutocryptHeader(BOB, "nopreference", BOB_KEYDATA)
    assert parse_autocrypt_header(header(extra="_pad=" + "x" * (fill + 1) + "; ")) is None


def test_the_largest_keydata_folded_fits_in_the_header_limit() -> None:
    largest = b"\x01" * (keyring.MAX_KEYDATA_CHARS * 3 // 4)
    folded = header(keydata=largest, extra="prefer-encrypt=mutual; ", fold=True)
    assert len(folded) <= autocrypt.MAX_HEADER_CHARS
    assert parse_autocrypt_header(folded) is not None


def test_an_empty_attribute_between_two_is_skipped() -> None:
    assert parse_autocrypt_header(header(extra="; ;")) == AutocryptHeader(
        BOB, "nopreference", BOB_KEYDATA
    )


def test_keydata_with_a_character_outside_base64_is_refused() -> None:
    data = b64(BOB_KEYDATA)
    assert parse_autocrypt_header(f"addr={BOB}; keydata={data[:40]}*{data[40:]}") is None
    assert parse_autocrypt_header(f"addr={BOB}; keydata={data[:40]}-_{data[40:]}") is None


@pytest.mark.parametrize("addr", ["@example.org", "bob@", "@", "bob"])
def test_an_address_needs_a_local_part_and_a_domain(addr: str) -> None:
    assert parse_autocrypt_header(header(addr=addr)) is None
    assert from_address(f"<{addr}>") is None


def test_an_address_is_at_most_320_characters() -> None:
    longest = "b" * (keyring.MAX_ADDR_CHARS - len("@example.org")) + "@example.org"
    assert len(longest) == keyring.MAX_ADDR_CHARS == 320
    parsed = parse_autocrypt_header(header(addr=longest))
    assert parsed is not None and parsed.addr == longest
    assert parse_autocrypt_header(header(addr="b" + longest)) is None


def test_headers_are_immutable() -> None:
    parsed = parse_autocrypt_header(header())
    assert parsed is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.addr = "eve@example.org"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        read_headers(b"From: x@y.z\r\n\r\n").from_header = None  # type: ignore[misc]


# ---- From, Date, the raw header block -----------------------------------------------------


def test_from_address_is_the_single_canonical_address() -> None:
    assert from_address('"Bob, Jr." <Bob@Example.org>') == BOB
    assert from_address(BOB) == BOB
    assert from_address(f"{BOB}, alice@example.org") is None
    assert from_address("") is None and from_address(None) is None
    assert from_address("undisclosed-recipients:;") is None
    assert from_address("Bob <<<>") is None


def test_the_effective_date_is_the_date_header() -> None:
    assert effective_date(date(NOW - DAY), NOW) == NOW - DAY


def test_a_future_date_is_clamped_to_receipt() -> None:
    assert effective_date(date(NOW + 30 * DAY), NOW) == NOW
    assert effective_date(date(NOW + 30 * DAY), NOW, received=NOW - 2 * DAY) == NOW - 2 * DAY
    # a server that claims to have received it in the future is not believed either
    assert effective_date(date(NOW + 30 * DAY), NOW, received=NOW + DAY) == NOW


def test_without_a_usable_date_receipt_counts_or_the_message_is_skipped() -> None:
    for missing in (None, "", "yesterday", "Mon, 99 Foo 2026 99:99:99 +9999"):
        assert effective_date(missing, NOW, received=NOW - DAY) == NOW - DAY
        assert effective_date(missing, NOW) is None


def test_dates_before_1970_are_skipped() -> None:
    assert effective_date("Thu, 01 Jan 1950 00:00:00 +0000", NOW) is None


def test_a_date_without_zone_is_utc() -> None:
    assert effective_date("Wed, 18 Nov 2026 10:06:40 -0000", NOW) == NOW - HOUR


def test_a_date_keeps_its_zone() -> None:
    assert effective_date("Wed, 18 Nov 2026 12:06:40 +0200", NOW) == NOW - HOUR
    assert effective_date("Wed, 18 Nov 2026 05:06:40 -0500", NOW) == NOW - HOUR


def test_the_epoch_is_a_date_and_the_keyring_limit_is_not() -> None:
    assert effective_date("Thu, 01 Jan 1970 00:00:00 +0000", NOW) == 0
    limit = keyring.MAX_TIMESTAMP
    assert effective_date(None, limit + DAY, received=limit - 1) == limit - 1
    assert effective_date(None, limit + DAY, received=limit) is None


def test_read_headers_takes_the_fields_from_the_raw_block() -> None:
    raw = (
        f"From: Bob <{BOB}>\r\nDate: {date(NOW - HOUR)}\r\n"
        f"Autocrypt: {header(fold=True)}\r\nAutocrypt: {header(addr='eve@example.org')}\r\n"
        "Auto-Submitted: no\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    fields = read_headers(raw)
    assert fields.from_header == f"Bob <{BOB}>" and fields.date_header == date(NOW - HOUR)
    assert [parse_autocrypt_header(v) is not None for v in fields.autocrypt] == [True, True]
    assert (fields.auto_submitted, fields.content_type) == ("no", "text/plain")


def test_read_headers_two_froms_are_two_addresses_and_two_dates_none() -> None:
    raw = f"From: {BOB}\r\nFrom: eve@example.org\r\nDate: {date(NOW)}\r\nDate: {date(NOW)}\r\n\r\n"
    fields = read_headers(raw.encode())
    assert from_address(fields.from_header) is None and fields.date_header is None
    assert fields.from_header == f"{BOB}, eve@example.org"


def test_read_headers_reads_utf_8_and_replaces_what_is_not() -> None:
    raw = "From: Bøb <bøb@example.org>\r\nDate: x\udcffy\r\nAutocrypt: ä\r\n\r\n"
    fields = read_headers(raw.encode("utf-8", "surrogateescape"))
    assert fields.from_header == "Bøb <bøb@example.org>" and fields.autocrypt == ("ä",)
    assert from_address(fields.from_header) == "bøb@example.org"
    assert fields.date_header == "x\ufffdy"


def test_read_headers_finds_fields_whatever_their_case() -> None:
    fields = read_headers(f"FROM: {BOB}\r\nautocrypt: {header()}\r\n\r\n".encode())
    assert fields.from_header == BOB and fields.autocrypt == (header(),)


def test_fields_a_message_lacks_are_none() -> None:
    fields = read_headers(f"From: {BOB}\r\n\r\n".encode())
    assert fields == MessageHeaders(BOB, None, ())
    assert fields.auto_submitted is None and fields.content_type is None
    assert MessageHeaders(BOB, None, ()).auto_submitted is None
    assert MessageHeaders(BOB, None, ()).content_type is None


# ---- updating the peer state (doc/level1.rst "Updating Autocrypt Peer State") -------------


def test_a_valid_header_from_a_new_peer_makes_its_entry() -> None:
    made = update([header(extra="prefer-encrypt=mutual; ")])
    assert made == PeerEntry(BOB, b64(BOB_KEYDATA), "mutual", NOW - HOUR, NOW - HOUR)


def test_without_a_header_a_new_peer_gets_no_entry() -> None:
    assert update([]) is None


def test_without_a_header_only_last_seen_moves() -> None:
    current = entry(ts=NOW - DAY)
    assert update([], current=current) == entry(ts=NOW - DAY, seen=NOW - HOUR)


def test_a_newer_header_replaces_key_preference_and_timestamp() -> None:
    current = entry(ts=NOW - DAY)
    made = update(
        [header(keydata=BOB_NEW_KEYDATA, extra="prefer-encrypt=mutual; ")], current=current
    )
    assert made == PeerEntry(BOB, b64(BOB_NEW_KEYDATA), "mutual", NOW - HOUR, NOW - HOUR)


def test_a_message_older_than_the_stored_key_changes_nothing() -> None:
    current = entry(ts=NOW - DAY)
    assert update([header(keydata=BOB_NEW_KEYDATA)], sent=NOW - 2 * DAY, current=current) is None
    assert update([], sent=NOW - 2 * DAY, current=current) is None


def test_a_message_older_than_last_seen_does_not_lower_it_but_its_newer_key_counts() -> None:
    # Level 1 step 1 compares with autocrypt_timestamp, not last_seen: a key sent after the
    # stored one wins even when a later message without a header was processed first.
    current = entry(ts=NOW - 3 * DAY, seen=NOW - HOUR)
    assert update([], sent=NOW - DAY, current=current) is None
    made = update([header(keydata=BOB_NEW_KEYDATA)], sent=NOW - DAY, current=current)
    assert made == PeerEntry(BOB, b64(BOB_NEW_KEYDATA), "nopreference", NOW - DAY, NOW - HOUR)


def test_an_equal_date_goes_to_the_greater_key_whatever_the_order() -> None:
    a, b = sorted([BOB_KEYDATA, BOB_NEW_KEYDATA])
    sent = NOW - HOUR
    first_a = update([header(keydata=b)], sent=sent, current=update([header(keydata=a)], sent=sent))
    first_b = update([header(keydata=a)], sent=sent, current=update([header(keydata=b)], sent=sent))
    assert first_a is not None and first_a.keydata == b64(b)
    assert first_b is None  # b already held: a does not displace it


def test_two_valid_headers_are_all_discarded() -> None:
    twice = [header(), header(keydata=BOB_NEW_KEYDATA)]
    assert update(twice) is None
    current = entry(ts=NOW - DAY)
    assert update(twice, current=current) == entry(ts=NOW - DAY, seen=NOW - HOUR)


def test_an_invalid_second_header_does_not_spoil_the_valid_one() -> None:
    headers = [header(), header(addr="eve@example.org"), header(extra="type=2; "), "junk"]
    assert update(headers) == PeerEntry(
        BOB, b64(BOB_KEYDATA), "nopreference", NOW - HOUR, NOW - HOUR
    )


def test_a_header_for_another_address_is_ignored() -> None:
    assert update([header(addr="eve@example.org")]) is None
    assert update([header(addr="bob@example.org.evil")]) is None


def test_an_invalid_first_header_does_not_hide_the_valid_one() -> None:
    made = PeerEntry(BOB, b64(BOB_KEYDATA), "nopreference", NOW - HOUR, NOW - HOUR)
    assert update([header(addr="eve@example.org"), header()]) == made
    assert update([header(keydata=b"hello world!"), header()]) == made


def test_the_header_address_matches_from_case_insensitively() -> None:
    made = update([header(addr="BOB@example.org")], sender="Bob <Bob@EXAMPLE.org>")
    assert made is not None and made.addr == BOB


def test_keydata_that_is_not_an_openpgp_public_key_is_ignored() -> None:
    for junk in (b"hello world!", BOB_SECRET, BOB_KEYDATA[: len(BOB_KEYDATA) // 2]):
        assert update([header(keydata=junk)]) is None
        current = entry()
        assert update([header(keydata=junk)], current=current) == entry(seen=NOW - HOUR)


def test_a_future_date_is_clamped_to_now() -> None:
    made = update([header()], sent=NOW + 365 * DAY)
    assert made is not None and (made.autocrypt_timestamp, made.last_seen) == (NOW, NOW)


def test_a_message_with_several_from_addresses_is_skipped() -> None:
    assert update([header()], sender=f"{BOB}, eve@example.org") is None
    assert update([header()], sender="") is None


def test_auto_replies_and_reports_are_skipped() -> None:
    assert update([header()], auto_submitted="auto-replied") is None
    assert update([header()], content_type='multipart/report; report-type="disposition"') is None
    assert update([header()], auto_submitted="no", content_type="text/plain") is not None


def test_a_message_without_a_date_uses_receipt_or_is_skipped() -> None:
    assert update([header()], sent=None) is None
    made = update([header()], sent=None, received=NOW - 2 * HOUR)
    assert made is not None and made.autocrypt_timestamp == NOW - 2 * HOUR


def test_an_entry_of_another_address_is_not_touched() -> None:
    other = PeerEntry("eve@example.org", b64(BOB_KEYDATA), "nopreference", 1, 1)
    assert update([header()], current=other) is None


def test_the_result_merges_like_any_keyring_entry() -> None:
    current = entry(ts=NOW - DAY)
    made = update([header(keydata=BOB_NEW_KEYDATA)], current=current)
    assert made is not None
    assert keyring.merge_all({BOB: current}, [made]) == {BOB: made}
    assert keyring.entry_from_json(made.to_json()) == made


def test_any_processing_order_gives_the_same_entry() -> None:
    messages = [
        ([header()], NOW - 5 * DAY),
        ([], NOW - 4 * DAY),
        ([header(keydata=BOB_NEW_KEYDATA, extra="prefer-encrypt=mutual; ")], NOW - 3 * DAY),
        ([], NOW - 2 * DAY),
        ([header()], NOW - 6 * DAY),
    ]
    known = entry(ts=NOW - 10 * DAY)
    results = set()
    for order in itertools.permutations(messages):
        results.add(
            reduce(lambda cur, m: update(m[0], sent=m[1], current=cur) or cur, order, known)
        )
    assert results == {PeerEntry(BOB, b64(BOB_NEW_KEYDATA), "mutual", NOW - 3 * DAY, NOW - 2 * DAY)}


def test_without_a_stored_entry_a_message_without_header_is_not_remembered() -> None:
    # The keyring has no entries without a key (Level 1's peers table does): the last_seen
    # of such a message is lost, so last_seen can depend on order until a key is known.
    first = update([header()], sent=NOW - 3 * DAY)
    assert update([], sent=NOW - DAY) is None
    assert first is not None and first.last_seen == NOW - 3 * DAY


def test_verify_key_decides_what_a_key_is() -> None:
    seen: list[bytes] = []

    def refuse_all(keydata: bytes) -> None:
        seen.append(keydata)
        raise InvalidKey("no")

    assert peer_update(BOB, date(NOW), [header()], NOW, None, refuse_all) is None
    assert seen == [BOB_KEYDATA]


# ---- hostile input never raises -----------------------------------------------------------

attribute_names = st.sampled_from(["addr", "keydata", "type", "prefer-encrypt", "_x", "x", ""])
fragments = st.one_of(
    st.text(max_size=40),
    st.sampled_from([BOB, "BOB@EXAMPLE.ORG", "eve@example.org", b64(BOB_KEYDATA), "1", "mutual"]),
)
header_values = st.one_of(
    st.text(max_size=200),
    st.lists(st.tuples(attribute_names, fragments), max_size=6).map(
        lambda pairs: "; ".join(f"{n}={v}" for n, v in pairs)
    ),
)
from_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from([BOB, f"Bob <{BOB}>", f"{BOB}, eve@example.org", "=?utf-8?q?x?= <a@b>"]),
)


@settings(max_examples=300, deadline=None)
@given(header_values)
def test_the_parser_never_raises(value: str) -> None:
    parsed = parse_autocrypt_header(value)
    assert parsed is None or (parsed.keydata and "@" in parsed.addr)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_reading_raw_headers_never_raises(raw: bytes) -> None:
    read_headers(raw)


@settings(max_examples=200, deadline=None)
@given(
    from_values,
    st.one_of(st.none(), st.text(max_size=40), st.integers(0, 2 * NOW).map(date)),
    st.lists(header_values, max_size=3),
    st.booleans(),
)
def test_an_update_is_only_ever_for_the_from_address(
    sender: str, date_header: str | None, headers: list[str], known: bool
) -> None:
    current = entry() if known else None
    made = peer_update(sender, date_header, headers, NOW, current, read_public_key)
    if made is not None:
        assert made.addr == from_address(sender) == BOB
        assert made.autocrypt_timestamp <= made.last_seen <= NOW
        assert keyring.entry_from_json(made.to_json()) == made
