"""Small helpers for the JSON bodies of SMA messages: base64 fields and strict reading."""

from __future__ import annotations

import base64
import json
from typing import Any

from .envelope import MalformedMessage


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: object, length: int | None = None) -> bytes:
    """Decode a base64 field; ``MalformedMessage`` when absent, invalid or of the wrong length."""
    if not isinstance(value, str):
        raise MalformedMessage("missing field")
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise MalformedMessage("bad base64") from exc
    if length is not None and len(data) != length:
        raise MalformedMessage("bad length")
    return data


def dumps(value: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces): the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def loads_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage("not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedMessage("not an object")
    return value


def field_str(fields: dict[str, Any], name: str, max_len: int = 256) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_len or not is_text(value):
        raise MalformedMessage(f"bad {name}")
    return value


def is_text(value: str) -> bool:
    """Unicode text that UTF-8 can carry: JSON's ``"\\ud800"`` is valid JSON but is not,
    and would fail later, in SQLite or on stdout, far from where it came in."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_version(value: object, version: int) -> bool:
    """``"v": version`` exactly: JSON's ``true`` and ``1.0`` compare equal to 1 in Python."""
    return type(value) is int and value == version


def is_v1(value: object) -> bool:
    return is_version(value, 1)


def field_int(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise MalformedMessage(f"bad {name}")
    return value


def bounded_list(value: object, limit: int) -> list[Any]:
    """``value`` if it is a list of at most ``limit`` items."""
    if not isinstance(value, list) or len(value) > limit:
        raise MalformedMessage("bad list")
    return value
