"""The Experiment's OpenPGP functions in two real headless Thunderbirds on one account.

Profile 1 ("laptop") gets a real key from Thunderbird's own key generation, set for the
identity; the add-on's background reads it (``getIdentityKey``) and exports it through
Thunderbird's own export (``exportIdentityKey``). The export, a passphrase-protected key
and its one-time passphrase, passes through this test process (as it will pass through
sma-host, sealed) to profile 2 ("desktop"), whose background installs it
(``installAccountKey``). What Thunderbird then holds is read from the files it saved (its
keyring, its acceptance database) and its prefs. Correspondents' public keys go into
profile 2's collected keys (``addCollectedKeys``); garbage does not.

The exported key and its passphrase are never printed: they are held in an ``Export``,
whose repr hides them and whose checks answer booleans (so pytest's assertion rewriting has
nothing secret to show), failure messages of the probe leave arguments out, and the
scenario checks that Thunderbird's output holds neither.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from pysequoia import Cert

from devtools.dovecot import ImapUser
from tests.e2e.harness import wait_until
from tests.e2e.thunderbird_openpgp import (
    acceptance,
    collected_keys,
    generate_identity_key,
    identity_key_id,
    key_assistant,
    keys_in,
    public_key,
    saved_keyring,
    unlocks,
)

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

pytestmark = pytest.mark.e2e

Launch = Callable[..., list["Thunderbird"]]
ACCOUNT = "account1"  # the IMAP account on the test Dovecot, identity id1
LOCAL = "account2"  # Local Folders: no identity


def openpgp(tb: Thunderbird, name: str, *args: Any, where: str = "background") -> Any:
    """The Experiment's function ``name`` called in the add-on's background (or page)."""
    return tb.probe("openpgp", where=where, name=name, args=list(args))


def wait_saved(tb: Thunderbird, keys: dict[str, bool]) -> None:
    """Thunderbird writes its keyring files in the background after a change: wait for them."""
    wait_until(lambda: saved_keyring(tb) == keys, f"{tb.name}: keyring files holding {keys}")


def assert_secret_nowhere(tb: Thunderbird, *secrets: str) -> None:
    """Not in Thunderbird's output (console messages, the host's stderr); the failure
    names no secret."""
    log = tb.log_path.read_bytes()
    leaked = any(secret.encode() in log for secret in secrets)
    assert not leaked, "a secret reached Thunderbird's log"


def correspondent(user_id: str) -> tuple[bytes, bytes]:
    """A new key made by Sequoia: (binary public key, binary secret key)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cert = Cert.generate(user_id)
        return bytes(cert), bytes(cert.secrets)


def armor_to_binary(armored: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bytes(Cert.from_bytes(armored.encode()))


@dataclass(frozen=True)
class Export:
    """An armored secret key and its passphrase, as exportIdentityKey answers. Neither is
    ever in a failure message: the repr hides them, and the checks below are methods that
    answer booleans, so pytest's assertion rewriting has nothing secret to show."""

    armored: str = field(repr=False)
    passphrase: str = field(repr=False)

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Export:
        if "value" not in answer:
            raise AssertionError(f"no export: {answer.get('error')}")
        return cls(answer["value"]["armored"], answer["value"]["passphrase"])

    def is_armored_secret_key(self) -> bool:
        return self.armored.startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")

    def passphrase_is_32_random_bytes(self) -> bool:
        return re.fullmatch(r"[0-9a-f]{64}", self.passphrase) is not None

    def keys(self) -> dict[str, bool]:
        return keys_in(self.armored.encode())

    def unlocked_by(self, passphrase: str | None) -> bool:
        return unlocks(self.armored.encode(), passphrase)

    def opens(self, data: bytes) -> bool:
        """Whether this export's passphrase unlocks the secret key in ``data``."""
        return unlocks(data, self.passphrase)

    def shares_passphrase_with(self, other: Export) -> bool:
        return self.passphrase == other.passphrase

    def with_passphrase(self, passphrase: str) -> Export:
        return Export(self.armored, passphrase)

    def secrets(self) -> tuple[str, ...]:
        return self.passphrase, max(self.armored.splitlines(), key=len)


def install(tb: Thunderbird, account: str, key: Export, where: str = "background") -> Any:
    return openpgp(tb, "installAccountKey", account, key.armored, key.passphrase, where=where)


def test_account_key_and_correspondent_keys_between_two_thunderbirds(
    launch: Launch, mail_user: ImapUser
) -> None:
    laptop, desktop = launch("laptop", "desktop", install_host=False)
    email = f"{mail_user.name}@example.org"
    for tb in (laptop, desktop):
        tb.load_probe()
        # No key configured yet: nothing to share, and nothing to export.
        assert openpgp(tb, "getIdentityKey", ACCOUNT) == {"value": None}
    assert openpgp(laptop, "exportIdentityKey", ACCOUNT) == {
        "error": f"no_key: account {ACCOUNT} has no OpenPGP secret key in Thunderbird"
    }
    assert openpgp(laptop, "getIdentityKey", LOCAL) == {"value": None}
    assert openpgp(laptop, "getIdentityKey", "account9") == {
        "error": "no_account: Thunderbird has no account account9"
    }

    # --- laptop: a key from Thunderbird's own key generation, set for the identity ------
    fingerprint = generate_identity_key(laptop, f"E2E Tester <{email}>")
    assert len(fingerprint) == 40, fingerprint
    wait_saved(laptop, {fingerprint: True})

    shown = openpgp(laptop, "getIdentityKey", ACCOUNT)["value"]
    assert shown["fingerprint"] == fingerprint
    assert shown["userId"] == f"E2E Tester <{email}>"
    assert shown["created"].endswith("Z") and shown["created"][:4] >= "2025", shown

    export = Export.of(openpgp(laptop, "exportIdentityKey", ACCOUNT))
    assert export.is_armored_secret_key()
    assert export.passphrase_is_32_random_bytes()
    # Thunderbird's export is the same key, its secret parts protected by that passphrase.
    assert export.keys() == {fingerprint: True}
    assert not export.unlocked_by(None)
    assert not export.unlocked_by("0" * 64)
    assert export.unlocked_by(export.passphrase)
    # Every export has its own passphrase.
    again = Export.of(openpgp(laptop, "exportIdentityKey", ACCOUNT))
    assert not again.shares_passphrase_with(export)
    # A page never gets the secret key, nor installs one.
    laptop.load_probe(into="page")
    assert openpgp(laptop, "exportIdentityKey", ACCOUNT, where="page") == {
        "error": "background_only: only the add-on's background may export the account's secret key"
    }
    assert openpgp(laptop, "getIdentityKey", ACCOUNT, where="page")["value"] == shown

    # --- desktop: install it ------------------------------------------------------------
    assert saved_keyring(desktop) == {}
    # A wrong passphrase: refused without a prompt, nothing imported.
    assert install(desktop, ACCOUNT, export.with_passphrase("0" * 64)) == {
        "error": "wrong_passphrase: the passphrase does not unlock the key"
    }
    # Not a secret key: the public key, garbage between armor lines.
    public = public_key(laptop, fingerprint)
    assert public.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert install(desktop, ACCOUNT, Export(public, "0" * 64)) == {
        "error": "invalid_key: not an ASCII-armored OpenPGP secret key"
    }
    garbage = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\naGVsbG8gd29ybGQh\n-----END PGP PRIVATE KEY BLOCK-----\n"
    assert install(desktop, ACCOUNT, Export(garbage, "0" * 64)) == {
        "error": "invalid_key: Thunderbird found no OpenPGP key in it"
    }
    assert install(desktop, LOCAL, export) == {
        "error": f"no_identity: account {LOCAL} has no identity to use the key"
    }
    assert saved_keyring(desktop) == {}
    assert identity_key_id(desktop)["keyId"] == ""

    assert install(desktop, ACCOUNT, export) == {
        "value": {"fingerprint": fingerprint, "alreadyPresent": False}
    }
    # Thunderbird saved the secret key, accepted it as the user's own, uses it for the identity.
    wait_saved(desktop, {fingerprint: True})
    wait_until(lambda: acceptance(desktop, fingerprint) == "personal", "the acceptance saved")
    assert identity_key_id(desktop) == {"keyId": fingerprint[-16:], "gnupg": False}
    assert openpgp(desktop, "getIdentityKey", ACCOUNT) == {"value": shown}
    # And re-protected it with its own passphrase: the export's one no longer opens it.
    assert not export.opens((desktop.profile / "secring.gpg").read_bytes())

    # A second install (the same key, a fresh export): says so, changes nothing.
    assert install(desktop, ACCOUNT, again) == {
        "value": {"fingerprint": fingerprint, "alreadyPresent": True}
    }
    assert saved_keyring(desktop) == {fingerprint: True}
    desktop.load_probe(into="page")
    assert install(desktop, ACCOUNT, export, where="page") == {
        "error": "background_only: only the add-on's background may install the account's secret key"
    }

    # --- desktop: correspondents' keys into Thunderbird's collected keys -----------------
    correspondents_into_collected_keys(desktop, email, public)

    for tb in (laptop, desktop):
        tb.screenshot("after-openpgp")
        assert tb.prompts() == [], "Thunderbird prompted"
        assert_secret_nowhere(tb, *export.secrets(), *again.secrets())


def correspondents_into_collected_keys(tb: Thunderbird, email: str, own_public: str) -> None:
    """Real public keys (made by Sequoia) reach ``tb``'s collected keys; garbage, secret
    keys, keys for another address and the account's own key (``own_public``, whose
    secret ``tb`` holds) do not."""
    own = set(saved_keyring(tb))
    carol, carol_secret = correspondent("Carol <carol@example.net>")
    dave, _ = correspondent("dave@example.net")
    own_binary = base64.b64encode(armor_to_binary(own_public)).decode()
    b64 = {
        name: base64.b64encode(data).decode() for name, data in (("carol", carol), ("dave", dave))
    }
    entries = [
        {"email": "Carol@Example.net", "keydata": b64["carol"], "source": "sma-host"},
        {"email": "dave@example.net", "keydata": b64["dave"][:40] + "\n" + b64["dave"][40:]},
        # Skipped: not base64, "hello world!", a secret key, a key for another address,
        # two keys in one, the user's own address, armor instead of base64.
        {"email": "eve@example.net", "keydata": "not base64!"},
        {"email": "eve@example.net", "keydata": base64.b64encode(b"hello world!").decode()},
        {"email": "carol@example.net", "keydata": base64.b64encode(carol_secret).decode()},
        {"email": "eve@example.net", "keydata": b64["carol"]},
        {
            "email": "carol@example.net",
            "keydata": base64.b64encode(carol + dave).decode(),
        },
        {"email": email, "keydata": own_binary},
        {"email": "carol@example.net", "keydata": own_public},
        {"email": "not an address", "keydata": b64["carol"]},
    ]
    assert openpgp(tb, "addCollectedKeys", entries) == {"value": 2}

    found = collected_keys(tb, "carol@example.net")
    assert [k["fingerprint"] for k in found] == list(keys_in(carol))
    assert found[0]["emails"] == ["carol@example.net"]
    assert found[0]["sources"] == [{"uri": "", "type": "autocrypt", "description": "sma-host"}]
    assert found[0]["armored"]
    assert [k["fingerprint"] for k in collected_keys(tb, "dave@example.net")] == list(keys_in(dave))
    assert collected_keys(tb, "eve@example.net") == []
    assert collected_keys(tb, email) == []
    # Only collected: not in Thunderbird's keyring; its key assistant offers the key for the
    # user to accept, as one it collected itself.
    assert set(saved_keyring(tb)) == own
    assert key_assistant(tb, "carol@example.net") == [(list(keys_in(carol))[0], "collected")]

    # Again: the same keys are merged (one entry each), still counted as stored.
    assert openpgp(tb, "addCollectedKeys", entries[:1]) == {"value": 1}
    assert len(collected_keys(tb, "carol@example.net")) == 1
    # From a page too: public keys are no secret.
    assert openpgp(tb, "addCollectedKeys", [], where="page") == {"value": 0}
