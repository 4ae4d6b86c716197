"""The orchestrator: turns method calls and inbox messages into core decisions and
adapter calls. ``Host`` wires the units, each a class with its collaborators passed in:

- ``context``: sessions (password, connections) and the per-call ``Account`` view;
- ``notifications``: the one place that builds notifications;
- ``outbox``: messages to other devices, committed before they are sent;
- ``push``: the watcher connection and fast polling during pairing;
- ``announcements``: the announcement folder, ``sma.join``, ``sma.status``;
- ``accounts``: ``account.configure``, resuming at start-up;
- ``account_key``: the account key and its replication (``account-key``);
- ``keys``: the replicated keyring;
- ``pairing``, ``pairing_messages``: ``pair.*`` and the pairing messages in the inbox,
  both through the transition table of ``protocol/pairing_states``;
- ``membership``: removal, leaving, expiry, ``member-add`` / ``member-remove``;
- ``inbox``: ``sma.sync``, dispatching each inbox message through one table;
- ``mail_scan``: ``mail.scan``, correspondents' keys from INBOX (also at the heartbeat).

The stdio loop calls ``Host.call`` from the account's worker thread only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..config import CONFIG, Config
from ..credentials import PasswordVault
from ..errors import ConnectionFailed
from ..protocol import pairing as pairing_types
from ..protocol.membership import MEMBER_ADD, MEMBER_REMOVE, MEMBER_REMOVE_ACK
from ..store import Store
from .account_key import ACCOUNT_KEY, AccountKeys
from .accounts import Accounts
from .announcements import Announcements
from .context import Account, Sessions
from .inbox import Inbox
from .keys import KEY_UPDATE, Keys
from .mail_scan import MailScan
from .membership import Membership
from .notifications import Notifier, Notify
from .outbox import Outbox
from .pairing import Pairings
from .pairing_messages import PairingMessages
from .push import Push, Schedule

__all__ = ["Host", "Notify", "Schedule"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Host:
    """Method implementations. ``clock`` and ``random`` are injectable for tests."""

    def __init__(
        self,
        store: Store,
        notify: Notify,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
        config: Config = CONFIG,
    ) -> None:
        self.store = store

        def now() -> int:
            return int(clock())

        notifier = Notifier(notify)
        self.sessions = Sessions(store, PasswordVault(), notifier, schedule, config.command_idle_s)
        self.outbox = outbox = Outbox(store, self.sessions, now, random, schedule)
        push = Push(store, self.sessions, config, schedule, now, self._background_sync)
        announcements = Announcements(store, self.sessions, notifier, push, now, random)
        self.accounts = Accounts(store, self.sessions, self.sessions.vault, push, schedule)
        keys = Keys(store, self.sessions, outbox)
        account_keys = AccountKeys(store, self.sessions, outbox, notifier, now)
        pairings = Pairings(
            store, self.sessions, outbox, notifier, push, keys, announcements, now, random
        )
        messages = PairingMessages(store, outbox, notifier, keys, pairings, account_keys, now)
        members = Membership(store, self.sessions, outbox, notifier, announcements, keys, push, now)
        self._pairings, self._messages, self._members = pairings, messages, members
        scanner = MailScan(store, self.sessions, keys, outbox, notifier, now)

        def heartbeat(joined: Account) -> None:
            members.heartbeat(joined)
            scanner.background_scan(joined)

        self.inbox = inbox = Inbox(
            store,
            self.sessions,
            outbox,
            notifier,
            announcements,
            push,
            now,
            plain={
                pairing_types.REQUEST: messages.on_request,
                pairing_types.ACCEPT: messages.on_accept,
                pairing_types.CONFIRM: messages.on_confirm,
                pairing_types.ABORT: messages.on_abort,
            },
            sealed={
                KEY_UPDATE: keys.on_key_update,
                ACCOUNT_KEY: account_keys.on_account_key,
                MEMBER_ADD: members.on_member_add,
                MEMBER_REMOVE: members.on_member_remove,
                MEMBER_REMOVE_ACK: members.on_member_remove_ack,
            },
            expire_pairings=self._before_sync,
            this_device_removed=members.this_device_removed,
            heartbeat=heartbeat,
            apply_removals=members.apply_removals,
        )
        #: Method name → handler: the methods of ``methods.METHODS`` except ``hello``.
        self.methods: Mapping[str, Handler] = {
            "account.configure": self.accounts.configure,
            "account.key.set": account_keys.set_key,
            "account.key.get": account_keys.get_key,
            "account.token": self.accounts.token,
            "sma.join": announcements.join,
            "sma.status": announcements.status,
            "sma.sync": inbox.sync,
            "sma.expire": members.expire,
            "sma.leave": members.leave,
            "device.remove": members.remove,
            "pair.request": pairings.request,
            "pair.accept": pairings.accept,
            "pair.list": pairings.list_attempts,
            "pair.cancel": pairings.cancel,
            "keys.put": keys.put_entries,
            "keys.list": keys.list_entries,
            "mail.scan": scanner.scan,
            "ui.active": pairings.ui_active,
        }

    def _before_sync(self, account: str) -> None:
        """Pairing housekeeping at the start of every sync."""
        self._pairings.expire(account)
        self._messages.begin_sync(account)
        self._members.resend_removals(self.sessions.joined(account))

    def _background_sync(self, account: str) -> None:
        self.inbox.background_sync(account)

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.methods[method]
        try:
            return handler(params)
        except ConnectionFailed:
            # The connection is unusable now: the next call starts a fresh one.
            session = self.sessions.find(params.get("account", ""))
            if session is not None:
                session.close_mailbox()
            raise

    def has_account(self, account: str) -> bool:
        """Whether ``account.configure`` ever succeeded for ``account``."""
        return self.store.load_account(account) is not None

    def resume_accounts(self) -> None:
        self.accounts.resume_all()

    def close(self) -> None:
        self.outbox.close()
        self.sessions.close()
        # Every watcher is woken first: the logouts that follow may each wait on a server.
        sessions = self.sessions.all()
        for session in sessions:
            if session.watcher is not None:
                session.watcher.stop()
        for session in sessions:
            session.close()
