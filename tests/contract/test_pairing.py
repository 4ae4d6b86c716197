"""Pairing through the SMA on a real Dovecot, with real host processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from devtools.host_process import HostProcess, RpcError
from sma_host.native.schemas import validate_result
from sma_host.protocol import pairing
from tests.imap_inspect import connect, decoded_body, folders, messages
from tests.pgp_keys import ACCOUNT_SECRET_KEY, keydata_b64, secret_needles

ACCOUNT = "acct1"
ACCOUNT_KEY = ACCOUNT_SECRET_KEY


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
    # These tests drive every step with sma.sync and look at the server in between:
    # no push, so no message is consumed behind their back.
    host = spawn_host(name, env={"SMA_HOST_PUSH": "off"})
    host.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    return host, call(host, "sma.join")["muaa_id"]


def pair(
    new: HostProcess, existing: HostProcess, existing_id: str, code_override: str | None = None
) -> dict[str, Any]:
    """Run one pairing to its end with explicit syncs; returns the request's result."""
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    note = existing.wait_notification(
        "pair.requested", lambda p: p["pairing_id"] == request["pairing_id"]
    )
    assert note["peer_name"]
    call(
        existing,
        "pair.accept",
        pairing_id=request["pairing_id"],
        code=code_override or request["code"],
    )
    call(new, "sma.sync")
    call(existing, "sma.sync")
    return request


def states(host: HostProcess, pairing_id: str) -> list[str]:
    return [
        p["state"] for p in call(host, "pair.list")["pairings"] if p["pairing_id"] == pairing_id
    ]


def test_two_devices_pair_and_the_account_key_arrives(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    assert call(new, "account.key.get")["armored"] is None

    request = pair(new, existing, existing_id)

    assert states(new, request["pairing_id"]) == ["complete"]
    assert states(existing, request["pairing_id"]) == ["complete"]
    new.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])
    existing.wait_notification("pair.completed", lambda p: p["pairing_id"] == request["pairing_id"])
    assert call(new, "account.key.get")["armored"] == ACCOUNT_KEY
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
        for needle in (*secret_needles(ACCOUNT_KEY), digits.encode(), request["code"].encode()):
            assert needle not in raw
            assert needle not in decoded_body(raw)
    for host in (new, existing):
        for needle in secret_needles(ACCOUNT_KEY):
            assert needle.decode("latin-1") not in host.stderr_text()
        assert digits not in host.stderr_text()


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
    assert call(new, "account.key.get")["armored"] is None
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
    # C talks to A directly: when D pairs with C, C's signed, encrypted membership update
    # reaches A (and B) without B in the middle, and A accepts it under the keys it got from B.
    d, d_id = joined(spawn_host, account, "d")
    pair(d, c, c_id)
    call(a, "sma.sync")
    assert a.wait_notification("device.paired", lambda p: p["muaa_id"] == d_id)["via"] == c_id
    call(b, "sma.sync")
    assert b.wait_notification("device.paired", lambda p: p["muaa_id"] == d_id)["via"] == c_id


def inbox_messages(account, muaa_id: str) -> dict[int, bytes]:  # type: ignore[no-untyped-def]
    with connect(account.server, account.user) as client:
        return messages(client, f"_Autocrypt_SMA_{muaa_id}")


def append_raw(account, muaa_id: str, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    with connect(account.server, account.user) as client:
        client.append(f"_Autocrypt_SMA_{muaa_id}", raw)


def replace_raw(account, muaa_id: str, uid: int, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    with connect(account.server, account.user) as client:
        folder = f"_Autocrypt_SMA_{muaa_id}"
        client.append(folder, raw)
        client.select_folder(folder)
        client.delete_messages([uid])
        client.expunge()


def test_injected_request_does_not_pair_even_with_a_real_code(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    from sma_host.protocol import crypto, envelope, pairing

    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    real = call(new, "pair.request", to=existing_id)

    # The provider forges a request from a device of its own, with its own SPAKE2 message.
    attacker = crypto.Identity.generate()
    attacker_id = "0123456789abcdef"
    party = pairing.Party(
        attacker_id, "Totally the laptop", attacker.sign_public, attacker.dh_public
    )
    forged_id = "fedcba9876543210"
    _, pake = pairing.start_new("1111111111", account.email, forged_id, attacker_id, existing_id)
    body = pairing.request_body(forged_id, party, existing_id, pake, 2**40)
    append_raw(
        account,
        existing_id,
        envelope.build_message(
            sma_type=pairing.REQUEST,
            sender=attacker_id,
            body=body,
            address=account.email,
            now=1,
            unique="x",
        ),
    )
    call(existing, "sma.sync")
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == forged_id)
    # The user types the real code of the real attempt into the forged one.
    call(existing, "pair.accept", pairing_id=forged_id, code=real["code"])
    # The attacker answers with a confirmation it had to guess.
    confirm = pairing.abort_body(forged_id, existing_id, "x").replace(
        b'"reason":"x"', b'"confirm":"' + b"A" * 43 + b'="'
    )
    append_raw(
        account,
        existing_id,
        envelope.build_message(
            sma_type=pairing.CONFIRM,
            sender=attacker_id,
            body=confirm,
            address=account.email,
            now=1,
            unique="y",
        ),
    )
    call(existing, "sma.sync")
    assert states(existing, forged_id) == ["failed"]
    assert attacker_id not in {
        m["muaa_id"] for m in call(existing, "sma.status")["muaas"] if m["paired"]
    }
    # The real attempt is untouched and still completes.
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=real["pairing_id"], code=real["code"])
    call(new, "sma.sync")
    call(existing, "sma.sync")
    assert states(new, real["pairing_id"]) == ["complete"]
    assert states(existing, real["pairing_id"]) == ["complete"]
    assert call(new, "account.key.get")["armored"] == ACCOUNT_KEY
    assert new_id in {m["muaa_id"] for m in call(existing, "sma.status")["muaas"] if m["paired"]}


@pytest.mark.parametrize("field", ["ct", "confirm", "pake"])
def test_tampered_accept_is_rejected(spawn_host, account, field: str) -> None:  # type: ignore[no-untyped-def]
    import base64
    import json

    from sma_host.protocol import envelope

    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    [(uid, raw)] = inbox_messages(account, new_id).items()
    env = envelope.parse_message(raw)
    fields = json.loads(env.body)
    value = bytearray(base64.b64decode(fields[field]))
    value[len(value) // 2] ^= 0x01
    fields[field] = base64.b64encode(bytes(value)).decode()
    tampered = envelope.build_message(
        sma_type=env.sma_type,
        sender=env.sender,
        body=json.dumps(fields).encode(),
        address=account.email,
        now=1,
        unique="t",
    )
    replace_raw(account, new_id, uid, tampered)
    call(new, "sma.sync")
    assert states(new, request["pairing_id"]) == ["failed"]
    assert call(new, "account.key.get")["armored"] is None
    assert new.call("hello")["protocol"] == 1
    assert inbox_messages(account, new_id) == {}
    call(existing, "sma.sync")  # the existing device learns it failed
    assert states(existing, request["pairing_id"]) == ["failed"]


def test_replayed_pairing_messages_change_nothing(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    request = call(new, "pair.request", to=existing_id)
    [request_raw] = inbox_messages(account, existing_id).values()
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    [accept_raw] = inbox_messages(account, new_id).values()
    call(new, "sma.sync")
    [confirm_raw] = inbox_messages(account, existing_id).values()
    call(existing, "sma.sync")
    before = (call(new, "pair.list"), call(existing, "pair.list"))
    existing.notifications.clear()
    new.notifications.clear()

    append_raw(account, existing_id, request_raw)
    append_raw(account, existing_id, confirm_raw)
    append_raw(account, new_id, accept_raw)
    assert call(existing, "sma.sync")["dropped"] == 2
    assert call(new, "sma.sync")["dropped"] == 1

    assert (call(new, "pair.list"), call(existing, "pair.list")) == before
    assert not [
        n for n in existing.notifications + new.notifications if n["method"].startswith("pair.")
    ]
    assert inbox_messages(account, existing_id) == {} and inbox_messages(account, new_id) == {}


def test_a_code_expires(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    import time

    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    request = call(new, "pair.request", to=existing_id, ttl_s=2)
    call(existing, "sma.sync")
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    deadline = time.monotonic() + 30
    while states(existing, request["pairing_id"]) != ["expired"]:  # polls the host's own clock
        assert time.monotonic() < deadline, "the request never expired"
    with pytest.raises(RpcError) as refused:
        call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    assert refused.value.reason == "pairing_expired"
    assert states(new, request["pairing_id"]) == ["expired"]
    new.wait_notification("pair.failed", lambda p: p["reason"] == "expired")


@pytest.mark.parametrize("restart", ["new", "existing"])
def test_restart_in_the_middle_of_a_pairing(spawn_host, account, restart: str) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    call(existing, "account.key.set", armored=ACCOUNT_KEY)
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    name = "laptop" if restart == "new" else "desktop"
    assert (new if restart == "new" else existing).close() == 0
    again = spawn_host(name, env={"SMA_HOST_PUSH": "off"})
    again.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    if restart == "new":
        new = again
    else:
        existing = again
    call(new, "sma.sync")
    call(existing, "sma.sync")
    assert states(new, request["pairing_id"]) == ["complete"]
    assert states(existing, request["pairing_id"]) == ["complete"]
    assert call(new, "account.key.get")["armored"] == ACCOUNT_KEY
    assert call(new, "sma.status")["self"] == new_id


def test_pairing_errors(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host("alone")
    host.call("account.configure", account.configure_params(ACCOUNT, device_name="alone"))
    with pytest.raises(RpcError) as not_joined:
        call(host, "pair.request")
    assert not_joined.value.reason == "not_joined"
    call(host, "sma.join")
    with pytest.raises(RpcError) as nobody:
        call(host, "pair.request")
    assert nobody.value.reason == "not_found"
    with pytest.raises(RpcError) as unknown:
        call(host, "pair.accept", pairing_id="0" * 16, code="12345-67890")
    assert unknown.value.reason == "not_found"
    with pytest.raises(RpcError) as bad_code:
        call(host, "pair.accept", pairing_id="0" * 16, code="123")
    assert bad_code.value.reason == "invalid_params"
    with pytest.raises(RpcError) as cancel_unknown:
        call(host, "pair.cancel", pairing_id="0" * 16)
    assert cancel_unknown.value.reason == "not_found"


def test_cancel_tells_the_other_side(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    assert call(new, "pair.cancel", pairing_id=request["pairing_id"])["state"] == "failed"
    call(existing, "sma.sync")
    assert states(existing, request["pairing_id"]) == ["failed"]
    with pytest.raises(RpcError) as refused:
        call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    assert refused.value.reason == "pairing_failed"


def test_a_hostile_name_does_not_jam_the_inbox(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    """A lone UTF-16 surrogate is valid JSON but no text: SQLite would refuse to store it.
    The message is dropped and the next, genuine one still goes through."""
    from sma_host.protocol import crypto, envelope, pairing

    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    forger = crypto.Identity.generate()
    party = pairing.Party("0123456789abcdef", "X", forger.sign_public, forger.dh_public)
    _, pake = pairing.start_new(
        "1111111111", account.email, "fedcba9876543210", party.muaa_id, existing_id
    )
    body = pairing.request_body("fedcba9876543210", party, existing_id, pake, 2**40)
    body = body.replace(b'"name":"X"', b'"name":"\\ud800"')
    append_raw(
        account,
        existing_id,
        envelope.build_message(
            sma_type=pairing.REQUEST,
            sender=party.muaa_id,
            body=body,
            address=account.email,
            now=1,
            unique="s",
        ),
    )
    assert call(existing, "sma.sync")["dropped"] == 1
    request = call(new, "pair.request", to=existing_id)
    assert call(existing, "sma.sync")["processed"] == 1
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    assert inbox_messages(account, existing_id) == {}


def keyring_of(host: HostProcess) -> list[dict[str, Any]]:
    """The whole keyring, every page of ``keys.list``."""
    listed: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = call(host, "keys.list", offset=offset)
        listed += page["peers"]
        offset = page.get("next_offset")
    return listed


@pytest.mark.parametrize("size", [3, 1500])
def test_the_keyring_is_there_when_the_new_device_says_paired(
    spawn_host, account, size: int
) -> None:  # type: ignore[no-untyped-def]
    """E's keyring travels in the sealed accept (in parts when it is larger than one part,
    1500 real keys are about 1.3 MiB): N has it all when ``pair.completed`` arrives, no
    key-update hop after."""
    existing = spawn_host("desktop")
    existing.call("account.configure", account.configure_params(ACCOUNT, device_name="desktop"))
    existing_id = call(existing, "sma.join")["muaa_id"]
    new = spawn_host("laptop")
    new.call("account.configure", account.configure_params(ACCOUNT, device_name="laptop"))
    call(new, "sma.join")
    entries = [
        {
            "addr": f"peer{i}@example.net",
            "keydata": keydata_b64(f"pairing-keyring-{i}"),
            "prefer_encrypt": "mutual",
            "autocrypt_timestamp": 1_700_000_000 + i,
        }
        for i in range(size)
    ]
    for start in range(0, size, 1000):
        call(existing, "keys.put", peers=entries[start : start + 1000])
    expected = keyring_of(existing)
    assert len(expected) == size

    request = call(new, "pair.request", to=existing_id)
    existing.wait_notification("pair.requested", lambda p: p["pairing_id"] == request["pairing_id"])
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    new.wait_notification(
        "pair.completed", lambda p: p["pairing_id"] == request["pairing_id"], timeout=60
    )
    assert keyring_of(new) == expected
    stored = [{k: v for k, v in e.items() if k != "fingerprint"} for e in expected]
    assert (len(pairing.split_payload({}, stored)) > 1) == (size > 1000)


def test_an_entry_put_between_accept_and_confirm_follows(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    """N is no peer of E yet while E waits on the confirm: what E learns then is sent
    when the confirm arrives."""
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")

    def put(addr: str) -> None:
        entry = {"addr": addr, "keydata": keydata_b64(addr), "prefer_encrypt": "mutual"}
        call(existing, "keys.put", peers=[entry])

    put("before@example.net")
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    put("between@example.net")
    call(new, "sma.sync")
    assert [e["addr"] for e in keyring_of(new)] == ["before@example.net"]
    # The confirm, alone: N sends back none of the entries E's accept brought it.
    confirmed = call(existing, "sma.sync")
    assert (confirmed["paired"], confirmed["processed"]) == (1, 0)
    # E sends its keyring at the confirm: it changed since the accept.
    call(new, "sma.sync")
    assert keyring_of(new) == keyring_of(existing)
