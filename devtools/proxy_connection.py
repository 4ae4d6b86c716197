"""One proxied connection of ``devtools.imap_proxy``, and the handle of a fault armed on
a command (hold its reply, or cut the connection before or after the reply)."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

from .imap_stream import Scanner, nodelay, tag_of

if TYPE_CHECKING:
    from .imap_proxy import ImapProxy

BUFSIZE = 256 * 1024
CONNECT_TIMEOUT = 10.0
JOIN_TIMEOUT = 5.0
_STARTTLS = re.compile(rb" STARTTLS(?=[ \]\r])", re.IGNORECASE)
_ABORT_LINGER = struct.pack("ii", 1, 0)  # close() sends RST
#: What a fault does once its command was forwarded: hold back every reply from then on
#: (``hold``), or cut the connection when the command's tagged reply comes, without
#: delivering it (``before_reply``) or right after delivering it (``after_reply``).
MODES = ("hold", "before_reply", "after_reply")


class HeldCommand(threading.Event):
    """What hold_response_to() returns: an Event, set once the chosen command has been
    forwarded to the server; from then on the server's replies on that connection are
    held back from the client.

    ``replied`` is set once the server's tagged reply to the command has reached the
    proxy (and was held): the server has finished the command. ``tag`` is the command's
    tag once it has been seen.
    """

    def __init__(self, command: str, nth: int, mode: str = "hold") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        self.command = command
        self.nth = nth
        self.mode = mode
        self.tag: str | None = None
        self.replied = threading.Event()
        self._seen = 0


class Connection:
    """One proxied client connection; ``run`` (client → server) owns it."""

    def __init__(self, proxy: ImapProxy, client: socket.socket, number: int) -> None:
        self.proxy = proxy
        self.client = client
        self.number = number
        self.upstream: socket.socket | None = None
        self.client_scanner = Scanner()
        self.server_scanner = Scanner()
        self.lock = threading.Lock()  # guards the fields below and the sockets' shutdown/close
        self.closing = False
        self.closed = False
        self.holding = False
        self.awaiting: list[tuple[bytes, HeldCommand]] = []  # held commands' tags
        self.done = threading.Event()

    def hold(self, tag: bytes, handle: HeldCommand) -> None:
        with self.lock:
            if handle.mode != "after_reply":
                self.holding = True
            self.awaiting.append((tag, handle))

    def shutdown(self, *, abort: bool) -> None:
        """Wake both forwarding threads; ``abort`` makes the final close send RST."""
        with self.lock:
            self.closing = True
            if self.closed:
                return
            for sock in (self.client, self.upstream):
                if sock is None:
                    continue
                try:
                    if abort:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT_LINGER)
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # not connected (any more)

    def _close(self) -> None:
        with self.lock:
            self.closed = True
            self.client.close()
            if self.upstream is not None:
                self.upstream.close()

    def run(self) -> None:
        downstream: threading.Thread | None = None
        try:
            try:
                upstream = socket.create_connection(
                    (self.proxy.upstream_host, self.proxy.upstream_port), CONNECT_TIMEOUT
                )
            except OSError:
                return
            with self.lock:
                self.upstream = upstream
                if self.closing:
                    return
            upstream.settimeout(None)
            nodelay(upstream)
            downstream = self.proxy._spawn(self._run_downstream, f"c{self.number}-down")
            self._pump_upstream(upstream)
        finally:
            self.shutdown(abort=False)
            if downstream is not None:
                downstream.join(JOIN_TIMEOUT)
            self._close()
            self.proxy._forget(self)
            self.done.set()

    def _pump_upstream(self, upstream: socket.socket) -> None:
        while True:
            try:
                data = self.client.recv(BUFSIZE)
            except OSError:
                return
            if not data:
                return
            # Holds are switched on before the bytes completing the command go out, so
            # no reply to it can slip through.
            fired = self.proxy._client_data(self, data)
            try:
                upstream.sendall(data)
            except OSError:
                return
            for handle in fired:
                handle.set()

    def _run_downstream(self) -> None:
        upstream = self.upstream
        assert upstream is not None
        try:
            while True:
                try:
                    data = upstream.recv(BUFSIZE)
                except OSError:
                    return
                if not data:
                    return
                ended = [first for done, first in self.server_scanner.feed(data) if done]
                replied: list[HeldCommand] = []
                with self.lock:
                    holding = self.holding
                    if self.awaiting and ended:
                        tags = {tag_of(first) for first in ended}
                        for tag, handle in [a for a in self.awaiting if a[0] in tags]:
                            replied.append(handle)
                            self.awaiting.remove((tag, handle))
                if self.proxy.strip_starttls and not self.server_scanner.opaque:
                    data = _STARTTLS.sub(b"", data)
                if not holding and not self._deliver(data):
                    return
                cut = any(h.mode != "hold" for h in replied)
                if cut:  # the server did it; the reply is lost (before_reply) or not
                    self.shutdown(abort=True)
                for handle in replied:
                    handle.replied.set()
                if cut:
                    return
        finally:
            self.shutdown(abort=False)

    def _deliver(self, data: bytes) -> bool:
        """Send ``data`` to the client (a byte at a time on a slow link); False if gone."""
        try:
            delay = self.proxy.slow_s
            if not delay:
                self.client.sendall(data)
                return True
            for index in range(len(data)):
                self.client.sendall(data[index : index + 1])
                time.sleep(delay)
            return True
        except OSError:
            return False
