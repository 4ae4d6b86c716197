"""``devtools.imap_proxy`` between raw IMAP clients and a real Dovecot (plain port).

Counting must be exact (literals skipped, DONE not a command), holds must let the server
apply a command whose reply the client never gets, and nothing may leak.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

import pytest
from imapclient import IMAPClient

from devtools.dovecot import DovecotServer, ImapUser
from devtools.imap_proxy import ImapProxy, _command_name, _Scanner
from tests.conftest import Account

TIMEOUT = 30.0  # client socket timeout: far above anything a passing test waits for
WAIT = 10.0  # generous bound for events that come within milliseconds
_ids = itertools.count(1)


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[ImapProxy]:
    with ImapProxy(dovecot.host, dovecot.port) as p:
        yield p


@contextmanager
def connected(proxy: ImapProxy, user: ImapUser | None = None) -> Iterator[IMAPClient]:
    """An imapclient connection through the proxy (plaintext), logged in as ``user``."""
    client = IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=TIMEOUT)
    try:
        if user is not None:
            client.login(user.name, user.password)
        yield client
    finally:
        try:
            client.logout()
        except Exception:
            with suppress(OSError):
                client.shutdown()  # closes the socket in any case


@contextmanager
def direct(server: DovecotServer, user: ImapUser) -> Iterator[IMAPClient]:
    """Bypassing the proxy."""
    with IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT) as client:
        client.login(user.name, user.password)
        yield client


def message(body_lines: list[bytes], size: int = 0) -> tuple[bytes, bytes]:
    """(Message-ID, raw message) padded to at least ``size`` bytes."""
    msgid = f"<proxy-test-{next(_ids)}@example.org>".encode()
    head = b"From: a@example.org\r\nSubject: proxy test\r\nMessage-ID: " + msgid + b"\r\n\r\n"
    body = b"".join(line + b"\r\n" for line in body_lines)
    pad = b""
    while len(head) + len(body) + len(pad) < size:
        pad += b"x" * 70 + b"\r\n"
    return msgid, head + body + pad + b"-- the end\r\n"


# Lines that would be commands (or literal announcements) if the proxy parsed literal data.
TRAPS = [
    b"a1 NOOP",
    b"a2 UID FETCH 1:* (FLAGS)",
    b"a3 LOGIN {5}",
    b"a4 APPEND INBOX {12+}",
    b"DONE",
    b"{3}",
    b"* SELECT INBOX",
]


def stored(client: IMAPClient, msgid: bytes) -> list[bytes]:
    """Raw messages in INBOX whose Message-ID is ``msgid``."""
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["HEADER", "Message-ID", msgid.decode()])
    if not uids:
        return []
    return [bytes(d[b"BODY[]"]) for d in client.fetch(uids, [b"BODY.PEEK[]"]).values()]


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("imap-proxy-")]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def run_in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def assert_dropped(errors: list[BaseException]) -> None:
    """The call failed because the connection went away, not by its socket timeout."""
    assert len(errors) == 1, errors
    assert isinstance(errors[0], IMAPClient.AbortError | OSError), repr(errors[0])
    assert not isinstance(errors[0], TimeoutError), repr(errors[0])


class RawClient:
    """A bare socket speaking IMAP, for literal forms imaplib never sends."""

    def __init__(self, proxy: ImapProxy) -> None:
        self.sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        assert self.file.readline().startswith(b"* OK")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        line = self.file.readline()
        assert line.endswith(b"\r\n"), line
        return line

    def tagged(self, tag: bytes) -> bytes:
        """The tagged reply to ``tag`` (untagged responses before it are skipped)."""
        while not (line := self.line()).startswith(tag + b" "):
            pass
        return line

    def close(self) -> None:
        self.file.close()
        self.sock.close()


# --------------------------------------------------------------- exact counting


def test_session_is_logged_exactly(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user):
        pass
    assert proxy.commands() == ["CAPABILITY", "LOGIN", "LOGOUT"]
    assert proxy.connections() == 1


def test_noops_count_exactly(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user) as client:
        proxy.reset()
        for _ in range(5):
            client.noop()
        assert proxy.commands() == ["NOOP"] * 5
        proxy.reset()
        assert proxy.commands() == []
        client.noop()
        assert proxy.commands() == ["NOOP"]


def test_append_of_100_kb_is_one_command(
    proxy: ImapProxy, account: Account, dovecot: DovecotServer
) -> None:
    msgid, raw = message(TRAPS * 50, size=100 * 1024)
    assert len(raw) >= 100 * 1024
    with connected(proxy, account.user) as client:
        proxy.reset()
        client.append("INBOX", raw)
        assert proxy.commands() == ["APPEND"]
        client.append(
            "INBOX", raw, flags=[b"\\Seen"], msg_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        )
        client.noop()  # the parser is back in step after the literals
        assert proxy.commands() == ["APPEND", "APPEND", "NOOP"]
    with direct(dovecot, account.user) as check:
        assert stored(check, msgid) == [raw, raw]


def test_select_fetch_idle(proxy: ImapProxy, account: Account) -> None:
    msgid, raw = message(TRAPS)
    with connected(proxy, account.user) as client:
        client.append("INBOX", raw)
        proxy.reset()
        client.select_folder("INBOX")
        fetched = client.fetch(
            [1], [b"BODY.PEEK[]", b"FLAGS"]
        )  # a fresh user: UID 1; literals in the reply
        assert [bytes(d[b"BODY[]"]) for d in fetched.values()] == [raw]
        client.idle()
        client.idle_done()
        client.noop()
        client.unselect_folder()
        client.folder_status("INBOX", [b"MESSAGES"])
        client.select_folder("INBOX", readonly=True)
        client.list_folders()
        client.create_folder("Sub")
        client.namespace()
        client.add_flags(list(fetched), [b"\\Flagged"])
        client.search(["ALL"])
        assert proxy.commands() == [
            "SELECT",
            "UID FETCH",
            "CAPABILITY",  # imapclient checks for IDLE support first
            "IDLE",  # and DONE is no command
            "NOOP",
            "UNSELECT",
            "STATUS",
            "EXAMINE",
            "LIST",
            "CREATE",
            "NAMESPACE",
            "UID STORE",
            "UID SEARCH",
        ]


def test_literal_plus_and_multiple_literals(
    proxy: ImapProxy, account: Account, dovecot: DovecotServer
) -> None:
    """LOGIN with two non-synchronizing literals, then a MULTIAPPEND of two messages with
    flags and dates, pipelined in one write: three commands."""
    user, password = account.user.name.encode(), account.user.password.encode()
    id1, raw1 = message(TRAPS)
    id2, raw2 = message([b"b1 NOOP {%d+}" % len(raw1), *TRAPS])
    date = b'"02-Jan-2024 03:04:05 +0000"'
    raw = RawClient(proxy)
    try:
        raw.send(
            b"a LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(user), user, len(password), password)
            + b"b APPEND INBOX (\\Seen) %s {%d+}\r\n%s" % (date, len(raw1), raw1)
            + b" (\\Flagged) {%d+}\r\n%s\r\n" % (len(raw2), raw2)
            + b"c NOOP\r\n"
        )
        assert raw.tagged(b"a").startswith(b"a OK")
        assert raw.tagged(b"b").startswith(b"b OK")
        assert raw.tagged(b"c").startswith(b"c OK")
        assert proxy.commands() == ["LOGIN", "APPEND", "NOOP"]
    finally:
        raw.close()
    with direct(dovecot, account.user) as check:
        assert stored(check, id1) == [raw1]
        assert stored(check, id2) == [raw2]


def test_synchronizing_literals(proxy: ImapProxy, account: Account) -> None:
    """LOGIN with ``{n}`` literals: the client waits for each ``+`` from the server."""
    user, password = account.user.name.encode(), account.user.password.encode()
    raw = RawClient(proxy)
    try:
        raw.send(b"a login {%d}\r\n" % len(user))
        assert raw.line().startswith(b"+")
        raw.send(user + b" {%d}\r\n" % len(password))
        assert raw.line().startswith(b"+")
        raw.send(password + b"\r\n")
        assert raw.tagged(b"a").startswith(b"a OK")
        raw.send(b"b uid search ALL\r\nc Noop\r\n")
        assert raw.tagged(b"c").startswith(b"c OK")
        assert proxy.commands() == ["LOGIN", "UID SEARCH", "NOOP"]
    finally:
        raw.close()


# Literal data that is complete lines, commands, and literal announcements.
LITERAL = b"x\r\na9 NOOP\r\nDONE\r\n{1}\r\nX\r\na10 IDLE {3+}\r\n"
APPEND_LINE = b"a3 APPEND INBOX (\\Seen) {%d+}\r\n%s {0}\r\n\r\n" % (len(LITERAL), LITERAL)
TRANSCRIPT = b"".join(
    [
        b"a1 CAPABILITY\r\n",
        b"a2 LOGIN {5+}\r\nalice {8}\r\nalice-pw\r\n",
        APPEND_LINE,
        b"a4 IDLE\r\nDONE\r\n",
        b"a5 uid fetch 1:* (FLAGS)\r\n",
        b"a6 AUTHENTICATE PLAIN\r\nAGFsaWNlAGFsaWNlLXB3\r\n",
        b"a7 LOGOUT\r\n",
    ]
)
TRANSCRIPT_COMMANDS = [
    "CAPABILITY",
    "LOGIN",
    "APPEND",
    "IDLE",
    "UID FETCH",
    "AUTHENTICATE",
    "LOGOUT",
]


def scanned(chunks: list[bytes]) -> list[str]:
    scanner = _Scanner()
    names = []
    for chunk in chunks:
        for done, first in scanner.feed(chunk):
            name = _command_name(first)
            if not done and name is not None:
                names.append(name)
    return names


def test_parser_is_indifferent_to_chunking() -> None:
    assert scanned([TRANSCRIPT]) == TRANSCRIPT_COMMANDS
    assert scanned([bytes([b]) for b in TRANSCRIPT]) == TRANSCRIPT_COMMANDS
    for cut in range(len(TRANSCRIPT) + 1):
        assert scanned([TRANSCRIPT[:cut], TRANSCRIPT[cut:]]) == TRANSCRIPT_COMMANDS, cut


def test_wait_for(proxy: ImapProxy, account: Account) -> None:
    go = threading.Event()
    with connected(proxy, account.user) as client:
        proxy.reset()

        def later() -> None:
            assert go.wait(WAIT)
            for _ in range(3):
                client.noop()

        thread, errors = run_in_thread(later)
        go.set()
        assert proxy.wait_for(lambda c: c.count("NOOP") == 3, WAIT)
        thread.join(WAIT)
        assert errors == []
        start = time.monotonic()
        assert not proxy.wait_for(lambda c: "EXPUNGE" in c, 0.05)
        assert time.monotonic() - start < WAIT


# ------------------------------------------------------------------- faults


def test_held_append_is_stored_but_never_acknowledged(
    proxy: ImapProxy, account: Account, dovecot: DovecotServer
) -> None:
    msgid, raw = message(TRAPS, size=100 * 1024)
    with connected(proxy, account.user) as bystander, connected(proxy, account.user) as client:
        client.select_folder("INBOX")
        proxy.reset()
        held = proxy.hold_response_to("APPEND")
        thread, errors = run_in_thread(lambda: client.append("INBOX", raw))
        assert held.wait(WAIT)
        assert held.replied.wait(WAIT)  # the server has answered: the message is stored...
        assert thread.is_alive()  # ...but the client has not heard of it
        assert held.tag is not None

        started = time.monotonic()
        proxy.cut_held()
        thread.join(WAIT)
        assert not thread.is_alive()
        assert time.monotonic() - started < WAIT
        assert_dropped(errors)
        assert proxy.commands() == ["APPEND"]

        bystander.noop()  # other connections are untouched
    with connected(proxy, account.user) as fresh:
        assert stored(fresh, msgid) == [raw]


def test_hold_nth_counts_from_arming(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user) as client:
        client.noop()
        client.noop()
        held = proxy.hold_response_to("noop", nth=2)
        client.noop()  # the first NOOP since arming goes through
        assert not held.is_set()
        thread, errors = run_in_thread(client.noop)
        assert held.wait(WAIT)
        assert held.replied.wait(WAIT)
        assert thread.is_alive()
        proxy.cut_held()
        thread.join(WAIT)
        assert_dropped(errors)
    with connected(proxy, account.user) as client:
        client.noop()  # fired holds are gone


def test_held_idle_gets_no_continuation(proxy: ImapProxy, account: Account) -> None:
    """A hold on IDLE also holds the server's ``+ idling``: the client waits for it."""
    with connected(proxy, account.user) as client:
        client.select_folder("INBOX")
        held = proxy.hold_response_to("IDLE")
        thread, errors = run_in_thread(client.idle)
        assert held.wait(WAIT)
        assert thread.is_alive()
        assert not held.replied.is_set()
        proxy.cut_held()
        thread.join(WAIT)
        assert_dropped(errors)


def test_cut_all_breaks_every_connection(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user) as one, connected(proxy, account.user) as two:
        two.select_folder("INBOX")
        proxy.cut_all()
        for client in (one, two):
            started = time.monotonic()
            thread, errors = run_in_thread(client.noop)
            thread.join(WAIT)
            assert not thread.is_alive()
            assert time.monotonic() - started < WAIT
            assert_dropped(errors)
        with connected(proxy, account.user) as three:
            three.noop()
        assert proxy.connections() == 3


def test_unreachable_upstream_closes_the_client() -> None:
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        with ImapProxy("127.0.0.1", closed_port.getsockname()[1]) as proxy:
            with pytest.raises((IMAPClient.AbortError, OSError)):
                IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=TIMEOUT)
            assert proxy.connections() == 1
            assert proxy.commands() == []


def test_stop_closes_and_joins_everything(dovecot: DovecotServer, account: Account) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = open_fds()
    proxy = ImapProxy(dovecot.host, dovecot.port)
    proxy.start()
    with connected(proxy, account.user) as client:
        client.noop()
        with connected(proxy, account.user) as other:
            other.select_folder("INBOX")
        held = proxy.hold_response_to("NOOP")
        thread, errors = run_in_thread(client.noop)
        assert held.wait(WAIT)
        assert len(proxy_threads()) >= 3  # accept + two for the open connection

        proxy.stop()
        thread.join(WAIT)
        assert_dropped(errors)  # stop() drops connections still open
        assert proxy_threads() == []
        proxy.stop()  # idempotent
    assert {t.ident for t in threading.enumerate()} <= threads_before
    assert open_fds() == fds_before
    with pytest.raises(OSError):
        socket.create_connection((proxy.host, proxy.port), timeout=WAIT).close()
    with pytest.raises(RuntimeError):
        proxy.start()
