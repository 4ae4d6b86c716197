"""One click with Thunderbird's settings, in a real headless Thunderbird and a real Dovecot.

The profile holds the IMAP account as Thunderbird's account setup leaves it (prefs for the
server and identity, the password saved in Thunderbird's password manager). Nothing is
typed on the page in these scenarios: the add-on reads the server and the password through
its Experiment, in its background page, and gives them only to sma-host.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.profile_accounts import (
    AUTH_PASSWORD_CLEARTEXT,
    SOCKET_PLAIN,
    account_prefs,
    with_accounts,
)
from tests.e2e.test_thunderbird import (
    MUAA_ID,
    SMA_FOLDER,
    assert_no_dialogs,
    server_messages,
    wait_host_running,
)

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

Launch = Callable[..., list["Thunderbird"]]

USE_THUNDERBIRD = "Use Thunderbird's settings"
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
    assert secret not in tb.storage_local(), "the password reached storage.local"
    assert secret not in tb.text(), "the password reached the page"
    assert secret.encode() not in tb.log_path.read_bytes(), "the password reached the log"


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
    return found.group(1)


def stored_account(tb: Thunderbird) -> dict[str, object]:
    stored = json.loads(tb.storage_local())
    return dict(stored["account:account1"])


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
    stored = stored_account(tb)
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
    pop3 = account_prefs(
        3, "pop3", "127.0.0.1", 1110, "popuser", SOCKET_PLAIN, AUTH_PASSWORD_CLEARTEXT
    )
    (tb,) = launch("tb", prefs=with_accounts(pop3))
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
