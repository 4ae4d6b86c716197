"""The account key: ``account.key.set`` / ``account.key.get``, and its replication.

Any device may set the key at any time; it then travels sealed (``account-key``) to every
paired device. Two versions are ordered by ``AccountKey.rank()``: the later ``set_at``,
then the greater fingerprint, then the greater armored text. A device keeps the greatest
version it has seen, so concurrent sets converge to the same key everywhere, whatever the
order of delivery (docs/protocol.md §9.5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import openpgp
from ..errors import InvalidKey
from ..protocol import codec, envelope
from ..protocol.keyring import MAX_TIMESTAMP
from ..store import Peer, Store
from ..store_keys import AccountKey
from .context import Account, Sessions
from .notifications import Notifier
from .outbox import Outbox

log = logging.getLogger(__name__)

ACCOUNT_KEY = "account-key"
#: Longest passphrase that may travel with the account key.
MAX_PASSPHRASE = 1024


def key_payload(key: AccountKey, relay: bool = False) -> dict[str, Any]:
    """What an ``account-key`` message carries (sealed on the channel)."""
    payload: dict[str, Any] = {"armored": key.armored, "set_at": key.set_at}
    if key.passphrase is not None:
        payload["passphrase"] = key.passphrase
    if relay:
        payload["relay"] = True
    return payload


def offered_key(armored: object, set_at: object, passphrase: object = None) -> AccountKey:
    """A key another device sent (``account-key``, or a pairing payload), checked as an
    OpenPGP secret key; ``MalformedMessage`` otherwise."""
    if not isinstance(armored, str) or not codec.is_text(armored):
        raise envelope.MalformedMessage("bad account key")
    if passphrase is not None and not _is_passphrase(passphrase):
        raise envelope.MalformedMessage("bad account key passphrase")
    if not isinstance(set_at, int) or isinstance(set_at, bool) or not 0 <= set_at < MAX_TIMESTAMP:
        raise envelope.MalformedMessage("bad account key date")
    try:
        info = openpgp.read_secret_key(armored)
    except InvalidKey as exc:
        raise envelope.MalformedMessage(f"account key: {exc.message}") from None
    return AccountKey(
        armored, set_at, info.fingerprint, passphrase if isinstance(passphrase, str) else None
    )


def _is_passphrase(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_PASSPHRASE and codec.is_text(value)


@dataclass(eq=False)
class AccountKeys:
    store: Store
    sessions: Sessions
    outbox: Outbox
    notifier: Notifier
    now: Callable[[], int]

    def set_key(self, params: dict[str, Any]) -> dict[str, Any]:
        """``account.key.set``: an OpenPGP secret key, stored and sent to every paired device."""
        account = params["account"]
        session = self.sessions.get(account)
        try:
            info = openpgp.read_secret_key(params["armored"])
        except InvalidKey as exc:
            raise InvalidKey(exc.message, path="$.armored") from None
        current = self.store.account_key(account)
        # Later than the version held here, whatever this clock says: a set always wins.
        set_at = self.now() if current is None else max(self.now(), current.set_at + 1)
        key = AccountKey(params["armored"], set_at, info.fingerprint, params.get("passphrase"))
        membership = self.store.membership(account)
        joined = Account(session, membership) if membership and not membership.removed else None
        peers = self.store.peers(account) if joined is not None else []
        with self.store.transaction():
            self.store.set_account_key(account, key)
            for peer in peers:
                assert joined is not None
                self.outbox.send_sealed(joined, peer, ACCOUNT_KEY, key_payload(key))
        if peers:
            self.outbox.flush_soon(session)
        log.info("account %s: account key set (%d device(s) told)", account, len(peers))
        return {
            "account": account,
            "stored": True,
            "fingerprint": info.fingerprint,
            "user_ids": list(info.user_ids),
            "can_encrypt": info.can_encrypt,
            "set_at": set_at,
            "replicated_to": [p.muaa_id for p in peers],
        }

    def get_key(self, params: dict[str, Any]) -> dict[str, Any]:
        """``account.key.get``."""
        self.sessions.get(params["account"])
        key = self.store.account_key(params["account"])
        if key is None:
            return {"armored": None, "fingerprint": None, "set_at": None}
        result: dict[str, Any] = {
            "armored": key.armored,
            "fingerprint": key.fingerprint or _fingerprint(key.armored),
            "set_at": key.set_at,
        }
        if key.passphrase is not None:
            result["passphrase"] = key.passphrase
        return result

    def on_account_key(
        self, joined: Account, sender: Peer, payload: dict[str, Any], changed: set[str]
    ) -> None:
        """A paired device sent its account key (``account-key``)."""
        key = offered_key(payload.get("armored"), payload.get("set_at"), payload.get("passphrase"))
        relay = payload.get("relay") is True
        self.offer(joined, key, relay_except=sender.muaa_id if relay else None)

    def offer(self, joined: Account, key: AccountKey, relay_except: str | None = None) -> bool:
        """Keep ``key`` if it outranks the one held (part of the caller's transaction);
        with ``relay_except``, pass it on to every other peer (a key that came in through a
        pairing: the newcomer's peers do not know it yet)."""
        current = self.store.account_key(joined.name)
        if current is not None and current.rank() >= key.rank():
            return False
        self.store.set_account_key(joined.name, key)
        if relay_except is not None:
            for peer in self.store.peers(joined.name):
                if peer.muaa_id != relay_except:
                    self.outbox.send_sealed(joined, peer, ACCOUNT_KEY, key_payload(key))
        log.info("account %s: a new account key arrived", joined.name)
        assert key.fingerprint is not None
        self.notifier.account_key_changed(joined.name, key.fingerprint)
        return True

    def send_if_newer(self, joined: Account, peer: Peer, theirs: AccountKey | None) -> None:
        """After a pairing: hand this device's key to ``peer`` when it outranks ``theirs``;
        the peer passes it on to its other devices."""
        mine = self.store.account_key(joined.name)
        if mine is not None and (theirs is None or mine.rank() > theirs.rank()):
            self.outbox.send_sealed(joined, peer, ACCOUNT_KEY, key_payload(mine, relay=True))

    def forget(self, account: str) -> None:
        """This device left or was removed: it must no longer hold (or export) the key."""
        self.store.delete_account_key(account)


def _fingerprint(armored: str) -> str | None:
    """A key stored before keys were checked: its fingerprint if it is one."""
    try:
        return openpgp.read_secret_key(armored).fingerprint
    except InvalidKey:
        return None
