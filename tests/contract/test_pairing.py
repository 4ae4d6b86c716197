"""Pairing through the SMA on a real Dovecot, with real host processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from devtools.host_process import HostProcess, RpcError
from sma_host.native.schemas import validate_result
from tests.imap_inspect import connect, folders, messages

ACCOUNT = "acct1"
ACCOUNT_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxVgEZ-MARKER-7f3a9c-ACCOUNT-SECRET-KEY-\n"
    "=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n"
)


@dataclass(frozen=True)
class Stored:
    folder: str
    uid: int
    raw: bytes

    @property
    def header(self) -> str:
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        return next((line for line in head.splitlines() if line.startswith("Autocrypt-SMA:")), "")


def all_sma_messages(account) -> list[Stored]:  # type: ignore[no-untyped-def]
    """Every message in every SMA folder of ``account``, raw, as the server stores it."""
    with connect(account.server, account.user) as client:
        return [
            Stored(folder, uid, raw)
            for folder in folders(client)
            if "_Autocrypt_SMA" in folder
            for uid, raw in messages(client, folder).items()
        ]


def call(host: HostProcess, method: str, **params: Any) -> Any:
    result = host.call(method, {"account": ACCOUNT, **params})
    assert validate_result(method, result) == [], (method, result)
    return result


def joined(spawn_host, account, name: str) -> tuple[HostProcess, str]:  # type: ignore[no-untyped-def]
    host = spawn_host(name)
    host.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    return host, call(host, "sma.join")["muaa_id"]


def pair(new: HostProcess, existing: HostProcess, existing_id: str, code_override: str | None = None) -> dict[str, Any]:
    """Run one pairing to its end with explicit syncs; returns the request's result."""
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    note = existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    assert note["peer_name"]
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=code_override or request["code"])
    call(new, "sma.sync")
    call(existing, "sma.sync")
    return request


def states(host: HostProcess, pairing_id: str) -> list[str]:
    return [p["state"] for p in call(host, "pair.list")["pairings"] if p["pairing_id"] == pairing_id]


def test_two_devices_pair_and_the_account_key_arrives(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    assert call(new, "account.key.get") == {"armored": None}

    request = pair(new, existing, existing_id)

    assert states(new, request["pairing_id"]) == ["complete"]
    assert states(existing, request["pairing_id"]) == ["complete"]
    new.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])
    existing.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])
    assert call(new, "account.key.get") == {"armored": ACCOUNT_KEY}
    for host, other in ((new, existing_id), (existing, new_id)):
        muaas = {m["muaa_id"]: m for m in call(host, "sma.status")["muaas"]}
        assert muaas[other]["paired"] is True
    # Every pairing message was deleted by its recipient once processed.
    assert [m for m in all_sma_messages(account) if "type=announce" not in m.header] == []


def test_secrets_never_reach_the_server(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    request = call(new, "pair.request", to=existing_id)
    seen: list[bytes] = []
    call(existing, "sma.sync")
    seen += [m.raw for m in all_sma_messages(account)]
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    seen += [m.raw for m in all_sma_messages(account)]  # the pair-accept, before it is consumed
    call(new, "sma.sync")
    seen += [m.raw for m in all_sma_messages(account)]  # the pair-confirm
    call(existing, "sma.sync")
    assert call(new, "account.key.get")["armored"] == ACCOUNT_KEY
    assert any(b"type=pair-accept" in raw for raw in seen)
    digits = request["code"].replace("-", "")
    for raw in seen:
        for needle in (b"MARKER-7f3a9c", digits.encode(), request["code"].encode()):
            assert needle not in raw
            assert needle not in _decoded_bodies(raw)
    for host in (new, existing):
        assert "MARKER-7f3a9c" not in host.stderr_text()
        assert digits not in host.stderr_text()


def _decoded_bodies(raw: bytes) -> bytes:
    import base64

    body = raw.split(b"\r\n\r\n", 1)[-1]
    try:
        return base64.b64decode(b"".join(body.split()))
    except ValueError:
        return b""


def test_wrong_code_fails_on_both_sides(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    request = call(new, "pair.request", to=existing_id)
    digits = request["code"].replace("-", "")
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=wrong)
    call(new, "sma.sync")
    call(existing, "sma.sync")
    assert states(new, request["pairing_id"]) == ["failed"]
    assert states(existing, request["pairing_id"]) == ["failed"]
    new.wait_notification("pair.failed", lambda p: p["pairing_id"] == request["pairing_id"])
    existing.wait_notification("pair.failed", lambda p: p["pairing_id"] == request["pairing_id"])
    assert call(new, "account.key.get") == {"armored": None}
    with pytest.raises(RpcError) as refused:
        call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    assert refused.value.reason == "pairing_failed"
    assert not any(m["paired"] for m in call(new, "sma.status")["muaas"])


def test_three_devices(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, b_id = joined(spawn_host, account, "b")
    c, c_id = joined(spawn_host, account, "c")
    pair(b, a, a_id)  # A pairs B
    pair(c, b, b_id)  # then B pairs C
    call(a, "sma.sync")  # A learns C from B's membership update
    a.wait_notification("device.paired", lambda p: p["muaa_id"] == c_id)
    for host, others in ((a, {b_id, c_id}), (b, {a_id, c_id}), (c, {a_id, b_id})):
        paired = {m["muaa_id"] for m in call(host, "sma.status")["muaas"] if m["paired"]}
        assert paired == others
