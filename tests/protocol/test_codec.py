"""codec: base64 fields, canonical JSON and strict field reading; each rejection by its reason."""

from __future__ import annotations

import pytest

from sma_host.protocol import codec
from sma_host.protocol.envelope import MalformedMessage


def test_b64_and_unb64_round_trip() -> None:
    assert codec.b64(b"\x00\xffabc") == "AP9hYmM="
    assert codec.unb64("AP9hYmM=") == b"\x00\xffabc"
    assert codec.unb64("AP9hYmM=", 5) == b"\x00\xffabc"


@pytest.mark.parametrize(
    ("value", "length", "reason"),
    [
        (None, None, "missing field"),
        (b"AP9hYmM=", None, "missing field"),
        (5, None, "missing field"),
        ("AP9hYmM", None, "bad base64"),  # padding missing
        ("AP9h YmM=", None, "bad base64"),  # whitespace is not base64
        ("AP9h*mM=", None, "bad base64"),
        ("AP9hYmM=", 4, "bad length"),
        ("AP9hYmM=", 6, "bad length"),
    ],
)
def test_unb64_rejects(value: object, length: int | None, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        codec.unb64(value, length)


def test_dumps_is_canonical() -> None:
    # Sorted keys, no spaces, UTF-8 (not \u escapes): the bytes are signed and hashed.
    assert codec.dumps({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_loads_object() -> None:
    assert codec.loads_object(b'{"a":1}') == {"a": 1}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "not JSON"),
        (b"\xff", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # RecursionError
        (b"[]", "not an object"),
        (b'"x"', "not an object"),
        (b"1", "not an object"),
    ],
)
def test_loads_object_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{reason}$"):
        codec.loads_object(data)


def test_field_str_limits() -> None:
    assert codec.field_str({"n": "x"}, "n") == "x"
    assert codec.field_str({"n": "x" * 256}, "n") == "x" * 256
    assert codec.field_str({"n": "x" * 64}, "n", 64) == "x" * 64
    assert codec.field_str({"n": "Laptop é"}, "n") == "Laptop é"


@pytest.mark.parametrize(
    ("value", "max_len"),
    [
        (None, 256),
        (1, 256),
        (["x"], 256),
        ("", 256),
        ("x" * 257, 256),
        ("x" * 65, 64),
        ("lone \ud800 surrogate", 256),
        ("\udfff", 256),
    ],
)
def test_field_str_rejects(value: object, max_len: int) -> None:
    with pytest.raises(MalformedMessage, match="^bad name$"):
        codec.field_str({"name": value}, "name", max_len)


def test_field_str_defaults_to_256_characters() -> None:
    with pytest.raises(MalformedMessage, match="^bad to$"):
        codec.field_str({"to": "x" * 257}, "to")


def test_is_text() -> None:
    assert codec.is_text("Laptop 💻")
    assert not codec.is_text("\ud83d")


@pytest.mark.parametrize("value", [0, 1, 1_700_000_000, 2**53 - 1])
def test_field_int_accepts(value: int) -> None:
    assert codec.field_int({"seq": value}, "seq") == value


@pytest.mark.parametrize("value", [None, -1, 2**53, True, False, 1.0, 1.5, "1"])
def test_field_int_rejects(value: object) -> None:
    with pytest.raises(MalformedMessage, match="^bad seq$"):
        codec.field_int({"seq": value}, "seq")


def test_bounded_list() -> None:
    assert codec.bounded_list([1, 2], 2) == [1, 2]
    assert codec.bounded_list([], 0) == []
    for value in ([1, 2, 3], (1,), {"a": 1}, "ab", None):
        with pytest.raises(MalformedMessage, match="^bad list$"):
            codec.bounded_list(value, 2)


def test_is_v1() -> None:
    assert codec.is_v1(1)
    for value in (True, 1.0, "1", 2, 0, None):
        assert not codec.is_v1(value)
