"""The replicated keyring: ``keys.put`` / ``keys.list``, and key updates between devices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParams
from ..protocol import codec, keyring
from ..protocol.paging import page_by_size
from ..store import Peer, Store
from .announcements import PAGE_BUDGET
from .context import Account, Sessions
from .outbox import KEY_UPDATE_MAX_BYTES, Outbox, chunks

log = logging.getLogger(__name__)

KEY_UPDATE = "key-update"
#: Entries one key-update message may carry at most.
MAX_ENTRIES = 100_000


@dataclass(eq=False)
class Keys:
    store: Store
    sessions: Sessions
    outbox: Outbox

    def put_entries(self, params: dict[str, Any]) -> dict[str, Any]:
        """``keys.put``: merge entries in, and send what changed to every paired device."""
        account = params["account"]
        session = self.sessions.get(account)
        entries = []
        for index, raw_entry in enumerate(params["peers"]):
            try:
                entries.append(keyring.entry_from_json(raw_entry))
            except keyring.InvalidEntry as exc:
                raise InvalidParams(
                    f"invalid entry at $.peers[{index}]: {exc}", path=f"$.peers[{index}]"
                ) from None
        membership = self.store.membership(account)
        joined = Account(session, membership) if membership and not membership.removed else None
        peers = self.store.peers(account) if joined else []
        with self.store.transaction():
            changes = self.merge(account, entries)
            if changes and joined is not None:
                self._send(joined, peers, changes.values())
        if changes and peers:
            self.outbox.flush_soon(session)
        return {
            "stored": len(changes),
            "received": len(entries),
            "queued_to": [p.muaa_id for p in peers] if changes else [],
        }

    def list_entries(self, params: dict[str, Any]) -> dict[str, Any]:
        """``keys.list``, paged by size."""
        account = params["account"]
        self.sessions.get(account)
        wanted = [keyring.canonical_addr(params["addr"])] if "addr" in params else None
        entries = [e.to_json() for e in self.store.keyring(account, wanted).values()]
        page, next_offset = page_by_size(entries, params.get("offset", 0), PAGE_BUDGET)
        result: dict[str, Any] = {"peers": page, "total": len(entries)}
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    def merge(self, account: str, entries: list[keyring.PeerEntry]) -> dict[str, keyring.PeerEntry]:
        """Merge ``entries`` into the stored keyring; returns the entries that changed."""
        current = self.store.keyring(account, [e.addr for e in entries])
        changes = keyring.merge_all(current, entries)
        self.store.put_keyring(account, changes.values())
        return changes

    def on_key_update(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A paired device sent keyring entries (``key-update``); invalid ones are skipped."""
        entries = []
        for raw_entry in codec.bounded_list(payload.get("entries"), MAX_ENTRIES):
            try:
                entries.append(keyring.entry_from_json(raw_entry))
            except keyring.InvalidEntry as exc:
                log.warning("account %s: skipped an invalid keyring entry (%s)", joined.name, exc)
        changed.update(self.merge(joined.name, entries))

    def send_keyring(self, joined: Account, peer: Peer) -> None:
        """Queue this device's whole keyring for one (newly paired) peer."""
        self._send(joined, [peer], self.store.keyring(joined.name).values())

    def _send(
        self, joined: Account, peers: list[Peer], entries: Iterable[keyring.PeerEntry]
    ) -> None:
        listed = [e.to_json() for e in entries]
        if not listed:
            return
        runs = chunks(listed, KEY_UPDATE_MAX_BYTES)
        for peer in peers:
            for run in runs:
                self.outbox.send_sealed(joined, peer, KEY_UPDATE, {"entries": run})
