"""OAuth2 accounts through the real stdio host against a real Dovecot whose ``oauth2``
passdb asks a real token endpoint (issue 10 §3): login, refusal, refresh, secrecy."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.dovecot import DovecotServer
from devtools.host_process import HostProcess, RpcError
from sma_host.native.schemas import validate_result
from tests.contract.test_keys import entry, keyring, pair
from tests.pgp_keys import keydata_b64

ACCOUNT = "acct1"
_users = itertools.count(1)


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[DovecotServer]:
    with DovecotServer(oauth2=True) as server:
        yield server


def call(host: HostProcess, method: str, **params: Any) -> Any:
    result = host.call(method, {"account": ACCOUNT, **params})
    assert validate_result(method, result) == [], (method, result)
    return result


def configure(host: HostProcess, server: DovecotServer, user: str, token: str, name: str) -> Any:
    return host.call(
        "account.configure",
        {
            "account": ACCOUNT,
            "email": f"{user}@example.org",
            "device_name": name,
            "imap": {
                "host": server.host,
                "port": server.tls_port,
                "security": "tls",
                "username": user,
                "auth": "oauth2",
                "access_token": token,
                "ca_file": server.ca_file,
            },
            "remember": True,  # never applies to a token
        },
    )


def token_device(
    spawn_host, server: DovecotServer, user: str, name: str
) -> tuple[HostProcess, str, str]:  # type: ignore[no-untyped-def]
    token = server.issue_token(user, f"tok-{name}-{secrets.token_hex(12)}")
    host = spawn_host(name, env={"SMA_HOST_LOG": "DEBUG"})
    result = configure(host, server, user, token, name)
    assert validate_result("account.configure", result) == []
    assert result["password_storage"] == "memory" and "keyring_unavailable" not in result
    return host, token, call(host, "sma.join")["muaa_id"]


def files_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


def test_an_oauth2_account_joins_and_its_token_is_kept_nowhere(spawn_host, oauth_server) -> None:  # type: ignore[no-untyped-def]
    user = f"oauth{next(_users)}"
    host, token, muaa_id = token_device(spawn_host, oauth_server, user, "laptop")
    status = call(host, "sma.status")
    assert status["self"] == muaa_id and [d["muaa_id"] for d in status["muaas"]] == [muaa_id]
    assert "method=XOAUTH2" in oauth_server.log_text()
    host.close()
    secret = token.encode()
    assert secret not in Path(host.stderr_path).read_bytes()
    assert secret not in files_under(host.data_dir)  # the database, its WAL, the keyring dir
    assert secret not in files_under(oauth_server.maildir(user))


def test_a_wrong_token_is_auth_failed(spawn_host, oauth_server) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host("laptop")
    with pytest.raises(RpcError) as refused:
        configure(host, oauth_server, f"oauth{next(_users)}", "not-a-token-we-issued", "laptop")
    assert refused.value.reason == "auth_failed"
    assert "not-a-token-we-issued" not in refused.value.error["message"]
    with pytest.raises(RpcError) as unknown:
        call(host, "sma.status")
    assert unknown.value.reason == "unknown_account"


def test_a_token_for_a_password_account_is_refused(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host("laptop")
    host.call("account.configure", account.configure_params(ACCOUNT))
    with pytest.raises(RpcError) as refused:
        call(host, "account.token", access_token="some-token")
    assert refused.value.reason == "invalid_params"


def test_a_revoked_token_asks_once_and_a_fresh_one_brings_push_back(
    spawn_host, oauth_server
) -> None:  # type: ignore[no-untyped-def]
    user = f"oauth{next(_users)}"
    a, _a_token, _a_id = token_device(spawn_host, oauth_server, user, "desktop")
    b, b_token, b_id = token_device(spawn_host, oauth_server, user, "phone")
    pair(a, b, b_id)

    # The provider revokes B's token; the server drops every session, as a restart would.
    oauth_server.revoke(b_token)
    oauth_server.kick(user)
    # B's watcher reconnects, is refused, and the add-on is told once.
    assert b.wait_notification("account.token_needed", timeout=30) == {"account": ACCOUNT}
    # Calls in the same episode fail with token_expired and tell nobody again (sma.sync
    # first: it replaces the connection the server dropped, then logs in again).
    for method in ("sma.sync", "sma.status"):
        with pytest.raises(RpcError) as expired:
            call(b, method)
        assert expired.value.reason == "token_expired", method
    assert [n for n in b.notifications if n["method"] == "account.token_needed"] == []

    # A new token: the host logs in with it and push resumes without any call.
    fresh = oauth_server.issue_token(user, f"tok-fresh-{secrets.token_hex(12)}")
    assert call(b, "account.token", access_token=fresh) == {"account": ACCOUNT}
    update = entry("carol@example.org", 1_767_225_600, b"carol's key")
    assert call(a, "keys.put", peers=[update])["queued_to"] == [b_id]
    note = b.wait_notification("keys.changed", timeout=15)
    assert note["addrs"] == ["carol@example.org"]
    assert [e["keydata"] for e in keyring(b)] == [keydata_b64(b"carol's key")]

    # A later refusal is a new episode: told again, once.
    oauth_server.revoke(fresh)
    oauth_server.kick(user)
    assert b.wait_notification("account.token_needed", timeout=30) == {"account": ACCOUNT}

    for host, token in ((b, b_token), (b, fresh)):
        host_text = Path(host.stderr_path).read_bytes()
        assert token.encode() not in host_text
        assert token.encode() not in files_under(host.data_dir)
    assert b"DEBUG" in Path(b.stderr_path).read_bytes()  # the log level was DEBUG indeed


@pytest.mark.parametrize(
    ("field", "value"),
    [("access_token", "tok\x01auth=Bearer other"), ("access_token", "a b"), ("username", "u\x01x")],
)
def test_nothing_can_be_smuggled_into_the_sasl_exchange(
    spawn_host, oauth_server, field: str, value: str
) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host("laptop")
    params = {
        "account": ACCOUNT,
        "email": "mallory@example.org",
        "device_name": "laptop",
        "imap": {
            "host": oauth_server.host,
            "port": oauth_server.tls_port,
            "security": "tls",
            "username": "mallory",
            "auth": "oauth2",
            "access_token": "abc",
            field: value,
        },
    }
    with pytest.raises(RpcError) as refused:
        host.call("account.configure", params)
    assert refused.value.reason == "invalid_params"
    assert refused.value.data["path"] == f"$.imap.{field}"
