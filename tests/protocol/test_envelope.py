"""The IMAP message around every SMA payload: build, parse, reject."""

from __future__ import annotations

import base64
import dataclasses
import email.utils
from email.parser import BytesParser
from email.policy import compat32

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_host.protocol.envelope import (
    MAX_MESSAGE_BYTES,
    Envelope,
    MalformedMessage,
    UnsupportedVersion,
    build_message,
    parse_header_value,
    parse_message,
)

SENDER = "0123456789abcdef"


def build(body: bytes = b'{"x": 1}', sma_type: str = "announce", sender: str = SENDER) -> bytes:
    return build_message(
        sma_type=sma_type,
        sender=sender,
        body=body,
        address="alice@example.org",
        now=1_700_000_000,
        unique="feedface",
    )


def message(headers: list[str], body: bytes = base64.b64encode(b"{}")) -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body + b"\r\n"


@given(st.binary(max_size=3000), st.sampled_from(["announce", "pair-request", "x1"]))
def test_round_trip(body: bytes, sma_type: str) -> None:
    assert parse_message(build(body, sma_type)) == Envelope(sma_type, SENDER, body)


def test_headers_of_a_built_message() -> None:
    raw = build()
    head, sep, _body = raw.partition(b"\r\n\r\n")
    assert sep
    assert b"\n" not in head.replace(b"\r\n", b"")  # CRLF only
    parsed = BytesParser(policy=compat32).parsebytes(raw)
    assert parsed.get_all("Autocrypt-SMA") == [f"v=1; type=announce; from={SENDER}"]
    assert parsed["From"] == parsed["To"] == "<alice@example.org>"
    assert parsed["Message-ID"] == f"<sma.{SENDER}.feedface@example.org>"
    assert email.utils.parsedate_to_datetime(parsed["Date"]).timestamp() == 1_700_000_000
    assert parsed["Content-Type"] == "application/json"
    assert raw.isascii()


@pytest.mark.parametrize(
    ("sma_type", "sender"),
    [
        ("Announce", SENDER),
        ("", SENDER),
        ("announce; from=ffffffffffffffff", SENDER),
        ("announce", "0123456789ABCDEF"),
        ("announce", "0123456789abcde"),
        ("a" * 33, SENDER),
    ],
)
def test_build_refuses_bad_type_or_sender(sma_type: str, sender: str) -> None:
    with pytest.raises(ValueError, match="^bad SMA type or sender$"):
        build(sma_type=sma_type, sender=sender)


GOOD = f"Autocrypt-SMA: v=1; type=announce; from={SENDER}"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"", "no end of the header section", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage\r\n\r\n\x00", "not a header section", id="binary"),
        pytest.param(message(["Subject: hello"]), "needs exactly one", id="no-sma-header"),
        pytest.param(message([GOOD, GOOD]), "needs exactly one", id="two-sma-headers"),
        pytest.param(
            message(["Autocrypt-SMA: v=1; type=é"]),
            "Autocrypt-SMA header is not ASCII",
            id="not-ascii",
        ),
        pytest.param(
            message([f"Autocrypt-SMA: v=2; type=announce; from={SENDER}"]),
            "unsupported version",
            id="v2",
        ),
        pytest.param(
            message([f"Autocrypt-SMA: type=announce; from={SENDER}"]),
            "unsupported version",
            id="no-version",
        ),
        pytest.param(
            message([f"Autocrypt-SMA: v=1; type=Announce; from={SENDER}"]),
            "bad type or sender",
            id="type",
        ),
        pytest.param(
            message(["Autocrypt-SMA: v=1; type=announce"]), "bad type or sender", id="no-sender"
        ),
        pytest.param(
            message(["Autocrypt-SMA: v=1; type=announce; from=1234"]),
            "bad type or sender",
            id="sender",
        ),
        pytest.param(message([GOOD], b"not base64 !!!"), "body is not base64", id="body"),
        # Valid base64 once the "!" is dropped: strict decoding must not drop it.
        pytest.param(message([GOOD], b"e3!0="), "body is not base64", id="body-foreign-char"),
        # The body of each multipart case is valid base64: the content type is the only fault.
        pytest.param(
            message([GOOD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"']),
            "multipart",
            id="multipart",
        ),
        pytest.param(
            message([GOOD, "Content-Type: message/rfc822"]), "multipart", id="message-rfc822"
        ),
        pytest.param(
            message([GOOD, "content-type:  Multipart/Alternative ; boundary=x"]),
            "multipart",
            id="multipart-case-and-spaces",
        ),
        pytest.param(
            message([GOOD, 'Content-Type: multipart; boundary="a/b"']),
            "multipart",
            id="multipart-without-subtype",
        ),
        pytest.param(
            message(["Content-Type:\r\n multipart/mixed;\r\n boundary=b", GOOD]),
            "multipart",
            id="multipart-folded",
        ),
    ],
)
def test_parse_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}"):
        parse_message(raw)


def test_another_version_is_unsupported_not_junk() -> None:
    with pytest.raises(UnsupportedVersion):
        parse_message(message([f"Autocrypt-SMA: v=2; type=announce; from={SENDER}"]))


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain; charset=utf-8", "multipartx/y"]
)
def test_parse_accepts_a_single_part_content_type(content_type: str) -> None:
    raw = message([GOOD, f"Content-Type: {content_type}"])
    assert parse_message(raw) == Envelope("announce", SENDER, b"{}")


def test_parse_ignores_other_headers_and_reads_a_folded_sma_header() -> None:
    raw = message(
        ["Received: from x", f"AUTOCRYPT-SMA: v=1;\r\n type=announce;\r\n\tfrom={SENDER}"]
    )
    assert parse_message(raw) == Envelope("announce", SENDER, b"{}")


def test_build_message_without_a_domain_uses_localhost() -> None:
    raw = build_message(
        sma_type="announce", sender=SENDER, body=b"{}", address="", now=0, unique="u"
    )
    assert f"Message-ID: <sma.{SENDER}.u@localhost>".encode() in raw
    assert parse_message(raw).body == b"{}"


def test_parse_rejects_what_exceeds_the_size_limit() -> None:
    padding = "X-Padding: " + "a" * 900
    headers = [GOOD] + [padding] * (MAX_MESSAGE_BYTES // 900 + 1)
    raw = message(headers)
    assert len(raw) > MAX_MESSAGE_BYTES
    with pytest.raises(MalformedMessage, match="^too large$"):
        parse_message(raw)
    # The same message below the limit is fine: the size is the only fault.
    assert parse_message(message([GOOD, padding])).sender == SENDER


def test_a_message_of_exactly_the_size_limit_is_read() -> None:
    short = message([GOOD, "X-Padding: "])
    raw = message([GOOD, "X-Padding: " + "a" * (MAX_MESSAGE_BYTES - len(short))])
    assert len(raw) == MAX_MESSAGE_BYTES
    assert parse_message(raw).sender == SENDER


def test_an_envelope_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_message(message([GOOD])).sender = "ffffffffffffffff"  # type: ignore[misc]


def test_parse_accepts_lf_line_ends_and_folded_base64() -> None:
    body = bytes(range(256)) * 4
    raw = build(body).replace(b"\r\n", b"\n")
    assert parse_message(raw).body == body


def test_parse_header_value() -> None:
    assert parse_header_value(f" v=1 ;type=announce;  from={SENDER} ; junk; =x") == {
        "v": "1",
        "type": "announce",
        "from": SENDER,
    }


@pytest.mark.parametrize(
    "value",
    [
        f"v=1; type=announce; from={SENDER}; from=ffffffffffffffff",
        f"v=1; type=announce; from={SENDER}; FROM=ffffffffffffffff",
        f"v=1; type=announce; from={SENDER}; From =ffffffffffffffff",
    ],
)
def test_parse_header_value_first_of_duplicates_wins(value: str) -> None:
    assert parse_header_value(value)["from"] == SENDER


@given(st.binary(max_size=600))
def test_parse_raises_only_malformed_message(raw: bytes) -> None:
    try:
        parse_message(raw)
    except MalformedMessage:
        pass


@given(st.binary(max_size=200))
def test_parse_raises_only_malformed_message_on_a_damaged_body(body: bytes) -> None:
    try:
        parse_message(message([GOOD], body))
    except MalformedMessage:
        pass
