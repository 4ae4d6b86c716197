"""The JSON-RPC 2.0 envelope: parsing frames into requests, building replies (no I/O)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_host import errors
from sma_host.native.jsonrpc import (
    BadRequest,
    Request,
    dump,
    error_response,
    notification,
    parse_request,
    result_response,
)


def strict_loads(payload: bytes) -> Any:
    """What the add-on's ``JSON.parse`` accepts: UTF-8, and no NaN/Infinity."""

    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(payload.decode("utf-8"), parse_constant=reject)


def bad(payload: bytes) -> BadRequest:
    parsed = parse_request(payload)
    assert isinstance(parsed, BadRequest), parsed
    return parsed


def wire_error(parsed: BadRequest) -> dict[str, Any]:
    """The error object as it would travel (through dump and a strict parse)."""
    reply = strict_loads(dump(error_response(parsed.id, parsed.error)))
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == parsed.id
    assert "result" not in reply
    error: dict[str, Any] = reply["error"]
    return error


# -- -32700 parse errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b'{"jsonrpc":"2.0","id":1,"method":"hel\xc3"}',  # cut inside a UTF-8 sequence
        b'{"jsonrpc":"2.0","id":1,"method":"\xed\xa0\x80"}',  # an encoded surrogate
        b'{"jsonrpc":"2.0","id":1,"method":"hello"}'.decode().encode("utf-16"),
    ],
    ids=["ff-fe", "cut-sequence", "cesu-surrogate", "utf-16"],
)
def test_not_utf8_is_a_parse_error(payload: bytes) -> None:
    parsed = bad(payload)
    error = wire_error(parsed)
    assert (error["code"], error["data"]["reason"], parsed.id) == (-32700, "parse_error", None)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"hello",
        b'{"jsonrpc":"2.0","id":1,"method":"hello"',
        b"{'jsonrpc':'2.0'}",
        b'{"jsonrpc":"2.0","id":1,"method":"hello"} trailing',
        b'{"jsonrpc":"2.0","id":NaN,"method":"hello"}',
        b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{"x":Infinity}}',
        b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{"x":-Infinity}}',
        b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{"x":' + b"9" * 5000 + b"}}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=[
        "empty",
        "bare-word",
        "unterminated",
        "single-quotes",
        "trailing-garbage",
        "nan",
        "infinity",
        "minus-infinity",
        "5000-digit-number",
        "nested-too-deeply",
    ],
)
def test_not_json_is_a_parse_error(payload: bytes) -> None:
    parsed = bad(payload)
    error = wire_error(parsed)
    assert (error["code"], error["data"]["reason"], parsed.id) == (-32700, "parse_error", None)
    assert error["message"]


# -- -32600 invalid requests ------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"[]", b"[1,2]", b"42", b"-1.5", b'"hello"', b"null", b"true"])
def test_json_that_is_not_an_object_is_an_invalid_request(payload: bytes) -> None:
    parsed = bad(payload)
    error = wire_error(parsed)
    assert (error["code"], error["data"]["reason"], parsed.id) == (-32600, "invalid_request", None)


@pytest.mark.parametrize(
    ("message", "echoed_id"),
    [
        ({"id": 1, "method": "hello"}, 1),
        ({"jsonrpc": "1.0", "id": "a", "method": "hello"}, "a"),
        ({"jsonrpc": 2.0, "id": 3, "method": "hello"}, 3),
        ({"jsonrpc": "2.0 ", "id": 4, "method": "hello"}, 4),
        ({"jsonrpc": None, "id": None, "method": "hello"}, None),
        ({"jsonrpc": "2.0", "id": 5}, 5),
        ({"jsonrpc": "2.0", "id": 6, "method": ""}, 6),
        ({"jsonrpc": "2.0", "id": 7, "method": 7}, 7),
        ({"jsonrpc": "2.0", "id": 8, "method": ["hello"]}, 8),
        ({"jsonrpc": "2.0", "id": 9, "method": None}, 9),
        ({"jsonrpc": "1.0", "id": True, "method": "hello"}, None),
        ({"jsonrpc": "2.0", "id": {"n": 1}, "method": "hello"}, None),
        ({"jsonrpc": "2.0", "id": [1], "method": "hello"}, None),
        ({"jsonrpc": "2.0", "id": 1e400, "method": "hello"}, None),
    ],
    ids=[
        "jsonrpc-missing",
        "jsonrpc-1.0",
        "jsonrpc-number",
        "jsonrpc-padded",
        "jsonrpc-null",
        "method-missing",
        "method-empty",
        "method-number",
        "method-array",
        "method-null",
        "id-bool",
        "id-object",
        "id-array",
        "id-overflows-to-infinity",
    ],
)
def test_invalid_request_echoes_a_readable_id(message: dict[str, Any], echoed_id: Any) -> None:
    text = json.dumps(message).replace("Infinity", "1e400")
    parsed = bad(text.encode())
    error = wire_error(parsed)
    assert (error["code"], error["data"]["reason"]) == (-32600, "invalid_request")
    assert parsed.id == echoed_id


# -- -32602 params ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [[1], ["a", "b"], "x", 5, None, True])
def test_params_that_are_not_an_object_are_invalid_params(params: Any) -> None:
    message = {"jsonrpc": "2.0", "id": 11, "method": "hello", "params": params}
    parsed = bad(json.dumps(message).encode())
    error = wire_error(parsed)
    assert (error["code"], error["data"]["reason"], parsed.id) == (-32602, "invalid_params", 11)
    assert error["data"]["path"] == "$"


def test_absent_or_empty_array_params_mean_no_params() -> None:
    for extra in ({}, {"params": []}, {"params": {}}):
        message = {"jsonrpc": "2.0", "id": 1, "method": "hello", **extra}
        assert parse_request(json.dumps(message).encode()) == Request(
            method="hello", params={}, id=1, is_notification=False
        )


# -- well-formed requests and notifications ---------------------------------------------


def test_request_fields_are_kept() -> None:
    payload = b'{"params":{"account":"a1"},"method":"sma.status","id":"r-1","jsonrpc":"2.0"}'
    assert parse_request(payload) == Request(
        method="sma.status", params={"account": "a1"}, id="r-1", is_notification=False
    )


def test_missing_id_is_a_notification_but_null_id_is_not() -> None:
    note = parse_request(b'{"jsonrpc":"2.0","method":"hello"}')
    assert note == Request(method="hello", params={}, id=None, is_notification=True)
    null_id = parse_request(b'{"jsonrpc":"2.0","id":null,"method":"hello"}')
    assert null_id == Request(method="hello", params={}, id=None, is_notification=False)
    # Read directly: two records both missing the flag would still compare equal.
    assert isinstance(note, Request) and note.is_notification is True
    assert isinstance(null_id, Request) and null_id.is_notification is False


def test_unknown_methods_are_parsed_the_dispatcher_refuses_them() -> None:
    parsed = parse_request(b'{"jsonrpc":"2.0","id":2,"method":"no.such.method"}')
    assert isinstance(parsed, Request)
    assert parsed.method == "no.such.method"


# -- replies --------------------------------------------------------------------------


def test_reply_shapes() -> None:
    assert result_response(1, {"a": 1}) == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    assert notification("evt", {"b": 2}) == {"jsonrpc": "2.0", "method": "evt", "params": {"b": 2}}
    reply = error_response("x", errors.UnknownAccount("no account 'q'", account="q"))
    assert reply == {
        "jsonrpc": "2.0",
        "id": "x",
        "error": {
            "code": -32001,
            "message": "no account 'q'",
            "data": {"reason": "unknown_account", "account": "q"},
        },
    }


def test_dump_is_compact_utf8() -> None:
    assert dump({"a": [1, 2], "é": "ü"}) == '{"a":[1,2],"é":"ü"}'.encode()


def test_every_error_class_has_a_stable_reason_and_a_code_in_its_range() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type)]
    host_errors = [c for c in classes if issubclass(c, errors.HostError)]
    standard = {-32700, -32600, -32601, -32602, -32603}
    for cls in host_errors:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.reason), cls
        assert cls.code in standard or -32099 <= cls.code <= -32000, cls
        assert cls("m").to_error_object()["data"]["reason"] == cls.reason
    assert errors.FrameTooLarge.code == -32600
    assert errors.FrameTooLarge.reason == "frame_too_large"
    for reason in ("auth_failed", "connection_failed", "tls_failed", "insecure_refused"):
        assert reason in errors.ALL_REASONS
    for reason in ("unknown_account", "not_joined", "server_error", "internal_error"):
        assert reason in errors.ALL_REASONS


# -- properties ----------------------------------------------------------------------------

# Any text Python can hold, lone surrogates included (a JS string can carry them too).
any_text = st.text(
    st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udbff", "\udc00"]),
    max_size=20,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
ids = st.none() | st.integers(-(2**63), 2**63) | st.floats() | any_text | st.booleans()


def reply_for(parsed: Request | BadRequest) -> dict[str, Any]:
    if isinstance(parsed, BadRequest):
        return error_response(parsed.id, parsed.error)
    return result_response(parsed.id, {"method": parsed.method})


def assert_wire_safe(reply: dict[str, Any]) -> None:
    """Strict JSON in valid UTF-8 that parses back to the same reply."""
    assert strict_loads(dump(reply)) == reply


@given(st.binary(max_size=200))
def test_any_bytes_parse_to_a_request_or_a_precise_error(payload: bytes) -> None:
    parsed = parse_request(payload)
    assert isinstance(parsed, Request | BadRequest)
    if isinstance(parsed, BadRequest):
        assert isinstance(parsed.error, errors.RequestError)
        assert parsed.error.code in (-32700, -32600, -32602)
    assert_wire_safe(reply_for(parsed))


@given(json_values)
def test_any_json_value_gets_a_reply_that_is_valid_json(value: Any) -> None:
    payload = json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \\udXXX
    parsed = parse_request(payload)
    if not isinstance(value, dict):
        assert isinstance(parsed, BadRequest)
        assert parsed.error.code in (-32700, -32600)  # NaN/Infinity are not JSON at all
    assert_wire_safe(reply_for(parsed))


@given(
    request_id=ids,
    method=any_text,
    params=st.dictionaries(any_text, json_values, max_size=3),
    has_id=st.booleans(),
)
def test_any_request_round_trips_or_is_refused_with_a_safe_reply(
    request_id: Any, method: str, params: dict[str, Any], has_id: bool
) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if has_id:
        message["id"] = request_id
    parsed = parse_request(json.dumps(message).encode())
    reply = reply_for(parsed)
    assert_wire_safe(reply)
    if isinstance(parsed, Request):
        assert parsed.method == method
        assert parsed.params == params
        assert parsed.is_notification is not has_id
        assert parsed.id == (request_id if has_id else None)


@given(st.dictionaries(any_text, json_values, max_size=5))
def test_dump_output_is_strict_json_that_reads_back(value: dict[str, Any]) -> None:
    try:
        data = dump(value)
    except ValueError:
        # Only a value that JSON cannot express may be refused: NaN or ±Infinity.
        assert has_non_finite(value)
        return
    assert strict_loads(data) == value


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    return False


# -- each refusal by its exact message ----------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"name": "\ud800"}, {"\udc00": 1}, {"list": ["ok", {"deep": "x\udbffy"}]}],
    ids=["value", "key", "nested"],
)
def test_lone_surrogates_in_params_are_invalid_params(params: dict[str, Any]) -> None:
    # ensure_ascii: the surrogate travels as "\ud800" in valid JSON, as a JS string can send it.
    message = {"jsonrpc": "2.0", "id": 12, "method": "keys.put", "params": params}
    parsed = bad(json.dumps(message).encode())
    assert isinstance(parsed.error, errors.InvalidParams)
    assert parsed.error.message == "params contain a lone UTF-16 surrogate"
    assert (parsed.error.data["path"], parsed.id) == ("$", 12)


def test_a_lone_surrogate_in_the_method_still_parses_and_dumps_escaped() -> None:
    parsed = parse_request(b'{"jsonrpc":"2.0","id":1,"method":"x\\ud800"}')
    assert isinstance(parsed, Request) and parsed.method == "x\ud800"
    assert dump({"m": "x\ud800é"}) == b'{"m":"x\\ud800\\u00e9"}'
    assert dump({"m": "\ud800", "n": [1, 2]}) == b'{"m":"\\ud800","n":[1,2]}'


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"a":NaN}', "frame is not JSON: NaN is not JSON"),
        (b'{"a":-Infinity}', "frame is not JSON: -Infinity is not JSON"),
        (b"[" * 100_000, "frame is not JSON: nested too deeply"),
        (b'{"a":', "frame is not JSON: Expecting value"),
    ],
)
def test_parse_error_messages(payload: bytes, message: str) -> None:
    parsed = bad(payload)
    assert isinstance(parsed.error, errors.ParseError)
    assert parsed.error.message == message


def test_an_integer_too_long_is_a_parse_error_with_a_short_message() -> None:
    parsed = bad(b'{"a":' + b"9" * 5000 + b"}")
    assert isinstance(parsed.error, errors.ParseError)
    assert parsed.error.message.startswith("frame is not JSON: Exceeds the limit (4300 digits)")
    assert len(parsed.error.message) <= 200


def test_not_utf8_names_the_offset() -> None:
    parsed = bad(b'{"a":"\xff"}')
    assert parsed.error.message == "frame is not valid UTF-8"
    assert parsed.error.data["offset"] == 6


def test_a_finite_float_id_is_echoed() -> None:
    parsed = parse_request(b'{"jsonrpc":"2.0","id":1.5,"method":"hello"}')
    assert isinstance(parsed, Request) and parsed.id == 1.5


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"jsonrpc": "1.0", "id": 1, "method": "m"}, '"jsonrpc" must be exactly "2.0"'),
        ({"jsonrpc": "2.0", "id": 1, "method": ""}, '"method" must be a non-empty string'),
        ({"jsonrpc": "2.0", "id": True, "method": "m"}, "id must be a string, a number or null"),
        ({"jsonrpc": "2.0", "id": 1, "method": "m", "params": 3}, '"params" must be an object'),
        ([], "a request must be a JSON object"),
    ],
)
def test_invalid_request_messages(message: Any, text: str) -> None:
    assert bad(json.dumps(message).encode()).error.message == text


def test_dump_refuses_nan() -> None:
    with pytest.raises(ValueError):
        dump({"a": math.nan})
