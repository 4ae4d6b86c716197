"""``account.configure`` against a real Dovecot, through the host's stdio interface.

Every transport (IMAPS, STARTTLS, plaintext on loopback), every way a login can fail,
and what configuring changes for the SMA methods that follow.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.dovecot import write_self_signed_cert
from devtools.host_process import HostProcess, RpcError
from sma_host.imap.mailbox import is_loopback
from sma_host.native.schemas import validate_result
from sma_host.protocol import announce, envelope
from tests import imap_inspect
from tests.conftest import Account

Spawn = Callable[..., HostProcess]


def checked(host: HostProcess, method: str, params: dict[str, Any]) -> Any:
    """Call ``method``; the result must match its schema."""
    result = host.call(method, params)
    assert validate_result(method, result) == []
    return result


def rpc_error(host: HostProcess, method: str, params: dict[str, Any]) -> RpcError:
    """Call ``method``, which must fail; the host must still answer ``hello`` afterwards."""
    with pytest.raises(RpcError) as caught:
        host.call(method, params)
    assert host.call("hello", {})["protocol"] == 1
    return caught.value


def data_dir_bytes(host: HostProcess) -> bytes:
    """Everything the host wrote into its data dir (database, WAL, logs)."""
    return b"".join(p.read_bytes() for p in sorted(host.data_dir.rglob("*")) if p.is_file())


def write_foreign_ca(path: Path) -> Path:
    """A freshly made CA certificate for localhost that has nothing to do with Dovecot's."""
    write_self_signed_cert(str(path), str(path.with_suffix(".key")))
    return path


def closed_port() -> int:
    """A loopback port that nothing listens on (bound a moment ago, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# success


def test_configure_over_imaps_with_ca_file(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    params = account.configure_params()
    result = checked(host, "account.configure", params)
    assert result["account"] == "acct1"
    capabilities = [c.upper() for c in result["capabilities"]]
    # Post-login capabilities: the host really logged in (pre-login has no NAMESPACE).
    assert "IMAP4REV1" in capabilities
    assert "NAMESPACE" in capabilities
    # The password is kept in memory only: never on disk, never in the log.
    secret = account.user.password.encode()
    assert secret not in data_dir_bytes(host)
    assert account.user.password not in host.stderr_text()


def test_configure_with_starttls_on_the_plain_port(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    params = account.configure_params(port=account.server.port, security="starttls")
    result = checked(host, "account.configure", params)
    assert "NAMESPACE" in [c.upper() for c in result["capabilities"]]
    joined = checked(host, "sma.join", {"account": "acct1"})
    assert joined["created_sma"] is True


def test_plaintext_on_loopback_works(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    params = account.configure_params(port=account.server.port, security="none")
    del params["imap"]["ca_file"]
    result = checked(host, "account.configure", params)
    assert "NAMESPACE" in [c.upper() for c in result["capabilities"]]
    assert checked(host, "sma.join", {"account": "acct1"})["created_sma"] is True


# refusals


def test_plaintext_to_a_host_that_is_not_loopback_is_refused(
    spawn_host: Spawn, account: Account
) -> None:
    host = spawn_host()
    # A name under .invalid: refused before any lookup or connection is attempted.
    params = account.configure_params(
        host="imap.example.invalid", port=account.server.port, security="none"
    )
    error = rpc_error(host, "account.configure", params)
    # insecure_refused, not connection_failed: refused before any lookup or connection.
    assert error.reason == "insecure_refused"
    # Nothing was configured.
    assert rpc_error(host, "sma.status", {"account": "acct1"}).reason == "unknown_account"


@pytest.mark.parametrize(
    ("name", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.example.invalid", False),
        ("127.0.0.1.example.invalid", False),
        ("imap.example.invalid", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("::ffff:192.0.2.1", False),
    ],
)
def test_what_counts_as_loopback_without_resolving(name: str, loopback: bool) -> None:
    # Pure check of the rule behind insecure_refused (no name is looked up here).
    assert is_loopback(name) is loopback


def test_wrong_password_is_auth_failed_and_never_echoed(
    spawn_host: Spawn, account: Account
) -> None:
    host = spawn_host()
    wrong = "Wr0ng-" + account.user.password[::-1] + "-pw"
    params = account.configure_params(password=wrong)
    error = rpc_error(host, "account.configure", params)
    assert error.reason == "auth_failed"
    assert error.code in range(-32099, -31999)
    text = json.dumps(error.error, ensure_ascii=False)
    assert wrong not in text
    assert account.user.password not in text
    assert wrong not in host.stderr_text()
    assert wrong.encode() not in data_dir_bytes(host)
    # Nothing was configured.
    assert rpc_error(host, "sma.join", {"account": "acct1"}).reason == "unknown_account"


@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_closed_port_is_connection_failed_at_once(
    spawn_host: Spawn, account: Account, security: str
) -> None:
    host = spawn_host()
    checked(host, "hello", {})  # the host is up: the timing below is the connect only
    params = account.configure_params(port=closed_port(), security=security)
    started = time.monotonic()
    error = rpc_error(host, "account.configure", params)
    elapsed = time.monotonic() - started
    assert error.reason == "connection_failed"
    # A refused connection is answered at once, not retried or waited out: the bound is
    # far from a retry's backoff, and leaves room for a loaded machine (it took 5.9 s once
    # on a 2-core machine at load 11).
    assert elapsed < 15.0


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_certificate_not_in_the_system_store_is_tls_failed(
    spawn_host: Spawn, account: Account, security: str
) -> None:
    host = spawn_host()
    port = account.server.tls_port if security == "tls" else account.server.port
    params = account.configure_params(port=port, security=security)
    del params["imap"]["ca_file"]  # Dovecot's self-signed certificate is not trusted then
    error = rpc_error(host, "account.configure", params)
    assert error.reason == "tls_failed"
    assert account.user.password not in json.dumps(error.error)


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_ca_file_of_another_ca_is_tls_failed(
    spawn_host: Spawn, account: Account, tmp_dir: Path, security: str
) -> None:
    host = spawn_host()
    port = account.server.tls_port if security == "tls" else account.server.port
    foreign = write_foreign_ca(tmp_dir / "foreign-ca.pem")
    params = account.configure_params(port=port, security=security, ca_file=str(foreign))
    assert rpc_error(host, "account.configure", params).reason == "tls_failed"


def test_missing_ca_file_is_tls_failed(spawn_host: Spawn, account: Account, tmp_dir: Path) -> None:
    host = spawn_host()
    params = account.configure_params(ca_file=str(tmp_dir / "no-such-ca.pem"))
    assert rpc_error(host, "account.configure", params).reason == "tls_failed"


def test_tls_to_a_plaintext_port_fails_cleanly(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    params = account.configure_params(port=account.server.port, security="tls")
    # The server's plaintext greeting is no TLS handshake.
    assert rpc_error(host, "account.configure", params).reason == "tls_failed"


@pytest.mark.parametrize("method", ["sma.join", "sma.status"])
def test_unknown_account(spawn_host: Spawn, account: Account, method: str) -> None:
    host = spawn_host()
    assert rpc_error(host, method, {"account": "nope"}).reason == "unknown_account"
    checked(host, "account.configure", account.configure_params(account="acct1"))
    # Configuring one account makes no other known.
    assert rpc_error(host, method, {"account": "acct2"}).reason == "unknown_account"
    checked(host, method, {"account": "acct1"})


# what configuring means for the SMA


def test_status_before_join_on_a_fresh_account(spawn_host: Spawn, account: Account) -> None:
    host = spawn_host()
    checked(host, "account.configure", account.configure_params())
    status = checked(host, "sma.status", {"account": "acct1"})
    assert status["exists"] is False
    assert status["self"] is None
    assert status["muaas"] == []
    with imap_inspect.connect(account.server, account.user) as client:
        assert imap_inspect.folders(client) == ["INBOX"]  # looking created nothing


def test_reconfigure_updates_the_device_name_in_the_one_announcement(
    spawn_host: Spawn, account: Account
) -> None:
    host = spawn_host()
    checked(host, "account.configure", account.configure_params(device_name="Laptop"))
    joined = checked(host, "sma.join", {"account": "acct1"})
    muaa_id = joined["muaa_id"]

    checked(host, "account.configure", account.configure_params(device_name="Desk 🖥"))
    again = checked(host, "sma.join", {"account": "acct1"})
    assert again["muaa_id"] == muaa_id
    assert again["created_sma"] is False

    status = checked(host, "sma.status", {"account": "acct1"})
    assert [(m["muaa_id"], m["name"], m["self"]) for m in status["muaas"]] == [
        (muaa_id, "Desk 🖥", True)
    ]
    with imap_inspect.connect(account.server, account.user) as client:
        raws = list(imap_inspect.messages(client, "_Autocrypt_SMA").values())
    assert imap_inspect.sma_senders(raws) == [muaa_id]  # the old one was replaced
    (raw,) = raws
    stored = announce.decode(envelope.parse_message(raw), account.email)
    assert stored.name == "Desk 🖥"


def test_reconfigure_with_another_transport_keeps_working(
    spawn_host: Spawn, account: Account
) -> None:
    host = spawn_host()
    checked(host, "account.configure", account.configure_params())
    muaa_id = checked(host, "sma.join", {"account": "acct1"})["muaa_id"]
    params = account.configure_params(port=account.server.port, security="starttls")
    checked(host, "account.configure", params)
    status = checked(host, "sma.status", {"account": "acct1"})
    assert status["self"] == muaa_id
    assert [m["muaa_id"] for m in status["muaas"]] == [muaa_id]
