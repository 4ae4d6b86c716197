"""Sessions: one per configured account, holding what never touches the disk (the
password, the connections), and the per-call ``Account`` view of session and membership."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..config import COMMAND_IDLE_S
from ..credentials import PasswordVault, vault_key
from ..errors import (
    ConnectionFailed,
    HostError,
    NotJoined,
    TokenExpired,
    TokenRefused,
    UnknownAccount,
)
from ..imap.mailbox import ImapSettings, Mailbox
from ..imap.watcher import InboxWatcher
from ..logsetup import LazyLogger
from ..protocol.pairing import Party
from ..store import AccountSettings, Membership, Peer, Store
from .notifications import Notifier
from .retry import AccountTimers, Schedule

T = TypeVar("T")

log = LazyLogger(__name__)

#: A connection the server has not answered on for this long is checked with a NOOP
#: before a call reuses it: long enough that a burst of calls costs no extra round trip,
#: short enough that a restart is noticed before something is sent into a dead socket.
CHECK_AFTER_S = 5.0
#: An idle close due this soon is done now rather than armed again.
IDLE_SLACK_S = 0.05


def imap_settings(
    settings: AccountSettings,
    password: str | None,
    auth: str = "password",
    access_token: str | None = None,
) -> ImapSettings:
    return ImapSettings(
        settings.imap_host,
        settings.imap_port,
        settings.security,
        settings.username,
        password or "",
        settings.ca_file,
        auth=auth,
        access_token=access_token,
    )


def retry_once_on_lost_connection(session: AccountSession, action: Callable[[], T]) -> T:
    """Run ``action``; when the server had closed an idle connection, once more on a new one.
    Only for idempotent actions: a sync, or flushing the outbox (receivers dedupe)."""
    try:
        return action()
    except ConnectionFailed:
        session.close_mailbox()
        return action()


def peer_from_party(party: Party, now: int) -> Peer:
    return Peer(party.muaa_id, party.name, party.sign_key, party.dh_key, now)


def password_key(settings: AccountSettings) -> str:
    """Where the OS keyring keeps this account's password."""
    return vault_key(settings.account, settings.username, settings.imap_host, settings.imap_port)


@dataclass
class AccountSession:
    settings: AccountSettings
    password: str | None = field(default=None, repr=False)
    mailbox: Mailbox | None = field(default=None, repr=False)
    #: ``"password"`` or ``"oauth2"`` (then ``access_token`` logs in; never stored).
    auth: str = "password"
    access_token: str | None = field(default=None, repr=False)
    #: The server refused the token and the add-on was told; until a new token comes,
    #: it is not told again (one ``account.token_needed`` per episode).
    token_refused: bool = False
    watcher: InboxWatcher | None = field(default=None, repr=False)
    #: A background sync is queued and has not started yet (coalesces pushes).
    sync_pending: bool = False
    #: (MESSAGES, UIDNEXT) of the announcement folder when this host last looked.
    announcements_seen: tuple[int, int] | None = None

    @property
    def account(self) -> str:
        return self.settings.account

    @property
    def has_credentials(self) -> bool:
        return (self.access_token if self.auth == "oauth2" else self.password) is not None

    def imap_settings(self) -> ImapSettings:
        if not self.has_credentials:
            what = "access token" if self.auth == "oauth2" else "password"
            raise UnknownAccount(
                f"the {what} of this account is not known to this host process:"
                " configure the account again",
                account=self.account,
                credentials_missing=True,
            )
        return imap_settings(self.settings, self.password, self.auth, self.access_token)

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def close(self) -> None:
        self.stop_watcher()
        self.close_mailbox()

    def close_mailbox(self) -> None:
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None


@dataclass(frozen=True)
class Account:
    """One call's view of a joined account: its session and its SMA membership."""

    session: AccountSession
    membership: Membership

    @property
    def name(self) -> str:
        return self.session.account

    @property
    def settings(self) -> AccountSettings:
        return self.session.settings

    @property
    def muaa_id(self) -> str:
        return self.membership.muaa_id

    def party(self) -> Party:
        """This device as pairing names it to a peer."""
        identity = self.membership.identity
        return Party(
            self.membership.muaa_id,
            self.settings.device_name,
            identity.sign_public,
            identity.dh_public,
        )


class Sessions:
    """The accounts this process knows, and their connections."""

    def __init__(
        self,
        store: Store,
        vault: PasswordVault,
        notifier: Notifier,
        schedule: Schedule | None = None,
        idle_s: float = COMMAND_IDLE_S,
    ) -> None:
        self.store = store
        self.vault = vault
        self.notifier = notifier
        self._sessions: dict[str, AccountSession] = {}
        #: The connection budget: a command connection unused for ``idle_s`` is closed,
        #: by a job on the account's worker, so never while a call uses it.
        self._idle_timers = AccountTimers(schedule, "idle-close")
        self._idle_s = idle_s

    def get(self, account: str) -> AccountSession:
        """The account's session; ``UnknownAccount`` when it was never configured."""
        session = self._sessions.get(account)
        if session is None:
            settings = self.store.load_account(account)
            if settings is None:
                raise UnknownAccount(f"no account {account!r} is configured", account=account)
            key = password_key(settings)
            # Remembered, or None; the keyring is asked only if this host stored one there.
            password = self.vault.load(key) if self.store.keyring_entry(account) == key else None
            session = self._sessions[account] = AccountSession(settings, password)
        return session

    def find(self, account: str) -> AccountSession | None:
        """The session if this process has one already (never loads one)."""
        return self._sessions.get(account)

    def replace(self, session: AccountSession) -> None:
        old = self._sessions.pop(session.account, None)
        if old is not None:
            old.close()
        self._sessions[session.account] = session

    def all(self) -> list[AccountSession]:
        return list(self._sessions.values())

    def membership(self, account: str, allow_removed: bool = False) -> Membership:
        membership = self.store.membership(account)
        if membership is None:
            raise NotJoined(
                "this device has not joined the SMA yet: call sma.join", account=account
            )
        if membership.removed and not allow_removed:
            raise NotJoined(
                "this device was removed from the SMA: call sma.join to join again",
                account=account,
                removed=True,
            )
        return membership

    def joined(self, account: str, allow_removed: bool = False) -> Account:
        session = self.get(account)
        return Account(session, self.membership(account, allow_removed))

    def mailbox(self, session: AccountSession, check: bool = True) -> Mailbox:
        """The session's connection, re-established when it is broken or dead.

        One that failed in a way that can mean a dead connection is never reused; one
        the server has been silent on for ``CHECK_AFTER_S`` is checked with a NOOP first
        (unless ``check`` is off: syncs retry on a fresh connection instead).
        """
        mailbox = session.mailbox
        if mailbox is not None:
            if mailbox.broken:
                session.close_mailbox()
            elif not check or time.monotonic() - mailbox.last_io < CHECK_AFTER_S:
                return mailbox
            else:
                try:
                    mailbox.noop()
                    return mailbox
                except HostError:
                    session.close_mailbox()
        try:
            mailbox = Mailbox.connect(session.imap_settings())
        except TokenRefused:
            # configure logged in with this token, so it worked once: it has run out.
            self.token_refused(session.account)
            raise TokenExpired(
                "the server no longer accepts the access token: get a new one and"
                " send it with account.token",
                account=session.account,
            ) from None
        return self.use(session, mailbox)

    def use(self, session: AccountSession, mailbox: Mailbox) -> Mailbox:
        """Make ``mailbox`` the session's command connection, closed once unused for
        ``idle_s`` (from the account's worker, where this must be called)."""
        session.mailbox = mailbox
        self._idle_timers.arm(
            session.account, self._idle_s, lambda: self._close_if_idle(session.account)
        )
        return mailbox

    def _close_if_idle(self, account: str) -> None:
        """On the account's worker: close the command connection when it has been unused
        for ``idle_s``, else look again when it will have been."""
        session = self._sessions.get(account)
        mailbox = session.mailbox if session is not None else None
        if session is None or mailbox is None:
            return  # closed already; the next ``use`` arms a new timer
        unused = time.monotonic() - mailbox.last_io
        if unused < self._idle_s - IDLE_SLACK_S:
            self._idle_timers.arm(
                account, self._idle_s - unused, lambda: self._close_if_idle(account)
            )
            return
        log.debug("account %s: command connection unused for %.0f s: closed", account, unused)
        # Taken from the session here, on the worker, so nothing else can use it; the
        # LOGOUT (up to 1 s on a silent server) runs on a thread of its own, so a call
        # queued behind this job does not wait for it.
        session.mailbox = None
        try:
            threading.Thread(target=mailbox.close, name=f"logout-{account}", daemon=True).start()
        except RuntimeError:  # no thread to spare: log out here
            mailbox.close()

    def close(self) -> None:
        """Stop the idle timers (the sessions themselves are closed by their owner)."""
        self._idle_timers.close()

    def token_refused(self, account: str) -> None:
        """Tell the add-on once per episode that the account needs a fresh token."""
        session = self._sessions.get(account)
        if session is None or session.token_refused:
            return
        session.token_refused = True
        self.notifier.account_token_needed(account)
