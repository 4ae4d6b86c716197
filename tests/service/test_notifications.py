"""Every notification builder's output holds against its schema."""

from __future__ import annotations

from typing import Any

from sma_host.native.schemas import notification_names, validate_notification
from sma_host.protocol.pairing_states import Attempt, Direction, Phase
from sma_host.service.notifications import ADDRS_BUDGET, Notifier

NOW = 1_767_225_600
ME, PEER = "0123456789abcdef", "fedcba9876543210"


def _sent() -> tuple[Notifier, list[tuple[str, dict[str, Any]]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    return Notifier(lambda name, params: sent.append((name, params))), sent


def test_each_builder_matches_its_schema() -> None:
    notifier, sent = _sent()
    waiting = Attempt(
        "acct1", "00112233aabbccdd", Direction.INCOMING, PEER, "Phone", Phase.REQUESTED, None,
        NOW, NOW + 600,
    )  # fmt: skip
    failed = Attempt(
        "acct1", "00112233aabbccdd", Direction.OUTGOING, None, None, Phase.FAILED, "cancelled",
        NOW, NOW + 600,
    )  # fmt: skip
    notifier.pair_requested(waiting)
    notifier.pair_completed(waiting)
    notifier.pair_completed(waiting, account_key_received=True)
    notifier.pair_failed(failed)
    notifier.device_paired("acct1", PEER, "Phone", ME)
    notifier.device_removed("acct1", PEER, by=ME)
    notifier.device_removed("acct1", PEER, reason="expired")
    notifier.this_device_removed("acct1", ME, by=PEER)
    notifier.this_device_removed("acct1", ME, by=None)
    notifier.keys_changed("acct1", ["b@example.org", "a@example.org"])
    notifier.sma_changed("acct1", 3)
    notifier.account_key_changed("acct1", "3A6CDD089FE" + "0" * 29)
    notifier.account_token_needed("acct1")
    assert {name for name, _ in sent} == set(notification_names())
    for name, params in sent:
        assert validate_notification(name, params) == [], (name, params)
    assert (
        "keys.changed",
        {"account": "acct1", "addrs": ["a@example.org", "b@example.org"]},
    ) in sent


def test_keys_changed_says_nothing_when_nothing_changed() -> None:
    notifier, sent = _sent()
    notifier.keys_changed("acct1", [])
    assert sent == []


def test_keys_changed_is_cut_to_one_frame_and_says_so() -> None:
    notifier, sent = _sent()
    addrs = [f"{'x' * 200}{i}@example.org" for i in range(ADDRS_BUDGET // 200 + 100)]
    notifier.keys_changed("acct1", addrs)
    [(name, params)] = sent
    assert params["truncated"] is True and 0 < len(params["addrs"]) < len(addrs)
    assert validate_notification(name, params) == []
