"""A loopback TCP relay before a server's TLS port that can break the TLS handshake.

``mode`` applies to connections accepted from then on:

- ``pass``: relays both ways unchanged (the handshake and the session work);
- ``garbage``: reads the client's first bytes (its ClientHello), answers 4 KiB of seeded
  random bytes, closes;
- ``close_mid``: relays the ClientHello, relays the first half of the server's first
  answer (ServerHello, certificate…), then closes both sides: a handshake cut midway;
- ``stall``: reads the ClientHello and never answers, never closes (until stop()).

Each connection runs on daemon threads; stop() closes everything.
"""

from __future__ import annotations

import random
import socket
import threading
from types import TracebackType

MODES = ("pass", "garbage", "close_mid", "stall")
_BUF = 64 * 1024


class TlsFaultRelay:
    """Listens on 127.0.0.1 (``port``), relays to ``upstream`` as ``mode`` says."""

    host = "127.0.0.1"

    def __init__(self, upstream_host: str, upstream_port: int, seed: int = 15) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.accepted = 0
        self._rng = random.Random(seed)
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def __enter__(self) -> TlsFaultRelay:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            _close(sock)

    def drop_all(self) -> None:
        """Close every relayed connection now (new ones are accepted as ``mode`` says)."""
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            _close(sock)

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._socks.append(sock)
        return sock

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                mode = self.mode
                noise = self._rng.randbytes(4096)
            threading.Thread(
                target=self._serve, args=(self._track(client), mode, noise), daemon=True
            ).start()

    def _serve(self, client: socket.socket, mode: str, noise: bytes) -> None:
        try:
            if mode == "garbage":
                client.recv(_BUF)
                client.sendall(noise)
                return
            if mode == "stall":
                while client.recv(_BUF):
                    pass  # swallow everything, answer nothing
                return
            upstream = self._track(socket.create_connection(self.upstream, timeout=10))
            upstream.settimeout(None)
            if mode == "close_mid":
                upstream.sendall(client.recv(_BUF))
                answer = upstream.recv(_BUF)
                client.sendall(answer[: max(1, len(answer) // 2)])
                _close(upstream)
                return
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
            _pump(client, upstream)
        except OSError:
            pass  # either side gone: that ends the relay
        finally:
            _close(client)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_BUF):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
