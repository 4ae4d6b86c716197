"""JSON-RPC 2.0 envelopes: parse incoming frames into requests, build replies. No I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import HostError, InvalidParams, InvalidRequest, ParseError

RequestId = str | int | float | None


@dataclass(frozen=True)
class Request:
    """A well-formed call; ``is_notification`` when it carried no ``id`` (no reply is owed)."""

    method: str
    params: dict[str, Any]
    id: RequestId
    is_notification: bool


@dataclass(frozen=True)
class BadRequest:
    """Input that cannot be served; ``id`` is echoed when it could be read, else null."""

    error: HostError
    id: RequestId


def parse_request(payload: bytes) -> Request | BadRequest:
    """Decode one frame's payload into a request, or the precise error to answer."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRequest(ParseError("frame is not valid UTF-8", offset=exc.start), None)
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        return BadRequest(ParseError(f"frame is not JSON: {detail}"), None)
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
    return Request(method=method, params=params, id=request_id, is_notification=not has_id)


def _is_valid_id(value: object) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: RequestId, error: HostError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_error_object()}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def dump(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON for the wire."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
