"""Passwords: in the OS keyring when the user asks and one exists; otherwise memory only."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.host_process import RpcError
from sma_host.native.schemas import validate_result

ACCOUNT = "acct1"


def keyring_env(tmp_path: Path) -> dict[str, str]:
    # A real, file-backed keyring backend, chosen explicitly as a user would, kept in a temp dir.
    return {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }


def test_remembered_password_survives_a_restart(spawn_host, account, tmp_dir) -> None:  # type: ignore[no-untyped-def]
    env = keyring_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    result = host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    assert validate_result("account.configure", result) == []
    assert result["password_storage"] == "keyring"
    muaa_id = host.call("sma.join", {"account": ACCOUNT})["muaa_id"]
    assert host.close() == 0
    for path in (tmp_dir / "laptop").rglob("*"):
        if path.is_file():
            assert account.user.password.encode() not in path.read_bytes(), path
    again = spawn_host("laptop", env=env)  # no account.configure this time
    assert again.call("sma.join", {"account": ACCOUNT})["muaa_id"] == muaa_id
    assert again.call("sma.status", {"account": ACCOUNT})["self"] == muaa_id


def test_without_a_secure_keyring_the_password_stays_in_memory(
    spawn_host, account, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # keyrings.alt is installed in the test environment and is keyring's pick here (no OS
    # store on this machine), but nobody chose it: a plaintext file is not good enough.
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    host = spawn_host("laptop")
    result = host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    assert result["password_storage"] == "memory"
    assert result["keyring_unavailable"]
    host.call("sma.join", {"account": ACCOUNT})
    assert host.close() == 0
    again = spawn_host("laptop")
    with pytest.raises(RpcError) as missing:
        again.call("sma.status", {"account": ACCOUNT})
    assert missing.value.reason == "unknown_account" and missing.value.data["credentials_missing"]


def test_not_remembering_forgets_a_stored_password(spawn_host, account, tmp_dir) -> None:  # type: ignore[no-untyped-def]
    env = keyring_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    assert (
        host.call("account.configure", account.configure_params(ACCOUNT))["password_storage"]
        == "memory"
    )
    host.call("sma.join", {"account": ACCOUNT})
    assert host.close() == 0
    again = spawn_host("laptop", env=env)
    with pytest.raises(RpcError) as missing:
        again.call("sma.join", {"account": ACCOUNT})
    assert missing.value.data.get("credentials_missing") is True
