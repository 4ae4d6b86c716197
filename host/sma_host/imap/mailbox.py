"""A logged-in IMAP connection with exactly the operations the SMA needs."""

from __future__ import annotations

import logging
import re
import selectors
import socket
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from socket import socket as Socket  # the class: `socket` is a method name below
from typing import Any

from imapclient import IMAPClient
from imapclient.util import to_unicode

from ..config import CONFIG
from ..errors import ConnectionFailed, MailboxError
from ..protocol.folders import Namespace
from ..protocol.uidset import uid_set
from . import gmail
from .errors import leaves_connection_usable, map_imap_errors
from .fetch import (
    MAX_HEADER_BLOCK,
    FetchedMessages,
    HeaderBatch,
    InboxScan,
    fetch_bodies,
    fetch_headers,
    fetch_sizes,
)
from .fetch import InboxMessage as InboxMessage  # service/mail_scan.py imports it from here
from .literals import LiteralGuard
from .login import ImapSettings as ImapSettings  # imported from here by the service
from .login import close_quietly, log_in
from .login import is_loopback as is_loopback

log = logging.getLogger(__name__)

#: No answer for this long while one is owed: the server stalled or the network dropped
#: the connection silently. Raised as ``connection_failed`` and recovered from like a reset.
READ_TIMEOUT = CONFIG.stall_s
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
#: imapclient raises ``<command> failed: [CODE args] text`` for a tagged NO.
_RESPONSE_CODE = re.compile(r"failed: \[([A-Za-z0-9-]+)[\] ]")


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int
    exists: int
    highestmodseq: int | None


class Mailbox:
    """One logged-in connection. Every method raises only ``MailboxError`` subclasses."""

    def __init__(self, client: IMAPClient, settings: ImapSettings) -> None:
        self._client = client
        self._secret = settings.secret
        self._early_empty_idles = 0
        #: The selected folder and whether read-only (``select``).
        self._selected: tuple[str, bool] | None = None
        #: Gmail's ``\\Trash`` folder, looked up once (``""``: there is none).
        self._trash: str | None = None
        self._guard = LiteralGuard(client._imap)
        #: An error that can mean a dead or out-of-step connection happened: never reuse it.
        self.broken = False
        #: ``time.monotonic()`` of the last answer the server gave on this connection.
        self.last_io = time.monotonic()
        self.capabilities = [to_unicode(c) for c in client.capabilities()]
        self.namespace = self._read_namespace()

    @classmethod
    def connect(cls, settings: ImapSettings, read_timeout: float = READ_TIMEOUT) -> Mailbox:
        client = log_in(settings, read_timeout)
        try:
            with map_imap_errors("reading capabilities", settings.secret):
                return cls(client, settings)
        except BaseException:
            close_quietly(client)
            raise

    def _read_namespace(self) -> Namespace:
        client = self._client
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            if personal:
                prefix, delim = personal[0]
                return Namespace(to_unicode(prefix or ""), to_unicode(delim) if delim else None)
        # Without NAMESPACE: no prefix; the delimiter from LIST "" "".
        root_delimiter: str | None = None
        for _flags, root_delim, _name in client.list_folders("", ""):
            root_delimiter = to_unicode(root_delim) if root_delim else None
        return Namespace("", root_delimiter)

    @contextmanager
    def _io(self, action: str) -> Iterator[None]:
        """``map_imap_errors`` on this session, keeping ``broken`` and ``last_io`` true."""
        try:
            with map_imap_errors(action, self._secret, established=True):
                yield
        except MailboxError as exc:
            if leaves_connection_usable(exc):
                self.last_io = time.monotonic()
            else:
                self.broken = True
            raise
        self.last_io = time.monotonic()

    def close(self) -> None:
        close_quietly(self._client)

    def socket(self) -> socket.socket:
        sock: socket.socket = self._client.socket()
        return sock

    def noop(self) -> None:
        with self._io("NOOP"):
            self._client.noop()

    def create_folder(self, name: str) -> bool:
        """Create ``name`` unless it exists. True when this call created it.

        A refusal is settled by its response code (RFC 5530 ``[ALREADYEXISTS]``) or else
        by LISTing the name: servers word it differently (Cyrus "Mailbox already exists",
        Courier "Cannot create this folder."), so the text decides nothing.
        """
        with self._io(f"creating {name}"):
            try:
                self._client.create_folder(name)
            except IMAPClient.AbortError:
                raise
            except IMAPClient.Error as exc:
                if _response_code(exc) == "ALREADYEXISTS" or self._listed(name):
                    return False
                raise
        return True

    def folder_exists(self, name: str) -> bool:
        with self._io(f"looking up {name}"):
            return self._listed(name)

    def delete_folder(self, name: str) -> bool:
        """Delete ``name``; False when it was already gone (``[NONEXISTENT]``, or a
        refusal after which LIST does not show it)."""
        with self._io(f"deleting {name}"):
            try:
                self._client.delete_folder(name)
            except IMAPClient.AbortError:
                raise
            except IMAPClient.Error as exc:
                if _response_code(exc) == "NONEXISTENT" or not self._listed(name):
                    return False
                raise
        return True

    def _listed(self, name: str) -> bool:
        """``LIST "" name`` shows ``name`` as a mailbox (``\\NonExistent`` marks a mere
        parent of others, RFC 5258)."""
        return any(
            b"\\NONEXISTENT" not in {bytes(f).upper() for f in flags}
            for flags, _delim, _listed in self._client.list_folders("", name)
        )

    def append(self, folder: str, message: bytes) -> int | None:
        """APPEND; returns the new UID when the server says it (UIDPLUS)."""
        with self._io(f"appending to {folder}"):
            response = self._client.append(folder, message, flags=())
        match = _APPENDUID.search(response if isinstance(response, bytes) else b"")
        return int(match.group(2)) if match else None

    def select(self, folder: str, readonly: bool = False) -> FolderState:
        with self._io(f"selecting {folder}"):
            info: dict[bytes, Any] = self._client.select_folder(folder, readonly=readonly)
        self._selected = (folder, readonly)
        return FolderState(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
            highestmodseq=int(info[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in info else None,
        )

    def fetch_all(
        self,
        max_size: int,
        since_uid: int = 1,
        budget: int = 64 << 20,
        skip: Collection[int] = (),
    ) -> FetchedMessages:
        """Messages of the selected folder from ``since_uid`` on: the bodies of those up to
        ``max_size`` bytes, at most ``budget`` bytes in all (``more`` says some were left).

        Two round trips whatever the count: sizes over the UID range, then bodies over a
        compact UID set. The sizes only plan the batch: bodies are fetched as partial
        ranges of ``max_size + 1`` bytes, and what arrives is counted (``LiteralGuard``),
        so a server that understates sizes delivers no more than the limits; a body that
        turns out longer than ``max_size`` is oversize, like one announced so.
        """
        with self._io("fetching messages"):
            sizes = fetch_sizes(self._client, since_uid)
            wanted: list[int] = []
            oversize: list[int] = []
            skipped: list[int] = []
            used, more = 0, False
            for uid in sorted(u for u in sizes if u >= since_uid):
                size = sizes[uid]
                if uid in skip:  # the caller has it already: UIDs never change content
                    skipped.append(uid)
                elif size > max_size:
                    oversize.append(uid)
                elif used + size > budget and wanted:
                    more = True
                    break
                else:
                    wanted.append(uid)
                    used += size
            del sizes  # freed before the bodies arrive, not beside them
            cap = max_size + 1
            with self._guard.limit(each=cap, total=budget + cap):
                bodies = fetch_bodies(self._client, wanted, cap) if wanted else {}
        messages: list[tuple[int, bytes]] = []
        for uid in wanted:
            body = bodies.pop(uid, None)
            if body is None:
                continue
            if len(body) > max_size:  # the size it claimed was a lie
                oversize.append(uid)
            else:
                messages.append((uid, body))
        return FetchedMessages(messages, sorted(oversize), more, skipped)

    def scan_inbox(
        self,
        after_uid: int = 0,
        uidvalidity: int | None = None,
        since: date | None = None,
        budget: int = 64 << 20,
    ) -> InboxScan:
        """The header fields Autocrypt reads of INBOX messages newer than ``after_uid``
        (when ``uidvalidity`` still holds), else of those received ``since`` (or all).

        INBOX is EXAMINEd (read-only: no flag changes, ``\\Seen`` stays as it was). Then
        at most one UID SEARCH, and one UID FETCH per batch of up to ``budget`` bytes (each
        message counted at ``MAX_HEADER_BLOCK``, so memory stays bounded whatever the
        server sends). An incremental scan that fits one batch needs no SEARCH: EXAMINE
        and one FETCH over the UID range.
        """
        with self._io("reading INBOX"):
            state = self.select("INBOX", readonly=True)
            restarted = after_uid <= 0 or uidvalidity != state.uidvalidity
            first = 1 if restarted else after_uid + 1
            per_batch = max(1, budget // MAX_HEADER_BLOCK)
            end_uid = state.uidnext - 1 if state.uidnext > 0 else 0
            uids: list[int] | None = None  # None: the whole range first:*, in one FETCH
            if restarted and since is not None:
                uids = sorted(self._client.search(["SINCE", since]))
            elif state.uidnext <= 0 or state.uidnext - first > per_batch:
                uids = sorted(u for u in self._client.search(["UID", f"{first}:*"]) if u >= first)
            elif state.uidnext <= first:
                uids = []  # nothing arrived since ``after_uid``
        end_uid = max(end_uid, uids[-1] if uids else 0, 0 if restarted else after_uid)
        return InboxScan(
            state.uidvalidity, restarted, end_uid, self._header_batches(first, uids, per_batch)
        )

    def _header_batches(
        self, first: int, uids: list[int] | None, per_batch: int
    ) -> Iterator[HeaderBatch]:
        if uids is None:
            # UIDNEXT said the range holds at most one batch (plus what arrives meanwhile).
            chunks: Iterator[tuple[str, int]] = iter([(f"{first}:*", first)])
        else:
            chunks = (
                (uid_set(uids[i : i + per_batch]), uids[i]) for i in range(0, len(uids), per_batch)
            )
        for wanted, lowest in chunks:
            with self._io("reading INBOX headers"):
                messages = fetch_headers(self._client, wanted, lowest)
            if messages:
                yield HeaderBatch(messages, messages[-1].uid)

    def delete_messages(self, uids: Iterable[int]) -> None:
        """Flag ``uids`` deleted and expunge exactly those (UID EXPUNGE when available);
        on Gmail (``X-GM-EXT-1``) through its ``\\Trash`` folder (``imap/gmail.py``).

        One STORE and one EXPUNGE whatever the count: the UIDs go as a compact set.
        """
        wanted = set(uids)
        if not wanted:
            return
        uids_text = uid_set(wanted)
        with self._io("deleting messages"):
            if "X-GM-EXT-1" in self.capabilities and self._selected is not None:
                if self._trash is None:
                    self._trash = gmail.find_trash(self._client) or ""
                if self._trash and self._selected[0] != self._trash:
                    gmail.discard_via_trash(self._client, uids_text, *self._selected, self._trash)
                    return
            self._client.delete_messages(uids_text, silent=True)
            if self._client.has_capability("UIDPLUS"):
                self._client.uid_expunge(uids_text)
            else:
                self._client.expunge()
            # imaplib would keep the ``* n EXPUNGE`` lines (one per message) until the
            # next SELECT; nothing reads them.
            self._client._imap.untagged_responses.pop("EXPUNGE", None)

    def status(self, folder: str) -> tuple[int, int]:
        """(MESSAGES, UIDNEXT) of a folder without selecting it: one round trip."""
        with self._io(f"checking {folder}"):
            info = self._client.folder_status(folder, ["MESSAGES", "UIDNEXT"])
        return int(info.get(b"MESSAGES", 0)), int(info.get(b"UIDNEXT", 0))

    def idle_start(self) -> None:
        with self._io("starting IDLE"):
            self._client.idle()

    def idle_wait(self, timeout: float, wake: Socket | None = None) -> list[tuple[Any, ...]]:
        """Untagged responses that arrived within ``timeout`` seconds while idling, or
        nothing as soon as ``wake`` is readable (the caller drains it).

        A ``BYE`` ends the connection (Dovecot sends one when the selected folder is
        deleted under us): raised as ``ConnectionFailed``, since imapclient swallows the
        EOF that follows and would return nothing, at once, on every later call.
        """
        started = time.monotonic()
        with self._io("idling"):
            wait = timeout
            if wake is not None:
                with selectors.DefaultSelector() as selector:  # not select(): fds ≥ 1024
                    selector.register(self.socket(), selectors.EVENT_READ, "connection")
                    selector.register(wake, selectors.EVENT_READ, "wake")
                    ready = {key.data for key, _events in selector.select(timeout)}
                if ready == {"wake"}:
                    return []  # woken early: no sign of a dead connection
                wait = 0  # something to read, or the timeout passed
            responses: list[tuple[Any, ...]] = self._client.idle_check(timeout=wait)
        for response in responses:
            if response and response[0] == b"BYE":
                words = b" ".join(r for r in response[1:] if isinstance(r, bytes))
                text = words.decode("utf-8", "replace")
                self.broken = True
                raise ConnectionFailed(f"the server ended the connection while idling: {text}")
        # A socket closed without BYE reads as "readable, but no line" at once, forever:
        # several empty answers well before the timeout mean the connection is gone.
        if responses or time.monotonic() - started >= timeout / 2:
            self._early_empty_idles = 0
        else:
            self._early_empty_idles += 1
            if self._early_empty_idles >= 3:
                self.broken = True
                raise ConnectionFailed("the server closed the connection while idling")
        return responses

    def idle_stop(self) -> list[tuple[Any, ...]]:
        """End IDLE; returns the untagged responses that came in meanwhile."""
        with self._io("ending IDLE"):
            _text, responses = self._client.idle_done()
        return list(responses)

    def poll(self) -> list[tuple[Any, ...]]:
        """NOOP; the untagged responses it brought (new EXISTS counts among them)."""
        with self._io("NOOP"):
            _text, responses = self._client.noop()
        return list(responses)

    def unselect(self) -> None:
        with self._io("closing the folder"):
            if self._client.has_capability("UNSELECT"):
                self._client.unselect_folder()
            else:
                self._client.close_folder()


def _response_code(exc: BaseException) -> str | None:
    """The RFC 3501 response code (``[CODE ...]``) at the start of a tagged NO's text."""
    match = _RESPONSE_CODE.search(str(exc))
    return match.group(1).upper() if match else None
