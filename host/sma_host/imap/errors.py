"""Map imapclient, imaplib, socket and ssl exceptions to the host's ``MailboxError`` tree."""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from imapclient.exceptions import LoginError

from ..errors import AuthFailed, ConnectionFailed, MailboxError, ServerError, TlsFailed


class UnreadableResponse(ServerError):
    """The server sent something the parser could not read: the stream may be out of step
    with the commands, so the connection cannot be trusted any more."""


def leaves_connection_usable(exc: MailboxError) -> bool:
    """True only for a tagged ``NO`` or ``BAD``: the server answered in step, so the
    connection still works. Anything else may mean it is dead or out of step."""
    return isinstance(exc, ServerError) and not isinstance(exc, UnreadableResponse)


@contextmanager
def map_imap_errors(
    action: str,
    secret: str | None = None,
    refused: type[AuthFailed] = AuthFailed,
    established: bool = False,
) -> Iterator[None]:
    """Re-raise anything the IMAP stack throws as the most specific ``MailboxError``.

    ``secret`` (the password or access token) is scrubbed from any text that is passed
    on. A refused login raises ``refused``, unless the server says it cannot check
    credentials just now (RFC 5530 ``[UNAVAILABLE]``): that is no verdict on them.
    On an ``established`` session a TLS error is a broken connection (a peer gone
    without ``close_notify``), not a refused certificate: ``connection_failed``.
    """
    try:
        yield
    except MailboxError:
        raise
    except LoginError as exc:
        text = _text(exc, secret)
        if "[UNAVAILABLE]" in text:
            raise ServerError(f"the server cannot check the login now: {text}") from None
        raise refused(f"the server refused the login: {text}") from None
    except ssl.SSLCertVerificationError as exc:
        raise TlsFailed(f"certificate not trusted while {action}: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        if established:
            raise ConnectionFailed(
                f"TLS session broken while {action}: {exc.reason or type(exc).__name__}"
            ) from None
        raise TlsFailed(f"TLS failed while {action}: {exc.reason or 'handshake error'}") from None
    except imaplib.IMAP4.abort as exc:
        raise ConnectionFailed(f"connection lost while {action}: {_text(exc, secret)}") from None
    except imaplib.IMAP4.error as exc:
        raise ServerError(f"server refused {action}: {_text(exc, secret)}") from None
    except TimeoutError:
        raise ConnectionFailed(f"timed out while {action}") from None
    except socket.gaierror as exc:
        raise ConnectionFailed(f"cannot resolve the server's name: {exc.strerror}") from None
    except OSError as exc:
        raise ConnectionFailed(f"network error while {action}: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:
        # imapclient's response parser raises these on garbage from the server.
        raise UnreadableResponse(
            f"unreadable server response while {action}: {type(exc).__name__}"
        ) from None


def _text(exc: BaseException, secret: str | None) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    if secret:
        text = text.replace(secret, "***")
    return text[:300]
