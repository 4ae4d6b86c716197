"""The account key on a real Dovecot through real host processes: checked as an OpenPGP
secret key, replicated sealed to every paired device at any time, converging under
concurrent sets, handed over by pairing in both directions, and gone from removed devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.host_process import HostProcess, RpcError
from tests.contract.test_keys import call, device
from tests.contract.test_keys import trio as trio  # the fixture: three paired devices
from tests.contract.test_pairing import all_sma_messages, joined
from tests.contract.test_pairing import pair as pair_by_sync
from tests.imap_inspect import decoded_body
from tests.pgp_keys import (
    ACCOUNT_FINGERPRINT,
    ACCOUNT_SECRET_KEY,
    secret_fingerprint,
    secret_key,
    secret_needles,
)


def held(host: HostProcess) -> dict[str, Any]:
    return call(host, "account.key.get")  # type: ignore[no-any-return]


def rank(result: dict[str, Any], armored: str) -> tuple[int, str, str]:
    """The documented order of two versions (docs/protocol.md §9.5)."""
    return (result["set_at"], result["fingerprint"], armored)


def test_only_an_openpgp_secret_key_is_taken(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    garbage = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nbm90IGEga2V5\n=abcd\n"
        "-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    from pysequoia import Tsk

    public_key = str(Tsk.from_bytes(ACCOUNT_SECRET_KEY.encode()).extract_certificate())
    for bad, why in (
        (garbage, "does not parse"),
        (public_key, "public key"),
        ("hello world!", "not an ASCII-armored OpenPGP secret key"),
    ):
        with pytest.raises(RpcError) as refused:
            call(host, "account.key.set", armored=bad)
        assert refused.value.reason == "invalid_key"
        assert refused.value.data["path"] == "$.armored"
        assert why in refused.value.error["message"]
    assert held(host) == {"armored": None, "fingerprint": None, "set_at": None}
    result = call(host, "account.key.set", armored=ACCOUNT_SECRET_KEY)
    assert result["fingerprint"] == ACCOUNT_FINGERPRINT  # tests/data/README.md
    assert result["user_ids"] == ["SMA Test Key <sma-test@example.org>"]
    assert result["can_encrypt"] is True and result["replicated_to"] == []
    assert held(host) == {
        "armored": ACCOUNT_SECRET_KEY,
        "fingerprint": ACCOUNT_FINGERPRINT,
        "set_at": result["set_at"],
    }
    for needle in secret_needles(ACCOUNT_SECRET_KEY):
        assert needle.decode("latin-1") not in host.stderr_text()


def test_a_key_set_on_any_device_reaches_every_other_by_push(trio, account) -> None:  # type: ignore[no-untyped-def]
    (a, a_id), (b, _), (c, c_id) = trio
    first = call(b, "account.key.set", armored=ACCOUNT_SECRET_KEY)
    assert sorted(first["replicated_to"]) == sorted([a_id, c_id])
    for host in (a, c):  # neither calls anything
        note = host.wait_notification("account_key.changed", timeout=10)
        assert note == {"account": "acct1", "fingerprint": ACCOUNT_FINGERPRINT}
        assert held(host)["armored"] == ACCOUNT_SECRET_KEY
    # Later, another device replaces it: a set always wins over the version it holds.
    other = secret_key("replacement")
    second = call(c, "account.key.set", armored=other)
    assert second["set_at"] > first["set_at"]
    for host in (a, b):
        host.wait_notification(
            "account_key.changed", lambda p: p["fingerprint"] == second["fingerprint"], timeout=10
        )
        assert held(host) == {
            "armored": other,
            "fingerprint": secret_fingerprint(other),
            "set_at": second["set_at"],
        }
    assert not [n for n in c.notifications if n["method"] == "account_key.changed"][1:]
    everything = [m.raw for m in all_sma_messages(account)]
    for raw in everything:
        for needle in secret_needles(ACCOUNT_SECRET_KEY) + secret_needles(other):
            assert needle not in raw and needle not in decoded_body(raw)


def test_concurrent_sets_converge_to_the_same_key(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, b_id = joined(spawn_host, account, "b")
    c, _ = joined(spawn_host, account, "c")
    pair_by_sync(b, a, a_id)
    pair_by_sync(c, b, b_id)
    for host in (a, b, c):
        call(host, "sma.sync")
    # A and C set different keys while neither has seen the other's: both are queued.
    key_a, key_c = secret_key("concurrent-a"), secret_key("concurrent-c")
    set_a = call(a, "account.key.set", armored=key_a)
    set_c = call(c, "account.key.set", armored=key_c)
    winner = max((rank(set_a, key_a), key_a), (rank(set_c, key_c), key_c))[1]
    for _ in range(2):
        for host in (a, b, c):
            call(host, "sma.sync")
    for host in (a, b, c):
        assert held(host)["armored"] == winner
    # The device whose key lost was told which one it holds now; the winner was not.
    loser = c if winner == key_a else a
    assert loser.wait_notification("account_key.changed")["fingerprint"] == (
        secret_fingerprint(winner)
    )


def test_pairing_hands_the_key_from_the_device_that_types_the_code(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    call(new, "account.key.set", armored=ACCOUNT_SECRET_KEY)
    request = pair_by_sync(new, existing, existing_id)
    note = new.wait_notification(
        "pair.completed", lambda p: p["pairing_id"] == request["pairing_id"]
    )
    assert note["account_key_received"] is False  # it had none to give
    call(existing, "sma.sync")  # N's account-key arrives right behind its pair-confirm
    assert held(existing)["armored"] == ACCOUNT_SECRET_KEY
    assert existing.wait_notification("account_key.changed")["fingerprint"] == ACCOUNT_FINGERPRINT


def test_pairing_relays_the_newcomers_key_to_the_group(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    a, a_id = joined(spawn_host, account, "a")
    b, _ = joined(spawn_host, account, "b")
    pair_by_sync(b, a, a_id)
    old = secret_key("group-old")
    old_set = call(a, "account.key.set", armored=old)
    call(b, "sma.sync")
    assert held(b)["armored"] == old
    # N set its own key after the group's: pairing keeps the later one, everywhere.
    n, _ = joined(spawn_host, account, "n")
    while (newer := call(n, "account.key.set", armored=ACCOUNT_SECRET_KEY))["set_at"] <= old_set[
        "set_at"
    ]:
        pass  # a later set (the clock moved on)
    pair_by_sync(n, a, a_id)
    call(n, "sma.sync")
    for _ in range(2):
        for host in (a, b):
            call(host, "sma.sync")
    for host in (a, b, n):
        assert held(host) == {
            "armored": ACCOUNT_SECRET_KEY,
            "fingerprint": ACCOUNT_FINGERPRINT,
            "set_at": newer["set_at"],
        }


def test_both_sides_with_a_key_keep_the_later_one(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, _ = joined(spawn_host, account, "laptop")
    first = call(new, "account.key.set", armored=secret_key("earlier"))
    later_key = secret_key("later")
    while call(existing, "account.key.set", armored=later_key)["set_at"] <= first["set_at"]:
        pass  # a later set (the clock moved on)
    request = pair_by_sync(new, existing, existing_id)
    call(existing, "sma.sync")
    note = new.wait_notification(
        "pair.completed", lambda p: p["pairing_id"] == request["pairing_id"]
    )
    assert note["account_key_received"] is True
    for host in (new, existing):
        assert held(host)["armored"] == later_key


def test_a_removed_device_and_a_device_that_left_lose_the_key(trio) -> None:  # type: ignore[no-untyped-def]
    (a, _), (b, b_id), (c, _) = trio
    call(a, "account.key.set", armored=ACCOUNT_SECRET_KEY)
    for host in (b, c):
        host.wait_notification("account_key.changed", timeout=10)
    call(a, "device.remove", muaa_id=b_id)
    b.wait_notification("device.removed", lambda p: p["self"], timeout=15)
    assert held(b) == {"armored": None, "fingerprint": None, "set_at": None}
    call(c, "sma.leave")
    assert held(c)["armored"] is None
    assert held(a)["armored"] == ACCOUNT_SECRET_KEY


PROTECTED = Path(__file__).resolve().parents[1] / "data" / "gnupg-protected-secret-key.asc"
ONE_TIME = "one-time-passphrase-1234"  # tests/data/README.md


def test_the_passphrase_travels_with_the_key_and_only_sealed(trio, account) -> None:  # type: ignore[no-untyped-def]
    """Thunderbird's export is passphrase-protected: the passphrase goes wherever the key
    goes, so that another Thunderbird can import it, and never in clear."""
    (a, _), (b, _), (c, _) = trio
    armored = PROTECTED.read_text()
    result = call(b, "account.key.set", armored=armored, passphrase=ONE_TIME)
    assert held(b)["passphrase"] == ONE_TIME
    for host in (a, c):
        host.wait_notification("account_key.changed", timeout=10)
        got = held(host)
        assert (got["armored"], got["passphrase"]) == (armored, ONE_TIME)
        assert got["fingerprint"] == result["fingerprint"]
    # A later key without a passphrase replaces both: none is left over from the old one.
    call(c, "account.key.set", armored=ACCOUNT_SECRET_KEY)
    a.wait_notification("account_key.changed", timeout=10)
    assert "passphrase" not in held(a)
    for raw in (m.raw for m in all_sma_messages(account)):
        assert ONE_TIME.encode() not in raw and ONE_TIME.encode() not in decoded_body(raw)
    for host in (a, b, c):
        assert ONE_TIME not in host.stderr_text()


def test_a_passphrase_is_text_of_bounded_length(spawn_host, account) -> None:  # type: ignore[no-untyped-def]
    host, _ = device(spawn_host, account, "a", push=False)
    for bad in ("", "x" * 1025):
        with pytest.raises(RpcError) as refused:
            call(host, "account.key.set", armored=ACCOUNT_SECRET_KEY, passphrase=bad)
        assert refused.value.reason == "invalid_params"
