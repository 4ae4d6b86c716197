"""Reaching an IMAP server and logging in: the settings, TLS, and the OAuth2 login."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.util import to_unicode

from ..errors import AuthFailed, TlsFailed, TokenRefused
from .errors import map_imap_errors

log = logging.getLogger(__name__)

#: Connecting, the greeting and the TLS handshake (imapclient's connect timeout covers
#: all three).
CONNECT_TIMEOUT = 5.0

AUTH_METHODS = ("password", "oauth2")


@dataclass(frozen=True, repr=False)
class ImapSettings:
    """Where and how to log in. ``auth="oauth2"`` logs in with ``access_token`` (SASL
    XOAUTH2 or OAUTHBEARER) and ignores ``password``."""

    host: str
    port: int
    security: str  # "tls" | "starttls" | "none"
    username: str
    password: str = ""
    ca_file: str | None = None
    auth: str = "password"  # "password" | "oauth2"
    access_token: str | None = None

    def __post_init__(self) -> None:
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"unknown IMAP auth method {self.auth!r}")
        if self.auth == "oauth2" and not self.access_token:
            raise ValueError("auth 'oauth2' needs an access token")

    @property
    def secret(self) -> str | None:
        """What the login sends (the token or the password): scrubbed from error texts."""
        return self.access_token if self.auth == "oauth2" else self.password

    def __repr__(self) -> str:  # never print the password or the token
        auth = ", oauth2" if self.auth == "oauth2" else ""
        return f"ImapSettings({self.username}@{self.host}:{self.port}, {self.security}{auth})"


def is_loopback(host: str) -> bool:
    """A literal loopback address, or ``localhost`` (names are not resolved: DNS can lie)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def log_in(settings: ImapSettings, read_timeout: float) -> IMAPClient:
    """A connected, logged-in client (TLS as ``settings`` say); raises ``MailboxError``
    subclasses only, and leaves nothing open when it fails."""
    from imapclient import SocketTimeout

    context = _tls_context(settings.ca_file) if settings.security != "none" else None
    timeout = SocketTimeout(connect=CONNECT_TIMEOUT, read=read_timeout)
    secret = settings.secret
    with map_imap_errors("connecting", secret):
        client = IMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.security == "tls",
            ssl_context=context,
            timeout=timeout,
        )
    # imapclient sets imaplib's debug level to 5 and sends that output to its logger,
    # which logsetup silences. imaplib still formats it: repr() of every response line,
    # and at the end of a FETCH of the whole answer in one string (31 MB, twice the
    # bodies, for 10,000 small messages) only to have it dropped.
    client._imap.debug = 0
    try:
        with map_imap_errors("connecting", secret):
            # imaplib writes commands in pieces; Nagle would add ~45 ms to some of them.
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if settings.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise TlsFailed("the server does not offer STARTTLS")
                client.starttls(context)
        if settings.auth == "oauth2" and settings.access_token:
            with map_imap_errors("logging in", secret, refused=TokenRefused):
                _oauth2_login(client, settings.username, settings.access_token)
        else:
            with map_imap_errors("logging in", secret):
                client.login(settings.username, settings.password)
    except BaseException:
        close_quietly(client)
        raise
    return client


def _oauth2_login(client: IMAPClient, username: str, token: str) -> None:
    """SASL XOAUTH2, or OAUTHBEARER (RFC 7628) where the server offers only that.

    Not imapclient's ``oauth2_login``: on a refusal the server sends an error challenge,
    which that answers with the whole token again. The RFCs ask for a dummy answer
    (OAUTHBEARER ``%x01``, XOAUTH2 an empty line), after which the server says NO.
    """
    offered = {to_unicode(c).upper() for c in client.capabilities()}
    if "AUTH=XOAUTH2" in offered:
        mechanism, dummy = "XOAUTH2", b""
        first = f"user={username}\x01auth=Bearer {token}\x01\x01"
    elif "AUTH=OAUTHBEARER" in offered:
        mechanism, dummy = "OAUTHBEARER", b"\x01"
        authzid = username.replace("=", "=3D").replace(",", "=2C")
        first = f"n,a={authzid},\x01auth=Bearer {token}\x01\x01"
    else:
        raise AuthFailed("the server offers no OAuth2 login (AUTH=XOAUTH2 or AUTH=OAUTHBEARER)")
    answers = iter([first.encode()])

    def answer(_challenge: bytes) -> bytes:
        return next(answers, dummy)

    try:
        client._command_and_check("authenticate", mechanism, answer)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise LoginError(str(exc)) from None


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsFailed(
            f"cannot load the CA file: {getattr(exc, 'strerror', None) or exc}"
        ) from None


def close_quietly(client: IMAPClient) -> None:
    try:
        # A server gone silent must not hold shutdown for the whole read timeout.
        client.socket().settimeout(1.0)
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            log.debug("socket already closed")
