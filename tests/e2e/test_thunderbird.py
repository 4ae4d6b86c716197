"""The add-on in a real headless Thunderbird, with the installed host and a real Dovecot.

Every step goes through the add-on's settings page as a person would use it: fields found
by their labels, buttons by their names, trusted clicks and key presses, and what the page
shows read as rendered text. The server is checked with a plain IMAP connection.
Screenshots of every step: ``test-artifacts/e2e/<scenario>/``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from tests.e2e.thunderbird_openpgp import keys_in
from tests.imap_inspect import connect, folders, messages

if TYPE_CHECKING:  # the harness needs marionette-driver, which only `make e2e` installs
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

Launch = Callable[..., list["Thunderbird"]]

INSTALL_COMMAND = "make venv && .venv/bin/sma-host install --user"
SMA_FOLDER = "_Autocrypt_SMA"
MUAA_ID = re.compile(r"\(([0-9A-Za-z_-]{8,})\), last seen")
DEVICE_NAMES = {"laptop": "E2E Laptop", "desktop": "E2E Desktop"}
MANUAL_KEY_WAYS = "Other ways: paste a key or use a file"
NO_THUNDERBIRD_KEY = "Thunderbird's OpenPGP has no key of yours for this account's address."


def armored_key(seed: str) -> str:
    """A real ASCII-armored OpenPGP secret key (the host checks it with Sequoia)."""
    from pysequoia import Tsk

    return str(Tsk.generate(f"{seed} <{seed}@example.org>"))


# ---- steps a person takes ----------------------------------------------------------------


def wait_host_running(tb: Thunderbird) -> None:
    tb.wait_text("sma-host 0.1.0 is running.")


def fill_server_form(tb: Thunderbird, server: DovecotServer, user: ImapUser, password: str) -> None:
    """The IMAP form, behind "Other settings" (Thunderbird's own settings are offered first):
    the e-mail address comes prefilled from Thunderbird's identity."""
    tb.expand("Other settings")
    (email,) = tb.query("[data-role=imap-form] input[type=email]")
    assert email["value"] == f"{user.name}@example.org", "the address is not prefilled"
    tb.type("Name of this device", DEVICE_NAMES.get(tb.name, tb.name))
    tb.type("IMAP server", server.host)
    # The options page has no CA-file field: plain IMAP, which the host allows on loopback.
    assert tb.choose("Connection security", "None") == "None (only for a server on this computer)"
    tb.type("Port", str(server.port))
    tb.type("User name", user.name)
    tb.type("Password", password)


def configure(tb: Thunderbird, server: DovecotServer, user: ImapUser) -> None:
    wait_host_running(tb)
    fill_server_form(tb, server, user, user.password)
    tb.click(button="Test connection and save")
    tb.wait_text(f"Connected to {server.host}. Settings saved.")


def join(tb: Thunderbird) -> str:
    tb.click(button="Join")
    tb.wait_text("Joined.", "This device takes part.")
    self_text = tb.wait_for(
        lambda: MUAA_ID.search(tb.text("[data-role=self]")), "this device's entry"
    )
    return self_text.group(1)


def device_rows(tb: Thunderbird) -> list[str]:
    """The 'Other devices' table as a person reads it, one string per row."""
    return [r["text"] for r in tb.query("[data-role=devices] tbody tr") if r["visible"]]


def is_listed(tb: Thunderbird, muaa_id: str, paired: str) -> bool:
    """The device is a row of 'Other devices' whose Paired column says ``paired``."""
    return any(muaa_id in row and row.endswith(f" {paired} Remove") for row in device_rows(tb))


def pair(
    new: Thunderbird,
    existing: Thunderbird,
    new_id: str,
    existing_id: str,
    names: dict[str, str] = DEVICE_NAMES,
) -> str:
    """'Pair this device' on ``new``, the code typed on ``existing``; returns the code.
    ``names``: the device names the pages show, by instance name."""
    new.click(button="Pair this device")
    new.wait_text("Type this code on your other device:", "Waiting for the other device…")
    # Shown as 12345-67890; typed on the other device as shown.
    code = new.wait_for(
        lambda: re.fullmatch(r"\d{5}-\d{5}", new.text("[data-role=code]").strip()),
        "a 10-digit code",
    ).group(0)
    new.screenshot("code-shown")

    # The request reaches the existing device by push: no click there.
    existing.wait_text(
        f"“{names[new.name]}” asks to pair with this device.",
        "Code shown on the other device",
    )
    (request,) = existing.query("[data-role=incoming] li")
    assert names[new.name] in request["text"] and new_id in request["text"]
    notification = (
        "Pairing request",
        f"“{names[new.name]}” asks to pair for {existing.account.email}. "
        "Open the SMA settings and type the code it shows.",
    )
    existing.wait_for(
        lambda: notification in existing.notifications(), "the pairing request notification"
    )
    existing.screenshot("request-shown")

    existing.type("Code shown on the other device", code)
    existing.click(button="Pair")

    def existing_done() -> bool:
        requests = existing.query("[data-role=incoming] li")
        return any(f"Paired with “{names[new.name]}”" in r["text"] for r in requests) and (
            is_listed(existing, new_id, "Paired")
        )

    def new_done() -> bool:
        outgoing = new.text("[data-role=outgoing]")
        return f"Paired with “{names[existing.name]}”" in outgoing and (
            is_listed(new, existing_id, "Paired")
        )

    existing.wait_for(existing_done, "the request completed, the new device listed as paired")
    new.wait_for(new_done, "the pairing completed, the existing device listed as paired")
    return code


def server_messages(server: DovecotServer, user: ImapUser) -> dict[str, list[bytes]]:
    with connect(server, user) as client:
        return {
            folder: list(messages(client, folder).values())
            for folder in folders(client)
            if folder.startswith(SMA_FOLDER)
        }


def assert_no_dialogs(*instances: Thunderbird) -> None:
    """Thunderbird itself asked nothing: no password prompt, no other dialog or window
    (notification popups aside)."""
    for tb in instances:
        assert tb.prompts() == [], f"{tb.name}: Thunderbird prompted"
        extra = [w for w in tb.windows() if not w.startswith(("mail:3pane ", "alert:alert "))]
        assert extra == [], f"{tb.name}: unexpected windows {extra}"


# ---- the scenarios -----------------------------------------------------------------------


def test_1_host_not_installed(launch: Launch, imap_server: DovecotServer, mail_user: Any) -> None:
    (tb,) = launch("tb", install_host=False)
    tb.wait_text(
        "sma-host is not installed for Thunderbird.",
        "Thunderbird cannot find sma-host.",
        "Try again",
        "How to install sma-host (README)",
    )
    (command,) = tb.query("#install-command")
    assert command["visible"] and command["text"] == INSTALL_COMMAND
    tb.screenshot("host-missing")

    # The person runs the command shown, then presses "Try again".
    tb.install_host()
    tb.click(button="Try again")
    wait_host_running(tb)
    assert not tb.query("#install-command")[0]["visible"]
    tb.screenshot("host-running")
    assert_no_dialogs(tb)


def test_2_configure_wrong_then_right_password(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("tb")
    wait_host_running(tb)
    tb.screenshot("form")
    fill_server_form(tb, imap_server, mail_user, "not-the-password")
    tb.click(button="Test connection and save")
    tb.wait_text("The server refused the user name or password.")
    (status,) = tb.query("[data-op-status=configure]")
    assert status["kind"] == "error"
    assert "Save working server settings first." in tb.text()
    tb.screenshot("wrong-password")
    assert re.search(rf"auth failed.*user=<{mail_user.name}>", imap_server.log_text())

    tb.type("Password", mail_user.password)
    tb.click(button="Test connection and save")
    tb.wait_text(
        f"Connected to {imap_server.host}. Settings saved.",
        "This device has not joined the account's devices yet.",
    )
    assert "refused" not in tb.text()
    tb.screenshot("connected")
    # Configuring only tests the login: nothing is written to the mailbox yet.
    assert server_messages(imap_server, mail_user) == {}
    assert_no_dialogs(tb)


def test_3_join_shows_this_device(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    (tb,) = launch("laptop")
    configure(tb, imap_server, mail_user)
    muaa_id = join(tb)
    assert tb.text("[data-role=self]").startswith(f"E2E Laptop ({muaa_id}), last seen just now")
    assert "No other device has joined yet." in tb.text()
    tb.screenshot("joined")

    on_server = server_messages(imap_server, mail_user)
    assert set(on_server) == {SMA_FOLDER, f"{SMA_FOLDER}_{muaa_id}"}
    (announcement,) = on_server[SMA_FOLDER]
    assert f"from={muaa_id}".encode() in announcement
    assert_no_dialogs(tb)


def test_4_pair_two_thunderbirds(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop")
    configure(laptop, imap_server, mail_user)
    laptop_id = join(laptop)
    configure(desktop, imap_server, mail_user)
    desktop_id = join(desktop)
    # Each lists the other (not paired yet) once it re-reads the devices.
    laptop.click(button="Refresh")
    laptop.wait_for(
        lambda: is_listed(laptop, desktop_id, "Not paired"), "the desktop listed as not paired"
    )
    laptop.screenshot("two-devices")

    code = pair(desktop, laptop, desktop_id, laptop_id)
    laptop.screenshot("paired")
    desktop.screenshot("paired")

    on_server = server_messages(imap_server, mail_user)
    assert set(on_server) == {
        SMA_FOLDER,
        f"{SMA_FOLDER}_{laptop_id}",
        f"{SMA_FOLDER}_{desktop_id}",
    }
    assert len(on_server[SMA_FOLDER]) == 2  # one announcement per device
    everything = b"".join(raw for raws in on_server.values() for raw in raws)
    for shown in (code, code.replace("-", "")):
        assert shown.encode() not in everything, "the pairing code reached the server"
    assert_no_dialogs(laptop, desktop)


def test_5_account_key_travels_with_pairing(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop")
    key = armored_key(mail_user.name)
    configure(laptop, imap_server, mail_user)
    laptop_id = join(laptop)
    # The account key is set on the first device, before the new one pairs: it travels
    # inside the pairing. Thunderbird has no key of its own here: the paste and file paths
    # are behind "Other ways".
    laptop.wait_text(NO_THUNDERBIRD_KEY)  # the card has Thunderbird's answer: it moves no more
    laptop.expand(MANUAL_KEY_WAYS)
    laptop.paste("Paste the ASCII-armored secret key", key)
    laptop.click(button="Set account key")
    laptop.wait_text("The account key is stored.")
    laptop.screenshot("key-set")

    configure(desktop, imap_server, mail_user)
    desktop_id = join(desktop)
    desktop.wait_text(NO_THUNDERBIRD_KEY)
    desktop.expand(MANUAL_KEY_WAYS)
    desktop.click(button="Export account key")
    desktop.wait_text("There is no account key on this device yet.")

    pair(desktop, laptop, desktop_id, laptop_id)
    desktop.wait_text("The account key arrived: see “Account key” below.")
    desktop.click(button="Export account key")
    desktop.wait_text("The key is ready: use the link to save it.")
    file_name = f"{mail_user.name}@example.org-account-key.asc"
    desktop.click(link=f"Save {file_name}")
    exported = desktop.wait_download(file_name)
    desktop.screenshot("key-exported")
    assert exported == key.encode(), "the exported key differs from the one pasted"

    on_server = server_messages(imap_server, mail_user)
    everything = b"".join(raw for raws in on_server.values() for raw in raws)
    secret_line = key.splitlines()[2].encode()
    assert secret_line not in everything, "the account key reached the server in the clear"
    assert_no_dialogs(laptop, desktop)


def public_key(seed: str) -> tuple[str, str]:
    """A correspondent's real public key: (keydata as in the Autocrypt header, the same key
    ASCII-armored, as a person would paste it)."""
    from pysequoia import Tsk

    cert = Tsk.generate(f"<{seed}@example.net>").extract_certificate()
    return base64.b64encode(bytes(cert)).decode(), str(cert)


def keyring_rows(tb: Thunderbird) -> list[str]:
    """The 'Correspondent keys' table as a person reads it, one string per row."""
    return [r["text"] for r in tb.query("[data-role=keyring] tbody tr") if r["visible"]]


def test_6_key_update_is_pushed(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop")
    configure(laptop, imap_server, mail_user)
    laptop_id = join(laptop)
    configure(desktop, imap_server, mail_user)
    desktop_id = join(desktop)
    pair(desktop, laptop, desktop_id, laptop_id)
    assert "No correspondent keys yet." in desktop.text()

    addr = f"carol-{mail_user.name}@example.net"
    keydata, armored = public_key(mail_user.name)
    laptop.type("Correspondent's e-mail address", addr)
    laptop.paste("Correspondent's public key", armored)
    laptop.click(label="They prefer encrypted mail (mutual)")
    laptop.screenshot("key-entered")
    laptop.click(button="Store correspondent key")
    laptop.wait_text("Stored; sent to 1 device(s).")
    (fingerprint,) = keys_in(base64.b64decode(keydata))
    grouped = " ".join(re.findall(".{4}", fingerprint))
    row = f"{addr} Yes (mutual) {grouped}"
    assert any(r.startswith(row) for r in keyring_rows(laptop)), keyring_rows(laptop)
    laptop.screenshot("key-stored")

    # The desktop gets the key-update by push: keys.changed, the list re-read, no click.
    desktop.wait_for(
        lambda: any(r.startswith(row) for r in keyring_rows(desktop)),
        "the new correspondent key listed on the other device",
    )
    desktop.wait_text("The keyring was updated by another device (1 addresses).", addr)
    assert "No correspondent keys yet." not in desktop.text()
    desktop.screenshot("key-arrived")

    # Nothing readable on the server: neither the address nor the key, in any SMA folder.
    on_server = server_messages(imap_server, mail_user)
    everything = b"".join(raw for raws in on_server.values() for raw in raws)
    assert everything, "no SMA message on the server"
    lowered = everything.lower()
    armor_line = max(armored.splitlines(), key=len)  # a line of the key's base64, not a header
    for secret in (addr, addr.split("@")[0], keydata, keydata[:16], armor_line):
        assert secret.lower().encode() not in lowered, f"{secret[:24]!r} reached the server"
    assert base64.b64decode(keydata)[:24] not in everything, "the raw key reached the server"
    assert_no_dialogs(laptop, desktop)


def test_7_remove_the_second_device(
    launch: Launch, imap_server: DovecotServer, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop")
    configure(laptop, imap_server, mail_user)
    laptop_id = join(laptop)
    configure(desktop, imap_server, mail_user)
    desktop_id = join(desktop)
    pair(desktop, laptop, desktop_id, laptop_id)

    laptop.click(button="Remove E2E Desktop")
    laptop.wait_text("Remove E2E Desktop?", "Yes, remove")
    laptop.screenshot("confirm-remove")
    laptop.click(button="Yes, remove")
    laptop.wait_text(f"Device {desktop_id} was removed.", "No other device has joined yet.")
    laptop.screenshot("removed")

    # The desktop learns it by push, without a click.
    desktop.wait_text(
        "This device was removed from the account's devices.",
        "This device was removed from the account's devices. Join again to take part.",
    )
    assert desktop.text("[data-role=self]") == "removed"
    # No stale state from before the removal: the "Joined." notice is gone, no other device
    # is shown as paired, and only "Join" is offered.
    assert desktop.text("[data-op-status=join]").strip() == ""
    rows = device_rows(desktop)
    assert not any(row.endswith((" Paired", " Paired Remove")) for row in rows), rows
    assert not any("Remove" in row for row in rows), rows
    desktop.screenshot("was-removed")

    on_server = server_messages(imap_server, mail_user)
    assert set(on_server) == {SMA_FOLDER, f"{SMA_FOLDER}_{laptop_id}"}
    (announcement,) = on_server[SMA_FOLDER]
    assert f"from={laptop_id}".encode() in announcement
    assert_no_dialogs(laptop, desktop)
