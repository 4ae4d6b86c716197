"""A throw-away OAuth2 token-validation endpoint on loopback, for Dovecot's ``oauth2`` passdb.

Dovecot 2.3 validates a bearer token by asking an HTTP endpoint about it: ``GET
<tokeninfo_url><token>`` (and, where configured, an RFC 7662 ``POST`` introspection with
``token=<token>``). This server answers both from an in-memory table that a test fills
and empties at will (``DovecotServer(oauth2=True)`` starts and stops one)::

    tokens = TokenServer()
    tokens.start()
    token = tokens.issue_token("alice")   # {"active": true, "username": "alice"}
    tokens.revoke(token)                  # {"active": false} from now on
    tokens.checks(token)                  # how often Dovecot asked about it
    tokens.stop()

Every question is one login attempt with that token (Dovecot's auth cache must be off,
which DovecotServer sees to), so ``checks`` counts logins, not time.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["JsonRequestHandler", "TokenServer"]

_TOKENINFO_PATH = "/tokeninfo"
_INTROSPECT_PATH = "/introspect"
_MAX_BODY = 64 << 10


class TokenServer:
    """Issues, revokes and validates bearer tokens; start() it, stop() when done."""

    host: str = "127.0.0.1"

    def __init__(self) -> None:
        self._users: dict[str, str] = {}  # token -> user; revoked tokens are removed
        self._checks: dict[str, int] = {}  # token -> validation requests seen
        self._changed = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- public API

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("TokenServer not started")
        return int(self._httpd.server_address[1])

    @property
    def tokeninfo_url(self) -> str:
        """The URL Dovecot appends the (URL-escaped) token to."""
        return f"http://{self.host}:{self.port}{_TOKENINFO_PATH}?access_token="

    @property
    def introspection_url(self) -> str:
        return f"http://{self.host}:{self.port}{_INTROSPECT_PATH}"

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("TokenServer already started")
        # Port 0: the kernel picks a free port, no probe-then-bind race.
        httpd = ThreadingHTTPServer((self.host, 0), _handler_for(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"token-server-{self.port}"
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def issue_token(self, user: str, token: str | None = None) -> str:
        """A new token (or ``token``, e.g. one another test server hands out) that is
        valid for ``user`` (lowercased, as Dovecot logs in)."""
        token = token or secrets.token_urlsafe(24)
        with self._changed:
            self._users[token] = user.lower()
        return token

    def revoke(self, token: str) -> None:
        """From now on ``token`` is inactive (unknown tokens are inactive already)."""
        with self._changed:
            self._users.pop(token, None)

    def checks(self, token: str | None = None) -> int:
        """How many times the server asked about ``token`` (about any token if None)."""
        with self._changed:
            if token is None:
                return sum(self._checks.values())
            return self._checks.get(token, 0)

    def wait_for_checks(self, token: str, count: int, timeout: float) -> bool:
        """Wait until ``token`` was asked about at least ``count`` times; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._checks.get(token, 0) >= count, timeout)

    # ------------------------------------------------------------------ internals

    def _answer(self, token: str) -> dict[str, Any]:
        with self._changed:
            self._checks[token] = self._checks.get(token, 0) + 1
            self._changed.notify_all()
            user = self._users.get(token)
        if user is None:
            return {"active": False}
        return {"active": True, "username": user}


class JsonRequestHandler(BaseHTTPRequestHandler):
    """A handler that reads form bodies (bounded), answers JSON and logs nothing: the
    default writes every request line to stderr, and tokens travel in URLs."""

    def read_form(self) -> dict[str, list[str]]:
        length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
        return parse_qs(self.rfile.read(length).decode("utf-8", "replace"))

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != _TOKENINFO_PATH:
                self.reply(404, {"error": "not_found"})
                return
            tokens = parse_qs(url.query).get("access_token", [])
            self.reply(200, server._answer(tokens[0] if tokens else ""))

        def do_POST(self) -> None:
            if urlsplit(self.path).path != _INTROSPECT_PATH:
                self.reply(404, {"error": "not_found"})
                return
            tokens = self.read_form().get("token", [])
            self.reply(200, server._answer(tokens[0] if tokens else ""))

    return Handler
