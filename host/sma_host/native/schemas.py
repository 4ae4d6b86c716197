"""The method schemas (package data, Draft 2020-12): the source of truth for params and results.

jsonschema is imported on first use, not at start-up: ``hello`` must answer fast.
"""

from __future__ import annotations

import itertools
import json
import threading
from functools import cache
from importlib import resources
from typing import Any

from ..errors import InvalidParams

_lock = threading.Lock()
#: Violations collected before the shallowest is reported.
_ERRORS_LOOKED_AT = 8


def schema_names() -> list[str]:
    """Every ``<method>.<params|result>`` and ``<name>.notification`` schema in the package."""
    files = resources.files("sma_host").joinpath("schemas")
    return sorted(f.name.removesuffix(".json") for f in files.iterdir() if f.name.endswith(".json"))


def load_schema(name: str) -> dict[str, Any]:
    """``common``, ``<method>.params``, ``<method>.result`` or ``<name>.notification``."""
    text = resources.files("sma_host").joinpath("schemas", f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    common = load_schema("common")
    registry: Registry[Any] = Registry().with_resource(
        common["$id"], Resource.from_contents(common)
    )
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def validator(name: str) -> Any:
    with _lock:  # functools.cache is not safe against two threads building the same entry
        return _validator(name)


@cache
def schema_names_set() -> frozenset[str]:
    return frozenset(schema_names())


def validate_params(method: str, params: dict[str, Any]) -> None:
    """Raise ``InvalidParams`` naming the JSON path of the first violation."""
    # Only the first few violations are looked for: a frame of a million invalid items
    # costs no more than a valid one (the errors are generated lazily).
    found = itertools.islice(validator(f"{method}.params").iter_errors(params), _ERRORS_LOOKED_AT)
    errors = sorted(found, key=_error_sort_key)
    if errors:
        first = errors[0]
        # Never echo the offending value: it may be a password.
        raise InvalidParams(
            f"invalid params at {first.json_path}: {_describe(first)}",
            path=first.json_path,
            validator=first.validator,
        )


def validate_result(method: str, result: dict[str, Any]) -> list[str]:
    """Violations of the result schema, as messages (empty when valid); used by the tests."""
    return [
        f"{e.json_path}: {e.message}" for e in validator(f"{method}.result").iter_errors(result)
    ]


def notification_names() -> list[str]:
    """Every notification the host can send: one ``<name>.notification`` schema each."""
    suffix = ".notification"
    return [n.removesuffix(suffix) for n in schema_names() if n.endswith(suffix)]


def validate_notification(name: str, params: dict[str, Any]) -> list[str]:
    """Violations of a notification's schema (empty when valid); used by the tests."""
    if f"{name}.notification" not in schema_names_set():
        return [f"no notification is called {name!r}"]
    return [
        f"{name} {e.json_path}: {e.message}"
        for e in validator(f"{name}.notification").iter_errors(params)
    ]


def _error_sort_key(error: Any) -> tuple[int, str]:
    return (len(error.absolute_path), error.json_path)


def _describe(error: Any) -> str:
    kind = error.validator
    if kind == "required":
        return str(error.message)
    if kind == "additionalProperties":
        return "unexpected property"
    if kind == "type":
        return f"expected {error.validator_value}"
    if kind == "enum":
        return f"must be one of {error.validator_value}"
    if kind in ("minLength", "maxLength", "minimum", "maximum", "pattern", "const"):
        return f"violates {kind} {error.validator_value!r}"
    return f"violates {kind}"
