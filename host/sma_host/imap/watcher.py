"""Push: a thread per joined account that watches the account's SMA inbox on a
connection of its own and calls back when messages are waiting.

IDLE where the server has it (Dovecot delays its pushes by 500 ms), NOOP polling at the
interval ``poll_every`` asks for (fast while a pairing is live and the add-on's page is
open, so a pairing does not wait on push at every hop), plain polling every
``poll_interval`` where the server lacks IDLE and nothing is expected. An IDLE is
renewed every ``IDLE_CHECK_S``, and the renewal LISTs the own inbox: a server that
deletes it without a word (Cyrus sends no BYE) is noticed within that bound.
Reconnects with backoff when the connection drops, and says so (``on_connected``):
a server that is back is the moment to send what waited for it. An OAuth2 token the server refuses
ends the watcher instead (after ``on_token_refused``): the same token would only be
refused again, so it waits for new settings, which come with a new watcher. The
callbacks only schedule work; they run nothing IMAP themselves.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import MailboxError, TokenRefused
from ..logsetup import LazyLogger
from .mailbox import ImapSettings, Mailbox

log = LazyLogger(__name__)

#: Sync this often while idling, which also keeps the heartbeat going.
IDLE_RENEW_S = 10 * 60
#: Renew IDLE this often and check that the own inbox still exists (one LIST).
IDLE_CHECK_S = 30.0
#: How often the stop flag and the polling policy are looked at while waiting.
IDLE_TICK_S = 0.5
MAX_BACKOFF_S = 60.0
#: TCP keepalive on the watcher's socket: an IDLE connection the network dropped without a
#: word is found dead after about KEEPALIVE_IDLE_S + KEEPALIVE_COUNT × KEEPALIVE_INTERVAL_S
#: (90 s), instead of at the next IDLE renewal.
KEEPALIVE_IDLE_S = 60
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_COUNT = 3


class InboxWatcher:
    def __init__(
        self,
        settings: ImapSettings,
        muaa_id: str,
        on_messages: Callable[[], None],
        on_gone: Callable[[], None],
        poll_every: Callable[[bool], float | None],
        poll_interval: float,
        name: str,
        on_token_refused: Callable[[], None] | None = None,
        on_connected: Callable[[bool], None] | None = None,
    ) -> None:
        self._settings = settings
        self._muaa_id = muaa_id
        self._folder = muaa_id  # the full name comes with the namespace, once connected
        self._on_messages = on_messages
        self._on_gone = on_gone
        self._on_token_refused = on_token_refused
        #: Given whether the server IDLEs: seconds between NOOPs, or None for IDLE
        #: (or, without IDLE, a sync every ``poll_interval``).
        self._poll_every = poll_every
        #: Called after each successful EXAMINE: True when a failure came before it.
        self._on_connected = on_connected
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        #: ``wake()``: the policy may have changed. Every wait of the thread selects on
        #: this socket pair's read end (an IDLE wait together with the connection).
        self._wake_read, self._wake_write = socket.socketpair()
        for end in (self._wake_read, self._wake_write):
            end.setblocking(False)
        #: A send racing the close could land on a descriptor number already reused.
        self._wake_lock = threading.Lock()
        self._mailbox: Mailbox | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wake(self) -> None:
        """Look at the polling policy now, not at the end of the current wait: the
        add-on's page just opened, or a pairing started. Any thread may call it."""
        with self._wake_lock:
            try:
                self._wake_write.send(b"\0")
            except OSError:  # full (a wake-up is pending anyway) or closed (stopped)
                pass

    def _close_wake(self) -> None:
        with self._wake_lock:
            self._wake_read.close()
            self._wake_write.close()

    def _nap(self, seconds: float) -> None:
        """Wait ``seconds``, or less when woken."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_read, selectors.EVENT_READ)
            selector.select(seconds)
        self._drain_wakes()

    def _drain_wakes(self) -> None:
        try:
            while self._wake_read.recv(64):
                pass
        except OSError:  # nothing left (BlockingIOError), or closed
            pass

    def stop(self) -> None:
        """Ask the thread to end; shutting the socket down wakes it from a blocking read
        (a plain close would not: imaplib holds a file object on it)."""
        self._stop.set()
        self.wake()
        if self._thread.ident is None:  # never started: nothing else closes them
            self._close_wake()
        mailbox = self._mailbox
        if mailbox is not None:
            try:
                mailbox.socket().shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        try:
            self._connect_and_watch()
        finally:
            self._close_wake()

    def _connect_and_watch(self) -> None:
        backoff = 1.0
        lost = False
        while not self._stop.is_set():
            try:
                # The read timeout bounds each command's answer only (IDLE waits in ticks):
                # the default stall bound, not the IDLE renewal, is the right margin.
                self._mailbox = Mailbox.connect(self._settings)
                _keep_alive(self._mailbox.socket())
                self._folder = self._mailbox.namespace.inbox_folder(self._muaa_id)
                if not self._mailbox.folder_exists(self._folder):
                    self._on_gone()
                    return
                state = self._mailbox.select(self._folder, readonly=True)
                backoff = 1.0
                if self._on_connected is not None:
                    self._on_connected(lost)
                lost = False
                if state.exists:
                    self._on_messages()
                self._watch(self._mailbox)
                return  # stopped, or the inbox is gone (on_gone was called)
            except TokenRefused:
                if self._stop.is_set():
                    break
                log.info("watcher for %s: the access token was refused; stopped", self._folder)
                if self._on_token_refused is not None:
                    self._on_token_refused()
                return
            except MailboxError as exc:
                if self._stop.is_set():
                    break
                log.info(
                    "watcher for %s: %s; retrying in %.0f s", self._folder, exc.reason, backoff
                )
                lost = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except Exception:
                # Not a network failure: a bug, or a reply nobody expected. Push must not
                # die silently for that: logged, and tried again like a dropped connection.
                if self._stop.is_set():
                    break
                log.exception("watcher for %s failed; retrying in %.0f s", self._folder, backoff)
                lost = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            finally:
                if self._mailbox is not None:
                    self._mailbox.close()
                    self._mailbox = None

    def _watch(self, mailbox: Mailbox) -> None:
        idle = "IDLE" in mailbox.capabilities
        sync_at = time.monotonic() + IDLE_RENEW_S
        list_at = time.monotonic() + IDLE_CHECK_S
        while not self._stop.is_set():
            interval = self._poll_every(idle)
            if interval is not None:
                if _has_messages(mailbox.poll()):
                    self._on_messages()
                if time.monotonic() > list_at:
                    # As IDLE's renewal does: minutes of NOOPs (an open page) must not hide
                    # an inbox deleted under us without a BYE.
                    list_at = time.monotonic() + IDLE_CHECK_S
                    if not mailbox.folder_exists(self._folder):
                        self._on_gone()
                        return
                self._nap(interval)
                continue
            if not idle:
                # No push from this server: the scheduled sync's STATUS is the poll.
                self._on_messages()
                self._wait_for_policy(idle, self._poll_interval)
                continue
            # Drain what the server holds for us first: an untagged response that arrives
            # just before IDLE's continuation makes imapclient read the "+ idling" line into
            # its buffer, where no later poll of the socket sees it (pushes then stall).
            if _has_messages(mailbox.poll()):
                self._on_messages()
            mailbox.idle_start()
            check_at = time.monotonic() + IDLE_CHECK_S
            try:
                while not self._stop.is_set() and self._poll_every(idle) is None:
                    if _has_messages(mailbox.idle_wait(IDLE_TICK_S, self._wake_read)):
                        self._on_messages()
                    self._drain_wakes()
                    if time.monotonic() > check_at:
                        break
            finally:
                if not self._stop.is_set() and _has_messages(mailbox.idle_stop()):
                    self._on_messages()
            if self._stop.is_set():
                return
            if self._poll_every(idle) is not None:
                # Switching to NOOPs: a message that came in meanwhile would show no new
                # EXISTS to the NOOPs that follow.
                self._on_messages()
            elif not mailbox.folder_exists(self._folder):
                self._on_gone()  # deleted under us without a BYE
                return
            elif time.monotonic() > sync_at:
                sync_at = time.monotonic() + IDLE_RENEW_S
                self._on_messages()

    def _wait_for_policy(self, idle: bool, seconds: float) -> None:
        """Wait ``seconds``, or less once the policy asks for NOOP polling."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and self._poll_every(idle) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._nap(min(left, IDLE_TICK_S))


def _keep_alive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, option):  # Linux, and recent macOS and Windows
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _has_messages(responses: list[tuple[Any, ...]]) -> bool:
    """True when an untagged ``n EXISTS`` with n > 0 is among ``responses``."""
    return any(
        len(r) >= 2 and r[1] == b"EXISTS" and isinstance(r[0], int) and r[0] > 0 for r in responses
    )
