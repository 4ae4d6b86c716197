"""The add-on's smaThunderbird Experiment in a real headless Thunderbird.

The profile holds accounts as Thunderbird's account setup leaves them: prefs for the
servers and identities, and the IMAP password saved in Thunderbird's password manager
(added at runtime, as Thunderbird does when the user ticks "remember"; logins.json and
key4.db are not written by hand). The Experiment is called where the add-on calls it, in
its background page (``background_probe.js``); a password or token is compared there by
its SHA-256 and never comes back to the test, its logs or screenshots.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.oauth_endpoint import SCOPE, TokenEndpoint
from tests.e2e.profile_accounts import (
    AUTH_OAUTH2,
    SOCKET_SSL,
    account_prefs,
    pop3_account,
    with_accounts,
)

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

Launch = Callable[..., list["Thunderbird"]]

# The profile has account1 (IMAP on the test Dovecot) and account2 (Local Folders).
IMAP, LOCAL, POP3, OAUTH = "account1", "account2", "account3", "account4"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_secret_nowhere(tb: Thunderbird, secret: str) -> None:
    """Not in Thunderbird's output (console messages, the host's stderr)."""
    assert secret.encode() not in tb.log_path.read_bytes(), "a secret reached Thunderbird's log"


def test_experiment_reads_thunderbird_accounts(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("tb", prefs=with_accounts(pop3_account(3)))
    # The password Thunderbird saved for the IMAP server, and another user's on the same host.
    origin = f"imap://{imap_server.host}"
    tb.save_login(origin, origin, "someone-else", "not-this-one")
    tb.save_login(origin, origin, mail_user.name, mail_user.password)
    tb.load_probe()

    accounts = {a["id"]: a["type"] for a in tb.probe("accounts")}
    assert accounts == {IMAP: "imap", LOCAL: "local", POP3: "pop3"}

    # Exactly the prefs the profile has for the server.
    assert tb.probe("imapSettings", accountId=IMAP) == {
        "value": {
            "imap": True,
            "type": "imap",
            "host": imap_server.host,
            "port": imap_server.port,
            "security": "none",
            "username": mail_user.name,
            "auth": "password",
        }
    }
    assert tb.probe(
        "secretMatches", kind="password", accountId=IMAP, sha256=sha256(mail_user.password)
    ) == {"found": True, "matches": True}

    # POP3 and Local Folders: not IMAP, no server guessed, no password handed out.
    assert tb.probe("imapSettings", accountId=POP3) == {
        "value": {"imap": False, "type": "pop3", "reason": "not_imap"}
    }
    assert tb.probe("imapSettings", accountId=LOCAL) == {
        "value": {"imap": False, "type": "none", "reason": "not_imap"}
    }
    assert tb.probe("secretMatches", kind="password", accountId=POP3, sha256="") == {
        "error": "not_imap: account account3 is a pop3 account, not IMAP"
    }
    # Errors the add-on turns into "use the form instead".
    assert tb.probe("imapSettings", accountId="account9") == {
        "error": "no_account: Thunderbird has no account account9"
    }
    assert tb.probe("secretMatches", kind="token", accountId=IMAP, sha256="") == {
        "error": "not_oauth2: account account1 does not sign in with OAuth2"
    }
    # A page (here the settings page) gets the settings, but never a credential.
    tb.load_probe(into="page")
    assert (
        tb.probe("imapSettings", where="page", accountId=IMAP)["value"]["host"] == imap_server.host
    )
    refused = {"error": "background_only: only the add-on's background may ask for credentials"}
    for kind in ("password", "token"):
        assert (
            tb.probe("secretMatches", where="page", kind=kind, accountId=IMAP, sha256="") == refused
        )
    tb.screenshot("after-experiment")
    assert tb.prompts() == [], "Thunderbird prompted"
    assert_secret_nowhere(tb, mail_user.password)


def test_experiment_password_behind_a_primary_password(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    """The saved passwords are locked by a primary password: Thunderbird's own prompt asks
    for it; cancelled, the add-on gets a clear error; entered, the password."""
    (tb,) = launch("tb")
    origin = f"imap://{imap_server.host}"
    tb.save_login(origin, origin, mail_user.name, mail_user.password)
    primary = f"primary-{secrets.token_urlsafe(8)}"
    tb.set_primary_password(primary)  # and locked, as after a restart
    tb.load_probe()
    password = {"kind": "password", "accountId": IMAP, "sha256": sha256(mail_user.password)}

    tb.answer_next_prompt(None)
    assert tb.probe("secretMatches", **password) == {
        "error": "primary_password_cancelled: the primary password was not entered"
    }
    assert len(tb.prompts()) == 1, tb.prompts()

    tb.answer_next_prompt(primary)
    assert tb.probe("secretMatches", **password) == {"found": True, "matches": True}
    assert len(tb.prompts()) == 2, tb.prompts()
    for secret in (primary, mail_user.password):
        assert_secret_nowhere(tb, secret)


def test_experiment_gets_an_oauth2_token_offline(launch: Launch) -> None:
    """Thunderbird's own OAuth2 module refreshes the token it holds, against a local HTTPS
    token endpoint standing in for the built-in test provider; no window opens."""
    refresh_token = f"refresh-{secrets.token_urlsafe(16)}"
    access_token = f"access-{secrets.token_urlsafe(16)}"
    username = "oauth-user@example.org"
    with TokenEndpoint(refresh_token, access_token) as endpoint:
        oauth = account_prefs(4, "imap", "mochi.test", 993, username, SOCKET_SSL, AUTH_OAUTH2)
        (tb,) = launch("tb", prefs={**with_accounts(oauth), **endpoint.prefs()})
        tb.trust_ca(endpoint.ca_der_base64)
        # The refresh token Thunderbird keeps after the user signed in once.
        tb.save_login("oauth://test.test", SCOPE, username, refresh_token)
        tb.load_probe()
        windows = sorted(tb.windows())

        assert tb.probe("imapSettings", accountId=OAUTH) == {
            "value": {
                "imap": True,
                "type": "imap",
                "host": "mochi.test",
                "port": 993,
                "security": "tls",
                "username": username,
                "auth": "oauth2",
            }
        }
        token = {"kind": "token", "accountId": OAUTH, "sha256": sha256(access_token)}
        assert tb.probe("secretMatches", **token) == {"found": True, "matches": True}
        assert endpoint.requests == [
            {"path": "/token", "grant_type": "refresh_token", "answered": True}
        ]
        # A second call is served from Thunderbird's cache: no second request.
        assert tb.probe("secretMatches", **token) == {"found": True, "matches": True}
        assert len(endpoint.requests) == 1

        assert sorted(tb.windows()) == windows, "a window opened"
        assert tb.prompts() == [], "Thunderbird prompted"
        tb.screenshot("after-token")
        for secret in (refresh_token, access_token):
            assert_secret_nowhere(tb, secret)
