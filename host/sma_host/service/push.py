"""Push: one watcher connection per joined account IDLEs on the device's own inbox and
queues a sync on the account's worker when something arrives. While this device waits on
a peer within a pairing, the watcher polls fast instead of waiting for IDLE."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Config
from ..imap.watcher import InboxWatcher
from ..protocol.pairing_states import Direction, Phase
from ..store import Store
from .context import AccountSession, Sessions

Schedule = Callable[[str, Callable[[], None]], None]


@dataclass(eq=False)
class Push:
    store: Store
    sessions: Sessions
    config: Config
    schedule: Schedule | None
    now: Callable[[], int]
    background_sync: Callable[[str], None]
    #: Account → when its last live pairing expires: until then its watcher polls fast.
    _live_until: dict[str, int] = field(default_factory=dict, init=False)

    def start(self, session: AccountSession, muaa_id: str) -> None:
        """(Re)start the account's watcher; nothing without push, a worker or a password."""
        if self.schedule is None or not session.has_credentials or not self.config.push:
            return
        session.stop_watcher()
        account = session.account
        schedule = self.schedule
        session.watcher = InboxWatcher(
            session.imap_settings(),
            muaa_id,
            on_messages=lambda: self._arrived(account),
            on_gone=lambda: self._arrived(account),
            fast=lambda: self.now() < self._live_until.get(account, 0),
            poll_interval=self.config.poll_interval,
            name=account,
            on_token_refused=lambda: schedule(
                account, lambda: self.sessions.token_refused(account)
            ),
            on_connected=lambda after_loss: self._connected(account, after_loss),
        )
        session.watcher.start()

    def _connected(self, account: str, after_loss: bool) -> None:
        """Called from a watcher thread that (re)connected. After a loss the server is
        back: a sync reads what arrived meanwhile and sends what waited for it at once,
        instead of at the outbox's next retry; at start-up likewise when messages wait."""
        if after_loss or self.store.last_outbox_id(account):
            self._arrived(account)

    def _arrived(self, account: str) -> None:
        """Called from a watcher thread: queue one sync on the account's worker."""
        session = self.sessions.find(account)
        if session is None or session.sync_pending or self.schedule is None:
            return
        session.sync_pending = True
        self.schedule(account, lambda: self._run_sync(account))

    def _run_sync(self, account: str) -> None:
        session = self.sessions.find(account)
        if session is None:
            return
        session.sync_pending = False
        self.background_sync(account)

    def update_live(self, account: str) -> None:
        """Fast polling while this device waits on its peer within a pairing."""
        was_live = self.now() < self._live_until.get(account, 0)
        self._live_until[account] = max(
            (
                p.expires_at
                for p in self.store.pairings(account)
                if p.direction is Direction.OUTGOING
                and p.phase is Phase.WAITING
                or p.phase is Phase.ACCEPTED
            ),
            default=0,
        )
        session = self.sessions.find(account)
        if not was_live and self.now() < self._live_until[account] and session is not None:
            membership = self.store.membership(account)
            if session.watcher is not None and membership is not None:
                # The watcher looks at the pairing state only between IDLE steps; a fresh
                # one polls fast at once, which saves a pairing hop up to one step.
                self.start(session, membership.muaa_id)
