"""The server matrix: every IMAP server set-up the tests run the SMA flows against.

Each entry makes a throw-away server (Dovecot, Cyrus or Courier; see their modules) with
the same small interface: ``host``, ``port``, ``tls_port``, ``ca_file``, ``add_user``,
``start``/``stop`` and ``with``. ``docs/servers.md`` describes each set-up; a test keeps
its table and ``MATRIX`` equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .courier import IDLE_TIMEOUT_S, CourierServer, ensure_courier_installed
from .cyrus import CyrusServer, ensure_cyrus_installed
from .dovecot import DovecotServer, ImapUser, ensure_dovecot_installed

__all__ = ["GMAIL_LIKE_CONFIG", "MATRIX", "ImapServer", "ServerKind", "imap_settings"]


class ImapServer(Protocol):
    host: str
    port: int
    tls_port: int
    ca_file: str

    def add_user(self, user: ImapUser) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def imap_settings(
    server: ImapServer,
    user: ImapUser,
    security: Literal["tls", "starttls", "none"] = "tls",
    port: int | None = None,
) -> dict[str, Any]:
    """The ``imap`` object of ``account.configure`` for ``user`` on ``server``: IMAPS or
    STARTTLS trusting the server's CA, or plain IMAP; ``port`` (e.g. a proxy's) instead
    of the server's own."""
    settings: dict[str, Any] = {
        "host": server.host,
        "port": port or (server.tls_port if security == "tls" else server.port),
        "security": security,
        "username": user.name,
        "password": user.password,
    }
    if security != "none":
        settings["ca_file"] = server.ca_file
    return settings


@dataclass(frozen=True)
class ServerKind:
    """One set-up of the matrix."""

    name: str
    make: Callable[[Sequence[ImapUser]], ImapServer]
    #: None when it can run here, else why not (after installing what it can).
    install: Callable[[], str | None]
    #: Seconds within which a device whose page is open (``ui.active``) learns of a new
    #: message: push, or the host's polling (docs/protocol.md §11), or Courier's own
    #: IDLE, which rechecks every ``IMAP_IDLE_TIMEOUT`` (``courier.IDLE_TIMEOUT_S``).
    news_within_s: float
    #: Seconds within which a device learns that its inbox was deleted: at once where
    #: the server ends the IDLE (Dovecot's BYE), else at the next IDLE check.
    removal_within_s: float


#: Dovecot advertising Gmail's extension, with a ``\Trash`` special-use folder.
GMAIL_LIKE_CONFIG = """\
imap_capability = +X-GM-EXT-1
namespace inbox {
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
}
"""

#: The IDLE check interval (``imap/watcher.py`` ``IDLE_CHECK_S``) plus a margin.
_CHECKED = 30.0 + 10.0

MATRIX: dict[str, ServerKind] = {
    kind.name: kind
    for kind in (
        ServerKind("dovecot", lambda u: DovecotServer(u), ensure_dovecot_installed, 3, 10),
        ServerKind(
            "dovecot-inbox",
            lambda u: DovecotServer(u, namespace_prefix="INBOX.", separator="."),
            ensure_dovecot_installed,
            3,
            10,
        ),
        ServerKind(
            "dovecot-imap4rev1",
            lambda u: DovecotServer(u, extra_config="imap_capability = IMAP4rev1\n"),
            ensure_dovecot_installed,
            5,
            10,
        ),
        ServerKind("cyrus", lambda u: CyrusServer(u), ensure_cyrus_installed, 3, _CHECKED),
        ServerKind(
            "cyrus-inbox",
            lambda u: CyrusServer(u, inbox_prefix=True),
            ensure_cyrus_installed,
            3,
            _CHECKED,
        ),
        ServerKind(
            "courier",
            lambda u: CourierServer(u),
            ensure_courier_installed,
            IDLE_TIMEOUT_S + 5,
            _CHECKED,
        ),
    )
}
