"""The sans-I/O frame codec and the outgoing frame writer (no process, no I/O)."""

from __future__ import annotations

import io
import json
import sys
import threading
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sma_host.errors import InternalError, ServerError
from sma_host.native import jsonrpc
from sma_host.native.framing import (
    MAX_INCOMING_FRAME,
    MAX_OUTGOING_FRAME,
    Frame,
    FrameDecoder,
    FrameEvent,
    OutgoingTooLarge,
    OversizeFrame,
    TruncatedFrame,
    encode_frame,
)
from sma_host.native.stdio_loop import FrameWriter

MiB = 1024 * 1024
SMALL_MAX = 64  # a decoder limit small enough for hypothesis to cross it often


def header(length: int) -> bytes:
    return length.to_bytes(4, sys.byteorder)


def decode_all(data: bytes, max_frame: int = MAX_INCOMING_FRAME) -> list[FrameEvent]:
    decoder = FrameDecoder(max_frame)
    events = decoder.feed(data) if data else []  # feed(b"") is end of input
    return events + decoder.feed(b"")


def feed_in_chunks(data: bytes, cuts: list[int], max_frame: int) -> list[FrameEvent]:
    decoder = FrameDecoder(max_frame)
    events: list[FrameEvent] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        if end > start:
            events += decoder.feed(data[start:end])
    return events + decoder.feed(b"")


# -- constants and byte order --------------------------------------------------------


def test_limits_are_thunderbirds() -> None:
    assert MAX_OUTGOING_FRAME == 1 * MiB
    assert MAX_INCOMING_FRAME == 16 * MiB


def test_frame_events_compare_by_type_and_fields() -> None:
    assert Frame(b"a") == Frame(b"a") and hash(Frame(b"a")) == hash(Frame(b"a"))
    assert Frame(b"a") != Frame(b"b")
    assert OversizeFrame(7) != Frame(7)  # type: ignore[arg-type]
    assert Frame(b"a") != (b"a",)
    assert OversizeFrame(MAX_INCOMING_FRAME + 1).length == MAX_INCOMING_FRAME + 1
    assert TruncatedFrame(None, 3).expected is None and TruncatedFrame(5, 2).received == 2


def test_frame_events_show_their_fields() -> None:
    assert repr(TruncatedFrame(5, 2)) == "TruncatedFrame(expected=5, received=2)"
    assert repr(OversizeFrame(9)) == "OversizeFrame(length=9)"
    assert repr(Frame(b"{}")) == "Frame(payload=b'{}')"


def test_length_prefix_is_native_order_u32() -> None:
    frame = encode_frame(b'{"a":1}')
    assert frame == (7).to_bytes(4, sys.byteorder) + b'{"a":1}'
    # A length whose bytes differ by order tells big from little endian.
    assert decode_all(header(0x0102) + b"x" * 0x0102) == [Frame(b"x" * 0x0102)]


# -- decoding --------------------------------------------------------------------------


def test_frames_in_one_chunk() -> None:
    data = encode_frame(b"one") + encode_frame(b"") + encode_frame(b"three")
    assert decode_all(data) == [Frame(b"one"), Frame(b""), Frame(b"three")]


def test_frame_is_reported_only_when_complete() -> None:
    decoder = FrameDecoder()
    data = encode_frame(b"hello")
    assert decoder.feed(data[:2]) == []
    assert decoder.feed(data[2:6]) == []
    assert decoder.feed(data[6:]) == [Frame(b"hello")]
    assert decoder.feed(b"") == []


def test_clean_end_of_input_yields_nothing() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(b"x")) == [Frame(b"x")]
    assert decoder.feed(b"") == []


def test_feed_after_end_of_input_is_an_error() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"")
    with pytest.raises(RuntimeError, match=r"^feed\(\) after end of input$"):
        decoder.feed(b"more")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (header(10)[:1], TruncatedFrame(expected=None, received=1)),
        (header(10)[:3], TruncatedFrame(expected=None, received=3)),
        (header(10), TruncatedFrame(expected=10, received=4)),
        (header(10) + b"abcdefghi", TruncatedFrame(expected=10, received=13)),
    ],
    ids=["1-byte-prefix", "3-byte-prefix", "prefix-only", "payload-cut"],
)
def test_input_ending_inside_a_frame(tail: bytes, expected: TruncatedFrame) -> None:
    assert decode_all(encode_frame(b"ok") + tail) == [Frame(b"ok"), expected]


def test_largest_accepted_frame_is_exactly_the_limit() -> None:
    assert decode_all(header(SMALL_MAX) + b"a" * SMALL_MAX, SMALL_MAX) == [Frame(b"a" * SMALL_MAX)]
    assert decode_all(header(SMALL_MAX + 1) + b"a" * (SMALL_MAX + 1), SMALL_MAX) == [
        OversizeFrame(SMALL_MAX + 1)
    ]


def test_real_limit_16_mib_is_accepted_and_one_more_byte_refused() -> None:
    body = b"z" * MAX_INCOMING_FRAME
    assert decode_all(header(len(body)) + body) == [Frame(body)]
    events = decode_all(header(len(body) + 1) + body + b"z" + encode_frame(b"next"))
    assert events == [OversizeFrame(MAX_INCOMING_FRAME + 1), Frame(b"next")]


def test_oversize_frame_is_reported_from_its_prefix_alone() -> None:
    decoder = FrameDecoder(SMALL_MAX)
    # The error is owed at once: nothing of the body needs to arrive first.
    assert decoder.feed(header(1000)) == [OversizeFrame(1000)]
    assert decoder.feed(b"j" * 999) == []
    assert decoder.feed(b"j" + encode_frame(b"after")) == [Frame(b"after")]


def test_oversize_frame_cut_by_end_of_input_yields_nothing_more() -> None:
    decoder = FrameDecoder(SMALL_MAX)
    assert decoder.feed(header(1000) + b"j" * 10) == [OversizeFrame(1000)]
    assert decoder.feed(b"") == []


def test_maximal_length_prefix_is_refused() -> None:
    assert FrameDecoder().feed(b"\xff\xff\xff\xff") == [OversizeFrame(2**32 - 1)]


def test_skipping_an_oversize_frame_holds_no_copy_of_it() -> None:
    """17 MiB of junk fed in 64 KiB reads: the decoder's own allocations stay tiny."""
    length = 17 * MiB
    chunk = b"j" * (64 * 1024)
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        events = decoder.feed(header(length))
        for _ in range(length // len(chunk)):
            events += decoder.feed(chunk)
        events += decoder.feed(encode_frame(b"after"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == [OversizeFrame(length), Frame(b"after")]
    assert peak - baseline < 1 * MiB


# -- properties ------------------------------------------------------------------------

payloads = st.binary(max_size=SMALL_MAX)
oversize = st.tuples(st.integers(SMALL_MAX + 1, 4 * SMALL_MAX), st.binary(min_size=1, max_size=1))
items = st.lists(st.one_of(payloads, oversize), max_size=12)
tails = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=3).map(lambda b: ("prefix", b)),
    st.tuples(st.integers(1, SMALL_MAX), st.integers(0, SMALL_MAX)).map(
        lambda t: ("payload", t[0], min(t[1], t[0] - 1))
    ),
    st.tuples(st.integers(SMALL_MAX + 1, 4 * SMALL_MAX), st.integers(0, SMALL_MAX)).map(
        lambda t: ("oversize", t[0], t[1])
    ),
)


def build_stream(parts: list[Any], tail: Any) -> tuple[bytes, list[FrameEvent]]:
    """The bytes the add-on would send, and the events a correct decoder reports."""
    data = b""
    expected: list[FrameEvent] = []
    for part in parts:
        if isinstance(part, bytes):
            data += encode_frame(part, max_frame=SMALL_MAX)
            expected.append(Frame(part))
        else:
            length, fill = part
            data += header(length) + fill * length
            expected.append(OversizeFrame(length))
    if tail == b"":
        pass
    elif tail[0] == "prefix":
        data += tail[1]
        expected.append(TruncatedFrame(expected=None, received=len(tail[1])))
    elif tail[0] == "payload":
        _, length, got = tail
        data += header(length) + b"p" * got
        expected.append(TruncatedFrame(expected=length, received=4 + got))
    else:
        _, length, got = tail
        data += header(length) + b"o" * got
        expected.append(OversizeFrame(length))  # then input ends: nothing more
    return data, expected


@given(parts=items, tail=tails, cuts=st.lists(st.integers(0, 4096), max_size=40))
def test_any_chunking_yields_the_same_events(parts: list[Any], tail: Any, cuts: list[int]) -> None:
    data, expected = build_stream(parts, tail)
    assert decode_all(data, SMALL_MAX) == expected
    assert feed_in_chunks(data, cuts, SMALL_MAX) == expected


@given(parts=items, tail=tails)
def test_byte_by_byte_yields_the_same_events(parts: list[Any], tail: Any) -> None:
    data, expected = build_stream(parts, tail)
    assert feed_in_chunks(data, list(range(len(data))), SMALL_MAX) == expected


@given(st.lists(st.binary(max_size=300)))
def test_encode_decode_round_trip(messages: list[bytes]) -> None:
    data = b"".join(encode_frame(m) for m in messages)
    assert len(data) == sum(4 + len(m) for m in messages)
    assert decode_all(data) == [Frame(m) for m in messages]


# -- encoding --------------------------------------------------------------------------


def test_encode_refuses_more_than_one_mib() -> None:
    assert len(encode_frame(b"x" * MAX_OUTGOING_FRAME)) == 4 + MAX_OUTGOING_FRAME
    with pytest.raises(OutgoingTooLarge) as refused:
        encode_frame(b"x" * (MAX_OUTGOING_FRAME + 1))
    assert refused.value.size == MAX_OUTGOING_FRAME + 1
    assert str(refused.value) == f"message of {MAX_OUTGOING_FRAME + 1} bytes exceeds 1048576"


# -- FrameWriter: host → add-on never over 1 MiB --------------------------------------


def written(stream: io.BytesIO) -> list[dict[str, Any]]:
    """Every frame on the stream, each checked against Thunderbird's limits."""
    data = stream.getvalue()
    events = decode_all(data)
    messages = []
    for event in events:
        assert isinstance(event, Frame), event
        assert len(event.payload) <= MAX_OUTGOING_FRAME
        messages.append(strict_loads(event.payload))
    return messages


def strict_loads(payload: bytes) -> Any:
    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(payload.decode("utf-8"), parse_constant=reject)


def result_of_size(request_id: Any, size: int) -> dict[str, Any]:
    """A response whose encoded payload is exactly ``size`` bytes."""
    base = len(jsonrpc.dump(jsonrpc.result_response(request_id, {"blob": ""})))
    message = jsonrpc.result_response(request_id, {"blob": "b" * (size - base)})
    assert len(jsonrpc.dump(message)) == size
    return message


def test_writer_sends_a_result_of_exactly_one_mib() -> None:
    stream = io.BytesIO()
    message = result_of_size(7, MAX_OUTGOING_FRAME)
    FrameWriter(stream).send(message)
    assert written(stream) == [message]


def test_writer_turns_an_oversize_result_into_result_too_large() -> None:
    stream = io.BytesIO()
    FrameWriter(stream).send(result_of_size("req-7", MAX_OUTGOING_FRAME + 1))
    [reply] = written(stream)
    assert reply["id"] == "req-7"
    assert "result" not in reply
    assert reply["error"]["code"] == -32031
    assert reply["error"]["data"]["reason"] == "result_too_large"
    assert reply["error"]["data"]["size"] == MAX_OUTGOING_FRAME + 1


def test_writer_turns_an_oversize_error_into_result_too_large() -> None:
    stream = io.BytesIO()
    huge = jsonrpc.error_response(3, _error_with_data(blob="e" * (2 * MiB)))
    FrameWriter(stream).send(huge)
    [reply] = written(stream)
    assert (reply["id"], reply["error"]["data"]["reason"]) == (3, "result_too_large")


def _error_with_data(**data: Any) -> ServerError:
    return ServerError("big", **data)


def test_writer_drops_an_oversize_notification() -> None:
    stream = io.BytesIO()
    writer = FrameWriter(stream)
    writer.send(jsonrpc.notification("sma.changed", {"blob": "n" * (2 * MiB)}))
    assert stream.getvalue() == b""
    writer.send(jsonrpc.notification("sma.changed", {"blob": "small"}))
    assert written(stream) == [jsonrpc.notification("sma.changed", {"blob": "small"})]


def test_writer_answers_an_id_too_large_to_echo_with_id_null() -> None:
    """A 2 MiB id cannot come back in a 1 MiB frame: the error goes out with id null."""
    stream = io.BytesIO()
    FrameWriter(stream).send(jsonrpc.result_response("i" * (2 * MiB), {"ok": True}))
    [reply] = written(stream)
    assert reply["id"] is None
    assert reply["error"]["data"]["reason"] == "result_too_large"


@pytest.mark.parametrize(
    "result",
    [{"x": float("nan")}, {"x": float("inf")}, {"x": object()}],
    ids=["nan", "infinity", "not-serialisable"],
)
def test_writer_never_puts_invalid_json_on_the_wire(result: dict[str, Any]) -> None:
    stream = io.BytesIO()
    FrameWriter(stream).send(jsonrpc.result_response(5, result))
    [reply] = written(stream)
    assert reply["id"] == 5
    assert reply["error"]["code"] == InternalError.code
    assert reply["error"]["data"]["reason"] == "internal_error"
    assert "result" not in reply


@settings(max_examples=30, deadline=None)
@given(
    request_id=st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=20)),
    size=st.integers(0, 2 * MiB),
    notify=st.booleans(),
)
def test_writer_output_never_exceeds_one_mib(request_id: Any, size: int, notify: bool) -> None:
    stream = io.BytesIO()
    if notify:
        message = jsonrpc.notification("evt", {"blob": "é" * (size // 2)})
    else:
        message = jsonrpc.result_response(request_id, {"blob": "é" * (size // 2)})
    FrameWriter(stream).send(message)
    out = written(stream)
    fits = len(jsonrpc.dump(message)) <= MAX_OUTGOING_FRAME
    if fits:
        assert out == [message]
    elif notify:
        assert out == []
    else:
        assert [(m["id"], m["error"]["data"]["reason"]) for m in out] == [
            (request_id, "result_too_large")
        ]


def test_writer_keeps_frames_whole_across_threads() -> None:
    stream = io.BytesIO()
    writer = FrameWriter(stream)

    def burst(thread: int) -> None:
        for n in range(50):
            writer.send(jsonrpc.result_response(f"{thread}-{n}", {"pad": "p" * 10_000}))

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sorted(m["id"] for m in written(stream))
    assert ids == sorted(f"{t}-{n}" for t in range(8) for n in range(50))


class _GonePipe(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, _data: Any) -> int:
        raise BrokenPipeError


def test_writer_survives_a_closed_stdout() -> None:
    writer = FrameWriter(_GonePipe())  # type: ignore[arg-type]
    writer.send(jsonrpc.result_response(1, {}))
    assert writer.closed
    writer.send(jsonrpc.result_response(2, {}))  # no exception once closed
