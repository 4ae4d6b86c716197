"""One error hierarchy; each class's ``reason`` and ``code`` are the wire contract.

JSON-RPC needs integer codes, the add-on needs something stable to switch on:
every error reply carries both, ``code`` (integer) and ``data.reason`` (snake_case).

    HostError
    ├── RequestError            the add-on sent something we cannot serve
    │   ├── ParseError          -32700 parse_error
    │   ├── InvalidRequest      -32600 invalid_request / frame_too_large
    │   ├── MethodNotFound      -32601 method_not_found
    │   └── InvalidParams       -32602 invalid_params
    │       └── InvalidKey      -32602 invalid_key (not the OpenPGP key asked for)
    ├── AccountError            the named account cannot be used as asked
    │   ├── UnknownAccount      unknown_account
    │   ├── NotJoined           not_joined
    │   └── InsecureRefused     insecure_refused
    ├── MailboxError            raised only by ``imap/``: the server or the path to it
    │   ├── ConnectionFailed    connection_failed
    │   ├── TlsFailed           tls_failed
    │   ├── AuthFailed          auth_failed
    │   │   └── TokenRefused    auth_failed (an OAuth2 access token was refused)
    │   ├── TokenExpired        token_expired
    │   └── ServerError         server_error
    ├── PairingFailed           pairing_failed (wrong code, tampering, cancelled, already used)
    ├── PairingExpired          pairing_expired (the code's time ran out)
    ├── NotFound                not_found
    ├── ResultTooLarge          result_too_large
    ├── StorageFailed           storage_failed (the data dir is full or read-only)
    └── InternalError           internal_error (a bug; details go to stderr only)

Codes: the JSON-RPC standard ones for bad input, -32000…-32099 for everything else.
"""

from __future__ import annotations

#: ``typing`` is not imported at run time on the way to ``hello`` (cold start); mypy
#: reads the imports below all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar


class HostError(Exception):
    """Base of every error the host reports to the add-on."""

    code: ClassVar[int] = -32000
    reason: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_error_object(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` member for this exception."""
        return {
            "code": self.code,
            "message": self.message,
            "data": {"reason": self.reason, **self.data},
        }


class RequestError(HostError):
    """The add-on sent a frame or request the host cannot serve (the add-on's fault)."""


class ParseError(RequestError):
    """The frame is not UTF-8 or not JSON."""

    code = -32700
    reason = "parse_error"


class InvalidRequest(RequestError):
    """The JSON is not a JSON-RPC 2.0 request object."""

    code = -32600
    reason = "invalid_request"


class FrameTooLarge(InvalidRequest):
    """The frame's length prefix exceeds what the host accepts."""

    reason = "frame_too_large"


class MethodNotFound(RequestError):
    """No method of that name."""

    code = -32601
    reason = "method_not_found"


class InvalidParams(RequestError):
    """The params do not match the method's schema."""

    code = -32602
    reason = "invalid_params"


class InvalidKey(InvalidParams):
    """A key that is not the OpenPGP key asked for: garbage, a public key where the secret
    key belongs, a secret key where a correspondent's public key belongs. The message says
    which, and never quotes the key."""

    reason = "invalid_key"


class AccountError(HostError):
    """The named account cannot be used as asked."""


class UnknownAccount(AccountError):
    """No account of that key was configured."""

    code = -32001
    reason = "unknown_account"


class NotJoined(AccountError):
    """The account has not joined the SMA yet (call ``sma.join``)."""

    code = -32002
    reason = "not_joined"


class InsecureRefused(AccountError):
    """Plaintext IMAP was asked for a host that is not loopback."""

    code = -32003
    reason = "insecure_refused"


class MailboxError(HostError):
    """The IMAP server, or the network path to it, failed us."""


class ConnectionFailed(MailboxError):
    """Nothing answered, the connection broke, or it timed out."""

    code = -32010
    reason = "connection_failed"


class TlsFailed(MailboxError):
    """The TLS handshake failed: bad certificate, wrong host name, protocol mismatch."""

    code = -32011
    reason = "tls_failed"


class AuthFailed(MailboxError):
    """The server refused the user name or password."""

    code = -32012
    reason = "auth_failed"


class TokenRefused(AuthFailed):
    """The server refused the OAuth2 access token at login.

    On the wire it is ``auth_failed`` like a wrong password: at ``account.configure`` the
    token is simply wrong. The orchestrator turns it into ``TokenExpired`` when the same
    token was accepted before.
    """


class TokenExpired(MailboxError):
    """An OAuth2 access token that the server accepted before is refused now: the add-on
    must get a fresh token and configure the account again. Raised by the orchestrator,
    never by ``imap/`` (which cannot know that the token once worked)."""

    code = -32014
    reason = "token_expired"


class ServerError(MailboxError):
    """The server refused a command or answered something we cannot use."""

    code = -32013
    reason = "server_error"


class PairingFailed(HostError):
    """Key confirmation failed: a wrong code, or someone in the middle guessed wrong."""

    code = -32020
    reason = "pairing_failed"


class PairingExpired(HostError):
    """The pairing attempt's time ran out."""

    code = -32021
    reason = "pairing_expired"


class NotFound(HostError):
    """The named pairing, device or entry does not exist."""

    code = -32030
    reason = "not_found"


class ResultTooLarge(HostError):
    """The answer would not fit into one native-messaging frame (1 MiB)."""

    code = -32031
    reason = "result_too_large"


class StorageFailed(HostError):
    """The host's database cannot be written: the disk is full or the data dir is
    read-only. Nothing of the call was stored; retry once there is space (``why``)."""

    code = -32040
    reason = "storage_failed"


class InternalError(HostError):
    """A bug in the host. The details are logged to stderr, never sent."""

    code = -32000
    reason = "internal_error"


#: Every reason string the host can send, for the add-on's message table and the contract tests.
ALL_REASONS: tuple[str, ...] = tuple(
    sorted(
        {
            cls.reason
            for cls in (
                ParseError,
                InvalidRequest,
                FrameTooLarge,
                MethodNotFound,
                InvalidParams,
                InvalidKey,
                UnknownAccount,
                NotJoined,
                InsecureRefused,
                ConnectionFailed,
                TlsFailed,
                AuthFailed,
                TokenExpired,
                ServerError,
                PairingFailed,
                PairingExpired,
                NotFound,
                ResultTooLarge,
                StorageFailed,
                InternalError,
            )
        }
    )
)
