"""The one place that builds and sends notifications to the add-on.

Each has a JSON Schema, ``schemas/<name>.notification.json``; the tests validate every
notification they see against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..protocol.paging import page_by_size
from ..protocol.pairing_states import Attempt

Notify = Callable[[str, dict[str, Any]], None]

#: Budget for the address list of ``keys.changed``, well inside the 1 MiB frame.
ADDRS_BUDGET = 512 * 1024


class Notifier:
    def __init__(self, notify: Notify) -> None:
        self._notify = notify

    def account_token_needed(self, account: str) -> None:
        self._notify("account.token_needed", {"account": account})

    def pair_requested(self, attempt: Attempt) -> None:
        self._notify(
            "pair.requested",
            {
                "account": attempt.account,
                "pairing_id": attempt.pairing_id,
                "peer": attempt.peer,
                "peer_name": attempt.peer_name,
                "expires_at": attempt.expires_at,
            },
        )

    def pair_completed(self, attempt: Attempt, account_key_received: bool | None = None) -> None:
        """``account_key_received`` is said on the new device only."""
        params: dict[str, Any] = {
            "account": attempt.account,
            "pairing_id": attempt.pairing_id,
            "peer": attempt.peer,
            "peer_name": attempt.peer_name,
        }
        if account_key_received is not None:
            params["account_key_received"] = account_key_received
        self._notify("pair.completed", params)

    def pair_failed(self, attempt: Attempt) -> None:
        self._notify(
            "pair.failed",
            {
                "account": attempt.account,
                "pairing_id": attempt.pairing_id,
                "peer": attempt.peer,
                "reason": attempt.reason,
            },
        )

    def device_paired(self, account: str, muaa_id: str, name: str, via: str) -> None:
        self._notify(
            "device.paired", {"account": account, "muaa_id": muaa_id, "name": name, "via": via}
        )

    def device_removed(
        self, account: str, muaa_id: str, *, by: str | None = None, reason: str | None = None
    ) -> None:
        """Another device is gone: a peer said so (``by``), or we expired or removed it."""
        params: dict[str, Any] = {"account": account, "muaa_id": muaa_id, "self": False}
        if by is not None:
            params["by"] = by
        if reason is not None:
            params["reason"] = reason
        self._notify("device.removed", params)

    def this_device_removed(self, account: str, muaa_id: str, by: str | None) -> None:
        params: dict[str, Any] = {"account": account, "muaa_id": muaa_id, "self": True}
        if by is not None:
            params["by"] = by
        self._notify("device.removed", params)

    def keys_changed(self, account: str, addrs: Iterable[str]) -> None:
        changed = sorted(addrs)
        if not changed:
            return
        page, _rest = page_by_size(changed, 0, ADDRS_BUDGET)
        params: dict[str, Any] = {"account": account, "addrs": page}
        if len(page) < len(changed):
            params["truncated"] = True
        self._notify("keys.changed", params)

    def account_key_changed(self, account: str, fingerprint: str) -> None:
        """Another device's account key replaced the one held here."""
        self._notify("account_key.changed", {"account": account, "fingerprint": fingerprint})

    def sma_changed(self, account: str, muaas: int) -> None:
        self._notify("sma.changed", {"account": account, "muaas": muaas})
