"""One click with Thunderbird's settings, in a real headless Thunderbird and a real Dovecot.

The profile holds the IMAP account as Thunderbird's account setup leaves it (prefs for the
server and identity, the password saved in Thunderbird's password manager). Nothing is
typed on the page in these scenarios: the add-on reads the server and the password through
its Experiment, in its background page, and gives them only to sma-host.
"""

from __future__ import annotations

import json
import secrets
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from imapclient import IMAPClient

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.oauth_endpoint import SCOPE, TokenEndpoint
from tests.e2e.profile_accounts import (
    AUTH_OAUTH2,
    SOCKET_SSL,
    account_prefs,
    pop3_account,
    with_accounts,
)
from tests.e2e.test_thunderbird import (
    MUAA_ID,
    SMA_FOLDER,
    Launch,
    assert_no_dialogs,
    server_messages,
    wait_host_running,
)
from tests.imap_inspect import folders

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

USE_THUNDERBIRD = "Use Thunderbird's settings"
HOST_SITE = Path(__file__).with_name("host_site")  # test-only name resolution for the host
# The IMAP account's section (account1, listed first as in Thunderbird) and its summary.
IMAP_SECTION = "#accounts > [data-role=account]:first-child"
ACCOUNT_SUMMARY = f"{IMAP_SECTION} [data-role=account-details] > summary"
NOT_IMAP = (
    "The SMA lives on an IMAP server, and this account has none (it is a POP3 or Local "
    "Folders account), so there is nothing to set up here."
)


def save_imap_password(tb: Thunderbird, server: DovecotServer, user: ImapUser) -> None:
    """What Thunderbird saves when the user ticks "Use Password Manager" at first login."""
    origin = f"imap://{server.host}"
    tb.save_login(origin, origin, user.name, user.password)


def assert_secret_nowhere(tb: Thunderbird, secret: str) -> None:
    """Not in storage.local, the page, or Thunderbird's output (console, host stderr)."""
    assert secret not in tb.storage_local(), "a secret reached storage.local"
    assert secret not in tb.text(), "a secret reached the page"
    assert secret.encode() not in tb.log_path.read_bytes(), "a secret reached the log"


def one_click(tb: Thunderbird, server: DovecotServer) -> str:
    """The one click; returns this device's id once the page shows it joined."""
    wait_host_running(tb)
    assert tb.query("[data-role=other-settings]")[0]["visible"]
    assert not tb.page("isOpen", summary="Other settings"), "the form is not offered first"
    tb.wait_text(f"Thunderbird reaches this account at {server.host}, port {server.port}, as ")
    tb.screenshot("offered")
    tb.click(button=USE_THUNDERBIRD)
    tb.wait_text(
        f"Set up with Thunderbird's settings for {server.host} and joined.",
        "This device takes part.",
    )
    found = tb.wait_for(lambda: MUAA_ID.search(tb.text("[data-role=self]")), "this device's entry")
    # The one click is done: the section says so rather than offering it again.
    tb.wait_text(f"This device uses Thunderbird's settings for this account: {server.host}, port")
    buttons = tb.page("query", selector=f"{IMAP_SECTION} [data-action=useThunderbird]")
    assert [b["visible"] for b in buttons] == [False], "the click is still offered"
    return found.group(1)


def stored_account_of(tb: Thunderbird, account: str = "account1") -> dict[str, object]:
    """What storage.local holds for the account (the add-on's key ``account:<id>``)."""
    stored = json.loads(tb.storage_local())
    return dict(stored[f"account:{account}"])


def test_one_click_joins_with_thunderbirds_settings(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("tb")
    save_imap_password(tb, imap_server, mail_user)
    muaa_id = one_click(tb, imap_server)
    tb.screenshot("joined")

    on_server = server_messages(imap_server, mail_user)
    assert set(on_server) == {SMA_FOLDER, f"{SMA_FOLDER}_{muaa_id}"}
    (announcement,) = on_server[SMA_FOLDER]
    assert f"from={muaa_id}".encode() in announcement
    # Only a marker and the server settings are stored, never the password.
    stored = stored_account_of(tb)
    assert stored["fromThunderbird"] is True and stored["joined"] is True
    assert stored["host"] == imap_server.host and stored["username"] == mail_user.name
    assert_secret_nowhere(tb, mail_user.password)
    assert_no_dialogs(tb)


def test_after_a_restart_sync_resumes_with_nothing_typed(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("tb", permanent=True)
    save_imap_password(tb, imap_server, mail_user)
    muaa_id = one_click(tb, imap_server)

    # A new Thunderbird, a new host process, no system keyring (headless, no Secret
    # Service): the host knows no password; the add-on gives it Thunderbird's again.
    tb.restart()
    wait_host_running(tb)
    # Set up before the page opened: the section is folded to its status line.
    tb.wait_text("connected · joined · 0 other devices, 0 paired")
    assert not tb.page("isOpen", selector=ACCOUNT_SUMMARY)
    assert "Password needed" not in tb.text() and "does not know the password" not in tb.text()
    tb.screenshot("folded-after-restart")

    tb.click(selector=ACCOUNT_SUMMARY)
    tb.wait_for(lambda: tb.page("isOpen", selector=ACCOUNT_SUMMARY), "the section unfolded")
    assert tb.text("[data-role=self]").startswith(f"Thunderbird on Linux ({muaa_id})")
    tb.click(button="Sync now")
    tb.wait_text("Synced: ")
    tb.screenshot("synced-after-restart")
    assert_secret_nowhere(tb, mail_user.password)
    assert_no_dialogs(tb)


def test_a_pop3_account_gets_one_sentence(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("tb", prefs=with_accounts(pop3_account(3)))
    wait_host_running(tb)
    tb.wait_text(NOT_IMAP)

    def section(address: str) -> str:
        texts = [s["text"] for s in tb.query("[data-role=account]") if address in s["text"]]
        assert len(texts) == 1, texts
        return str(texts[0])

    pop = section("popuser@example.org")
    assert NOT_IMAP in pop
    for form_text in ("Other settings", "Connection security", "Test connection and save", "Join"):
        assert form_text not in pop, f"the POP3 account shows {form_text!r}"
    assert NOT_IMAP not in section(f"{mail_user.name}@example.org")
    tb.screenshot("pop3")
    assert_no_dialogs(tb)


def test_one_click_with_an_oauth2_account(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    """An account Thunderbird signs in to with OAuth2 (its built-in test provider, host name
    ``mochi.test``): one click gets a token from Thunderbird's own OAuth2 module, which
    refreshes the token it holds against a local token endpoint (no window), and the host
    logs in to a Dovecot that checks that token (XOAUTH2)."""
    user = f"oauth-{secrets.token_hex(4)}"
    refresh_token = f"refresh-{secrets.token_urlsafe(16)}"
    access_token = f"access-{secrets.token_urlsafe(16)}"
    with (
        DovecotServer([], oauth2=True, tls_names=("mochi.test",)) as server,
        TokenEndpoint(refresh_token, access_token) as endpoint,
    ):
        server.issue_token(user, access_token)  # Dovecot accepts what the endpoint hands out
        oauth = account_prefs(
            3, "imap", "mochi.test", server.tls_port, user, SOCKET_SSL, AUTH_OAUTH2
        )
        host_env = {
            # The host, started by Thunderbird with its environment, resolves mochi.test to
            # the test Dovecot (host_site/sitecustomize.py) and trusts its certificate.
            "PYTHONPATH": str(HOST_SITE),
            "SMA_E2E_HOSTS": f"mochi.test={server.host}",
            "SSL_CERT_FILE": server.ca_file,
        }
        (tb,) = launch("tb", prefs={**with_accounts(oauth), **endpoint.prefs()}, env=host_env)
        tb.trust_ca(endpoint.ca_der_base64)
        tb.save_login("oauth://test.test", SCOPE, user, refresh_token)
        windows = sorted(tb.windows())
        wait_host_running(tb)
        section = "#accounts > [data-role=account]:nth-child(3)"
        tb.wait_text(
            f"Thunderbird reaches this account at mochi.test, port {server.tls_port}, as {user}, "
            "signed in with OAuth2."
        )
        tb.screenshot("oauth2-offered")
        tb.click(button=USE_THUNDERBIRD, within=section)
        tb.wait_text("Set up with Thunderbird's settings for mochi.test and joined.")
        found = tb.wait_for(
            lambda: MUAA_ID.search(tb.text(f"{section} [data-role=self]")), "this device's entry"
        )
        tb.screenshot("oauth2-joined")

        assert endpoint.requests == [
            {"path": "/token", "grant_type": "refresh_token", "answered": True}
        ]
        assert server.token_checks(access_token) >= 1, "the host did not log in with the token"
        context = ssl.create_default_context(cafile=server.ca_file)
        with IMAPClient(server.host, port=server.tls_port, ssl=True, ssl_context=context) as c:
            c.oauth2_login(user, access_token)
            assert set(folders(c)) >= {SMA_FOLDER, f"{SMA_FOLDER}_{found.group(1)}"}
        assert stored_account_of(tb, "account3")["fromThunderbird"] is True
        assert sorted(tb.windows()) == windows, "a sign-in window opened"
        assert tb.prompts() == [], "Thunderbird prompted"
        for secret in (refresh_token, access_token):
            assert_secret_nowhere(tb, secret)
