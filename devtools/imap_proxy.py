"""A counting TCP proxy for plaintext IMAP on 127.0.0.1, for tests and the benchmark.

Put it between a client and a server's plain IMAP port (for the host: ``"security":
"none"`` with ``"host": proxy.host, "port": proxy.port``) and it forwards both directions
unchanged while logging the name of every client command, across all connections::

    with ImapProxy(server.host, server.port) as proxy:
        client = IMAPClient(proxy.host, port=proxy.port, ssl=False)
        client.login("alice", "alice-pw")
        proxy.reset()
        client.noop()
        assert proxy.commands() == ["NOOP"]

Names are the second token of a command line, upper-cased, plus the third after ``UID``
(``"UID FETCH"``). A command is logged as soon as its first line has arrived, before it
is forwarded, so whatever the client learnt from the server is already in the log.
Literal data (``{n}`` / ``{n+}`` at the end of a line, any number per command) is
skipped, so nothing in an APPENDed message is ever taken for a command. Lines with fewer
than two tokens are no commands: ``DONE`` ending IDLE, AUTHENTICATE responses. After
STARTTLS or COMPRESS the connection is no longer parsed (its stream becomes binary).

Faults: hold_response_to() stops delivering the server's replies on the connection that
sent a chosen command (the server did get and process it), cut_held() then drops that
connection on both sides, so "the server applied it but the client never learnt". And
cut_all() drops every connection, like a network failure.

cut_at() cuts the connection by itself when the server's reply to the k-th command (of
a name, or of any name) arrives, before or after delivering that reply: the campaign's
"a cut at every command boundary". stall_all() silences every current connection (a server
gone quiet), and ``slow_s`` delivers the server's bytes one at a time that many seconds
apart (a slow link). ``strip_starttls`` removes STARTTLS from the server's capabilities
(a downgrade attack).

When either side closes, the proxy closes both (no half-close).
Each connection has two daemon threads (client → server, server → client) forwarding
with recv/sendall, with TCP_NODELAY on both sockets. stop() closes everything and joins
every thread (bounded).
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from .imap_stream import Scanner as _Scanner  # noqa: F401 (tests read it here)
from .imap_stream import command_name as _command_name
from .imap_stream import nodelay as _nodelay
from .imap_stream import tag_of as _tag
from .proxy_connection import JOIN_TIMEOUT as _JOIN_TIMEOUT
from .proxy_connection import MODES, HeldCommand
from .proxy_connection import Connection as _Connection

__all__ = ["HeldCommand", "ImapProxy"]

_OPAQUE_AFTER = frozenset({"STARTTLS", "COMPRESS"})


class ImapProxy:
    """A counting TCP proxy for plaintext IMAP on 127.0.0.1, for tests and the benchmark."""

    host: str = "127.0.0.1"

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self._cond = threading.Condition()
        self._commands: list[str] = []
        self._accepted = 0
        self._conns: set[_Connection] = set()
        self._armed: list[HeldCommand] = []
        #: Seconds between the bytes the server sends (0: at once).
        self.slow_s = 0.0
        #: Remove ``STARTTLS`` from what the server says before TLS (its capabilities): a
        #: downgrade attack, which a client asked for STARTTLS must refuse.
        self.strip_starttls = False
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = False
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._accept_thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Listen on 127.0.0.1 at a free port (``self.port``) and start accepting."""
        with self._cond:
            if self._started:
                raise RuntimeError("ImapProxy already started (it cannot be restarted)")
            self._started = True
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.host, 0))
            listener.listen(64)
            listener.setblocking(False)
            wake = socket.socketpair()
            selector = selectors.DefaultSelector()
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake[0], selectors.EVENT_READ)
        except BaseException:
            listener.close()
            raise
        self._listener, self._wake, self._selector = listener, wake, selector
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"imap-proxy-{self.port}-accept", daemon=True
        )
        self._accept_thread.start()

    def stop(self) -> None:
        """Close the listener and every connection, join all threads (bounded). Idempotent."""
        with self._cond:
            if not self._started or self._stopping:
                return
            self._stopping = True
        deadline = time.monotonic() + _JOIN_TIMEOUT
        if self._wake is not None:
            try:
                self._wake[1].send(b"x")
            except OSError:
                pass  # the accept loop is gone already
        if self._accept_thread is not None:
            self._accept_thread.join(_JOIN_TIMEOUT)
        for closable in (self._selector, self._listener, *(self._wake or ())):
            if closable is not None:
                closable.close()
        with self._cond:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            conn.shutdown(abort=False)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ImapProxy:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- the log

    def commands(self) -> list[str]:
        """Every client command seen so far (since the last reset()), in order."""
        with self._cond:
            return list(self._commands)

    def reset(self) -> None:
        """Clear the command log (connections() and armed holds are kept)."""
        with self._cond:
            self._commands.clear()

    def connections(self) -> int:
        """Client connections accepted so far."""
        with self._cond:
            return self._accepted

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(commands())`` holds; False after ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(list(self._commands)), timeout)

    # ---------------------------------------------------------- fault injection

    def hold_response_to(self, command: str, nth: int = 1) -> HeldCommand:
        """Hold back the server's replies after the nth ``command`` from now on.

        Counted across all connections from this call on. Once that command has been
        forwarded in full (literals included), nothing more the server sends on its
        connection reaches the client, and the returned Event is set; cut_held() then
        closes that connection. Several holds may be armed at once.
        """
        return self._arm(command, nth, "hold")

    def _arm(self, command: str, nth: int, mode: str) -> HeldCommand:
        if nth < 1:
            raise ValueError("nth counts from 1")
        handle = HeldCommand(" ".join(command.upper().split()), nth, mode)
        with self._cond:
            self._armed.append(handle)
        return handle

    def cut_at(self, command: str, nth: int, mode: str) -> HeldCommand:
        """Cut the connection that sends the nth ``command`` from now on (``"*"``: any
        command) when the server's tagged reply to it arrives: ``mode`` ``before_reply``
        drops that reply, ``after_reply`` delivers it first. The server has done the
        command either way. ``replied`` is set once it has happened."""
        if mode not in MODES or mode == "hold":
            raise ValueError(f"cut_at cuts {MODES[1:]}: use hold_response_to to hold")
        return self._arm(command, nth, mode)

    def disarm(self) -> None:
        """Forget every hold and cut armed that has not fired yet."""
        with self._cond:
            self._armed.clear()

    def cut_held(self) -> None:
        """Close every connection whose replies are held, on both sides, without ever
        delivering what was held; returns once they are closed. Holds armed but not yet
        fired stay armed."""
        with self._cond:
            conns = [c for c in self._conns if c.holding]
        self._cut(conns)

    def stall_all(self) -> None:
        """From now on nothing the server sends on the current connections reaches the
        client, and nothing closes them: a server (or a path to it) gone silent. New
        connections work."""
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            with conn.lock:
                conn.holding = True

    def cut_all(self) -> None:
        """Abruptly close every proxied connection (a network drop); new ones still work."""
        with self._cond:
            conns = list(self._conns)
        self._cut(conns)

    # ---------------------------------------------------------------- internals

    def _cut(self, conns: list[_Connection]) -> None:
        for conn in conns:
            conn.shutdown(abort=True)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for conn in conns:
            conn.done.wait(max(0.0, deadline - time.monotonic()))

    def _spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"imap-proxy-{self.port}-{name}", daemon=True)
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _accept_loop(self) -> None:
        assert self._selector is not None and self._listener is not None
        while True:
            for key, _events in self._selector.select():
                if key.fileobj is not self._listener:
                    return  # woken by stop()
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError:
                return
            self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        try:
            sock.setblocking(True)
            _nodelay(sock)
        except OSError:
            sock.close()
            return
        with self._cond:
            if self._stopping:
                sock.close()
                return
            self._accepted += 1
            conn = _Connection(self, sock, self._accepted)
            self._conns.add(conn)
        self._spawn(conn.run, f"c{conn.number}-up")

    def _forget(self, conn: _Connection) -> None:
        with self._cond:
            self._conns.discard(conn)

    def _client_data(self, conn: _Connection, data: bytes) -> list[HeldCommand]:
        """Log the commands in ``data``; arm ``conn``'s hold if one completes there."""
        events = conn.client_scanner.feed(data)
        if not events:
            return []
        fired: list[HeldCommand] = []
        with self._cond:
            logged = False
            for done, first in events:
                name = _command_name(first)
                if name is None:
                    continue
                if not done:
                    self._commands.append(name)
                    logged = True
                    continue
                for handle in [h for h in self._armed if h.command in (name, "*")]:
                    handle._seen += 1
                    if handle._seen == handle.nth:
                        self._armed.remove(handle)
                        handle.tag = _tag(first).decode("ascii", "replace")
                        conn.hold(_tag(first), handle)
                        fired.append(handle)
                if name in _OPAQUE_AFTER:
                    conn.client_scanner.opaque = True
                    conn.server_scanner.opaque = True
            if logged:
                self._cond.notify_all()
        return fired
