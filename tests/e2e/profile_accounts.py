"""More accounts for a test profile's user.js, as Thunderbird's account setup writes them.

The harness's profile (``harness.profile_prefs``) has ``account1`` (IMAP on the test
Dovecot) and ``account2`` (Local Folders); :func:`with_accounts` adds more, for
``launch(..., prefs=...)``. Plain data, no Marionette: test modules import it at the top.
"""

from __future__ import annotations

from typing import Any

BASE_ACCOUNTS = ("account1", "account2")  # what profile_prefs already has

# Ci.nsMsgSocketType and Ci.nsMsgAuthMethod in Thunderbird 140.
SOCKET_PLAIN, SOCKET_STARTTLS, SOCKET_SSL = 0, 2, 3
AUTH_PASSWORD_CLEARTEXT, AUTH_OAUTH2 = 3, 10


def account_prefs(
    n: int, kind: str, host: str, port: int, username: str, socket_type: int, auth_method: int
) -> dict[str, Any]:
    """account<n> with server<n> (``kind``: imap, pop3) and identity id<n>. Thunderbird
    itself never logs in: no login at startup, no mail check."""
    account, server, identity = f"account{n}", f"server{n}", f"id{n}"
    email = username if "@" in username else f"{username}@example.org"
    return {
        f"mail.account.{account}.server": server,
        f"mail.account.{account}.identities": identity,
        f"mail.identity.{identity}.useremail": email,
        f"mail.identity.{identity}.fullName": "E2E Tester",
        f"mail.identity.{identity}.valid": True,
        f"mail.server.{server}.type": kind,
        f"mail.server.{server}.hostname": host,
        f"mail.server.{server}.port": port,
        f"mail.server.{server}.socketType": socket_type,
        f"mail.server.{server}.authMethod": auth_method,
        f"mail.server.{server}.userName": username,
        f"mail.server.{server}.name": f"{email} ({kind})",
        f"mail.server.{server}.login_at_startup": False,
        f"mail.server.{server}.check_new_mail": False,
    }


def pop3_account(n: int) -> dict[str, Any]:
    """account<n>: a POP3 account (on a port nothing listens on: Thunderbird never logs in)."""
    return account_prefs(
        n, "pop3", "127.0.0.1", 1110, "popuser", SOCKET_PLAIN, AUTH_PASSWORD_CLEARTEXT
    )


def with_accounts(*extra: dict[str, Any]) -> dict[str, Any]:
    """The prefs of ``extra`` accounts, listed after the profile's own two."""
    prefs: dict[str, Any] = {}
    for account in extra:
        prefs.update(account)
    keys = [
        k.split(".")[2] for k in prefs if k.startswith("mail.account.") and k.endswith(".server")
    ]
    prefs["mail.accountmanager.accounts"] = ",".join([*BASE_ACCOUNTS, *keys])
    return prefs
