"""The replicated keyring: ``keys.put`` / ``keys.list``, and key updates between devices.

Every key that enters the keyring is checked as OpenPGP (``openpgp.public_key_identity``)
and stored with its fingerprint, so ``keys.list`` never parses a key.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import openpgp
from ..errors import InvalidKey, InvalidParams
from ..protocol import codec, keyring
from ..protocol.paging import page_of
from ..store import Peer, Store
from .announcements import PAGE_BUDGET
from .context import Account, Sessions
from .outbox import KEY_UPDATE_MAX_BYTES, Outbox, chunks

log = logging.getLogger(__name__)

KEY_UPDATE = "key-update"
#: Entries one key-update message may carry at most.
MAX_ENTRIES = 100_000
#: Keyring rows read at a time while a ``keys.list`` page fills (about a page of real keys).
LIST_CHUNK = 256

#: Canonical keydata → what Sequoia said about it (within one call or message).
Identities = dict[str, openpgp.KeyIdentity]


def identify(keydata: str, known: Identities) -> openpgp.KeyIdentity:
    """The identity of canonical base64 ``keydata``, or ``InvalidKey``; cached in ``known``."""
    found = known.get(keydata)
    if found is None:
        found = known[keydata] = openpgp.public_key_identity(base64.b64decode(keydata))
    return found


@dataclass(eq=False)
class Keys:
    store: Store
    sessions: Sessions
    outbox: Outbox
    #: Account → keyring changes merged by this process (a pairing compares it, §7.7).
    _generation: dict[str, int] = field(default_factory=dict, init=False)

    def generation(self, account: str) -> int:
        """Grows with every merge that changed the account's keyring in this process."""
        return self._generation.get(account, 0)

    def put_entries(self, params: dict[str, Any]) -> dict[str, Any]:
        """``keys.put``: merge entries in, and send what changed to every paired device."""
        account = params["account"]
        session = self.sessions.get(account)
        known: Identities = {}
        entries = [_checked_entry(i, raw, known) for i, raw in enumerate(params["peers"])]
        membership = self.store.membership(account)
        joined = Account(session, membership) if membership and not membership.removed else None
        peers = self.store.peers(account) if joined else []
        with self.store.transaction():
            changes = self.merge(account, entries, known)
            if changes and joined is not None:
                self.send(joined, peers, changes.values())
        if changes and peers:
            self.outbox.flush_soon(session)
        return {
            "stored": len(changes),
            "received": len(entries),
            "queued_to": [p.muaa_id for p in peers] if changes else [],
        }

    def list_entries(self, params: dict[str, Any]) -> dict[str, Any]:
        """``keys.list``, paged by size; each entry with its key's fingerprint. Only the
        page's entries are decoded: the stored JSON is what was checked when stored."""
        account = params["account"]
        self.sessions.get(account)
        wanted = [keyring.canonical_addr(params["addr"])] if "addr" in params else None
        if wanted:
            total = len(self.store.keyring_listing(account, wanted))
        else:
            total = self.store.keyring_size(account)
        rows: dict[int, tuple[str, str, str | None]] = {}
        filled: list[tuple[keyring.PeerEntry, str]] = []

        def listed(index: int) -> dict[str, Any]:
            if index not in rows:  # the next rows, a few hundred at a time
                found = self.store.keyring_listing(account, wanted, index, LIST_CHUNK)
                rows.update(enumerate(found, start=index))
            _addr, text, fingerprint = rows.pop(index)
            value: dict[str, Any] = json.loads(text)
            if fingerprint is None:  # stored before keys were checked: computed once
                fingerprint = _legacy_fingerprint(value["keydata"])
                if fingerprint is not None:
                    filled.append((keyring.entry_from_json(value), fingerprint))
            return {**value, "fingerprint": fingerprint}

        page, next_offset = page_of(total, listed, params.get("offset", 0), PAGE_BUDGET)
        if filled:
            self.store.put_keyring(account, filled)
        result: dict[str, Any] = {"peers": page, "total": total}
        if next_offset is not None:
            result["next_offset"] = next_offset
        return result

    def merge(
        self, account: str, entries: list[keyring.PeerEntry], known: Identities
    ) -> dict[str, keyring.PeerEntry]:
        """Merge checked ``entries`` into the stored keyring; returns the entries that changed.
        ``known`` holds the identity of every key among ``entries``."""
        addrs = [e.addr for e in entries]
        current = self.store.keyring(account, addrs)
        changes = keyring.merge_all(current, entries)
        stored = self.store.fingerprints(account, changes) if changes else {}

        def fingerprint(entry: keyring.PeerEntry) -> str | None:
            if entry.keydata in known:
                return known[entry.keydata].fingerprint
            return stored.get(entry.addr)  # the key part was kept: so is its fingerprint

        self.store.put_keyring(account, [(e, fingerprint(e)) for e in changes.values()])
        if changes:
            self._generation[account] = self.generation(account) + 1
        return changes

    def on_key_update(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A paired device sent keyring entries (``key-update``)."""
        self.merge_from_peer(joined, payload.get("entries"), changed)

    def merge_from_peer(
        self, joined: Account, raw: object, changed: set[str]
    ) -> list[keyring.PeerEntry]:
        """Merge a device's entries (a ``key-update``, or a pairing payload part): at most
        ``MAX_ENTRIES`` or ``MalformedMessage``; invalid ones are skipped, keys that are not
        OpenPGP public keys too (the sender checked them: a bug or an old entry, never to
        be spread further)."""
        entries = []
        for raw_entry in codec.bounded_list(raw, MAX_ENTRIES):
            try:
                entries.append(keyring.entry_from_json(raw_entry))
            except keyring.InvalidEntry as exc:
                log.warning("account %s: skipped an invalid keyring entry (%s)", joined.name, exc)
        current = self.store.keyring(joined.name, [e.addr for e in entries])
        known: Identities = {}
        checked = []
        for entry in entries:
            held = current.get(entry.addr)
            if held is not None and held.keydata == entry.keydata:
                checked.append(entry)  # checked when it was stored
                continue
            try:
                identify(entry.keydata, known)
                if entry.gossip_key is not None:
                    identify(entry.gossip_key, known)
            except InvalidKey as exc:
                log.warning("account %s: skipped a keyring entry: %s", joined.name, exc.message)
                continue
            checked.append(entry)
        changed.update(self.merge(joined.name, checked, known))
        return checked

    def entries(self, account: str) -> list[dict[str, Any]]:
        """This device's whole keyring as JSON entries (for a pairing payload)."""
        return [e.to_json() for e in self.store.keyring(account).values()]

    def send_keyring(
        self, joined: Account, peer: Peer, theirs: set[keyring.PeerEntry] | None = None
    ) -> None:
        """Queue this device's whole keyring for one (newly paired) peer, but for the
        entries that are exactly ``theirs`` (what the peer itself sent)."""
        held = self.store.keyring(joined.name).values()
        self.send(joined, [peer], [e for e in held if not theirs or e not in theirs])

    def send(
        self, joined: Account, peers: list[Peer], entries: Iterable[keyring.PeerEntry]
    ) -> None:
        """Queue ``entries`` as ``key-update``s to each of ``peers`` (part of the caller's
        transaction)."""
        listed = [e.to_json() for e in entries]
        if not listed:
            return
        runs = chunks(listed, KEY_UPDATE_MAX_BYTES)
        for peer in peers:
            for run in runs:
                self.outbox.send_sealed(joined, peer, KEY_UPDATE, {"entries": run})


def _legacy_fingerprint(keydata: str) -> str | None:
    try:
        return identify(keydata, {}).fingerprint
    except InvalidKey:
        return None


def _checked_entry(index: int, raw: Mapping[str, Any], known: Identities) -> keyring.PeerEntry:
    """One ``keys.put`` entry: the entry format, then its keys as OpenPGP; a hand-entered
    entry (no ``autocrypt_timestamp``) is dated by its key's creation time."""
    path = f"$.peers[{index}]"
    value = dict(raw)
    for name in ("keydata", "gossip_key"):
        if name not in value:
            continue
        try:
            keydata = keyring.canonical_keydata(value[name], name)
        except keyring.InvalidEntry as exc:
            raise InvalidParams(f"invalid entry at {path}: {exc}", path=path) from None
        try:
            key = identify(keydata, known)
        except InvalidKey as exc:
            raise InvalidKey(
                f"entry {index} ({value.get('addr')}): {name}: {exc.message}", path=f"{path}.{name}"
            ) from None
        if name == "keydata" and "autocrypt_timestamp" not in value:
            value["autocrypt_timestamp"] = key.created
    try:
        return keyring.entry_from_json(value)
    except keyring.InvalidEntry as exc:
        raise InvalidParams(f"invalid entry at {path}: {exc}", path=path) from None
