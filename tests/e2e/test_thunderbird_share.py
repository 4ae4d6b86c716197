"""Issue 11's "Done when", in two real headless Thunderbirds on one account and a real Dovecot.

Both profiles are set up with one click each (Thunderbird's saved password). Profile 1
("laptop") gets a real OpenPGP key from Thunderbird's own key generation, set for the
identity; **Share this key with my devices** hands it to sma-host; the two pair through
the page; on profile 2 ("desktop") **Install in Thunderbird**, confirmed, puts the secret
key with the same fingerprint into Thunderbird's keyring, set for the identity. Then a
message with a real Autocrypt header (a key made with pysequoia) is APPENDed to the
account's INBOX: profile 1's Thunderbird fetches it (its own mail check), its add-on sees
the new mail and calls ``mail.scan``, the key update reaches profile 2 by push, and profile
2's add-on gives the key to its Thunderbird's collected keys. No click after the install.

The key and its one-time passphrase never reach the test: they travel between the
background pages and the hosts only. The scenario checks that no secret key reaches the
pages, storage.local or Thunderbird's output.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.test_thunderbird import Launch, assert_no_dialogs, is_listed, pair
from tests.e2e.test_thunderbird_openpgp import correspondent, wait_saved
from tests.e2e.test_thunderbird_setup import one_click, save_imap_password
from tests.e2e.thunderbird_openpgp import (
    acceptance,
    collected_keys,
    generate_identity_key,
    identity_key_id,
    keys_in,
)
from tests.imap_inspect import append, connect

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

SHOWN_NAME = "Thunderbird on Linux"  # both profiles are named by the one click
SECRET_ARMOR = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
COLLECTED_SOURCE = "sma-host (your other devices)"  # thunderbird-openpgp.js


def grouped(fingerprint: str) -> str:
    """The fingerprint as the page shows it, in groups of four."""
    return " ".join(re.findall(".{1,4}", fingerprint.upper()))


def check_mail(tb: Thunderbird, account: str = "account1") -> int:
    """Thunderbird's own mail check of the account's INBOX (what its timer or the user's
    Get Messages does), waited for until it ends: its status (0 = done)."""
    return int(
        tb.chrome_async(
            """
            const [accountKey, resolve] = arguments;
            const { MailServices } = ChromeUtils.importESModule(
              "resource:///modules/MailServices.sys.mjs");
            const server = MailServices.accounts.getAccount(accountKey).incomingServer;
            const listener = {
              OnStartRunningUrl() {},
              OnStopRunningUrl(url, status) { resolve(status); },
              QueryInterface: ChromeUtils.generateQI(["nsIUrlListener"]),
            };
            const inbox = server.rootFolder.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
            if (inbox) inbox.QueryInterface(Ci.nsIMsgImapMailFolder).updateFolderWithListener(null, listener);
            else server.getNewMessages(server.rootFolder, null, listener);
            """,
            account,
        )
    )


def autocrypt_mail(sender: str, to: str, keydata: bytes) -> bytes:
    """A message from ``sender`` with a valid Autocrypt header carrying ``keydata``."""
    data = base64.b64encode(keydata).decode()
    folded = "\r\n ".join(data[i : i + 76] for i in range(0, len(data), 76))
    lines = [
        f"From: Carol <{sender}>",
        f"To: {to}",
        "Subject: hello from Carol",
        f"Date: {format_datetime(datetime.now(UTC))}",
        "Message-ID: <carol-e2e@example.net>",
        f"Autocrypt: addr={sender}; prefer-encrypt=mutual; keydata=\r\n {folded}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\nHello.\r\n").encode()


def assert_no_secret_key(tb: Thunderbird) -> None:
    """No secret key in the page, storage.local or Thunderbird's output."""
    assert SECRET_ARMOR not in tb.text(), f"{tb.name}: a secret key reached the page"
    assert SECRET_ARMOR not in tb.storage_local(), f"{tb.name}: a secret key reached storage.local"
    assert SECRET_ARMOR.encode() not in tb.log_path.read_bytes(), (
        f"{tb.name}: a secret key in the log"
    )


def test_share_install_and_collected_keys_between_two_thunderbirds(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop")
    email = f"{mail_user.name}@example.org"

    # --- laptop: a key from Thunderbird's own key generation, set for the identity -------
    fingerprint = generate_identity_key(laptop, f"E2E Tester <{email}>")
    assert len(fingerprint) == 40, fingerprint
    wait_saved(laptop, {fingerprint: True})

    # --- one click each ----------------------------------------------------------------
    for tb in (laptop, desktop):
        save_imap_password(tb, imap_server, mail_user)
    laptop_id = one_click(laptop, imap_server)
    desktop_id = one_click(desktop, imap_server)

    # --- laptop: the card shows Thunderbird's key; one click shares it ------------------
    today = datetime.now(UTC).date().isoformat()  # Thunderbird made the key just now
    laptop.wait_text(
        grouped(fingerprint), f"E2E Tester <{email}>", today, "Share this key with my devices"
    )
    laptop.screenshot("key-offered")
    laptop.click(button="Share this key with my devices")
    laptop.wait_text(
        "Shared: 0 paired devices get the key.",
        f"Thunderbird already uses the account key {grouped(fingerprint)} for {email}.",
    )
    assert "Share this key with my devices" not in laptop.text(), "shared: nothing more to share"
    laptop.screenshot("key-shared")

    # --- pair through the page (the key travels in the pairing payload) ------------------
    laptop.click(button="Refresh")
    laptop.wait_for(lambda: is_listed(laptop, desktop_id, "Not paired"), "the desktop listed")
    pair(
        desktop,
        laptop,
        desktop_id,
        laptop_id,
        names=dict.fromkeys(("laptop", "desktop"), SHOWN_NAME),
    )

    # --- desktop: "Install in Thunderbird", confirmed ------------------------------------
    desktop.wait_text(
        f"sma-host holds the account key {grouped(fingerprint)}.", "Install in Thunderbird"
    )
    assert desktop.query("[data-role=install-confirm]")[0]["visible"] is False
    desktop.screenshot("install-offered")
    desktop.click(button="Install in Thunderbird")
    desktop.wait_text(
        f"Import the account's secret key into Thunderbird's OpenPGP and use it for {email}?"
    )
    assert desktop.prompts() == [], "the question is the page's, not a prompt"
    desktop.click(button="Install")
    desktop.wait_text(
        f"Installed in Thunderbird: {grouped(fingerprint)} is now this account's key.",
        f"Thunderbird already uses the account key {grouped(fingerprint)} for {email}.",
    )
    assert "Share this key with my devices" not in desktop.text(), "nothing to share back"
    desktop.screenshot("installed")
    # Thunderbird's keyring files hold the secret key with that fingerprint, accepted as
    # the user's own, set for the identity.
    wait_saved(desktop, {fingerprint: True})
    desktop.wait_for(lambda: acceptance(desktop, fingerprint) == "personal", "the acceptance saved")
    assert identity_key_id(desktop) == {"keyId": fingerprint[-16:], "gnupg": False}

    # --- a correspondent's Autocrypt key, seen by the laptop, reaches the desktop --------
    carol, _ = correspondent("Carol <carol@example.net>")
    (carol_fpr,) = keys_in(carol)
    assert check_mail(laptop) == 0  # Thunderbird knows the INBOX as it is
    with connect(imap_server, mail_user) as client:
        append(client, "INBOX", autocrypt_mail("carol@example.net", email, carol))
    assert collected_keys(desktop, "carol@example.net") == []
    assert check_mail(laptop) == 0  # new mail: the laptop's add-on calls mail.scan
    laptop.wait_for(
        lambda: b"1 mail(s) scanned, 1 updated" in laptop.log_path.read_bytes(),
        "the laptop's sma-host scanning the new mail (its stderr in Thunderbird's output)",
    )

    found = desktop.wait_for(
        lambda: collected_keys(desktop, "carol@example.net"), "Carol's key in the collected keys"
    )
    assert [k["fingerprint"] for k in found] == [carol_fpr]
    assert found[0]["sources"] == [
        {"uri": "", "type": "autocrypt", "description": COLLECTED_SOURCE}
    ]
    desktop.wait_text("carol@example.net")  # the keyring table, re-read on keys.changed
    desktop.screenshot("collected")

    for tb in (laptop, desktop):
        assert_no_secret_key(tb)
    assert_no_dialogs(laptop, desktop)
