"""Push: one watcher connection per joined account IDLEs on the device's own inbox and
queues a sync on the account's worker when something arrives.

The polling policy (docs/protocol.md §11), bounded so that a server without IDLE is
not hammered: NOOPs every 50 ms only while the add-on's page or popup is open
(``ui.active`` within the last minute) *and* either this device waits on a peer within a
pairing (at most 2 minutes per pairing) or the page opened under 2 minutes ago and no
pairing ended since (the user may be about to type a code: the request is then seen within
tens of ms, not after Dovecot's 0.5 s IDLE delay); every 0.75 s while it waits without
the page open (on a server without IDLE; with IDLE, push); every 1 s with only the page
open (without IDLE); otherwise IDLE, or a sync every ``SMA_HOST_POLL_S`` without IDLE.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..imap.watcher import InboxWatcher
from ..protocol.pairing_states import Direction, Phase
from ..store import Store
from .context import AccountSession, Sessions

Schedule = Callable[[str, Callable[[], None]], None]

#: NOOP intervals (seconds) of the polling policy above.
FAST_POLL_S = 0.05
WAITING_POLL_S = 0.75
UI_POLL_S = 1.0
#: ``ui.active`` counts this long; the add-on repeats it every 30 s.
UI_ACTIVE_S = 60.0
#: Fast polling lasts at most this long per pairing (from the attempt's start), and per
#: opening of the page (from the first ``ui.active`` after the last one lapsed).
FAST_PAIRING_S = 120


@dataclass(eq=False)
class Push:
    store: Store
    sessions: Sessions
    config: Config
    schedule: Schedule | None
    now: Callable[[], int]
    background_sync: Callable[[str], None]
    #: Account → when its last live pairing expires.
    _live_until: dict[str, int] = field(default_factory=dict, init=False)
    #: Account → until when fast polling is allowed for its live pairings.
    _fast_until: dict[str, int] = field(default_factory=dict, init=False)
    #: Account → until when its page counts as open (``time.monotonic()``).
    _ui_until: dict[str, float] = field(default_factory=dict, init=False)
    #: Account → when its page opened (``time.monotonic()``).
    _ui_since: dict[str, float] = field(default_factory=dict, init=False)

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
            poll_every=lambda idle: self.poll_every(account, idle),
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

    def ui_active(self, params: dict[str, Any]) -> dict[str, Any]:
        """``ui.active``: the add-on's page or popup for the account is open."""
        account, now = params["account"], time.monotonic()
        opened = now >= self._ui_until.get(account, 0.0)
        self._ui_until[account] = now + UI_ACTIVE_S
        if opened:
            self._ui_since[account] = now  # opened (again): a new fast-polling window
            self._wake(account)  # after both are set: the watcher reads them at once
        return {}

    def _wake(self, account: str) -> None:
        """The policy changed: the watcher looks at it now, not after its current wait
        (up to half a second in IDLE, which a request waiting in the inbox would pay)."""
        session = self.sessions.find(account)
        if session is not None and session.watcher is not None:
            session.watcher.wake()

    def poll_every(self, account: str, idle: bool) -> float | None:
        """The watcher's NOOP interval now, or None: IDLE (without IDLE, a sync every
        ``SMA_HOST_POLL_S``)."""
        now, clock = self.now(), time.monotonic()
        ui = clock < self._ui_until.get(account, 0.0)
        opened = clock < self._ui_since.get(account, -math.inf) + FAST_PAIRING_S
        if ui and (opened or now < self._fast_until.get(account, 0)):
            return FAST_POLL_S
        if idle:
            return None
        if now < self._live_until.get(account, 0):
            return WAITING_POLL_S
        return UI_POLL_S if ui else None

    def update_live(self, account: str) -> None:
        """Note the pairings in which this device waits on its peer."""
        live = [
            p
            for p in self.store.pairings(account)
            if p.direction is Direction.OUTGOING
            and p.phase is Phase.WAITING
            or p.phase is Phase.ACCEPTED
        ]
        if not live and self._live_until.get(account, 0):
            # A pairing ended: the page's own fast window, opened for it, ends too.
            self._ui_since[account] = -math.inf
        fast_until = self._fast_until.get(account, 0)
        self._live_until[account] = max((p.expires_at for p in live), default=0)
        self._fast_until[account] = max(
            (min(p.expires_at, p.created + FAST_PAIRING_S) for p in live), default=0
        )
        if self._fast_until[account] > fast_until:
            self._wake(account)
