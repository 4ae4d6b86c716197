"""The test harness's JSON-RPC check of what a host writes (devtools/host_process.py)."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.host_process import jsonrpc_problem

GOOD: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": 1, "result": {"protocol": 1}},
    {"jsonrpc": "2.0", "id": "x", "result": None},
    {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
    {"jsonrpc": "2.0", "id": 2, "error": {"code": -32001, "message": "m", "data": {"reason": "r"}}},
    {"jsonrpc": "2.0", "method": "keys.changed", "params": {"account": "a"}},
    {"jsonrpc": "2.0", "method": "sma.changed"},
]

BAD: list[tuple[dict[str, Any], str]] = [
    ({"id": 1, "result": {}}, '"jsonrpc" is not "2.0"'),
    ({"jsonrpc": "2.1", "id": 1, "result": {}}, '"jsonrpc" is not "2.0"'),
    ({"jsonrpc": "2.0", "result": {}}, "response without a valid id"),
    ({"jsonrpc": "2.0", "id": True, "result": {}}, "response without a valid id"),
    ({"jsonrpc": "2.0", "id": 1.5, "result": {}}, "response without a valid id"),
    ({"jsonrpc": "2.0", "id": 1}, "exactly one of result and error"),
    ({"jsonrpc": "2.0", "id": 1, "result": 1, "error": {}}, "exactly one of result and error"),
    ({"jsonrpc": "2.0", "id": 1, "result": 1, "extra": 0}, "extra members extra"),
    ({"jsonrpc": "2.0", "id": 1, "error": {"message": "m"}}, "integer code"),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": True, "message": "m"}}, "integer code"),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}, "string message"),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "m", "x": 1}}, "extra members x"),
    ({"jsonrpc": "2.0", "method": ""}, "non-empty string"),
    ({"jsonrpc": "2.0", "method": 3}, "non-empty string"),
    ({"jsonrpc": "2.0", "method": "m", "id": 4}, "a request"),
    ({"jsonrpc": "2.0", "method": "m", "params": "p"}, "neither an object nor an array"),
    ({"jsonrpc": "2.0", "method": "m", "result": 1}, "extra members result"),
]


@pytest.mark.parametrize("message", GOOD)
def test_json_rpc_responses_and_notifications_pass(message: dict[str, Any]) -> None:
    assert jsonrpc_problem(message) is None


@pytest.mark.parametrize(("message", "why"), BAD)
def test_anything_else_is_named(message: dict[str, Any], why: str) -> None:
    problem = jsonrpc_problem(message)
    assert problem is not None and why in problem
