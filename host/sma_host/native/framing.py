"""Sans-I/O codec for Mozilla native messaging: a native-order u32 length, then UTF-8 JSON.

Thunderbird reads at most 1 MiB per host → add-on message and drops the port on a
larger one; it may send up to 4 GiB − 1 the other way, so incoming lengths are
bounded here before anything is buffered.
"""

from __future__ import annotations

import struct

#: Thunderbird's ``MAX_READ``: a larger frame from the host tears the port down.
MAX_OUTGOING_FRAME = 1024 * 1024
#: Frames from the add-on above this are refused and skipped without being buffered.
MAX_INCOMING_FRAME = 16 * 1024 * 1024

_LENGTH = struct.Struct("=I")


class Record:
    """A small immutable value compared by type and fields (what ``NamedTuple`` gave,
    without importing ``typing`` and building classes at start-up: cold start)."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({shown})"


class Frame(Record):
    """One complete frame's payload (still bytes: decoding is the next layer's job)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class OversizeFrame(Record):
    """A frame whose announced length exceeds ``MAX_INCOMING_FRAME``; its bytes are skipped."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length


class TruncatedFrame(Record):
    """End of input inside a frame: ``received`` bytes of it arrived (length prefix included).

    ``expected`` is the payload length announced, or None when even the prefix was cut.
    """

    __slots__ = ("expected", "received")

    def __init__(self, expected: int | None, received: int) -> None:
        self.expected, self.received = expected, received


FrameEvent = Frame | OversizeFrame | TruncatedFrame


class FrameDecoder:
    """Turns arbitrary chunks of stdin into frame events; ``feed(b"")`` means end of input."""

    def __init__(self, max_frame: int = MAX_INCOMING_FRAME) -> None:
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._skip_remaining = 0
        self._eof = False

    def feed(self, data: bytes) -> list[FrameEvent]:
        if self._eof:
            raise RuntimeError("feed() after end of input")
        events: list[FrameEvent] = []
        if not data:
            self._eof = True
            if self._buffer:
                expected = _LENGTH.unpack_from(self._buffer)[0] if len(self._buffer) >= 4 else None
                events.append(TruncatedFrame(expected=expected, received=len(self._buffer)))
                self._buffer.clear()
            elif self._skip_remaining:
                self._skip_remaining = 0
            return events
        view = memoryview(data)
        if self._skip_remaining:
            skipped = min(self._skip_remaining, len(view))
            self._skip_remaining -= skipped
            view = view[skipped:]
        self._buffer += view
        while True:
            if len(self._buffer) < 4:
                return events
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > self._max_frame:
                events.append(OversizeFrame(length))
                available = len(self._buffer) - 4
                skipped = min(length, available)
                del self._buffer[: 4 + skipped]
                self._skip_remaining = length - skipped
                if self._skip_remaining:
                    return events
                continue
            if len(self._buffer) - 4 < length:
                return events
            events.append(Frame(bytes(self._buffer[4 : 4 + length])))
            del self._buffer[: 4 + length]


class OutgoingTooLarge(ValueError):
    """An encoded message would exceed Thunderbird's 1 MiB limit."""

    def __init__(self, size: int) -> None:
        super().__init__(f"message of {size} bytes exceeds {MAX_OUTGOING_FRAME}")
        self.size = size


def encode_frame(payload: bytes, max_frame: int = MAX_OUTGOING_FRAME) -> bytes:
    """Length-prefix ``payload``; refuses what Thunderbird would reject."""
    if len(payload) > max_frame:
        raise OutgoingTooLarge(len(payload))
    return _LENGTH.pack(len(payload)) + payload
