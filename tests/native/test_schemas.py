"""The method schemas: what validate_params accepts, each refusal, results and notifications."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from sma_host.errors import InvalidParams
from sma_host.native import schemas

ACCOUNT = "acct-1"
IMAP = {
    "host": "imap.example.org",
    "port": 993,
    "security": "tls",
    "username": "u",
    "password": "pw",
}
CONFIGURE = {"account": ACCOUNT, "email": "me@example.org", "device_name": "laptop"}


def _refusal(method: str, params: dict[str, Any]) -> InvalidParams:
    with pytest.raises(InvalidParams) as raised:
        schemas.validate_params(method, params)
    return raised.value


def test_valid_params_pass() -> None:
    schemas.validate_params("hello", {})
    schemas.validate_params("account.key.get", {"account": ACCOUNT})
    schemas.validate_params("account.configure", {**CONFIGURE, "imap": IMAP})


def test_a_missing_property_is_named_with_the_path_and_validator() -> None:
    error = _refusal("account.key.get", {})
    assert error.message == "invalid params at $: 'account' is a required property"
    assert error.data == {"path": "$", "validator": "required"}
    assert error.to_error_object()["data"]["reason"] == "invalid_params"


def test_an_unexpected_property_is_not_echoed() -> None:
    error = _refusal("hello", {"hunter2": "secret-value"})
    assert error.message == "invalid params at $: unexpected property"
    assert error.data == {"path": "$", "validator": "additionalProperties"}
    assert "secret-value" not in json.dumps(error.to_error_object())


@pytest.mark.parametrize(
    ("imap", "path", "kind", "described"),
    [
        ({**IMAP, "port": "993"}, "$.imap.port", "type", "expected integer"),
        ({**IMAP, "security": "ssl"}, "$.imap.security", "enum", "must be one of"),
        ({**IMAP, "host": ""}, "$.imap.host", "minLength", "violates minLength 1"),
        ({**IMAP, "host": "h" * 254}, "$.imap.host", "maxLength", "violates maxLength 253"),
        ({**IMAP, "port": 0}, "$.imap.port", "minimum", "violates minimum 1"),
        ({**IMAP, "port": 65536}, "$.imap.port", "maximum", "violates maximum 65535"),
        ({**IMAP, "host": "a b"}, "$.imap.host", "pattern", "violates pattern '^[^\\\\s/]+$'"),
    ],
)
def test_each_kind_of_violation_is_described_without_the_value(
    imap: dict[str, Any], path: str, kind: str, described: str
) -> None:
    error = _refusal("account.configure", {**CONFIGURE, "imap": imap})
    assert error.message.startswith(f"invalid params at {path}: {described}")
    assert error.data == {"path": path, "validator": kind}
    if kind == "enum":
        assert error.message == (
            f"invalid params at {path}: must be one of ['tls', 'starttls', 'none']"
        )
        assert "ssl" not in error.message


def test_const_and_other_validators_are_named() -> None:
    # No params schema has a const outside an ``if``: a notification's error stands in.
    notification = {"account": ACCOUNT, "addrs": [], "truncated": 1}
    (const,) = schemas.validator("keys.changed.notification").iter_errors(notification)
    assert schemas._describe(const) == "violates const True"
    entry = {"addr": "a@b", "keydata": "x", "prefer_encrypt": "mutual", "gossip_key": "k"}
    error = _refusal("keys.put", {"account": ACCOUNT, "peers": [entry]})
    assert error.message == "invalid params at $.peers[0]: violates dependentRequired"
    assert error.data == {"path": "$.peers[0]", "validator": "dependentRequired"}


def test_the_shallowest_violation_is_reported_then_the_first_path() -> None:
    # A deep one (imap.port) and two at the top: the top ones win, in path order.
    params = {**CONFIGURE, "account": "bad account", "email": "nope", "imap": {**IMAP, "port": 0}}
    error = _refusal("account.configure", params)
    assert error.data["path"] == "$.account"
    params = {**CONFIGURE, "email": "nope", "imap": {**IMAP, "port": 0}}
    assert _refusal("account.configure", params).data["path"] == "$.email"


def test_only_the_first_eight_violations_are_looked_at() -> None:
    # Eight bad peers come before the unexpected top-level property: only they are seen.
    bad = {"addr": "no-at-sign", "keydata": "x", "prefer_encrypt": "mutual"}
    params = {"account": ACCOUNT, "peers": [bad] * 8, "zz": 1}
    error = _refusal("keys.put", params)
    assert error.data == {"path": "$.peers[0].addr", "validator": "pattern"}
    params = {"account": ACCOUNT, "peers": [bad] * 7, "zz": 1}
    assert _refusal("keys.put", params).data == {"path": "$", "validator": "additionalProperties"}
    assert schemas._ERRORS_LOOKED_AT == 8


def test_an_unknown_method_has_no_schema() -> None:
    with pytest.raises(FileNotFoundError):
        schemas.validate_params("no.such.method", {})


def test_validators_are_built_once() -> None:
    assert schemas.validator("hello.params") is schemas.validator("hello.params")
    assert schemas.validator("hello.params") is not schemas.validator("hello.result")


def test_jsonschema_is_imported_on_first_use_only() -> None:
    code = (
        "import sys\n"
        "from sma_host.native import schemas\n"
        "assert 'jsonschema' not in sys.modules\n"
        "schemas.validate_params('hello', {})\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_schema_names_are_every_file_sorted() -> None:
    names = schemas.schema_names()
    assert names == sorted(names)
    assert {"common", "hello.params", "hello.result", "keys.changed.notification"} <= set(names)
    assert not [n for n in names if n.endswith(".json")]
    assert schemas.schema_names_set() == frozenset(names)
    # Read once: validate_notification asks it on every call.
    assert schemas.schema_names_set() is schemas.schema_names_set()
    assert schemas.load_schema("hello.params")["title"] == "hello params"


def test_validate_result_lists_each_violation() -> None:
    assert schemas.validate_result("hello", {"protocol": 1, "version": "1", "methods": []}) == []
    assert schemas.validate_result("hello", {"protocol": 2, "version": "", "methods": []}) == [
        "$.protocol: 1 was expected",
        "$.version: '' should be non-empty",
    ]


def test_notification_names_are_the_notification_schemas() -> None:
    names = schemas.notification_names()
    assert "keys.changed" in names
    assert "pair.completed" in names
    expected = [n.removesuffix(".notification") for n in schemas.schema_names()]
    assert names == [n for n in expected if n + ".notification" in schemas.schema_names()]
    assert not [n for n in names if n.endswith((".params", ".result", "notification"))]


def test_validate_notification() -> None:
    assert schemas.validate_notification("keys.changed", {"account": ACCOUNT, "addrs": []}) == []
    assert schemas.validate_notification("keys.changed", {"account": ACCOUNT}) == [
        "keys.changed $: 'addrs' is a required property"
    ]
    assert schemas.validate_notification("hello", {}) == ["no notification is called 'hello'"]
