"""The IMAP message around every SMA payload: build, parse, reject."""

from __future__ import annotations

import base64
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
    with pytest.raises(ValueError):
        build(sma_type=sma_type, sender=sender)


GOOD = f"Autocrypt-SMA: v=1; type=announce; from={SENDER}"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage\r\n\r\n\x00", id="binary-garbage"),
        pytest.param(message(["Subject: hello"]), id="no-sma-header"),
        pytest.param(message([GOOD, GOOD]), id="two-sma-headers"),
        pytest.param(message([f"Autocrypt-SMA: v=2; type=announce; from={SENDER}"]), id="v2"),
        pytest.param(message([f"Autocrypt-SMA: type=announce; from={SENDER}"]), id="no-version"),
        pytest.param(message([f"Autocrypt-SMA: v=1; type=Announce; from={SENDER}"]), id="type"),
        pytest.param(message(["Autocrypt-SMA: v=1; type=announce"]), id="no-sender"),
        pytest.param(message(["Autocrypt-SMA: v=1; type=announce; from=1234"]), id="sender"),
        pytest.param(message([GOOD], b"not base64 !!!"), id="body-not-base64"),
        pytest.param(
            message(
                [GOOD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"'],
                b"--b\r\n\r\neyJ9\r\n--b--",
            ),
            id="multipart",
        ),
    ],
)
def test_parse_rejects(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(raw)


def test_parse_rejects_what_exceeds_the_size_limit() -> None:
    padding = "X-Padding: " + "a" * 900
    headers = [GOOD] + [padding] * (MAX_MESSAGE_BYTES // 900 + 1)
    raw = message(headers)
    assert len(raw) > MAX_MESSAGE_BYTES
    with pytest.raises(MalformedMessage):
        parse_message(raw)
    # The same message below the limit is fine: the size is the only fault.
    assert parse_message(message([GOOD, padding])).sender == SENDER


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
