"""The JSON examples shared with the add-on's tests hold against the host's own contract:
params and results against the schemas, errors against the error table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sma_host import errors
from sma_host.methods import METHODS
from sma_host.native.schemas import (
    notification_names,
    validate_notification,
    validate_params,
    validate_result,
)

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))
CODES = {
    cls.reason: cls.code
    for cls in errors.__dict__.values()
    if isinstance(cls, type) and issubclass(cls, errors.HostError) and cls is not errors.HostError
}
NOTIFICATIONS = {
    "keys.changed",
    "pair.requested",
    "pair.completed",
    "pair.failed",
    "device.paired",
    "device.removed",
    "sma.changed",
    "account_key.changed",
    "account.token_needed",
}


def test_there_are_examples_for_every_method_and_reason() -> None:
    bodies = [json.loads(p.read_text()) for p in EXAMPLES]
    assert {b["method"] for b in bodies if "result" in b} == set(METHODS)
    assert {b["error"]["data"]["reason"] for b in bodies if "error" in b} == set(errors.ALL_REASONS)
    assert {b["notification"] for b in bodies if "notification" in b} == NOTIFICATIONS


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_holds(path: Path) -> None:
    body = json.loads(path.read_text())
    if "notification" in body:
        assert body["notification"] in NOTIFICATIONS and body["params"]["account"]
        assert validate_notification(body["notification"], body["params"]) == []
        return
    invalid_on_purpose = body.get("error", {}).get("data", {}).get("reason") == "invalid_params"
    if body.get("method") in METHODS and not invalid_on_purpose:
        validate_params(body["method"], body["params"])  # raises InvalidParams if wrong
    if "result" in body:
        assert validate_result(body["method"], body["result"]) == []
    else:
        error = body["error"]
        assert error["code"] == CODES[error["data"]["reason"]]
        assert error["message"]


def test_every_notification_has_a_schema() -> None:
    assert set(notification_names()) == NOTIFICATIONS


def test_a_notification_off_its_schema_is_caught() -> None:
    assert validate_notification("sma.changed", {"account": "a1", "muaas": -1}) != []
    assert validate_notification("sma.changed", {"account": "a1"}) != []
    assert validate_notification("no.such", {"account": "a1"}) != []
