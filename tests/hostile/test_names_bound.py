"""Issue 12 item 5: the device names shown in pairing are bound by both confirmations.

The provider rewrites the peer's name in the ``pair-request`` (seen by the existing
device) or in the ``pair-accept`` (seen by the new one): the pairing fails on both sides
and no forged name is stored.
"""

from __future__ import annotations

import json

import pytest

from tests.contract.test_pairing import (
    call,
    inbox_messages,
    joined,
    replace_raw,
    states,
)


def rename(account, folder_owner: str, name: str) -> None:  # type: ignore[no-untyped-def]
    from sma_host.protocol import envelope

    [(uid, raw)] = inbox_messages(account, folder_owner).items()
    env = envelope.parse_message(raw)
    fields = json.loads(env.body)
    fields["party"]["name"] = name
    forged = envelope.build_message(
        sma_type=env.sma_type,
        sender=env.sender,
        body=json.dumps(fields).encode(),
        address=account.email,
        now=1,
        unique="n",
    )
    replace_raw(account, folder_owner, uid, forged)


@pytest.mark.parametrize("message", ["pair-request", "pair-accept"])
def test_a_rewritten_name_fails_the_pairing(spawn_host, account, message: str) -> None:  # type: ignore[no-untyped-def]
    existing, existing_id = joined(spawn_host, account, "desktop")
    new, new_id = joined(spawn_host, account, "laptop")
    request = call(new, "pair.request", to=existing_id)
    if message == "pair-request":
        rename(account, existing_id, "Trusted phone")
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    if message == "pair-accept":
        rename(account, new_id, "Trusted phone")
    call(new, "sma.sync")
    call(existing, "sma.sync")
    assert states(new, request["pairing_id"]) == ["failed"]
    assert states(existing, request["pairing_id"]) == ["failed"]
    for host in (new, existing):
        paired = [m for m in call(host, "sma.status")["muaas"] if m["paired"]]
        assert paired == []
