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
from typing import TYPE_CHECKING, Any

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.oauth_endpoint import SCOPE, TokenEndpoint

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

Launch = Callable[..., list["Thunderbird"]]

# The harness's profile has account1 (IMAP on the test Dovecot) and account2 (Local Folders).
IMAP, LOCAL, POP3, OAUTH = "account1", "account2", "account3", "account4"
AUTH_PASSWORD_CLEARTEXT, AUTH_OAUTH2 = 3, 10  # Ci.nsMsgAuthMethod
SOCKET_SSL = 3  # Ci.nsMsgSocketType


def account_prefs(
    n: int, kind: str, host: str, port: int, username: str, socket_type: int, auth_method: int
) -> dict[str, Any]:
    """account<n> with server<n> and identity id<n>, as the account setup writes them; Thunderbird
    itself never logs in (no login at startup, no mail check)."""
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


def with_accounts(*extra: dict[str, Any]) -> dict[str, Any]:
    prefs: dict[str, Any] = {}
    for account in extra:
        prefs.update(account)
    keys = [
        k.split(".")[2] for k in prefs if k.startswith("mail.account.") and k.endswith(".server")
    ]
    prefs["mail.accountmanager.accounts"] = ",".join([IMAP, LOCAL, *keys])
    return prefs


def save_login(tb: Thunderbird, origin: str, realm: str, username: str, password: str) -> None:
    """A login in Thunderbird's password manager, as Thunderbird saves one."""
    tb.chrome_async(
        """
        const [origin, realm, username, password, resolve] = arguments;
        const login = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
        login.init(origin, null, realm, username, password, "", "");
        Services.logins.addLoginAsync(login).then(() => resolve(true), (e) => resolve(String(e)));
        """,
        origin,
        realm,
        username,
        password,
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_secret_nowhere(tb: Thunderbird, secret: str) -> None:
    """Not in Thunderbird's output (console messages, the host's stderr)."""
    assert secret.encode() not in tb.log_path.read_bytes(), "a secret reached Thunderbird's log"


def test_experiment_reads_thunderbird_accounts(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    pop3 = account_prefs(3, "pop3", "127.0.0.1", 1110, "popuser", 0, AUTH_PASSWORD_CLEARTEXT)
    (tb,) = launch("tb", prefs=with_accounts(pop3))
    # The password Thunderbird saved for the IMAP server, and another user's on the same host.
    origin = f"imap://{imap_server.host}"
    save_login(tb, origin, origin, "someone-else", "not-this-one")
    save_login(tb, origin, origin, mail_user.name, mail_user.password)
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


def answer_next_prompt(tb: Thunderbird, answer: str | None) -> None:
    """The next prompt Thunderbird opens is answered like a person: cancelled (None) or with
    ``answer`` typed and OK pressed."""
    tb.chrome(
        """
        const answer = arguments[0];
        const w = Services.wm.getMostRecentWindow("mail:3pane");
        if (w.smaE2eAnswer) Services.obs.removeObserver(w.smaE2eAnswer, "common-dialog-loaded");
        w.smaE2eAnswer = (dialogWindow) => {
          Services.obs.removeObserver(w.smaE2eAnswer, "common-dialog-loaded");
          w.smaE2eAnswer = null;
          const doc = dialogWindow.document;
          dialogWindow.setTimeout(() => {
            const dialog = doc.getElementById("commonDialog");
            if (answer === null) return dialog.cancelDialog();
            doc.getElementById("password1Textbox").value = answer;
            dialog.acceptDialog();
          }, 0);
        };
        Services.obs.addObserver(w.smaE2eAnswer, "common-dialog-loaded");
        """,
        answer,
    )


def test_experiment_password_behind_a_primary_password(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    """The saved passwords are locked by a primary password: Thunderbird's own prompt asks
    for it; cancelled, the add-on gets a clear error; entered, the password."""
    (tb,) = launch("tb")
    origin = f"imap://{imap_server.host}"
    save_login(tb, origin, origin, mail_user.name, mail_user.password)
    primary = f"primary-{secrets.token_urlsafe(8)}"
    tb.chrome(
        """
        const token = Cc["@mozilla.org/security/pk11tokendb;1"]
          .getService(Ci.nsIPK11TokenDB).getInternalKeyToken();
        if (token.needsUserInit) token.initPassword(arguments[0]);
        else token.changePassword("", arguments[0]);
        token.logoutSimple();  // locked, as after a restart
        """,
        primary,
    )
    tb.load_probe()
    password = {"kind": "password", "accountId": IMAP, "sha256": sha256(mail_user.password)}

    answer_next_prompt(tb, None)
    assert tb.probe("secretMatches", **password) == {
        "error": "primary_password_cancelled: the primary password was not entered"
    }
    assert len(tb.prompts()) == 1, tb.prompts()

    answer_next_prompt(tb, primary)
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
        tb.chrome(
            """
            Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB)
              .addCertFromBase64(arguments[0], "CT,C,C");
            """,
            endpoint.ca_der_base64,
        )
        # The refresh token Thunderbird keeps after the user signed in once.
        save_login(tb, "oauth://test.test", SCOPE, username, refresh_token)
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
