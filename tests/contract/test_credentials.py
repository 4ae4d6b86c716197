"""Passwords: in the OS keyring when the user asks and one exists; otherwise memory only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from devtools.host_process import DB_NAME, RpcError
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


REPO = Path(__file__).resolve().parents[2]


def probe_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The recording backend of ``keyring_probe``, chosen explicitly."""
    log = tmp_path / "keyring-calls.log"
    env = {
        "PYTHON_KEYRING_BACKEND": "tests.contract.keyring_probe.ProbeKeyring",
        "KEYRING_PROBE_LOG": str(log),
        "PYTHONPATH": str(REPO),
    }
    return env, log


def calls(log: Path) -> list[str]:
    """The keyring operations so far (the entry names are the same account's login)."""
    if not log.exists():
        return []
    operations = [line.split(" ", 1)[0] for line in log.read_text().splitlines()]
    return [op for op in operations if op != "loaded"]


def stored(log: Path) -> dict[str, str]:
    path = Path(f"{log}.json")
    found: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    return found


def test_an_account_that_never_stored_a_password_never_asks_the_keyring(
    spawn_host, account, tmp_dir
) -> None:  # type: ignore[no-untyped-def]
    env, log = probe_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    assert (
        host.call("account.configure", account.configure_params(ACCOUNT))["password_storage"]
        == "memory"
    )
    host.call("sma.join", {"account": ACCOUNT})
    host.call("account.configure", account.configure_params(ACCOUNT))  # again, as on each start
    assert host.close() == 0
    again = spawn_host("laptop", env=env)  # a restart resumes without a password
    with pytest.raises(RpcError) as missing:
        again.call("sma.status", {"account": ACCOUNT})
    assert missing.value.data.get("credentials_missing") is True
    assert not log.exists()  # not even loaded: the keyring package stayed out


def test_the_keyring_is_asked_only_for_what_this_host_stored(spawn_host, account, tmp_dir) -> None:  # type: ignore[no-untyped-def]
    env, log = probe_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    remembered = host.call(
        "account.configure", {**account.configure_params(ACCOUNT), "remember": True}
    )
    assert remembered["password_storage"] == "keyring"
    muaa_id = host.call("sma.join", {"account": ACCOUNT})["muaa_id"]
    assert host.close() == 0
    assert calls(log) == ["set"]
    again = spawn_host("laptop", env=env)
    assert again.call("sma.status", {"account": ACCOUNT})["self"] == muaa_id
    assert calls(log) == ["set", "get"]
    again.call("account.configure", account.configure_params(ACCOUNT))  # no longer remembered
    again.call("account.configure", account.configure_params(ACCOUNT))
    assert calls(log) == ["set", "get", "delete"]  # forgotten once, then never asked again
    assert again.close() == 0
    third = spawn_host("laptop", env=env)
    with pytest.raises(RpcError):
        third.call("sma.status", {"account": ACCOUNT})
    assert calls(log) == ["set", "get", "delete"]


def test_a_password_stored_by_an_older_host_is_still_found(spawn_host, account, tmp_dir) -> None:  # type: ignore[no-untyped-def]
    env, log = probe_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    muaa_id = host.call("sma.join", {"account": ACCOUNT})["muaa_id"]
    assert host.close() == 0
    # The database as the host before migration 7 left it: no record of the keyring entry.
    db = sqlite3.connect(tmp_dir / "laptop" / DB_NAME)
    with db:
        db.execute("ALTER TABLE account DROP COLUMN keyring_entry")
        db.execute("ALTER TABLE removed_device DROP COLUMN erased")  # migration 8
        db.execute("PRAGMA user_version = 6")
    db.close()
    again = spawn_host("laptop", env=env)
    assert again.call("sma.status", {"account": ACCOUNT})["self"] == muaa_id
    assert calls(log) == ["set", "get"]


def test_a_refused_deletion_is_tried_again_at_the_next_configure(
    spawn_host, account, tmp_dir
) -> None:  # type: ignore[no-untyped-def]
    env, log = probe_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    assert host.close() == 0
    locked = spawn_host("laptop", env={**env, "KEYRING_PROBE_REFUSE": "delete"})
    locked.call("account.configure", account.configure_params(ACCOUNT))  # forget it: refused
    assert locked.close() == 0
    assert calls(log) == ["set", "delete"] and stored(log)
    again = spawn_host("laptop", env=env)
    again.call("account.configure", account.configure_params(ACCOUNT))
    again.call("account.configure", account.configure_params(ACCOUNT))
    assert calls(log) == ["set", "delete", "delete"] and not stored(log)


def test_a_refused_new_password_does_not_bring_the_old_one_back(
    spawn_host, account, tmp_dir
) -> None:  # type: ignore[no-untyped-def]
    env, log = probe_env(tmp_dir)
    host = spawn_host("laptop", env=env)
    host.call("account.configure", {**account.configure_params(ACCOUNT), "remember": True})
    host.call("sma.join", {"account": ACCOUNT})
    assert host.close() == 0
    locked = spawn_host("laptop", env={**env, "KEYRING_PROBE_REFUSE": "set"})
    result = locked.call(
        "account.configure", {**account.configure_params(ACCOUNT), "remember": True}
    )
    assert result["password_storage"] == "memory" and result["keyring_unavailable"]
    assert locked.close() == 0
    assert calls(log) == ["set", "set", "delete"] and not stored(log)
    again = spawn_host("laptop", env=env)  # the old password is not used
    with pytest.raises(RpcError) as missing:
        again.call("sma.status", {"account": ACCOUNT})
    assert missing.value.data.get("credentials_missing") is True
