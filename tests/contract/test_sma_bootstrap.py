"""The SMA on a real Dovecot, through the host's stdio interface."""

from __future__ import annotations

from devtools.host_process import RpcError
from sma_host.native.schemas import validate_result


def checked(host, method, params=None):  # type: ignore[no-untyped-def]
    result = host.call(method, params)
    assert validate_result(method, result) == []
    return result


def test_configure_join_status(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host()
    configured = checked(host, "account.configure", account.configure_params())
    assert "IMAP4REV1" in [c.upper() for c in configured["capabilities"]]
    joined = checked(host, "sma.join", {"account": "acct1"})
    assert joined["created_sma"] is True
    status = checked(host, "sma.status", {"account": "acct1"})
    assert status["exists"] is True
    assert status["self"] == joined["muaa_id"]
    assert [m["muaa_id"] for m in status["muaas"]] == [joined["muaa_id"]]
    again = checked(host, "sma.join", {"account": "acct1"})
    assert again == {**joined, "created_sma": False}
    try:
        host.call("sma.status", {"account": "nope"})
    except RpcError as exc:
        assert exc.reason == "unknown_account"
