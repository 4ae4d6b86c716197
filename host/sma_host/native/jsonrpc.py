"""JSON-RPC 2.0 envelopes: parse incoming frames into requests, build replies. No I/O."""

from __future__ import annotations

import json
import math

from ..errors import HostError, InvalidParams, InvalidRequest, ParseError
from .framing import Record

#: ``typing`` is not imported at run time on the way to ``hello`` (cold start); mypy
#: reads the imports below all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RequestId = str | int | float | None


class Request(Record):
    """A well-formed call; ``is_notification`` when it carried no ``id`` (no reply is owed)."""

    __slots__ = ("method", "params", "id", "is_notification")

    def __init__(
        self, method: str, params: dict[str, Any], id: RequestId, is_notification: bool
    ) -> None:
        self.method, self.params, self.id = method, params, id
        self.is_notification = is_notification


class BadRequest(Record):
    """Input that cannot be served; ``id`` is echoed when it could be read, else null."""

    __slots__ = ("error", "id")

    def __init__(self, error: HostError, id: RequestId) -> None:
        self.error, self.id = error, id


def parse_request(payload: bytes) -> Request | BadRequest:
    """Decode one frame's payload into a request, or the precise error to answer."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRequest(ParseError("frame is not valid UTF-8", offset=exc.start), None)
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return BadRequest(ParseError(f"frame is not JSON: {exc.msg}"), None)
    except RecursionError:
        return BadRequest(ParseError("frame is not JSON: nested too deeply"), None)
    except ValueError as exc:
        # NaN/Infinity (not JSON), or an integer too long for int() (over 4300 digits).
        return BadRequest(ParseError(f"frame is not JSON: {exc}"[:200]), None)
    if not isinstance(message, dict):
        return BadRequest(InvalidRequest("a request must be a JSON object"), None)
    raw_id = message.get("id")
    has_id = "id" in message
    request_id: RequestId = raw_id if _is_valid_id(raw_id) else None
    if has_id and not _is_valid_id(raw_id):
        return BadRequest(InvalidRequest("id must be a string, a number or null"), None)
    if message.get("jsonrpc") != "2.0":
        return BadRequest(InvalidRequest('"jsonrpc" must be exactly "2.0"'), request_id)
    method = message.get("method")
    if not isinstance(method, str) or not method:
        return BadRequest(InvalidRequest('"method" must be a non-empty string'), request_id)
    params = message.get("params", {})
    if isinstance(params, list) and not params:
        params = {}
    if not isinstance(params, dict):
        return BadRequest(InvalidParams('"params" must be an object', path="$"), request_id)
    try:
        json.dumps(params, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # "\ud800" is valid JSON but no Unicode text: nothing downstream could store it.
        return BadRequest(
            InvalidParams("params contain a lone UTF-16 surrogate", path="$"), request_id
        )
    return Request(method=method, params=params, id=request_id, is_notification=not has_id)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_valid_id(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # 1e400 reads as inf, which JSON cannot echo
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: RequestId, error: HostError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_error_object()}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def dump(message: dict[str, Any]) -> bytes:
    """Compact, strict UTF-8 JSON for the wire; ValueError on NaN or Infinity."""
    text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a JS string may carry one) has no UTF-8 form: escape it.
        return json.dumps(message, allow_nan=False, separators=(",", ":")).encode("ascii")
